//! Tests of the human events table.

use super::*;

#[test]
fn recent_events_read_as_ago_and_older_ones_as_a_date() {
    let now = crate::clock::parse_rfc3339_ms("2026-11-24T03:09:40.000Z").unwrap();
    assert_eq!(when("2026-11-24T03:06:39.120Z", now), "3m ago");
    assert_eq!(when("2026-11-20T03:06:39.120Z", now), "2026-11-20 03:06");
    assert_eq!(when("garbage", now), "garbage");
}
