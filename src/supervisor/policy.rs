//! Restart policy: when a supervised service exits, how long to wait before starting it again,
//! and when to stop trying (DESIGN.md, "Supervision policy").
//!
//! Pure code: no clock reads, no I/O. Time comes in as [`Instant`] arguments, randomness as a
//! draw in `[0, 1)` from a closure the caller owns, so every decision is reproducible in tests.
//! The supervisor's I/O half executes the returned [`Decision`] (sleep, then start; or emit
//! `gave_up` and wait for an operator).
//!
//! - **Backoff**: the ceiling for attempt `n` is `initial × 2^n`, capped at `max`; the wait is
//!   drawn uniformly from `[0, ceiling]` ("full jitter", so a fleet that crashed together does
//!   not restart together). `n` counts restarts since the last proven uptime, from 0.
//! - **Proven uptime**: a process that ran at least `reset_after` before exiting resets `n`.
//! - **Crash-loop cap**: more than `max_restarts` exits within the sliding `window` give up;
//!   after that every exit gives up until [`RestartTracker::revive`] (`jetgate restart NAME`).
//!   The tracker keeps at most `max_restarts + 1` exit times.
//!
//! Timeline with the defaults (1 s, 5 min, 5 restarts, 10 min window, 10 min reset), a model
//! that dies at once on every start (times in seconds, waits are ceilings before jitter):
//!
//! ```text
//! t=0    exit 1  Restart { attempt: 0 }  wait ≤ 1 s
//! t=1    exit 2  Restart { attempt: 1 }  wait ≤ 2 s
//! t=3    exit 3  Restart { attempt: 2 }  wait ≤ 4 s
//! t=7    exit 4  Restart { attempt: 3 }  wait ≤ 8 s
//! t=15   exit 5  Restart { attempt: 4 }  wait ≤ 16 s
//! t=31   exit 6  GiveUp { restarts_in_window: 6, window: 600 s }   6 > max_restarts (5)
//! later  exit    GiveUp ...                   until revive()
//! ```
//!
//! Had the process instead stayed up 10 minutes before exit 3, that exit would be
//! `Restart { attempt: 0 }` again, and exits 1 and 2 would have left the window.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// How a service is restarted; one per service, from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Backoff ceiling of the first restart (attempt 0).
    pub initial: Duration,
    /// Upper bound of every backoff ceiling.
    pub max: Duration,
    /// Restarts allowed within `window`; one more exit gives up.
    pub max_restarts: u32,
    /// Sliding window over which exits are counted.
    pub window: Duration,
    /// Uptime after which a process has proven itself and the attempt counter resets.
    pub reset_after: Duration,
}

impl Default for RestartPolicy {
    /// DESIGN.md defaults: 1 s … 5 min backoff, 5 restarts in 10 min, reset after 10 min up.
    fn default() -> Self {
        RestartPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5 * 60),
            max_restarts: 5,
            window: Duration::from_secs(10 * 60),
            reset_after: Duration::from_secs(10 * 60),
        }
    }
}

impl RestartPolicy {
    /// Backoff cap for `attempt` without jitter: `min(initial × 2^attempt, max)`.
    /// Exact and overflow-free for every `attempt`; non-decreasing in `attempt`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let mut cap = self.initial.min(self.max);
        // At most ~94 doublings reach any `max` (Duration holds < 2^94 ns), so this loop is short.
        for _ in 0..attempt {
            if cap >= self.max || cap.is_zero() {
                break;
            }
            cap = cap.checked_mul(2).map_or(self.max, |d| d.min(self.max));
        }
        cap
    }

    /// Full-jitter backoff: `draw` in `[0, 1)` scales [`ceiling`](Self::ceiling) linearly.
    /// A draw outside `[0, 1]` is clamped, NaN counts as 0; the result is always in
    /// `[0, ceiling(attempt)]`.
    pub fn backoff(&self, attempt: u32, draw: f64) -> Duration {
        let cap = self.ceiling(attempt);
        let unit = if draw.is_nan() {
            0.0
        } else {
            draw.clamp(0.0, 1.0)
        };
        Duration::try_from_secs_f64(cap.as_secs_f64() * unit).map_or(cap, |d| d.min(cap))
    }
}

/// What the supervisor does about one exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start again after waiting `after`. `attempt` counts restarts since the last proven
    /// uptime, from 0; `ceiling(attempt)` is the cap `after` was drawn under.
    Restart { after: Duration, attempt: u32 },
    /// Crash loop: no restart until an operator revives the service. `restarts_in_window` is
    /// the number of exits counted in `window` when the tracker gave up, that exit included.
    GiveUp {
        restarts_in_window: u32,
        window: Duration,
    },
}

/// Restart bookkeeping for one service. `D` yields jitter draws in `[0, 1)`.
pub struct RestartTracker<D> {
    policy: RestartPolicy,
    draw: D,
    attempt: u32,
    /// Exit times inside the window, oldest first; at most `max_restarts + 1`.
    exits: VecDeque<Instant>,
    /// `Some(restarts_in_window)` once given up, until `revive`.
    gave_up: Option<u32>,
}

impl<D: FnMut() -> f64> RestartTracker<D> {
    /// A fresh tracker; `draw` is called once per restart decision for the jitter.
    pub fn new(policy: RestartPolicy, draw: D) -> Self {
        RestartTracker {
            policy,
            draw,
            attempt: 0,
            exits: VecDeque::new(),
            gave_up: None,
        }
    }

    /// The process that started at `started_at` exited at `now`: restart it, or give up.
    pub fn on_exit(&mut self, now: Instant, started_at: Instant) -> Decision {
        let window = self.policy.window;
        if let Some(restarts_in_window) = self.gave_up {
            return Decision::GiveUp {
                restarts_in_window,
                window,
            };
        }
        if now.saturating_duration_since(started_at) >= self.policy.reset_after {
            self.attempt = 0;
        }
        while self
            .exits
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            self.exits.pop_front();
        }
        self.exits.push_back(now);
        let bound =
            usize::try_from(self.policy.max_restarts).map_or(usize::MAX, |n| n.saturating_add(1));
        while self.exits.len() > bound {
            self.exits.pop_front();
        }
        let in_window = u32::try_from(self.exits.len()).unwrap_or(u32::MAX);
        if in_window > self.policy.max_restarts {
            self.gave_up = Some(in_window);
            return Decision::GiveUp {
                restarts_in_window: in_window,
                window,
            };
        }
        let attempt = self.attempt;
        self.attempt = self.attempt.saturating_add(1);
        Decision::Restart {
            after: self.policy.backoff(attempt, (self.draw)()),
            attempt,
        }
    }

    /// An operator asked for the service again: forget the crash loop and start from attempt 0.
    pub fn revive(&mut self) {
        self.gave_up = None;
        self.attempt = 0;
        self.exits.clear();
    }

    /// Whether the tracker has given up (the service state `gave_up`).
    pub fn has_given_up(&self) -> bool {
        self.gave_up.is_some()
    }

    /// The attempt the next restart will have.
    pub fn next_attempt(&self) -> u32 {
        self.attempt
    }

    /// The policy this tracker applies.
    pub fn policy(&self) -> &RestartPolicy {
        &self.policy
    }
}

impl<D> fmt::Debug for RestartTracker<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestartTracker")
            .field("policy", &self.policy)
            .field("attempt", &self.attempt)
            .field("exits", &self.exits.len())
            .field("gave_up", &self.gave_up)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
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
}
