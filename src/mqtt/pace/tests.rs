//! Tests of the outbox's pace: the burst, the steady rate, and for any times of asking never
//! more than the burst plus the rate in any window.
#![allow(clippy::disallowed_methods)] // one base `Instant::now()` per test; all else is base + d
use std::time::{Duration, Instant};

use super::*;
use proptest::prelude::*;

#[test]
fn a_full_bucket_lets_a_tenth_of_a_second_out_then_the_rate() {
    let t0 = Instant::now();
    let mut p = Pace::new(200);
    let burst = (0..100).take_while(|_| p.take(t0)).count();
    assert_eq!(burst, 20);
    assert!(!p.take(t0));
    // 50 ms later: 10 more.
    let later = t0 + Duration::from_millis(50);
    assert_eq!((0..100).take_while(|_| p.take(later)).count(), 10);
}

#[test]
fn a_slow_rate_still_has_a_burst_of_one() {
    let t0 = Instant::now();
    let mut p = Pace::new(1);
    assert!(p.take(t0));
    assert!(!p.take(t0 + Duration::from_millis(500)));
    assert!(p.take(t0 + Duration::from_millis(1000)));
    let mut zero = Pace::new(0);
    assert!(
        zero.take(t0),
        "a zero rate is read as 1/s, never as a stall"
    );
}

#[test]
fn over_ten_seconds_of_asking_the_rate_holds() {
    let t0 = Instant::now();
    let mut p = Pace::new(200);
    let mut sent = 0;
    for ms in 0..10_000u64 {
        let now = t0 + Duration::from_millis(ms);
        while p.take(now) {
            sent += 1;
        }
    }
    assert!((1990..=2020).contains(&sent), "{sent}");
}

proptest! {
    #[test]
    fn no_window_lets_out_more_than_burst_plus_rate(
        rate in 1u32..2000,
        gaps in proptest::collection::vec(0u64..50, 1..400),
    ) {
        let t0 = Instant::now();
        let mut p = Pace::new(rate);
        let mut now = t0;
        let mut sent: Vec<Instant> = Vec::new();
        for g in gaps {
            now += Duration::from_millis(g);
            while p.take(now) {
                sent.push(now);
            }
        }
        for (i, start) in sent.iter().enumerate() {
            let window = Duration::from_secs(1);
            let n = sent[i..].iter().take_while(|&&t| t.duration_since(*start) < window).count();
            prop_assert!(n as f64 <= p.most_in(1.0) + 1e-6, "{n} in 1 s at rate {rate}");
        }
    }
}
