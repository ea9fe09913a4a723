//! The fields known by their shape rather than their name: a temperature `name@45.5C`
//! (`cpu@45.375C/45.812C` on JetPack 7.2, `CV0@-256C` for a sensor that is off), a rail
//! `NAME a/b[/c]` (`VDD_IN 2763mW/2846mW`) and an engine `NAME off|MHz|load%@MHz|@MHz|load%`
//! (`NVENC off`, `APE 174`, `NVENC 79%@166`, `NVDLA0_FREQ @1600`). Names are ASCII letters,
//! digits and `_`; each value is read in one pass by a [`Cursor`].

use crate::cursor::Cursor;
use crate::num::before;
use crate::sample::{Engine, Rail, Sample, Temp};
use crate::tokens::Tokens;

/// A field known by its shape, not its name: a name (letters, digits, `_`) followed by `@` is
/// a temperature; a whole-token name is a rail or an engine with the next token as its value.
/// One scan of the token tells which.
pub(crate) fn shaped<'a>(tok: &'a str, t: &mut Tokens<'a>, out: &mut Sample<'a>) -> bool {
    let b = tok.as_bytes();
    match b.iter().position(|&c| !is_name_byte(c)) {
        None => named_value(tok, t, out),
        Some(at) => b[at] == b'@' && temp(tok, at, out),
    }
}

/// `cpu@45.375C`, `cpu@45.375C/45.812C`, `CV0@-256C`, whose first byte that is not a name byte
/// is the `@` at `at`.
fn temp<'a>(tok: &'a str, at: usize, out: &mut Sample<'a>) -> bool {
    if at == 0 || tok.as_bytes().last() != Some(&b'C') {
        return false;
    }
    let (Some(name), Some(value)) = (tok.get(..at), tok.get(at + 1..)) else {
        return false;
    };
    let mut c = Cursor::new(value);
    let Some(celsius) = c.celsius() else {
        return false;
    };
    let peak_celsius = if c.eat(b'/') {
        match c.celsius() {
            Some(p) => p,
            None => return false,
        }
    } else {
        None
    };
    if !c.done() {
        return false;
    }
    out.temps.push(Temp {
        name,
        celsius,
        peak_celsius,
    });
    true
}

/// A byte of a field name: ASCII letter, digit or `_`.
#[inline]
fn is_name_byte(c: u8) -> bool {
    NAME_BYTES[usize::from(c)]
}

const NAME_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_';
        c += 1;
    }
    t
};

/// `NAME a/b[/c]` is a rail; `NAME off|MHz|load%@MHz|@MHz|load%` an engine. `name` is all
/// name bytes. No value reads as both (only a rail's has a `/`), so the rail is tried first.
fn named_value<'a>(name: &'a str, t: &mut Tokens<'a>, out: &mut Sample<'a>) -> bool {
    if !name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut probe = *t;
    let Some(value) = probe.next() else {
        return false;
    };
    let ok = if let Some(r) = rail(name, value) {
        out.rails.push(r);
        true
    } else {
        let name = before(name, "_FREQ").unwrap_or(name);
        engine(name, value).map(|e| out.engines.push(e)).is_some()
    };
    if ok {
        *t = probe;
    }
    ok
}

/// `2763mW/2846mW`, `1931/1931`, `3582mW/3582mW/3582mW`.
fn rail<'a>(name: &'a str, value: &str) -> Option<Rail<'a>> {
    let mut c = Cursor::new(value);
    let milliwatts = c.milliwatts()?;
    if !c.eat(b'/') {
        return None;
    }
    let avg_milliwatts = c.milliwatts()?;
    let peak_milliwatts = if c.eat(b'/') {
        Some(c.milliwatts()?)
    } else {
        None
    };
    c.done().then_some(Rail {
        name,
        milliwatts,
        avg_milliwatts,
        peak_milliwatts,
    })
}

/// `off`, `150` (MHz), `79%@166`, `79%`, `@1600`.
fn engine<'a>(name: &'a str, value: &str) -> Option<Engine<'a>> {
    let mut engine = Engine {
        name,
        on: true,
        load_pct: None,
        freq_mhz: None,
    };
    if value == "off" {
        engine.on = false;
        return Some(engine);
    }
    let mut c = Cursor::new(value);
    if !c.eat(b'@') {
        let (v, _) = c.digits()?;
        if c.done() {
            engine.freq_mhz = Some(u32::try_from(v).ok()?);
            return Some(engine);
        }
        if !c.eat(b'%') {
            return None;
        }
        engine.load_pct = Some(u8::try_from(v).ok()?);
        if c.done() {
            return Some(engine);
        }
        if !c.eat(b'@') {
            return None;
        }
    }
    engine.freq_mhz = Some(c.u32()?);
    c.done().then_some(engine)
}
