//! Number and unit scanners for the small grammars inside tokens: `23%`, `23%@1397`, `@1600`,
//! `3168/6851MB`, `45.375C`, `2763mW`. Each returns `None` on anything unexpected (never
//! panics, never overflows); callers then treat the token as unrecognised.

/// `1397` → 1397. ASCII digits only, at least one, no sign; `None` on overflow.
pub(crate) fn uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    Some(v)
}

/// A MHz figure or a milliwatt figure: fits in `u32`.
pub(crate) fn u32_of(s: &str) -> Option<u32> {
    uint(s).and_then(|v| u32::try_from(v).ok())
}

/// `23%` → 23.
pub(crate) fn pct(s: &str) -> Option<u8> {
    uint(s.strip_suffix('%')?).and_then(|v| u8::try_from(v).ok())
}

/// `23%@1397` → (Some(23), Some("1397")); `23%` → (Some(23), None); `@1600` → (None,
/// Some("1600")). The frequency part is returned as text because the GPU's may be `[a,b]`.
pub(crate) fn load_at(s: &str) -> Option<(Option<u8>, Option<&str>)> {
    match s.split_once('@') {
        Some(("", freq)) => Some((None, Some(freq))),
        Some((load, freq)) => Some((Some(pct(load)?), Some(freq))),
        None => Some((Some(pct(s)?), None)),
    }
}

/// Bytes per unit of a tegrastats size suffix: `kB`/`KB` 1024, `MB` 2^20, `GB` 2^30, `B` 1.
pub(crate) fn unit_bytes(unit: &str) -> Option<u64> {
    match unit {
        "kB" | "KB" => Some(1 << 10),
        "MB" => Some(1 << 20),
        "GB" => Some(1 << 30),
        "B" => Some(1),
        _ => None,
    }
}

/// Splits `6851MB` into ("6851", "MB").
pub(crate) fn split_unit(s: &str) -> (&str, &str) {
    let end = s
        .as_bytes()
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

/// `252kB` → 258048.
pub(crate) fn size(s: &str) -> Option<u64> {
    let (n, unit) = split_unit(s);
    uint(n)?.checked_mul(unit_bytes(unit)?)
}

/// `3168/6851MB` → (3168 MiB, 6851 MiB) in bytes; the unit after the total applies to both.
pub(crate) fn used_total(s: &str) -> Option<(u64, u64)> {
    let (used, total) = s.split_once('/')?;
    let (total, unit) = split_unit(total);
    let unit = unit_bytes(unit)?;
    Some((
        uint(used)?.checked_mul(unit)?,
        uint(total)?.checked_mul(unit)?,
    ))
}

/// `45.375` or `-256` → f64, correctly rounded: the digits form an exact integer that one
/// division by an exact power of ten rounds once.
pub(crate) fn decimal(s: &str) -> Option<f64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || int.len() + frac.len() > 15 || (s.ends_with('.')) {
        return None;
    }
    let int_v = uint(int)?;
    let mut v = int_v as f64;
    if !frac.is_empty() {
        let scale = 10u64.pow(frac.len() as u32);
        let whole = int_v * scale + uint(frac)?;
        v = whole as f64 / scale as f64;
    }
    Some(if neg { -v } else { v })
}

/// `45.375C` → Some(Some(45.375)); `-256C` → Some(None) (sensor off); no `C` → None.
pub(crate) fn celsius(s: &str) -> Option<Option<f64>> {
    let v = decimal(s.strip_suffix('C')?)?;
    Some(if v == -256.0 { None } else { Some(v) })
}

/// `2763mW` or `1931` → milliwatts.
pub(crate) fn milliwatts(s: &str) -> Option<u32> {
    u32_of(s.strip_suffix("mW").unwrap_or(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_matches_the_standard_parser_on_temperatures() {
        for t in [
            "45.375", "40.062", "53.968", "29.45", "0.1", "100", "-256", "31.35",
        ] {
            assert_eq!(decimal(t), t.parse::<f64>().ok(), "{t}");
        }
    }

    #[test]
    fn decimal_refuses_what_is_not_a_plain_decimal() {
        for t in [
            "",
            ".",
            "1.",
            ".5",
            "1.2.3",
            "+1",
            "1e3",
            "--1",
            "1234567890.1234567",
        ] {
            assert_eq!(decimal(t), None, "{t}");
        }
    }

    #[test]
    fn uint_refuses_overflow_instead_of_wrapping() {
        assert_eq!(uint("18446744073709551615"), None);
        assert_eq!(uint("9999999999999999999"), Some(9_999_999_999_999_999_999));
    }

    #[test]
    fn size_refuses_a_product_past_u64() {
        assert_eq!(size("9999999999999999999MB"), None);
    }
}
