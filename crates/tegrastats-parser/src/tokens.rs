//! The whitespace-separated tokens of one line, as positions in it: `RAM`, `6879/62841MB`,
//! `(lfb`, `3x4MB)`, ... Whitespace is what `u8::is_ascii_whitespace` calls whitespace; token
//! ends are found eight bytes at a time, since most bytes of a line are inside a token.

/// A cursor over the whitespace-separated tokens of a line; cheap to copy, so a field parser
/// that fails can be undone by restoring a copy.
#[derive(Clone, Copy)]
pub(crate) struct Tokens<'a> {
    line: &'a str,
    /// Where the unread part of `line` starts.
    pub(crate) pos: usize,
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(line: &'a str) -> Self {
        Tokens { line, pos: 0 }
    }

    /// The next token, or `None` (leaving the cursor where it was) when only whitespace is
    /// left. One pass over the bytes; every byte above `' '` is part of a token.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<&'a str> {
        let b = self.line.as_bytes();
        let mut i = self.pos;
        while is_space(*b.get(i)?) {
            i += 1;
        }
        let end = token_end(b, i + 1);
        // Whitespace is ASCII, so the cut falls on character boundaries.
        let tok = self.line.get(i..end)?;
        self.pos = end;
        Some(tok)
    }

    /// Consumes the next token if it is `want`.
    pub(crate) fn eat(&mut self, want: &str) -> bool {
        let mut probe = *self;
        if probe.next() == Some(want) {
            *self = probe;
            true
        } else {
            false
        }
    }
}

/// ASCII whitespace as `u8::is_ascii_whitespace` defines it, with the common case (a byte above
/// `' '`) decided by one comparison.
#[inline]
fn is_space(c: u8) -> bool {
    c <= b' ' && matches!(c, b' ' | b'\t' | b'\n' | b'\x0C' | b'\r')
}

/// The index of the first whitespace byte at or after `i`, or `b.len()`. Eight bytes at a time:
/// a word with no byte at or below `' '` (the common case inside a token) is skipped whole.
#[inline]
fn token_end(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(word) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        // High bit set in each byte below 0x21 (exact for the lowest such byte; bytes from
        // 0x80 up never count), so the lowest set bit is the first candidate.
        let low = x.wrapping_sub(ONES * 0x21) & !x & HIGH;
        if low == 0 {
            i += 8;
            continue;
        }
        let at = i + (low.trailing_zeros() / 8) as usize;
        if is_space(b[at]) {
            return at;
        }
        // A control byte that is not whitespace: look on from just after it.
        i = at + 1;
    }
    while i < b.len() && !is_space(b[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_end(b: &[u8], mut i: usize) -> usize {
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    }

    #[test]
    fn token_end_finds_the_same_whitespace_as_a_byte_by_byte_scan() {
        // Bytes drawn from whitespace, other control bytes, `!`, letters and non-ASCII, at
        // every offset of lines long enough to take the eight-byte path several times.
        let alphabet = [
            b' ', b'\t', b'\n', 0x0B, 0x0C, b'\r', 0x00, 0x1F, 0x20, 0x21, b'A', 0x7F, 0x80, 0xA0,
            0xFF,
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..40 {
            for _ in 0..200 {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        alphabet[(seed >> 33) as usize % alphabet.len()]
                    })
                    .collect();
                for start in 0..=len {
                    assert_eq!(
                        token_end(&line, start),
                        naive_end(&line, start),
                        "{line:?} from {start}"
                    );
                }
            }
        }
    }

    #[test]
    fn tokens_split_like_split_ascii_whitespace() {
        for line in [
            "",
            "  ",
            "a",
            " a  bb\tccc\r\n",
            "RAM 1/2MB\u{a0}x \u{1}y",
            "abcdefghijklmnop qrstuvwxyz0123456789 z",
        ] {
            let mut toks = Tokens::new(line);
            let mut ours = Vec::new();
            while let Some(t) = toks.next() {
                ours.push(t);
            }
            assert_eq!(
                ours,
                line.split_ascii_whitespace().collect::<Vec<_>>(),
                "{line:?}"
            );
        }
    }
}
