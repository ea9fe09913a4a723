//! The token loop: splits a line on whitespace and hands each token (with the ones after it
//! that belong to it) to the parser of its field.
//!
//! Fields are recognised by their name (`RAM`, `SWAP`, `CPU`, `GR3D_FREQ`, ...) or by their
//! shape (`name@45.5C` is a temperature; `NAME a/b[/c]` a rail; `NAME off|MHz|%@MHz|@MHz` an
//! engine; those are in `shaped.rs`), never by position. A named field is picked by its first
//! byte and name; a token whose field does not parse is pushed to `unrecognized` and the
//! tokens after it are read afresh, so one odd field costs nothing else.
//!
//! ```text
//! 11-15-2024 08:38:09 RAM 6185/7620MB (lfb 8x2MB) CPU [15%@729,off] GR3D_FREQ 63%@[621] ...
//! ```

use crate::cursor::Cursor;
use crate::num::{self, after, before, cut, load_at, pct, pieces, size, u32_of, used_total};
use crate::sample::{Cpu, Emc, Gpu, Iram, LocalTime, Ram, Sample, Swap};
use crate::shaped::shaped;
use crate::tokens::Tokens;
use crate::ParseError;

/// Parses `line` into `out`, which is cleared first (its allocations are kept).
pub fn parse_line_into<'a>(line: &'a str, out: &mut Sample<'a>) -> Result<(), ParseError> {
    out.clear();
    let mut toks = Tokens::new(line);
    let mut has_ram = false;
    while let Some(tok) = toks.next() {
        let before = toks;
        let known = match tok {
            "RAM" => {
                out.ram = ram(&mut toks).ok_or_else(|| bad_ram(line, tok, toks))?;
                has_ram = true;
                true
            }
            "SWAP" => swap(&mut toks).map(|v| out.swap = Some(v)).is_some(),
            "IRAM" => iram(&mut toks).map(|v| out.iram = Some(v)).is_some(),
            "CPU" | "cpu" => cpus(&mut toks, &mut out.cpus),
            "EMC_FREQ" | "EMC" => emc(&mut toks).map(|v| out.emc = Some(v)).is_some(),
            "MTS" => mts(&mut toks, out),
            "EDP" => edp(&mut toks, out),
            // Every other field is told by its first byte: only a date starts with a digit.
            _ => match tok.as_bytes().first() {
                Some(b'G') => is_gpu_name(tok) && gpu(&mut toks, out),
                Some(b'0'..=b'9') => time(tok, &mut toks, out),
                _ => false,
            },
        };
        if known {
            continue;
        }
        toks = before;
        if !shaped(tok, &mut toks, out) {
            out.unrecognized.push(tok);
        }
    }
    if has_ram {
        Ok(())
    } else {
        Err(ParseError::NoRam)
    }
}

/// The error for a bad `RAM`: the text from `RAM` up to where the parser stopped.
fn bad_ram(line: &str, tok: &str, toks: Tokens<'_>) -> ParseError {
    let start = (tok.as_ptr() as usize).saturating_sub(line.as_ptr() as usize);
    let end = toks.pos;
    let field = line.get(start..end).unwrap_or(tok).trim_end();
    ParseError::BadRam {
        field: field.to_owned(),
    }
}

/// `3168/6851MB (lfb 2x4MB)`; the `(lfb ...)` part is optional.
fn ram(t: &mut Tokens<'_>) -> Option<Ram> {
    let (used_bytes, total_bytes) = used_total(t.next()?)?;
    let mut ram = Ram {
        used_bytes,
        total_bytes,
        lfb_blocks: None,
        lfb_block_bytes: None,
    };
    if t.eat("(lfb") {
        let (n, each) = cut(before(t.next()?, ")")?, b'x')?;
        ram.lfb_blocks = Some(num::uint(n)?);
        ram.lfb_block_bytes = Some(size(each)?);
    }
    Some(ram)
}

/// `161/3426MB (cached 0MB)`; the `(cached ...)` part is optional.
fn swap(t: &mut Tokens<'_>) -> Option<Swap> {
    let (used_bytes, total_bytes) = used_total(t.next()?)?;
    let mut cached_bytes = None;
    if t.eat("(cached") {
        cached_bytes = Some(size(before(t.next()?, ")")?)?);
    }
    Some(Swap {
        used_bytes,
        total_bytes,
        cached_bytes,
    })
}

/// `0/252kB(lfb 252kB)`, with or without a space before `(lfb`.
fn iram(t: &mut Tokens<'_>) -> Option<Iram> {
    let first = t.next()?;
    let (figures, has_lfb) = match before(first, "(lfb") {
        Some(figures) => (figures, true),
        None => (first, t.eat("(lfb")),
    };
    let (used_bytes, total_bytes) = used_total(figures)?;
    let lfb_bytes = if has_lfb {
        Some(size(before(t.next()?, ")")?)?)
    } else {
        None
    };
    Some(Iram {
        used_bytes,
        total_bytes,
        lfb_bytes,
    })
}

/// `[23%@1397,off,...]`, or old TX1 `[2%,5%]@1734` with one shared frequency.
/// A later `CPU` list replaces an earlier one; one that fails leaves the earlier one alone
/// (Xavier's rail `CPU 466/466` follows its core list).
fn cpus(t: &mut Tokens<'_>, out: &mut Vec<Option<Cpu>>) -> bool {
    let mark = out.len();
    if t.next().and_then(|v| cpu_list(v, out)).is_some() {
        out.drain(..mark);
        true
    } else {
        out.truncate(mark);
        false
    }
}

/// Appends the cores of `v` to `out`, in one pass: `[` then `off` or `load%[@MHz]` per core,
/// `]`, then an optional shared `@MHz` that applies to the cores without their own.
fn cpu_list(v: &str, out: &mut Vec<Option<Cpu>>) -> Option<()> {
    let mark = out.len();
    let mut c = Cursor::new(v);
    if !c.eat(b'[') {
        return None;
    }
    if !c.eat(b']') {
        loop {
            if c.eat_all(b"off") {
                out.push(None);
            } else {
                let load_pct = c.pct()?;
                let freq_mhz = if c.eat(b'@') { Some(c.u32()?) } else { None };
                out.push(Some(Cpu { load_pct, freq_mhz }));
            }
            match c.peek()? {
                b',' => c.eat(b','),
                b']' => break,
                _ => return None,
            };
        }
        c.eat(b']');
    }
    if c.eat(b'@') {
        let shared = c.u32()?;
        for core in out[mark..].iter_mut().flatten() {
            core.freq_mhz = core.freq_mhz.or(Some(shared));
        }
    }
    c.done().then_some(())
}

/// `2%@204`, `0%` (non-root), old `EMC 1%@408`.
fn emc(t: &mut Tokens<'_>) -> Option<Emc> {
    let (load_pct, freq) = load_at(t.next()?)?;
    let freq_mhz = match freq {
        Some(f) => Some(u32_of(f)?),
        None => None,
    };
    Some(Emc { load_pct, freq_mhz })
}

/// `GR3D_FREQ`, old `GR3D`, and R35's per-GPC `GR3D2_FREQ` (`GR3D<n>`, `GR3D<n>_FREQ`).
fn is_gpu_name(tok: &str) -> bool {
    let Some(rest) = after(tok, "GR3D") else {
        return false;
    };
    let rest = before(rest, "_FREQ").unwrap_or(rest);
    rest.bytes().all(|c| c.is_ascii_digit())
}

/// `0%@998`, `0%`, `0%@[114]`, `14%@[407,407]`, `@[0,0,0]`. A second GPC token merges into
/// the first: its frequencies are appended and the load is the higher of the two.
fn gpu(t: &mut Tokens<'_>, out: &mut Sample<'_>) -> bool {
    let Some((load, freq)) = t.next().and_then(load_at) else {
        return false;
    };
    let mut gpu = out.gpu.take().unwrap_or_else(|| Gpu {
        load_pct: None,
        freq_mhz: std::mem::take(&mut out.spare_gpc),
    });
    let mark = gpu.freq_mhz.len();
    let ok = match freq {
        None => true,
        Some(f) => match after(f, "[").and_then(|f| before(f, "]")) {
            Some(list) => {
                pieces(list, b',').all(|mhz| u32_of(mhz).map(|v| gpu.freq_mhz.push(v)).is_some())
            }
            None => u32_of(f).map(|v| gpu.freq_mhz.push(v)).is_some(),
        },
    };
    if ok {
        gpu.load_pct = gpu.load_pct.max(load);
    } else {
        gpu.freq_mhz.truncate(mark);
    }
    if ok || mark > 0 || gpu.load_pct.is_some() {
        out.gpu = Some(gpu);
    } else {
        out.spare_gpc = gpu.freq_mhz;
    }
    ok
}

/// `MTS fg 0% bg 0%`.
fn mts(t: &mut Tokens<'_>, out: &mut Sample<'_>) -> bool {
    let mut field = || -> Option<(u8, u8)> {
        if !t.eat("fg") {
            return None;
        }
        let fg = pct(t.next()?)?;
        if !t.eat("bg") {
            return None;
        }
        Some((fg, pct(t.next()?)?))
    };
    match field() {
        Some((fg, bg)) => {
            out.other.mts_fg_pct = Some(fg);
            out.other.mts_bg_pct = Some(bg);
            true
        }
        None => false,
    }
}

/// `EDP limit 1734`.
fn edp(t: &mut Tokens<'_>, out: &mut Sample<'_>) -> bool {
    if !t.eat("limit") {
        return false;
    }
    match t.next().and_then(u32_of) {
        Some(mhz) => {
            out.other.edp_limit_mhz = Some(mhz);
            true
        }
        None => false,
    }
}

/// The R35+ prefix `MM-DD-YYYY HH:MM:SS`.
fn time(tok: &str, t: &mut Tokens<'_>, out: &mut Sample<'_>) -> bool {
    let date = tok.as_bytes();
    if date.len() != 10 || date[2] != b'-' || date[5] != b'-' {
        return false;
    }
    let Some(clock) = t.next() else {
        return false;
    };
    let c = clock.as_bytes();
    if c.len() != 8 || c[2] != b':' || c[5] != b':' {
        return false;
    }
    let two = |s: &[u8]| -> Option<u8> {
        let (a, b) = (s[0].wrapping_sub(b'0'), s[1].wrapping_sub(b'0'));
        (a <= 9 && b <= 9).then(|| a * 10 + b)
    };
    let parsed = (|| {
        let year = num::uint(tok.get(6..10)?)?;
        Some(LocalTime {
            year: u16::try_from(year).ok()?,
            month: two(&date[0..2]).filter(|m| (1..=12).contains(m))?,
            day: two(&date[3..5]).filter(|d| (1..=31).contains(d))?,
            hour: two(&c[0..2]).filter(|h| *h < 24)?,
            minute: two(&c[3..5]).filter(|m| *m < 60)?,
            second: two(&c[6..8]).filter(|s| *s <= 60)?,
        })
    })();
    match parsed {
        Some(time) => {
            out.time = Some(time);
            true
        }
        None => false,
    }
}
