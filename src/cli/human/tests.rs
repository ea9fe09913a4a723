//! Tests of the human forms: stamps, relative times, colour.

use super::*;

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
