//! Untrusted text: which characters must never reach a terminal as they are, and the one
//! escaping every human printer uses (`events`, `top`, `fleet`, `status`, every table).
//!
//! A note, a command id or a remote device's state is text someone else wrote. Printed raw,
//! an ESC starts a terminal sequence (`\x1b[2J` clears the screen), a newline starts a forged
//! row, a bidi override reorders what is shown, a zero-width character hides a difference.
//! The characters refused in ids and escaped when printed ([`is_unsafe`]):
//!
//! - Unicode control characters, class Cc: U+0000–U+001F, U+007F–U+009F (NUL, ESC, CR, LF, TAB);
//! - format characters, class Cf, by explicit list (no Unicode-tables dependency): U+00AD,
//!   U+0600–U+0605, U+061C, U+06DD, U+070F, U+0890–U+0891, U+08E2, U+180E, U+200B–U+200F,
//!   U+202A–U+202E, U+2060–U+2064, U+2066–U+206F, U+FEFF, U+FFF9–U+FFFB, U+110BD, U+110CD,
//!   U+13430–U+1343F, U+1BCA0–U+1BCA3, U+1D173–U+1D17A, U+E0001, U+E0020–U+E007F;
//! - the line and paragraph separators U+2028 and U+2029 (classes Zl, Zp).
//!
//! ```text
//! escape("hi\x1b[2J\nFAKE ROW") == "hi\\e[2J\\nFAKE ROW"      (shown as  hi\e[2J\nFAKE ROW)
//! escape("a\u{202e}b")          == "a\\u{202e}b"
//! ```
//!
//! Backslashes are left as they are: the escapes make the text harmless to print, not
//! reversible (`--json` carries the exact text).

use std::borrow::Cow;

/// Format characters (Unicode class Cf), as inclusive ranges.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Whether `c` is a control, format or line/paragraph separator character.
pub fn is_unsafe(c: char) -> bool {
    if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
        return true;
    }
    let u = c as u32;
    FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&u))
}

/// Whether `s` holds no character that [`is_unsafe`].
pub fn is_clean(s: &str) -> bool {
    !s.chars().any(is_unsafe)
}

/// `s` with every unsafe character written as a visible escape: `\n`, `\r`, `\t`, `\0`, `\e`
/// (ESC) and `\u{…}` for the rest. Clean text is returned as it is, without a copy.
pub fn escape(s: &str) -> Cow<'_, str> {
    if is_clean(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\x1b' => out.push_str("\\e"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_move_the_cursor_or_start_a_row() {
        assert_eq!(escape("hi\x1b[2J\nFAKE ROW"), "hi\\e[2J\\nFAKE ROW");
        assert_eq!(escape("a\rb\tc\0d"), "a\\rb\\tc\\0d");
        assert_eq!(escape("\u{7f}\u{85}\u{9b}"), "\\u{7f}\\u{85}\\u{9b}");
    }

    #[test]
    fn escapes_bidi_zero_width_and_separators() {
        for (c, shown) in [
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{200d}', "\\u{200d}"),
            ('\u{feff}', "\\u{feff}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{e0041}', "\\u{e0041}"),
        ] {
            assert!(is_unsafe(c), "{c:?}");
            assert_eq!(escape(&format!("x{c}y")), format!("x{shown}y"));
        }
    }

    #[test]
    fn leaves_ordinary_text_alone_without_a_copy() {
        for s in [
            "llm",
            "ready: 4.0GiB",
            "caf\u{e9} \u{4e2d}\u{6587} \u{1f600}",
            "C:\\path",
            "",
        ] {
            assert!(is_clean(s), "{s:?}");
            assert!(matches!(escape(s), Cow::Borrowed(_)), "{s:?}");
        }
        // Neighbours of the refused ranges are fine.
        for c in [
            '\u{200a}', '\u{2010}', '\u{2027}', '\u{202f}', '\u{2065}', '\u{fefe}',
        ] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }

    #[test]
    fn an_escaped_text_is_clean_and_one_line() {
        let all: String = (0u32..0x3000)
            .chain(0xE0000..0xE0080)
            .filter_map(char::from_u32)
            .collect();
        let shown = escape(&all);
        assert!(is_clean(&shown));
        assert!(!shown.contains('\n'));
    }
}
