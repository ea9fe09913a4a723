//! The `--json` line writer: the same bytes `serde_json::to_writer(sample)` produces, written
//! several times faster because keys are constant byte strings, integers are formatted in place,
//! temperatures through `zmij` (the shortest round-trip formatter serde_json itself calls for
//! an `f64`, so the digits are the same) and names that need no escaping are copied. Only
//! strings that need escaping still go through `serde_json`; a test holds the whole output
//! equal to serde's. Nothing here goes through `fmt`.
//!
//! ```text
//! {"time":"2024-11-15T08:38:09","ram":{"used_bytes":6485442560,...},...,"unrecognized":[]}
//! ```

use std::io;

use tegrastats_parser::Sample;

/// Appends `sample` as one JSON object (no newline) to `out`.
pub fn write(out: &mut Vec<u8>, s: &Sample<'_>) -> io::Result<()> {
    out.extend_from_slice(b"{\"time\":");
    match &s.time {
        Some(t) => {
            out.push(b'"');
            uint(out, u64::from(t.year), 4);
            out.push(b'-');
            uint(out, u64::from(t.month), 2);
            out.push(b'-');
            uint(out, u64::from(t.day), 2);
            out.push(b'T');
            uint(out, u64::from(t.hour), 2);
            out.push(b':');
            uint(out, u64::from(t.minute), 2);
            out.push(b':');
            uint(out, u64::from(t.second), 2);
            out.push(b'"');
        }
        None => null(out),
    }
    out.extend_from_slice(b",\"ram\":{\"used_bytes\":");
    num(out, s.ram.used_bytes);
    out.extend_from_slice(b",\"total_bytes\":");
    num(out, s.ram.total_bytes);
    out.extend_from_slice(b",\"lfb_blocks\":");
    opt(out, s.ram.lfb_blocks);
    out.extend_from_slice(b",\"lfb_block_bytes\":");
    opt(out, s.ram.lfb_block_bytes);
    out.extend_from_slice(b"},\"swap\":");
    match &s.swap {
        Some(w) => {
            out.extend_from_slice(b"{\"used_bytes\":");
            num(out, w.used_bytes);
            out.extend_from_slice(b",\"total_bytes\":");
            num(out, w.total_bytes);
            out.extend_from_slice(b",\"cached_bytes\":");
            opt(out, w.cached_bytes);
            out.push(b'}');
        }
        None => null(out),
    }
    out.extend_from_slice(b",\"iram\":");
    match &s.iram {
        Some(i) => {
            out.extend_from_slice(b"{\"used_bytes\":");
            num(out, i.used_bytes);
            out.extend_from_slice(b",\"total_bytes\":");
            num(out, i.total_bytes);
            out.extend_from_slice(b",\"lfb_bytes\":");
            opt(out, i.lfb_bytes);
            out.push(b'}');
        }
        None => null(out),
    }
    out.extend_from_slice(b",\"cpus\":[");
    for (k, cpu) in s.cpus.iter().enumerate() {
        comma(out, k);
        match cpu {
            Some(c) => {
                out.extend_from_slice(b"{\"load_pct\":");
                num(out, u64::from(c.load_pct));
                out.extend_from_slice(b",\"freq_mhz\":");
                opt(out, c.freq_mhz.map(u64::from));
                out.push(b'}');
            }
            None => null(out),
        }
    }
    out.extend_from_slice(b"],\"emc\":");
    match &s.emc {
        Some(e) => {
            out.extend_from_slice(b"{\"load_pct\":");
            opt(out, e.load_pct.map(u64::from));
            out.extend_from_slice(b",\"freq_mhz\":");
            opt(out, e.freq_mhz.map(u64::from));
            out.push(b'}');
        }
        None => null(out),
    }
    out.extend_from_slice(b",\"gpu\":");
    match &s.gpu {
        Some(g) => {
            out.extend_from_slice(b"{\"load_pct\":");
            opt(out, g.load_pct.map(u64::from));
            out.extend_from_slice(b",\"freq_mhz\":[");
            for (k, f) in g.freq_mhz.iter().enumerate() {
                comma(out, k);
                num(out, u64::from(*f));
            }
            out.extend_from_slice(b"]}");
        }
        None => null(out),
    }
    out.extend_from_slice(b",\"engines\":[");
    for (k, e) in s.engines.iter().enumerate() {
        comma(out, k);
        out.extend_from_slice(b"{\"name\":");
        text(out, e.name)?;
        out.extend_from_slice(if e.on {
            b",\"on\":true,\"load_pct\":"
        } else {
            b",\"on\":false,\"load_pct\":"
        });
        opt(out, e.load_pct.map(u64::from));
        out.extend_from_slice(b",\"freq_mhz\":");
        opt(out, e.freq_mhz.map(u64::from));
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"temps\":[");
    for (k, t) in s.temps.iter().enumerate() {
        comma(out, k);
        out.extend_from_slice(b"{\"name\":");
        text(out, t.name)?;
        out.extend_from_slice(b",\"celsius\":");
        float(out, t.celsius);
        out.extend_from_slice(b",\"peak_celsius\":");
        float(out, t.peak_celsius);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"rails\":[");
    for (k, r) in s.rails.iter().enumerate() {
        comma(out, k);
        out.extend_from_slice(b"{\"name\":");
        text(out, r.name)?;
        out.extend_from_slice(b",\"milliwatts\":");
        num(out, u64::from(r.milliwatts));
        out.extend_from_slice(b",\"avg_milliwatts\":");
        num(out, u64::from(r.avg_milliwatts));
        out.extend_from_slice(b",\"peak_milliwatts\":");
        opt(out, r.peak_milliwatts.map(u64::from));
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"other\":{\"mts_fg_pct\":");
    opt(out, s.other.mts_fg_pct.map(u64::from));
    out.extend_from_slice(b",\"mts_bg_pct\":");
    opt(out, s.other.mts_bg_pct.map(u64::from));
    out.extend_from_slice(b",\"edp_limit_mhz\":");
    opt(out, s.other.edp_limit_mhz.map(u64::from));
    out.extend_from_slice(b"},\"unrecognized\":[");
    for (k, u) in s.unrecognized.iter().enumerate() {
        comma(out, k);
        text(out, u)?;
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"null");
}

fn comma(out: &mut Vec<u8>, index: usize) {
    if index > 0 {
        out.push(b',');
    }
}

fn opt(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => num(out, v),
        None => null(out),
    }
}

/// Two ASCII digits for each value below 100: `00`, `01`, ... `99`.
const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut v = 0;
    while v < 100 {
        t[2 * v] = b'0' + (v / 10) as u8;
        t[2 * v + 1] = b'0' + (v % 10) as u8;
        v += 1;
    }
    t
};

/// 10^n for n in 0..20.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut n = 1;
    while n < 20 {
        t[n] = t[n - 1] * 10;
        n += 1;
    }
    t
};

/// How many decimal digits `v` has (1 to 20): log10 estimated from the bit length
/// (1233 / 4096 ≈ log10 2), then corrected by one comparison.
fn digit_count(v: u64) -> usize {
    let x = v | 1;
    let bits = 64 - x.leading_zeros() as usize;
    let t = (bits * 1233) >> 12;
    t + 1 - usize::from(x < POW10[t])
}

/// The decimal digits of `v`, two at a time. They are formed at the front of a fixed 20-byte
/// block that is appended whole and then cut to length: a copy of constant size compiles to a
/// few moves, where a copy of the digits' own length would be a `memcpy` call per number.
#[inline]
fn num(out: &mut Vec<u8>, v: u64) {
    // Most figures of a line (loads, MHz, milliwatts) are short: a digit or two directly.
    if v < 10 {
        out.push(b'0' + v as u8);
        return;
    }
    if v < 100 {
        let pair = v as usize * 2;
        out.extend_from_slice(&[PAIRS[pair], PAIRS[pair + 1]]);
        return;
    }
    let n = digit_count(v);
    let mut buf = [0u8; 20];
    let mut x = v;
    let mut end = n;
    while x >= 100 {
        let pair = (x % 100) as usize * 2;
        x /= 100;
        end -= 2;
        buf[end] = PAIRS[pair];
        buf[end + 1] = PAIRS[pair + 1];
    }
    if x >= 10 {
        let pair = x as usize * 2;
        buf[0] = PAIRS[pair];
        buf[1] = PAIRS[pair + 1];
    } else {
        buf[0] = b'0' + x as u8;
    }
    let len = out.len();
    out.extend_from_slice(&buf);
    out.truncate(len + n);
}

/// Decimal digits of `v`, left-padded with zeros to at least `width`.
fn uint(out: &mut Vec<u8>, v: u64, width: usize) {
    for _ in digit_count(v)..width {
        out.push(b'0');
    }
    num(out, v);
}

/// A JSON string. A short one with nothing to escape (every name tegrastats prints) is
/// checked and quoted in a fixed 32-byte block appended whole, which avoids a `memcpy` call per
/// name; a longer one is copied as is; one that needs escaping goes through serde_json.
fn text(out: &mut Vec<u8>, s: &str) -> io::Result<()> {
    let b = s.as_bytes();
    let plain = |c: u8| c >= 0x20 && c != b'"' && c != b'\\';
    if b.len() <= 30 {
        let mut block = [0u8; 32];
        block[0] = b'"';
        for (slot, &c) in block[1..].iter_mut().zip(b) {
            if !plain(c) {
                return serde_json::to_writer(&mut *out, s).map_err(io::Error::from);
            }
            *slot = c;
        }
        block[b.len() + 1] = b'"';
        let len = out.len();
        out.extend_from_slice(&block);
        out.truncate(len + b.len() + 2);
    } else if b.iter().all(|&c| plain(c)) {
        out.push(b'"');
        out.extend_from_slice(b);
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).map_err(io::Error::from)?;
    }
    Ok(())
}

/// An `f64` as serde_json writes it: shortest round-trip digits by `zmij`, `null` when not
/// finite (the parser never yields such a value, but serde's rule is kept).
fn float(out: &mut Vec<u8>, v: Option<f64>) {
    match v {
        Some(v) if v.is_finite() => {
            out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
        }
        _ => null(out),
    }
}

#[cfg(test)]
mod tests {
    use tegrastats_parser::parse_line;

    use super::*;

    const LINES: &str = include_str!("../../../crates/tegrastats-parser/tests/data/lines.txt");

    fn same_as_serde(line: &str) {
        let s = parse_line(line).unwrap();
        let mut ours = Vec::new();
        write(&mut ours, &s).unwrap();
        let theirs = serde_json::to_vec(&s).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs).unwrap()
        );
    }

    #[test]
    fn every_fixture_line_is_written_exactly_as_serde_writes_it() {
        let mut n = 0;
        for line in LINES
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            same_as_serde(line);
            n += 1;
        }
        assert_eq!(n, 13);
    }

    #[test]
    fn odd_values_are_written_exactly_as_serde_writes_them() {
        same_as_serde(
            "01-02-0003 04:05:06 RAM 0/18446744073MB (lfb 0x0kB) SWAP 1/2MB IRAM 1/2kB \
             CPU [off,0%,255%@4294967295] EMC 7% GR3D_FREQ @[] x@0.00000000001C \
             y@123456789012345C z@-0.5C/-256C \"q\\\u{1}é MTS fg 1% bg 2% EDP limit 9",
        );
        same_as_serde("RAM 1/2MB");
    }

    #[test]
    fn temperatures_are_written_with_the_digits_serde_writes() {
        let mut ours = Vec::new();
        for whole in [0u64, 1, 9, 10, 45, 99, 100, 256, 1000, 123_456_789_012] {
            for frac in [
                "", "0", "5", "05", "062", "375", "812", "968", "1234567", "0001",
            ] {
                for sign in ["", "-"] {
                    let text = if frac.is_empty() {
                        format!("{sign}{whole}")
                    } else {
                        format!("{sign}{whole}.{frac}")
                    };
                    let v: f64 = text.parse().unwrap();
                    ours.clear();
                    float(&mut ours, Some(v));
                    let theirs = serde_json::to_string(&v).unwrap();
                    assert_eq!(String::from_utf8_lossy(&ours), theirs, "{text}");
                }
            }
        }
        for odd in [
            1e-11,
            1e16,
            1.5e300,
            5e-324,
            f64::MAX,
            f64::NAN,
            f64::INFINITY,
        ] {
            ours.clear();
            float(&mut ours, Some(odd));
            let theirs = serde_json::to_string(&odd).unwrap();
            assert_eq!(String::from_utf8_lossy(&ours), theirs, "{odd}");
        }
    }

    #[test]
    fn integers_are_written_as_serde_writes_them_at_every_digit_count() {
        let mut out = Vec::new();
        let mut p: u64 = 1;
        for _ in 0..20 {
            for v in [
                p - 1,
                p,
                p + 1,
                p.saturating_mul(5),
                p.saturating_mul(10) - 1,
            ] {
                out.clear();
                num(&mut out, v);
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    serde_json::to_string(&v).unwrap()
                );
            }
            p = p.saturating_mul(10);
        }
        out.clear();
        num(&mut out, u64::MAX);
        assert_eq!(String::from_utf8_lossy(&out), u64::MAX.to_string());
    }

    #[test]
    fn names_of_every_length_and_those_that_need_escaping_are_written_as_serde_writes_them() {
        let mut out = Vec::new();
        for len in 0..40 {
            for name in [
                "x".repeat(len),
                format!("{}\"", "a".repeat(len)),
                format!("{}\u{1}é", "b".repeat(len)),
            ] {
                out.clear();
                text(&mut out, &name).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    serde_json::to_string(&name).unwrap()
                );
            }
        }
    }

    #[test]
    fn padded_integers_keep_their_width_and_longer_ones_are_not_cut() {
        let mut out = Vec::new();
        for (v, width, want) in [
            (7u64, 2, "07"),
            (2024, 4, "2024"),
            (3, 4, "0003"),
            (12345, 2, "12345"),
            (0, 1, "0"),
        ] {
            out.clear();
            uint(&mut out, v, width);
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }
}
