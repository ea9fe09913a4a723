//! Number and unit scanners for the small grammars inside tokens: `23%`, `23%@1397`, `@1600`,
//! `3168/6851MB`, `45.375C`, `2763mW`. Each returns `None` on anything unexpected (never
//! panics, never overflows); callers then treat the token as unrecognised.

// Byte-level helpers. Tokens are short and every separator is ASCII, so a plain loop beats
// the standard library's general pattern searchers (memchr / memcmp calls) here, and slicing
// at an ASCII byte always falls on a character boundary.

/// `"a@b"` split at the first `sep` → `("a", "b")`.
#[inline]
pub(crate) fn cut(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|c| c == sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `s` without the prefix `p`, if it has it.
#[inline]
pub(crate) fn after<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let head = s.as_bytes().get(..p.len())?;
    if same(head, p.as_bytes()) {
        s.get(p.len()..)
    } else {
        None
    }
}

/// `s` without the suffix `p`, if it has it.
#[inline]
pub(crate) fn before<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let at = s.len().checked_sub(p.len())?;
    if same(s.as_bytes().get(at..)?, p.as_bytes()) {
        s.get(..at)
    } else {
        None
    }
}

/// The pieces of `s` between `sep` bytes (like `str::split` with one ASCII separator).
pub(crate) fn pieces(s: &str, sep: u8) -> Pieces<'_> {
    Pieces { rest: Some(s), sep }
}

pub(crate) struct Pieces<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match cut(rest, self.sep) {
            Some((piece, more)) => {
                self.rest = Some(more);
                Some(piece)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

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
    uint(before(s, "%")?).and_then(|v| u8::try_from(v).ok())
}

/// `23%@1397` → (Some(23), Some("1397")); `23%` → (Some(23), None); `@1600` → (None,
/// Some("1600")). The frequency part is returned as text because the GPU's may be `[a,b]`.
pub(crate) fn load_at(s: &str) -> Option<(Option<u8>, Option<&str>)> {
    match cut(s, b'@') {
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
    let (used, total) = cut(s, b'/')?;
    let (total, unit) = split_unit(total);
    let unit = unit_bytes(unit)?;
    Some((
        uint(used)?.checked_mul(unit)?,
        uint(total)?.checked_mul(unit)?,
    ))
}

// The reference form of `Cursor`'s reader of the same name (see the tests of both).
#[cfg(test)]
/// `45.375` or `-256` → f64, correctly rounded: the digits form an exact integer that one
/// division by an exact power of ten rounds once.
pub(crate) fn decimal(s: &str) -> Option<f64> {
    let (neg, s) = match after(s, "-") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = cut(s, b'.').unwrap_or((s, ""));
    if int.is_empty() || int.len() + frac.len() > 15 || s.as_bytes().last() == Some(&b'.') {
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

// The reference form of `Cursor`'s reader of the same name (see the tests of both).
#[cfg(test)]
/// `45.375C` → Some(Some(45.375)); `-256C` → Some(None) (sensor off); no `C` → None.
pub(crate) fn celsius(s: &str) -> Option<Option<f64>> {
    let v = decimal(before(s, "C")?)?;
    Some(if v == -256.0 { None } else { Some(v) })
}

// The reference form of `Cursor`'s reader of the same name (see the tests of both).
#[cfg(test)]
/// `2763mW` or `1931` → milliwatts.
pub(crate) fn milliwatts(s: &str) -> Option<u32> {
    u32_of(before(s, "mW").unwrap_or(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_splits_like_the_standard_library() {
        for s in ["", ",", "a", "a,b", ",a,,b,", "off,1%@5"] {
            let ours: Vec<&str> = pieces(s, b',').collect();
            let std: Vec<&str> = s.split(',').collect();
            assert_eq!(ours, std, "{s:?}");
        }
    }

    #[test]
    fn prefix_and_suffix_helpers_match_the_standard_library() {
        for s in ["", "_FREQ", "VIC_FREQ", "FREQ", "GR3D2_FREQ", "é_FREQ"] {
            assert_eq!(before(s, "_FREQ"), s.strip_suffix("_FREQ"), "{s:?}");
            assert_eq!(after(s, "GR3D"), s.strip_prefix("GR3D"), "{s:?}");
        }
    }

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
