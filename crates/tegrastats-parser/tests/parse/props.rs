//! Properties: no input makes the parser panic, and an unknown token costs nothing but itself.

use proptest::prelude::*;
use tegrastats_parser::parse_line;

use crate::fixture_lines;

/// Tokens of real lines, plus fragments that look almost right.
const VOCAB: &[&str] = &[
    "RAM",
    "3168/6851MB",
    "(lfb",
    "2x4MB)",
    "1x512kB)",
    "SWAP",
    "161/3426MB",
    "(cached",
    "0MB)",
    "IRAM",
    "0/252kB(lfb",
    "252kB)",
    "CPU",
    "cpu",
    "[23%@1397,off]",
    "[2%,5%]@1734",
    "[]",
    "[off]",
    "EMC_FREQ",
    "EMC",
    "2%@204",
    "0%",
    "GR3D_FREQ",
    "GR3D2_FREQ",
    "GR3D",
    "0%@[114]",
    "14%@[407,407]",
    "@[0,0,0]",
    "@[]",
    "APE",
    "150",
    "NVENC",
    "off",
    "79%@166",
    "NVDLA0_FREQ",
    "@1600",
    "MTS",
    "fg",
    "bg",
    "EDP",
    "limit",
    "1734",
    "cpu@45.375C/45.812C",
    "CV0@-256C",
    "@C",
    "x@",
    "VDD_IN",
    "3582mW/3582mW/3582mW",
    "598mW/598",
    "1931/1931",
    "/",
    "//",
    "%@",
    "%",
    "10-16-2023",
    "10:59:22",
    "99-99-9999",
    "C",
    "-",
    ".",
    "@-C",
    "[",
    "]@",
    "NC",
    "999999999999999999999",
    "4294967296",
    "256%",
];

fn token_soup() -> impl Strategy<Value = String> {
    let tok = prop_oneof![
        4 => proptest::sample::select(VOCAB).prop_map(str::to_owned),
        1 => "[ -~]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ];
    proptest::collection::vec(tok, 0..40).prop_map(|t| t.join(" "))
}

#[derive(Debug, Clone)]
enum Mutation {
    DeleteByte(usize),
    DeleteToken(usize),
    DuplicateToken(usize),
    ChangeDigit(usize, u8),
    InsertByte(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteByte),
        any::<usize>().prop_map(Mutation::DeleteToken),
        any::<usize>().prop_map(Mutation::DuplicateToken),
        (any::<usize>(), 0u8..10).prop_map(|(i, d)| Mutation::ChangeDigit(i, d)),
        (any::<usize>(), 0x20u8..0x7f).prop_map(|(i, b)| Mutation::InsertByte(i, b)),
    ]
}

fn mutate(line: &str, m: &Mutation) -> String {
    let mut bytes = line.as_bytes().to_vec();
    let mut toks: Vec<&str> = line.split(' ').collect();
    match *m {
        Mutation::DeleteByte(i) => {
            bytes.remove(i % bytes.len());
        }
        Mutation::InsertByte(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Mutation::ChangeDigit(i, d) => {
            let digits: Vec<usize> = (0..bytes.len())
                .filter(|&k| bytes[k].is_ascii_digit())
                .collect();
            if !digits.is_empty() {
                bytes[digits[i % digits.len()]] = b'0' + d;
            }
        }
        Mutation::DeleteToken(i) => {
            toks.remove(i % toks.len());
            return toks.join(" ");
        }
        Mutation::DuplicateToken(i) => {
            let k = i % toks.len();
            toks.insert(k, toks[k]);
            return toks.join(" ");
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #[test]
    fn token_soup_never_panics(line in token_soup()) {
        let _ = parse_line(&line);
    }

    #[test]
    fn mutated_real_lines_never_panic(
        which in 0usize..13,
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut line = fixture_lines()[which].to_owned();
        for m in &muts {
            line = mutate(&line, m);
        }
        if let Ok(sample) = parse_line(&line) {
            // A sample that parsed always serialises.
            prop_assert!(serde_json::to_string(&sample).is_ok());
        }
    }

    #[test]
    fn an_appended_unknown_token_is_reported_and_changes_nothing_else(
        which in 0usize..13,
        junk in "[a-z]{1,6}=[#%]{1,3}",
    ) {
        let line = fixture_lines()[which];
        let base = parse_line(line).unwrap();
        let longer = format!("{line} {junk}");
        let with_junk = parse_line(&longer).unwrap();
        prop_assert_eq!(&with_junk.unrecognized, &vec![junk.as_str()]);
        prop_assert_eq!(&with_junk.cpus, &base.cpus);
        prop_assert_eq!(&with_junk.rails, &base.rails);
        prop_assert_eq!(&with_junk.temps, &base.temps);
    }
}
