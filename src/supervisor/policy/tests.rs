//! Tests of the restart policy: backoff bounds, the crash-loop cap, proven uptime, revive.
use super::*;
use proptest::prelude::*;

const SEC: Duration = Duration::from_secs(1);

// Tests need one real instant to offset from; nothing reads the clock after this.
#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    Instant::now()
}

fn tracker(policy: RestartPolicy) -> RestartTracker<impl FnMut() -> f64> {
    RestartTracker::new(policy, || 0.5)
}

#[test]
fn defaults_match_the_design() {
    let p = RestartPolicy::default();
    assert_eq!(p.initial, SEC);
    assert_eq!(p.max, 300 * SEC);
    assert_eq!(p.max_restarts, 5);
    assert_eq!(p.window, 600 * SEC);
    assert_eq!(p.reset_after, 600 * SEC);
}

#[test]
fn ceiling_doubles_from_initial_until_max() {
    let p = RestartPolicy::default();
    let got: Vec<u64> = (0..11).map(|a| p.ceiling(a).as_secs()).collect();
    assert_eq!(got, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
}

#[test]
fn ceiling_is_max_for_huge_attempts_and_zero_for_zero_initial() {
    let p = RestartPolicy::default();
    assert_eq!(p.ceiling(u32::MAX), p.max);
    let zero = RestartPolicy {
        initial: Duration::ZERO,
        ..p
    };
    assert_eq!(zero.ceiling(u32::MAX), Duration::ZERO);
    let nano = RestartPolicy {
        initial: Duration::from_nanos(1),
        max: Duration::MAX,
        ..p
    };
    assert_eq!(nano.ceiling(40), Duration::from_nanos(1 << 40));
    assert_eq!(nano.ceiling(u32::MAX), Duration::MAX);
}

#[test]
fn backoff_scales_the_ceiling_by_the_draw() {
    let p = RestartPolicy::default();
    assert_eq!(p.backoff(3, 0.0), Duration::ZERO);
    assert_eq!(p.backoff(3, 0.5), 4 * SEC);
    assert_eq!(p.backoff(3, 1.0), 8 * SEC);
    assert_eq!(p.backoff(3, f64::NAN), Duration::ZERO);
    assert_eq!(p.backoff(3, 7.0), 8 * SEC);
}

#[test]
fn restarts_count_attempts_and_give_up_on_the_sixth_quick_exit() {
    let mut t = tracker(RestartPolicy::default());
    let start = t0();
    let mut decisions = Vec::new();
    for i in 0..6 {
        let now = start + i * SEC;
        decisions.push(t.on_exit(now, now));
    }
    let afters: Vec<Decision> = (0..5)
        .map(|a| Decision::Restart {
            after: RestartPolicy::default().ceiling(a) / 2,
            attempt: a,
        })
        .collect();
    assert_eq!(decisions[..5], afters[..]);
    assert_eq!(
        decisions[5],
        Decision::GiveUp {
            restarts_in_window: 6,
            window: 600 * SEC
        }
    );
    assert!(t.has_given_up());
}

#[test]
fn a_proven_uptime_resets_the_attempt() {
    let mut t = tracker(RestartPolicy::default());
    let start = t0();
    t.on_exit(start, start);
    t.on_exit(start + SEC, start + SEC);
    assert_eq!(t.next_attempt(), 2);
    let started = start + 2 * SEC;
    let d = t.on_exit(started + 600 * SEC, started);
    assert_eq!(
        d,
        Decision::Restart {
            after: SEC / 2,
            attempt: 0
        }
    );
}

#[test]
fn an_uptime_just_short_of_reset_after_keeps_counting() {
    let mut t = tracker(RestartPolicy::default());
    let start = t0();
    t.on_exit(start, start);
    let d = t.on_exit(start + 600 * SEC - Duration::from_nanos(1), start);
    assert!(matches!(d, Decision::Restart { attempt: 1, .. }), "{d:?}");
}

#[test]
fn after_giving_up_every_exit_gives_up_until_revived() {
    let p = RestartPolicy {
        max_restarts: 1,
        ..RestartPolicy::default()
    };
    let mut t = tracker(p);
    let start = t0();
    t.on_exit(start, start);
    assert!(matches!(t.on_exit(start, start), Decision::GiveUp { .. }));
    let much_later = start + 3600 * SEC;
    let d = t.on_exit(much_later, much_later - 3000 * SEC);
    assert!(
        matches!(
            d,
            Decision::GiveUp {
                restarts_in_window: 2,
                ..
            }
        ),
        "{d:?}"
    );
    t.revive();
    assert!(!t.has_given_up());
    let d = t.on_exit(much_later, much_later);
    assert!(matches!(d, Decision::Restart { attempt: 0, .. }), "{d:?}");
}

#[test]
fn zero_max_restarts_gives_up_on_the_first_exit() {
    let p = RestartPolicy {
        max_restarts: 0,
        ..RestartPolicy::default()
    };
    let start = t0();
    let d = tracker(p).on_exit(start, start);
    assert!(
        matches!(
            d,
            Decision::GiveUp {
                restarts_in_window: 1,
                ..
            }
        ),
        "{d:?}"
    );
}

#[test]
fn each_restart_takes_exactly_one_draw() {
    let mut draws = [0.25, 0.75].into_iter();
    let mut t = RestartTracker::new(RestartPolicy::default(), move || {
        draws.next().unwrap_or(0.0)
    });
    let start = t0();
    assert_eq!(
        t.on_exit(start, start),
        Decision::Restart {
            after: SEC / 4,
            attempt: 0
        }
    );
    assert_eq!(
        t.on_exit(start, start),
        Decision::Restart {
            after: SEC * 3 / 2,
            attempt: 1
        }
    );
}

fn policy_strategy() -> impl Strategy<Value = RestartPolicy> {
    (
        0u64..10_000_000_000,
        0u64..u64::MAX / 2,
        0u32..20,
        1u64..10_000,
    )
        .prop_map(|(initial, max, max_restarts, window)| RestartPolicy {
            initial: Duration::from_nanos(initial),
            max: Duration::from_nanos(max),
            max_restarts,
            window: Duration::from_secs(window),
            reset_after: Duration::from_secs(window),
        })
}

proptest! {
    #[test]
    fn backoff_stays_within_zero_and_the_ceiling(
        p in policy_strategy(), attempt in any::<u32>(), draw in any::<f64>()
    ) {
        let b = p.backoff(attempt, draw);
        prop_assert!(b <= p.ceiling(attempt));
        prop_assert!(p.ceiling(attempt) <= p.max);
    }

    #[test]
    fn ceiling_never_decreases_with_the_attempt_and_never_passes_max(
        p in policy_strategy(), a in 0u32..200, step in 0u32..200
    ) {
        prop_assert!(p.ceiling(a) <= p.ceiling(a + step));
        prop_assert!(p.ceiling(a + step) <= p.max);
    }

    #[test]
    fn a_process_dying_at_once_gives_up_after_exactly_max_restarts_plus_one_exits(
        p in policy_strategy(), gaps in prop::collection::vec(0u64..1000, 25)
    ) {
        // All exits fall inside the window: the gaps sum to less than it.
        let window_ms = u64::try_from(p.window.as_millis()).unwrap();
        let mut t = tracker(p);
        let mut now = t0();
        for (i, gap) in gaps.iter().take(p.max_restarts as usize + 1).enumerate() {
            now += Duration::from_millis(gap * window_ms / 25_000);
            let d = t.on_exit(now, now);
            let last = i == p.max_restarts as usize;
            prop_assert_eq!(matches!(d, Decision::GiveUp { .. }), last, "exit {}: {:?}", i + 1, d);
            prop_assert!(t.exits.len() <= p.max_restarts as usize + 1);
        }
    }

    #[test]
    fn exits_spread_wider_than_the_window_never_give_up(
        p in policy_strategy(), extra in prop::collection::vec(0u64..1_000_000, 1..60)
    ) {
        prop_assume!(p.max_restarts >= 1);
        let mut t = tracker(p);
        let mut now = t0();
        for e in extra {
            now += p.window + Duration::from_millis(e);
            let d = t.on_exit(now, now);
            prop_assert!(matches!(d, Decision::Restart { .. }), "{:?}", d);
            prop_assert_eq!(t.exits.len(), 1);
        }
    }
}
