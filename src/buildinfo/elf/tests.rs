//! The glibc floor reader on a hand-built ELF, on the running test binary, and on broken
//! and hostile files.

use super::*;

/// A minimal ELF: header, a string table, a verneed section and three section headers.
/// libc.so.6 needs GLIBC_2.17, GLIBC_2.27 and GLIBC_PRIVATE; libgcc_s needs GCC_3.0 and
/// (falsely, to test the ordering) GLIBC_2.3.4.
fn synthetic(next_of_last_need: u32) -> Vec<u8> {
    let names = [
        "libc.so.6",
        "GLIBC_2.17",
        "GLIBC_2.27",
        "GLIBC_PRIVATE",
        "libgcc_s.so.1",
        "GCC_3.0",
        "GLIBC_2.3.4",
    ];
    let mut strtab = vec![0u8];
    let mut at = Vec::new();
    for n in names {
        at.push(strtab.len() as u32);
        strtab.extend_from_slice(n.as_bytes());
        strtab.push(0);
    }
    let need = |cnt: u16, file: u32, next: u32| {
        let mut r = Vec::new();
        r.extend_from_slice(&1u16.to_le_bytes());
        r.extend_from_slice(&cnt.to_le_bytes());
        r.extend_from_slice(&file.to_le_bytes());
        r.extend_from_slice(&16u32.to_le_bytes());
        r.extend_from_slice(&next.to_le_bytes());
        r
    };
    let aux = |name: u32, next: u32| {
        let mut r = vec![0u8; 8];
        r.extend_from_slice(&name.to_le_bytes());
        r.extend_from_slice(&next.to_le_bytes());
        r
    };
    let mut verneed = need(3, at[0], 64);
    verneed.extend(aux(at[1], 16));
    verneed.extend(aux(at[2], 16));
    verneed.extend(aux(at[3], 0));
    verneed.extend(need(2, at[4], next_of_last_need));
    verneed.extend(aux(at[5], 16));
    verneed.extend(aux(at[6], 0));

    let strtab_off = 64u64;
    let verneed_off = strtab_off + strtab.len() as u64;
    let shoff = verneed_off + verneed.len() as u64;
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2;
    elf[5] = 1;
    elf[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
    elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
    elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
    elf.extend(&strtab);
    elf.extend(&verneed);
    let header = |kind: u32, off: u64, size: u64, link: u32, info: u32| {
        let mut h = vec![0u8; 64];
        h[4..8].copy_from_slice(&kind.to_le_bytes());
        h[24..32].copy_from_slice(&off.to_le_bytes());
        h[32..40].copy_from_slice(&size.to_le_bytes());
        h[40..44].copy_from_slice(&link.to_le_bytes());
        h[44..48].copy_from_slice(&info.to_le_bytes());
        h
    };
    elf.extend(vec![0u8; 64]);
    elf.extend(header(3, strtab_off, strtab.len() as u64, 0, 0));
    elf.extend(header(
        SHT_GNU_VERNEED,
        verneed_off,
        verneed.len() as u64,
        1,
        2,
    ));
    elf
}

#[test]
fn the_highest_glibc_version_is_the_floor() {
    let elf = synthetic(0);
    assert_eq!(
        glibc_floor(elf.as_slice()),
        GlibcFloor::Version(vec![2, 27])
    );
    assert_eq!(
        glibc_floor(elf.as_slice()).to_string(),
        "glibc 2.27 or newer"
    );
}

#[test]
fn version_names_parse_numerically() {
    assert_eq!(parse_glibc("GLIBC_2.3.4"), Some(vec![2, 3, 4]));
    assert!(parse_glibc("GLIBC_2.27") > parse_glibc("GLIBC_2.3.4"));
    assert_eq!(parse_glibc("GLIBC_PRIVATE"), None);
    assert_eq!(parse_glibc("GCC_3.0"), None);
}

#[test]
fn no_version_section_needs_no_glibc() {
    let mut elf = synthetic(0);
    // Turn the verneed section into a plain PROGBITS one.
    let at = elf.len() - 64 + 4;
    elf[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
    assert_eq!(glibc_floor(elf.as_slice()), GlibcFloor::None);
}

#[test]
fn the_running_binary_has_a_glibc_floor() {
    match crate::buildinfo::glibc_floor() {
        GlibcFloor::Version(v) => assert_eq!(v[0], 2, "{v:?}"),
        other => panic!("the test binary links glibc: {other:?}"),
    }
}

#[test]
fn broken_files_are_unknown_not_a_panic() {
    assert!(matches!(
        glibc_floor(&b"#!/bin/sh\n"[..]),
        GlibcFloor::Unknown(_)
    ));
    let elf = synthetic(0);
    for len in 0..elf.len() {
        // Every truncation reads as unknown (or, cut after the last record, still right).
        let floor = glibc_floor(&elf[..len]);
        assert!(matches!(floor, GlibcFloor::Unknown(_)), "{len}: {floor:?}");
    }
}

#[test]
fn a_false_record_count_ends_at_the_last_record() {
    let mut elf = synthetic(0);
    let info = elf.len() - 64 + 44;
    elf[info..info + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        glibc_floor(elf.as_slice()),
        GlibcFloor::Version(vec![2, 27])
    );
}

proptest::proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = glibc_floor(bytes.as_slice());
    }

    #[test]
    fn any_corruption_of_a_real_layout_never_panics(at in 0usize..400, byte in proptest::num::u8::ANY) {
        let mut elf = synthetic(0);
        let at = at % elf.len();
        elf[at] = byte;
        let _ = glibc_floor(elf.as_slice());
    }
}
