//! Tests of the sd_notify messages, the watchdog's pet decision, and a round trip over a real datagram socket.
use std::ffi::OsStr;
use std::time::{Duration, Instant};

use super::*;

#[test]
fn a_path_and_an_abstract_name_parse_and_anything_else_is_ignored() {
    assert_eq!(
        parse_address(OsStr::new("/run/systemd/notify")),
        Some(Address::Path("/run/systemd/notify".into()))
    );
    assert_eq!(
        parse_address(OsStr::new("@jetgate/notify")),
        Some(Address::Abstract(b"jetgate/notify".to_vec()))
    );
    assert_eq!(parse_address(OsStr::new("")), None);
    assert_eq!(parse_address(OsStr::new("@")), None);
    assert_eq!(parse_address(OsStr::new("relative/path")), None);
}

#[test]
fn messages_are_key_value_lines_and_a_status_stays_on_one_line() {
    assert_eq!(
        build(&[Message::Ready, Message::Status("serving\non x".into())]),
        "READY=1\nSTATUS=serving on x\n"
    );
    assert_eq!(build(&[Message::Watchdog]), "WATCHDOG=1\n");
    assert_eq!(
        build(&[Message::Stopping, Message::Status("bye".into())]),
        "STOPPING=1\nSTATUS=bye\n"
    );
}

#[test]
fn the_watchdog_is_petted_at_half_its_timeout_and_only_for_the_named_pid() {
    let half = Some(Duration::from_millis(200));
    assert_eq!(watchdog_interval(Some("400000"), None, 7), half);
    assert_eq!(watchdog_interval(Some("400000"), Some("7"), 7), half);
    assert_eq!(watchdog_interval(Some("400000"), Some("8"), 7), None);
    assert_eq!(watchdog_interval(Some("400000"), Some("x"), 7), None);
    assert_eq!(watchdog_interval(None, Some("7"), 7), None);
    assert_eq!(watchdog_interval(Some("0"), None, 7), None);
    assert_eq!(watchdog_interval(Some("-5"), None, 7), None);
}

fn limits() -> Limits {
    Limits::for_periods(
        Duration::from_millis(100),
        Duration::from_millis(100),
        Duration::from_millis(200),
    )
}

#[test]
fn pets_while_the_loop_and_the_sampler_both_advance() {
    let t0 = Instant::now();
    let p = Progress {
        loop_at: t0,
        sample_at: t0,
    };
    assert_eq!(
        decide(t0 + Duration::from_millis(900), &p, &limits()),
        PetDecision::Pet
    );
}

#[test]
fn a_wedged_loop_stops_the_petting() {
    let t0 = Instant::now();
    let p = Progress {
        loop_at: t0,
        sample_at: t0 + Duration::from_secs(5),
    };
    assert_eq!(
        decide(t0 + Duration::from_secs(5), &p, &limits()),
        PetDecision::Withhold {
            stalled: Stalled::CoreLoop,
            silent_for: Duration::from_secs(5)
        }
    );
}

#[test]
fn a_stuck_sampler_stops_the_petting_though_the_loop_turns() {
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(3);
    let p = Progress {
        loop_at: now,
        sample_at: t0,
    };
    assert_eq!(
        decide(now, &p, &limits()),
        PetDecision::Withhold {
            stalled: Stalled::Sampler,
            silent_for: Duration::from_secs(3)
        }
    );
}

#[test]
fn limits_never_fall_below_the_pet_interval() {
    let l = Limits::for_periods(
        Duration::from_millis(100),
        Duration::from_millis(5),
        Duration::from_secs(15),
    );
    assert_eq!(l.loop_silence, Duration::from_secs(15));
    assert_eq!(l.sampler_silence, Duration::from_secs(15));
    let l = Limits::for_periods(
        Duration::from_millis(100),
        Duration::from_secs(5),
        Duration::from_secs(1),
    );
    assert_eq!(l.sampler_silence, Duration::from_secs(50));
}

#[test]
fn a_notifier_reaches_an_abstract_socket() {
    let name = format!("jetgate-notify-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixDatagram::bind_addr(&addr).unwrap();
    let notifier = Notifier::new(&parse_address(OsStr::new(&format!("@{name}"))).unwrap()).unwrap();
    notifier.send(&[Message::Ready]).unwrap();
    let mut buf = [0u8; 64];
    let n = listener.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1\n");
}
