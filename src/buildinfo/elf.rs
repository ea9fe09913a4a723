//! The glibc floor of an ELF binary: the highest `GLIBC_x.y[.z]` version among its dynamic
//! version requirements (the `SHT_GNU_verneed` section, what `objdump -T` shows as
//! `symbol@GLIBC_2.34`). The dynamic loader refuses to start a binary whose required version
//! the system's glibc lacks, so that version is the oldest glibc it runs on.
//!
//! Only 64-bit little-endian ELF is read (aarch64 and x86-64, the targets jetgate ships).
//! Every offset and count comes from the file and is checked before use: a truncated or
//! hostile file gives [`GlibcFloor::Unknown`], never a panic or an endless walk.

use std::fmt;
use std::io;

/// What a binary needs of glibc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlibcFloor {
    /// The highest `GLIBC_` version it requires: `[2, 27]`, `[2, 3, 4]`.
    Version(Vec<u32>),
    /// No glibc version requirements: a static or musl binary.
    None,
    /// The file could not be read as an ELF binary; the reason.
    Unknown(String),
}

impl fmt::Display for GlibcFloor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlibcFloor::Version(v) => {
                let parts: Vec<String> = v.iter().map(u32::to_string).collect();
                write!(f, "glibc {} or newer", parts.join("."))
            }
            GlibcFloor::None => f.write_str("needs no glibc"),
            GlibcFloor::Unknown(why) => write!(f, "glibc floor unknown: {why}"),
        }
    }
}

/// Positioned reads, from a file or (in tests) a byte slice.
pub trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| short())?;
        let end = start.checked_add(buf.len()).ok_or_else(short)?;
        let src = self.get(start..end).ok_or_else(short)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fn short() -> io::Error {
    io::Error::from(io::ErrorKind::UnexpectedEof)
}

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
/// Section headers and version records larger than this are not believed.
const MAX_SECTION: u64 = 16 << 20;
const MAX_SECTIONS: u16 = 4096;
/// Walk limit over the verneed and vernaux chains (real binaries have a handful).
const MAX_RECORDS: usize = 4096;

/// Reads the glibc floor of the ELF file behind `r`.
pub fn glibc_floor<R: ReadAt + ?Sized>(r: &R) -> GlibcFloor {
    match versions(r) {
        Ok(names) => names
            .iter()
            .filter_map(|n| parse_glibc(n))
            .max()
            .map_or(GlibcFloor::None, GlibcFloor::Version),
        Err(why) => GlibcFloor::Unknown(why),
    }
}

/// `GLIBC_2.27` → `[2, 27]`; anything else (`GLIBC_PRIVATE`, `GCC_3.0`) → `None`.
pub fn parse_glibc(name: &str) -> Option<Vec<u32>> {
    let v = name.strip_prefix("GLIBC_")?;
    v.split('.').map(|p| p.parse().ok()).collect()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn read<R: ReadAt + ?Sized>(r: &R, offset: u64, len: u64, what: &str) -> Result<Vec<u8>, String> {
    if len > MAX_SECTION {
        return Err(format!("{what} of {len} bytes is implausible"));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact_at(&mut buf, offset)
        .map_err(|e| format!("reading {what} at {offset}: {e}"))?;
    Ok(buf)
}

/// A section header's fields that matter here.
struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
}

/// Every version name the binary requires from its shared libraries.
fn versions<R: ReadAt + ?Sized>(r: &R) -> Result<Vec<String>, String> {
    let header = read(r, 0, 64, "the ELF header")?;
    if header[..4] != *b"\x7fELF" {
        return Err("not an ELF file".to_string());
    }
    if header[4] != 2 || header[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".to_string());
    }
    let shoff = u64_at(&header, 0x28);
    let shentsize = u16_at(&header, 0x3a);
    let shnum = u16_at(&header, 0x3c);
    if shentsize != 64 || shnum == 0 || shnum > MAX_SECTIONS {
        return Err(format!("{shnum} section headers of {shentsize} bytes"));
    }
    let table = read(r, shoff, u64::from(shnum) * 64, "the section headers")?;
    let sections: Vec<Section> = table
        .chunks_exact(64)
        .map(|s| Section {
            kind: u32_at(s, 4),
            offset: u64_at(s, 24),
            size: u64_at(s, 32),
            link: u32_at(s, 40),
            info: u32_at(s, 44),
        })
        .collect();
    let Some(verneed) = sections.iter().find(|s| s.kind == SHT_GNU_VERNEED) else {
        return Ok(Vec::new());
    };
    let strtab = sections
        .get(verneed.link as usize)
        .ok_or("the version section names no string table")?;
    let needs = read(r, verneed.offset, verneed.size, "the version requirements")?;
    let strings = read(r, strtab.offset, strtab.size, "the version names")?;
    walk(&needs, &strings, verneed.info as usize)
}

/// Follows the `Elf64_Verneed` chain (`count` entries) and each one's `Elf64_Vernaux` chain.
fn walk(needs: &[u8], strings: &[u8], count: usize) -> Result<Vec<String>, String> {
    let record = |at: usize| -> Result<&[u8], String> {
        needs
            .get(at..at.checked_add(16).ok_or("offset overflow")?)
            .ok_or_else(|| format!("version record at {at} is past the section's end"))
    };
    let mut names = Vec::new();
    let mut at = 0usize;
    for _ in 0..count.min(MAX_RECORDS) {
        let need = record(at)?;
        let aux_count = u16_at(need, 2) as usize;
        let mut aux_at = at
            .checked_add(u32_at(need, 8) as usize)
            .ok_or("offset overflow")?;
        for _ in 0..aux_count.min(MAX_RECORDS) {
            let aux = record(aux_at)?;
            names.push(name_at(strings, u32_at(aux, 8) as usize)?);
            match u32_at(aux, 12) {
                0 => break,
                next => aux_at = aux_at.checked_add(next as usize).ok_or("offset overflow")?,
            }
        }
        match u32_at(need, 12) {
            0 => break,
            next => at = at.checked_add(next as usize).ok_or("offset overflow")?,
        }
    }
    Ok(names)
}

fn name_at(strings: &[u8], at: usize) -> Result<String, String> {
    let tail = strings
        .get(at..)
        .ok_or_else(|| format!("version name at {at} is past the string table"))?;
    let end = tail
        .iter()
        .position(|&b| b == 0)
        .ok_or("unterminated version name")?;
    Ok(String::from_utf8_lossy(&tail[..end]).into_owned())
}

#[cfg(test)]
mod tests;
