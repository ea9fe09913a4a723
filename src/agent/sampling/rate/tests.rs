use super::*;

fn situation(available_mib: Option<u64>) -> Situation {
    Situation {
        loading: false,
        busy: false,
        available: available_mib.map(Bytes::from_mib),
        reserve: Bytes::from_mib(512),
    }
}

const INTERVALS: Intervals = Intervals {
    load: Duration::from_millis(5),
    full: Duration::from_millis(100),
    fresh: Duration::from_secs(2),
};

#[test]
fn quiet_and_far_from_the_reserve_samples_at_the_idle_rate_with_an_idle_tick() {
    let pace = decide(&situation(Some(4096)));
    assert_eq!(
        pace,
        Pace {
            rate: Rate::Idle,
            tick_idle: true
        }
    );
    assert_eq!(INTERVALS.of(pace.rate), IDLE_INTERVAL);
}

#[test]
fn near_the_reserve_samples_at_full_rate_while_the_tick_may_stay_idle() {
    // 2 × 512 MiB = 1024 MiB: just under it is near, at it is not.
    assert_eq!(decide(&situation(Some(1023))).rate, Rate::Full);
    assert_eq!(decide(&situation(Some(1024))).rate, Rate::Idle);
    assert!(decide(&situation(Some(100))).tick_idle);
}

#[test]
fn without_a_reading_the_sampler_runs_at_full_rate() {
    assert_eq!(decide(&situation(None)).rate, Rate::Full);
}

#[test]
fn a_load_in_flight_samples_at_the_load_rate_whatever_the_memory() {
    let s = Situation {
        loading: true,
        busy: true,
        ..situation(Some(100_000))
    };
    let pace = decide(&s);
    assert_eq!(
        pace,
        Pace {
            rate: Rate::Load,
            tick_idle: false
        }
    );
    assert_eq!(INTERVALS.of(pace.rate), Duration::from_millis(5));
}

#[test]
fn a_queued_request_or_a_starting_unit_keeps_full_rate_and_the_fast_tick() {
    let s = Situation {
        busy: true,
        ..situation(Some(100_000))
    };
    assert_eq!(
        decide(&s),
        Pace {
            rate: Rate::Full,
            tick_idle: false
        }
    );
}

#[test]
fn the_idle_period_is_never_faster_than_sample_interval() {
    let slow = Intervals {
        load: Duration::from_millis(5),
        full: Duration::from_secs(3),
        fresh: Duration::from_secs(3),
    };
    assert_eq!(slow.of(Rate::Idle), Duration::from_secs(3));
    assert_eq!(slow.of(Rate::Full), Duration::from_secs(3));
}

#[test]
fn the_idle_period_never_outlasts_fresh_within_so_a_request_finds_an_admitting_reading() {
    let defaults = Intervals {
        load: Duration::from_millis(5),
        full: Duration::from_millis(100),
        fresh: Duration::from_millis(500),
    };
    assert_eq!(defaults.of(Rate::Idle), Duration::from_millis(500));
}

#[test]
fn the_near_level_saturates_instead_of_wrapping() {
    assert_eq!(near_level(Bytes(u64::MAX)), Bytes(u64::MAX));
    assert_eq!(near_level(Bytes::from_mib(300)), Bytes::from_mib(600));
}
