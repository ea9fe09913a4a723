//! One test per trap of tegrastats output: each form a release prints that a naive parser gets
//! wrong (the decisions are in docs/tegrastats.md, "Naming decisions").

use tegrastats_parser::{parse_line, ParseError, Sample};

use crate::{cpus, engines, fixture_lines, mhz, off, rails, temps, MIB};

const RAM: &str = "RAM 3168/6851MB (lfb 2x4MB)";

/// A minimal valid line followed by `rest`.
fn with(rest: &str) -> Sample<'_> {
    let line: &'static str = Box::leak(format!("{RAM} {rest}").into_boxed_str());
    let s = parse_line(line).unwrap();
    assert!(s.unrecognized.is_empty(), "{rest}: {:?}", s.unrecognized);
    s
}

fn gpu(s: &Sample<'_>) -> Option<(Option<u8>, Vec<u32>)> {
    s.gpu.clone().map(|g| (g.load_pct, g.freq_mhz))
}

#[test]
fn date_prefix_becomes_an_iso_local_time() {
    let s = parse_line("07-09-2024 13:31:31 RAM 1/2MB (lfb 1x4MB)").unwrap();
    assert_eq!(
        s.time.map(|t| t.to_string()).as_deref(),
        Some("2024-07-09T13:31:31")
    );
}

#[test]
fn line_without_date_prefix_has_no_time() {
    assert_eq!(with("").time, None);
}

#[test]
fn impossible_date_is_unrecognized_not_a_time() {
    let s = parse_line("13-40-2024 25:61:99 RAM 1/2MB (lfb 1x4MB)").unwrap();
    assert_eq!(s.time, None);
    assert_eq!(s.unrecognized, vec!["13-40-2024", "25:61:99"]);
}

#[test]
fn date_with_a_non_digit_in_the_clock_is_unrecognized_without_panic() {
    let s = parse_line("10-16-2023 10:59:\"2 RAM 1/2MB").unwrap();
    assert_eq!(s.time, None);
    assert_eq!(s.unrecognized, vec!["10-16-2023", "10:59:\"2"]);
}

#[test]
fn mb_means_mebibytes() {
    let s = with("");
    assert_eq!(s.ram.used_bytes, 3168 * MIB);
    assert_eq!(s.ram.total_bytes, 6851 * MIB);
    assert_eq!(s.ram.lfb_blocks, Some(2));
    assert_eq!(s.ram.lfb_block_bytes, Some(4 * MIB));
}

#[test]
fn lfb_block_size_in_kb_is_multiplied_by_1024() {
    let s = parse_line("RAM 3168/6851MB (lfb 1x512kB)").unwrap();
    assert_eq!(s.ram.lfb_blocks, Some(1));
    assert_eq!(s.ram.lfb_block_bytes, Some(512 * 1024));
}

#[test]
fn missing_swap_is_none_not_zero() {
    assert_eq!(with("CPU [1%@729]").swap, None);
}

#[test]
fn swap_carries_its_cached_figure() {
    let s = with("SWAP 161/3426MB (cached 7MB)").swap.unwrap();
    assert_eq!((s.used_bytes, s.total_bytes), (161 * MIB, 3426 * MIB));
    assert_eq!(s.cached_bytes, Some(7 * MIB));
}

#[test]
fn iram_has_no_space_before_its_lfb() {
    let i = with("IRAM 0/252kB(lfb 252kB)").iram.unwrap();
    assert_eq!((i.used_bytes, i.total_bytes), (0, 252 * 1024));
    assert_eq!(i.lfb_bytes, Some(252 * 1024));
}

#[test]
fn old_tx1_cpu_is_lowercase_with_one_shared_frequency() {
    let s = with("cpu [2%,5%,8%,11%]@1734");
    let f = Some(1734);
    assert_eq!(
        cpus(&s),
        vec![Some((2, f)), Some((5, f)), Some((8, f)), Some((11, f))]
    );
}

#[test]
fn off_cores_are_none_and_keep_their_position() {
    let s = with("CPU [23%@1397,off,17%@1192,off]");
    assert_eq!(
        cpus(&s),
        vec![Some((23, Some(1397))), None, Some((17, Some(1192))), None]
    );
}

#[test]
fn non_root_emc_has_a_load_and_no_frequency() {
    let e = with("EMC_FREQ 0%").emc.unwrap();
    assert_eq!((e.load_pct, e.freq_mhz), (Some(0), None));
}

#[test]
fn old_emc_token_without_freq_suffix_is_the_emc() {
    let e = with("EMC 0%@1600").emc.unwrap();
    assert_eq!((e.load_pct, e.freq_mhz), (Some(0), Some(1600)));
}

#[test]
fn second_gpc_token_merges_into_the_gpu() {
    let s = with("GR3D_FREQ 3%@114 GR3D2_FREQ 9%@0");
    assert_eq!(gpu(&s), Some((Some(9), vec![114, 0])));
    assert!(s.engines.is_empty());
}

#[test]
fn bracketed_gpu_frequency_with_one_gpc() {
    assert_eq!(gpu(&with("GR3D_FREQ 0%@[114]")), Some((Some(0), vec![114])));
}

#[test]
fn bracketed_gpu_frequencies_may_differ_per_gpc() {
    assert_eq!(
        gpu(&with("GR3D_FREQ 14%@[305,0]")),
        Some((Some(14), vec![305, 0]))
    );
}

#[test]
fn thor_gpu_without_a_load_figure_has_no_load() {
    assert_eq!(
        gpu(&with("GR3D_FREQ @[0,0,0]")),
        Some((None, vec![0, 0, 0]))
    );
}

#[test]
fn no_gpu_token_means_no_gpu() {
    assert_eq!(with("CPU [1%@972]").gpu, None);
}

#[test]
fn non_root_gpu_has_a_load_and_no_frequencies() {
    assert_eq!(gpu(&with("GR3D_FREQ 0%")), Some((Some(0), vec![])));
}

#[test]
fn old_gr3d_token_is_the_gpu() {
    assert_eq!(gpu(&with("GR3D 0%@998")), Some((Some(0), vec![998])));
}

#[test]
fn engines_parse_in_every_form() {
    let s = with(
        "APE 150 NVENC off NVENC 79%@166 AVP 1%@115 NVDLA0_FREQ @1600 VIC_FREQ 729 \
         NVENC0_FREQ @314 PVA0_FREQ off VIC 36%@115",
    );
    assert_eq!(
        engines(&s),
        vec![
            mhz("APE", 150),
            off("NVENC"),
            ("NVENC", true, Some(79), Some(166)),
            ("AVP", true, Some(1), Some(115)),
            mhz("NVDLA0", 1600),
            mhz("VIC", 729),
            mhz("NVENC0", 314),
            off("PVA0"),
            ("VIC", true, Some(36), Some(115)),
        ]
    );
}

#[test]
fn freq_suffix_is_stripped_so_engines_keep_one_name_across_releases() {
    let r35 = with("VIC_FREQ 729");
    let r36 = with("VIC 36%@115");
    assert_eq!(r35.engines[0].name, r36.engines[0].name);
}

#[test]
fn mts_and_edp_limit_go_to_other() {
    let s = with("MTS fg 3% bg 7% EDP limit 1734");
    assert_eq!(s.other.mts_fg_pct, Some(3));
    assert_eq!(s.other.mts_bg_pct, Some(7));
    assert_eq!(s.other.edp_limit_mhz, Some(1734));
}

#[test]
fn minus_256c_means_no_reading() {
    let s = with("CV0@-256C cpu@-256C/45.5C gpu@40C/-256C");
    assert_eq!(
        temps(&s),
        vec![
            ("CV0", None, None),
            ("cpu", None, Some(45.5)),
            ("gpu", Some(40.0), None)
        ]
    );
}

#[test]
fn temperature_may_carry_a_peak() {
    let s = with("cpu@45.375C/45.812C");
    assert_eq!(temps(&s), vec![("cpu", Some(45.375), Some(45.812))]);
}

#[test]
fn rails_without_unit_are_milliwatts() {
    assert_eq!(
        rails(&with("VDD_IN 1931/1930")),
        vec![("VDD_IN", 1931, 1930, None)]
    );
}

#[test]
fn rails_with_three_values_have_a_peak() {
    assert_eq!(
        rails(&with("VDD_IN 3582mW/3581mW/3590mW")),
        vec![("VDD_IN", 3582, 3581, Some(3590))]
    );
}

#[test]
fn rail_may_mix_units_within_one_token() {
    assert_eq!(
        rails(&with("VDD_SOC 598mW/597")),
        vec![("VDD_SOC", 598, 597, None)]
    );
}

#[test]
fn duplicate_rail_names_are_all_kept() {
    let s = with("NC 0mW/0mW VDDQ 707mW/707mW NC 5mW/4mW");
    assert_eq!(
        rails(&s),
        vec![
            ("NC", 0, 0, None),
            ("VDDQ", 707, 707, None),
            ("NC", 5, 4, None)
        ]
    );
}

#[test]
fn xavier_cpu_rail_is_not_mistaken_for_the_core_list() {
    let s = with("CPU [1%@1160] CPU 466/466");
    assert_eq!(cpus(&s), vec![Some((1, Some(1160)))]);
    assert_eq!(rails(&s), vec![("CPU", 466, 466, None)]);
}

#[test]
fn line_without_ram_is_not_a_tegrastats_line() {
    let err = parse_line("CPU [1%@729] GR3D_FREQ 0%").unwrap_err();
    assert_eq!(err, ParseError::NoRam);
    assert_eq!(err.to_string(), "not a tegrastats line: no RAM field");
}

#[test]
fn empty_line_is_not_a_tegrastats_line() {
    assert_eq!(parse_line("").unwrap_err(), ParseError::NoRam);
}

#[test]
fn unparseable_ram_is_an_error_naming_the_field() {
    let err = parse_line("RAM 31x68/6851MB (lfb 2x4MB) CPU [1%@729]").unwrap_err();
    assert_eq!(
        err,
        ParseError::BadRam {
            field: "RAM 31x68/6851MB".into()
        }
    );
    assert!(err.to_string().contains("RAM 31x68/6851MB"));
}

#[test]
fn unknown_tokens_are_kept_in_order_and_the_rest_still_parses() {
    let s = parse_line("RAM 1/2MB (lfb 1x4MB) FOO=3 APE 150 ???@ GR3D_FREQ zz cpu@40C").unwrap();
    assert_eq!(s.unrecognized, vec!["FOO=3", "???@", "GR3D_FREQ", "zz"]);
    assert_eq!(engines(&s), vec![mhz("APE", 150)]);
    assert_eq!(temps(&s).len(), 1);
}

#[test]
fn token_order_is_not_relied_on() {
    let line = fixture_lines()[9];
    let a = parse_line(line).unwrap();
    let mut toks: Vec<&str> = line.split(' ').collect();
    // Move the date and RAM to the end; keep each field's tokens together.
    let head: Vec<&str> = toks.drain(..6).collect();
    toks.extend(head);
    let moved = toks.join(" ");
    let b = parse_line(&moved).unwrap();
    assert_eq!((a.time, a.ram, a.swap), (b.time, b.ram, b.swap));
    assert_eq!((a.cpus, a.rails), (b.cpus, b.rails));
    assert!(b.unrecognized.is_empty());
}

#[test]
fn trailing_newline_and_carriage_return_are_ignored() {
    let s = parse_line("RAM 1/2MB (lfb 1x4MB) APE 150\r\n").unwrap();
    assert_eq!(engines(&s), vec![mhz("APE", 150)]);
    assert!(s.unrecognized.is_empty());
}

#[test]
fn recycling_a_sample_keeps_its_allocations() {
    let line = fixture_lines()[9];
    let mut s = Sample::default();
    tegrastats_parser::parse_line_into(line, &mut s).unwrap();
    let caps = (s.cpus.capacity(), s.engines.capacity(), s.rails.capacity());
    let mut next: Sample<'static> = s.recycle();
    assert_eq!(
        (
            next.cpus.capacity(),
            next.engines.capacity(),
            next.rails.capacity()
        ),
        caps
    );
    tegrastats_parser::parse_line_into("RAM 1/2MB", &mut next).unwrap();
    assert!(next.cpus.is_empty() && next.engines.is_empty());
}
