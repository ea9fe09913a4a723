//! Tests of the reconnect rules: stable, uniform start-up slots; refusals back off in
//! minutes; and, for any failure times and draws, never more than 15 attempts a minute.
#![allow(clippy::disallowed_methods)] // one base `Instant::now()` per test; all else is base + d
use super::*;
use proptest::prelude::*;

#[test]
fn a_device_keeps_its_slot_and_a_fleet_spreads_uniformly_over_the_window() {
    let spread = Duration::from_secs(10);
    assert_eq!(
        startup_delay("orin-07", spread),
        startup_delay("orin-07", spread)
    );
    assert_ne!(
        startup_delay("orin-07", spread),
        startup_delay("orin-08", spread)
    );
    assert_eq!(startup_delay("orin-07", Duration::ZERO), Duration::ZERO);
    // 10,000 ids in 10 one-second buckets: each within 10 % of the expected 1,000.
    let mut buckets = [0u32; 10];
    for i in 0..10_000 {
        let d = startup_delay(&format!("site-3-dev-{i}"), spread);
        assert!(d < spread, "{d:?}");
        buckets[d.as_secs() as usize] += 1;
    }
    for (i, n) in buckets.iter().enumerate() {
        assert!(
            (900..=1100).contains(n),
            "bucket {i}: {n} of 10000: {buckets:?}"
        );
    }
}

#[test]
fn a_refusal_waits_at_least_a_minute_and_other_failures_seconds() {
    let now = Instant::now();
    let mut r = Reconnect::default();
    let p = r.failed(now, true, 0.0);
    assert_eq!(p.delay, Duration::from_secs(60));
    let mut r = Reconnect::default();
    let p = r.failed(now, false, 0.5);
    assert_eq!(p.delay, Duration::from_millis(500));
    assert_eq!(p.rate_wait, Duration::ZERO);
}

#[test]
fn the_sixteenth_attempt_within_a_minute_waits_for_the_first_to_leave_the_window() {
    let t0 = Instant::now();
    let mut r = Reconnect::default();
    let first = r.plan(t0, Duration::ZERO);
    assert_eq!(first.delay, Duration::ZERO);
    for i in 1..MAX_ATTEMPTS {
        let p = r.failed(t0 + Duration::from_secs(i as u64), false, 0.0);
        assert_eq!(p.delay, Duration::ZERO, "attempt {i}");
    }
    let now = t0 + Duration::from_secs(15);
    let p = r.failed(now, false, 0.0);
    assert_eq!(p.recent_attempts, MAX_ATTEMPTS);
    assert_eq!(now + p.delay, t0 + ATTEMPT_WINDOW);
    assert_eq!(p.rate_wait, Duration::from_secs(45));
}

#[test]
fn a_stable_connection_resets_the_refusal_backoff_too() {
    let now = Instant::now();
    let mut r = Reconnect::default();
    for _ in 0..3 {
        r.failed(now, true, 0.999);
    }
    r.disconnected_after(Duration::from_secs(61));
    let p = r.failed(now + Duration::from_secs(3600), true, 0.999);
    assert!(p.delay < Duration::from_secs(120), "{p:?}");
}

proptest! {
    /// Whatever the failure times (each after the attempt before it) and draws, no window of
    /// 60 s holds more than 15 attempts.
    #[test]
    fn never_more_than_fifteen_attempts_in_any_sixty_seconds(
        steps in proptest::collection::vec((0u64..5_000, 0.0f64..1.0, any::<bool>()), 1..200),
        spread_ms in 0u64..10_000,
    ) {
        let t0 = Instant::now();
        let mut r = Reconnect::default();
        let mut attempts = Vec::new();
        let first = r.plan(t0, Duration::from_millis(spread_ms));
        let mut at = t0 + first.delay;
        attempts.push(at);
        for (fail_after_ms, unit, refused) in steps {
            // The attempt fails (or its connection drops) some time after it started.
            let now = at + Duration::from_millis(fail_after_ms);
            let p = r.failed(now, refused, unit);
            prop_assert!(p.delay >= p.backoff);
            at = now + p.delay;
            attempts.push(at);
        }
        for (i, start) in attempts.iter().enumerate() {
            let within = attempts[i..]
                .iter()
                .take_while(|&&t| t.duration_since(*start) < ATTEMPT_WINDOW)
                .count();
            prop_assert!(within <= MAX_ATTEMPTS, "{within} attempts in 60 s from attempt {i}");
        }
    }

    #[test]
    fn the_limiter_never_moves_an_attempt_earlier(
        gaps in proptest::collection::vec(0u64..10_000, 1..100),
    ) {
        let mut l = AttemptLimiter::new(MAX_ATTEMPTS, ATTEMPT_WINDOW);
        let mut now = Instant::now();
        for g in gaps {
            now += Duration::from_millis(g);
            let at = l.earliest(now);
            prop_assert!(at >= now);
            l.record(at);
            now = at;
        }
    }
}
