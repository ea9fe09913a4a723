//! Wall-clock stamps: RFC 3339 formatting and parsing. Decision code never reads the clock (time
//! is an argument); the few I/O modules that stamp events or lines call [`now_rfc3339`] or format
//! a `SystemTime` they were given.
#![allow(clippy::disallowed_methods)] // the one place wall-clock time is read for stamping

use std::time::{SystemTime, UNIX_EPOCH};

/// RFC 3339 UTC with milliseconds: `2026-11-24T03:06:39.120Z`.
pub fn format_rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600,
        (rem / 60) % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Now, as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch of an RFC 3339 stamp: `2026-11-24T03:06:39.120Z`, a
/// fraction of any length (cut to milliseconds) or none, `Z` or a `±HH:MM` offset. `None` for
/// anything else, a date that does not exist included, and for instants before 1970.
pub fn parse_rfc3339_ms(ts: &str) -> Option<u64> {
    let (date, time) = ts.split_once(['T', 't'])?;
    let (clock, offset_minutes) = split_offset(time)?;
    let mut d = date.splitn(3, '-');
    let year: i64 = digits(d.next()?, 4)?.try_into().ok()?;
    let month = digits(d.next()?, 2)? as u32;
    let day = digits(d.next()?, 2)? as u32;
    let (hms, frac) = match clock.split_once('.') {
        Some((_, "")) => return None,
        Some(split) => split,
        None => (clock, ""),
    };
    let mut t = hms.splitn(3, ':');
    let h = digits(t.next()?, 2)?;
    let m = digits(t.next()?, 2)?;
    let s = digits(t.next()?, 2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let millis = match frac {
        "" => 0,
        f if f.bytes().all(|b| b.is_ascii_digit()) => {
            let cut = &f[..f.len().min(3)];
            cut.parse::<u64>().ok()? * 10u64.pow(3 - cut.len() as u32)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let local_secs = days * 86_400 + (h * 3_600 + m * 60 + s) as i64;
    let utc_secs = local_secs - offset_minutes * 60;
    u64::try_from(utc_secs).ok().map(|s| s * 1_000 + millis)
}

/// The wall time and its offset from UTC in minutes: `03:06:39Z` → 0, `05:06:39+02:00` → 120.
fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let at = time.rfind(['+', '-'])?;
    let (clock, offset) = time.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let (hh, mm) = offset[1..].split_once(':')?;
    let (hh, mm) = (digits(hh, 2)?, digits(mm, 2)?);
    if hh > 23 || mm > 59 {
        return None;
    }
    Some((clock, sign * (hh * 60 + mm) as i64))
}

/// A field of exactly `len` ASCII digits.
fn digits(text: &str, len: usize) -> Option<u64> {
    (text.len() == len && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days-from-civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's civil-from-days algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_921_599_120);
        assert_eq!(format_rfc3339(t), "2026-11-29T03:06:39.120Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(format_rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn parses_stamps_to_unix_milliseconds() {
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
        assert_eq!(
            parse_rfc3339_ms("2026-11-29T03:06:39.123456789Z"),
            Some(1_795_921_599_123)
        );
    }

    #[test]
    fn an_offset_names_the_same_instant_as_its_utc_stamp() {
        let utc = parse_rfc3339_ms("2026-11-29T03:06:39Z");
        assert_eq!(parse_rfc3339_ms("2026-11-29T05:06:39+02:00"), utc);
        assert_eq!(parse_rfc3339_ms("2026-11-28T21:36:39-05:30"), utc);
        assert_eq!(parse_rfc3339_ms("2026-11-29t03:06:39z"), utc);
        assert_eq!(parse_rfc3339_ms("2026-11-29T03:06:39+00:00"), utc);
    }

    #[test]
    fn refuses_what_is_not_an_existing_instant() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-29 03:06:39Z",
            "2026-11-29T03:06:39",
            "2026-11-29T24:00:00Z",
            "2026-11-29T03:06:39+2:00",
            "2026-11-29T03:06:39+02:60",
            "2026-11-29T03:06:39.Z",
            "2026-11-29T03:06:39.1xZ",
            "+2026-11-29T03:06:39Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T01:00:00+02:00",
            "२०२६-11-29T03:06:39Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_the_formatter() {
        let t = UNIX_EPOCH + Duration::from_millis(1_234_567_890_123);
        assert_eq!(
            parse_rfc3339_ms(&format_rfc3339(t)),
            Some(1_234_567_890_123)
        );
    }
}
