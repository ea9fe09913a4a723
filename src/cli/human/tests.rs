//! Tests of the human forms: stamps, relative times, colour.

use super::*;

#[test]
fn parses_store_stamps_to_unix_milliseconds() {
    assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00.000Z"), Some(0));
    assert_eq!(
        parse_rfc3339_ms("2026-11-29T03:06:39.120Z"),
        Some(1_795_921_599_120)
    );
    assert_eq!(
        parse_rfc3339_ms("2000-02-29T00:00:00Z"),
        Some(951_782_400_000)
    );
    assert_eq!(
        parse_rfc3339_ms("2026-11-29T03:06:39.1Z"),
        Some(1_795_921_599_100)
    );
    for bad in [
        "",
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-11-29 03:06:39Z",
        "2026-11-29T03:06:39",
    ] {
        assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
    }
}

#[test]
fn round_trips_the_clock_formatter() {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_234_567_890_123);
    let text = crate::clock::format_rfc3339(t);
    assert_eq!(parse_rfc3339_ms(&text), Some(1_234_567_890_123));
}

#[test]
fn says_how_long_ago_in_the_largest_whole_unit() {
    let now = 1_000_000_000;
    assert_eq!(ago(now, now), "just now");
    assert_eq!(ago(now + 5_000, now), "just now");
    assert_eq!(ago(now - 42_000, now), "42s ago");
    assert_eq!(ago(now - 181_000, now), "3m ago");
    assert_eq!(ago(now - 5 * 3_600_000, now), "5h ago");
    assert_eq!(ago(now - 2 * 86_400_000, now), "2d ago");
    assert_eq!(ago_rfc3339("not a time", now), "not a time");
}

#[test]
fn writes_spans_short() {
    assert_eq!(span_ms(850), "850ms");
    assert_eq!(span_ms(12_345), "12.3s");
    assert_eq!(span_ms(245_000), "4m05s");
    assert_eq!(span_ms(3 * 3_600_000 + 12 * 60_000), "3h12m");
    assert_eq!(span_ms(2 * 86_400_000 + 4 * 3_600_000), "2d4h");
}

#[test]
fn paints_only_when_asked_and_only_toned_text() {
    assert_eq!(paint("ready", state_tone("ready"), false), "ready");
    assert_eq!(
        paint("ready", state_tone("ready"), true),
        "\x1b[32mready\x1b[0m"
    );
    assert_eq!(
        paint("gave_up", state_tone("gave_up"), true),
        "\x1b[31;1mgave_up\x1b[0m"
    );
    assert_eq!(paint("stopped", state_tone("stopped"), true), "stopped");
    assert_eq!(severity_tone("warning"), Tone::Busy);
    assert_eq!(state_tone("something_new"), Tone::Plain);
}
