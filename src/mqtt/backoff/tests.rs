//! Tests of the reconnect backoff: full jitter under a monotone, capped ceiling (above the
//! floor of refusals); reset after a stable connection.
use super::*;
use proptest::prelude::*;

#[test]
fn ceilings_double_from_initial_up_to_the_cap() {
    let mut b = Backoff::new(DEFAULT_POLICY);
    let mut ceilings = Vec::new();
    for _ in 0..7 {
        ceilings.push(b.ceiling().as_secs());
        b.next_delay(0.5);
    }
    assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 30, 30]);
}

#[test]
fn a_stable_connection_resets_the_counter_and_a_short_one_does_not() {
    let mut b = Backoff::new(DEFAULT_POLICY);
    for _ in 0..4 {
        b.next_delay(0.1);
    }
    b.disconnected_after(Duration::from_secs(5));
    assert_eq!(b.attempt(), 4);
    b.disconnected_after(Duration::from_secs(60));
    assert_eq!(b.attempt(), 0);
}

#[test]
fn odd_draws_are_clamped_not_trusted() {
    let mut b = Backoff::new(DEFAULT_POLICY);
    assert_eq!(b.next_delay(f64::NAN), Duration::ZERO);
    assert!(b.next_delay(7.0) <= Duration::from_secs(2));
}

#[test]
fn refusals_wait_minutes_doubling_to_a_fifteen_minute_cap() {
    let mut b = Backoff::new(REFUSED_POLICY);
    let mut ceilings = Vec::new();
    for _ in 0..6 {
        ceilings.push(b.ceiling().as_secs());
        assert_eq!(b.clone().next_delay(0.0), Duration::from_secs(60));
        b.next_delay(0.5);
    }
    assert_eq!(ceilings, vec![120, 240, 480, 900, 900, 900]);
    assert_eq!(b.next_delay(0.999_999).as_secs(), 899);
}

proptest! {
    #[test]
    fn refusal_delays_are_never_under_a_minute(draws in proptest::collection::vec(0.0f64..1.0, 1..50)) {
        let mut b = Backoff::new(REFUSED_POLICY);
        for u in draws {
            let d = b.next_delay(u);
            prop_assert!(d >= REFUSED_POLICY.floor);
            prop_assert!(d <= REFUSED_POLICY.max);
        }
    }

    #[test]
    fn delays_stay_under_a_monotone_capped_ceiling(draws in proptest::collection::vec(0.0f64..1.0, 1..100)) {
        let mut b = Backoff::new(DEFAULT_POLICY);
        let mut last = Duration::ZERO;
        for u in draws {
            let ceiling = b.ceiling();
            prop_assert!(ceiling >= last);
            prop_assert!(ceiling <= DEFAULT_POLICY.max);
            let d = b.next_delay(u);
            prop_assert!(d <= ceiling);
            last = ceiling;
        }
    }
}
