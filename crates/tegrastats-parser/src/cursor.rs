//! A read position inside one token, for the grammars that are read left to right in a single
//! pass: `[5%@729,off,...]`, `47.687C/48.5C`, `2801mW/2801mW`, `79%@166`. Each byte is looked
//! at once; nothing is split first and parsed after.
//!
//! Every reader returns `None` (or `false`) on anything unexpected and never panics or
//! overflows; the grammars built on it accept exactly what the split-then-parse helpers of
//! `num.rs` accept (a test below holds them side by side).

/// 10^n for the at most 15 decimals `decimal` accepts.
const POW10: [u64; 16] = {
    let mut t = [1u64; 16];
    let mut n = 1;
    while n < 16 {
        t[n] = t[n - 1] * 10;
        n += 1;
    }
    t
};

/// A position in the bytes of one token.
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor {
            b: s.as_bytes(),
            i: 0,
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    pub(crate) fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    /// Steps over `c` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Steps over `s` if it comes next.
    #[inline]
    pub(crate) fn eat_all(&mut self, s: &[u8]) -> bool {
        match self.b.get(self.i..self.i + s.len()) {
            Some(head) if head == s => {
                self.i += s.len();
                true
            }
            _ => false,
        }
    }

    /// One to 19 ASCII digits (a 20th is refused, as `num::uint` refuses it) → their value
    /// and how many there were.
    #[inline]
    pub(crate) fn digits(&mut self) -> Option<(u64, usize)> {
        let mut v: u64 = 0;
        let mut n = 0;
        for &c in self.b.get(self.i..)? {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            // Wrapping is harmless: more than 19 digits are refused below.
            v = v.wrapping_mul(10).wrapping_add(u64::from(d));
            n += 1;
        }
        if n == 0 || n > 19 {
            return None;
        }
        self.i += n;
        Some((v, n))
    }

    /// A MHz or milliwatt figure: digits that fit a `u32`.
    #[inline]
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.digits().and_then(|(v, _)| u32::try_from(v).ok())
    }

    /// `23%` → 23 (at most 255).
    #[inline]
    pub(crate) fn pct(&mut self) -> Option<u8> {
        let (v, _) = self.digits()?;
        if !self.eat(b'%') {
            return None;
        }
        u8::try_from(v).ok()
    }

    /// `45.375` or `-256`: the same value and the same refusals as `num::decimal`.
    pub(crate) fn decimal(&mut self) -> Option<f64> {
        let neg = self.eat(b'-');
        let (int_v, int_len) = self.digits()?;
        let mut v = int_v as f64;
        if self.eat(b'.') {
            let (frac_v, frac_len) = self.digits()?;
            if int_len + frac_len > 15 {
                return None;
            }
            let scale = POW10[frac_len];
            v = (int_v * scale + frac_v) as f64 / scale as f64;
        } else if int_len > 15 {
            return None;
        }
        Some(if neg { -v } else { v })
    }

    /// `45.375C` → Some(Some(45.375)); `-256C` → Some(None), the sensor-off mark.
    pub(crate) fn celsius(&mut self) -> Option<Option<f64>> {
        let v = self.decimal()?;
        if !self.eat(b'C') {
            return None;
        }
        Some(if v == -256.0 { None } else { Some(v) })
    }

    /// `2763mW` or `1931` (R28 to R32 print no unit).
    #[inline]
    pub(crate) fn milliwatts(&mut self) -> Option<u32> {
        let v = self.u32()?;
        self.eat_all(b"mW");
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num;

    const SAMPLES: &[&str] = &[
        "",
        "0",
        "7",
        "45",
        "45.375",
        "-256",
        "-256.0",
        "1.",
        ".5",
        "1.2.3",
        "--1",
        "+1",
        "1e3",
        "-",
        "-.5",
        "00012",
        "123456789012345",
        "1234567890123456",
        "12345678.1234567",
        "12345678.12345678",
        "9999999999999999999",
        "18446744073709551615",
        "4294967295",
        "4294967296",
        "255",
        "256",
        "5%",
        "5%%",
        "x",
        " 1",
    ];

    fn whole<'a, T>(s: &'a str, read: impl Fn(&mut Cursor<'a>) -> Option<T>) -> Option<T> {
        let mut c = Cursor::new(s);
        read(&mut c).filter(|_| c.done())
    }

    #[test]
    fn decimal_reads_exactly_what_the_split_then_parse_decimal_reads() {
        for s in SAMPLES {
            assert_eq!(whole(s, Cursor::decimal), num::decimal(s), "{s:?}");
        }
    }

    #[test]
    fn figures_read_exactly_what_the_split_then_parse_helpers_read() {
        for s in SAMPLES {
            assert_eq!(whole(s, Cursor::u32), num::u32_of(s), "{s:?}");
            assert_eq!(whole(s, Cursor::pct), num::pct(s), "{s:?}");
            let mw = format!("{s}mW");
            assert_eq!(
                whole(&mw, Cursor::milliwatts),
                num::milliwatts(&mw),
                "{mw:?}"
            );
            assert_eq!(whole(s, Cursor::milliwatts), num::milliwatts(s), "{s:?}");
            let c = format!("{s}C");
            assert_eq!(whole(&c, Cursor::celsius), num::celsius(&c), "{c:?}");
        }
    }

    #[test]
    fn a_twentieth_digit_is_refused_rather_than_wrapped() {
        let mut c = Cursor::new("18446744073709551615");
        assert_eq!(c.digits(), None);
    }
}
