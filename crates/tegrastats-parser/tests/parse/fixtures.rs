//! Every line of the shared fixture, checked field by field against figures read off the line.

use tegrastats_parser::{parse_line, Emc, Iram, Other, Ram, Sample, Swap};

use crate::{at, cpus, engines, fixture_lines, mhz, off, r, rails, t, temps, MIB};

fn line(n: usize) -> Sample<'static> {
    let lines = fixture_lines();
    assert_eq!(lines.len(), 13, "the fixture has 13 sample lines");
    let s = parse_line(lines[n]).unwrap();
    assert!(s.unrecognized.is_empty(), "line {n}: {:?}", s.unrecognized);
    s
}

fn ram(used: u64, total: u64, blocks: u64, block_mib: u64) -> Ram {
    Ram {
        used_bytes: used * MIB,
        total_bytes: total * MIB,
        lfb_blocks: Some(blocks),
        lfb_block_bytes: Some(block_mib * MIB),
    }
}

fn swap(used: u64, total: u64, cached: u64) -> Option<Swap> {
    Some(Swap {
        used_bytes: used * MIB,
        total_bytes: total * MIB,
        cached_bytes: Some(cached * MIB),
    })
}

fn emc(load: u8, freq: Option<u32>) -> Option<Emc> {
    Some(Emc {
        load_pct: Some(load),
        freq_mhz: freq,
    })
}

fn gpu(s: &Sample<'_>) -> Option<(Option<u8>, Vec<u32>)> {
    s.gpu.clone().map(|g| (g.load_pct, g.freq_mhz))
}

fn time(s: &Sample<'_>) -> Option<String> {
    s.time.map(|t| t.to_string())
}

#[test]
fn tx1_r28_root_line_with_lowercase_cpu_and_shared_frequency() {
    let s = line(0);
    assert_eq!(time(&s), None);
    assert_eq!(s.ram, ram(3468, 3983, 48, 4));
    assert_eq!(s.swap, swap(873, 8192, 295));
    assert_eq!(s.iram, None);
    assert_eq!(cpus(&s), at(408, &[17, 13, 29, 5]));
    assert_eq!(s.emc, emc(1, Some(408)));
    assert_eq!(gpu(&s), Some((Some(3), vec![76])));
    assert_eq!(engines(&s), vec![mhz("APE", 25)]);
    assert!(s.temps.is_empty());
    assert!(s.rails.is_empty());
    assert_eq!(s.other, Other::default());
}

#[test]
fn tx2_r28_root_line_with_mts_and_unitless_rails() {
    let s = line(1);
    assert_eq!(time(&s), None);
    assert_eq!(s.ram, ram(1685, 7854, 1044, 4));
    assert_eq!(s.swap, swap(278, 8192, 23));
    assert_eq!(s.iram, None);
    let expect = [
        (0, 1303),
        (0, 345),
        (0, 345),
        (0, 1419),
        (0, 1420),
        (0, 1421),
    ];
    let expect: Vec<_> = expect.iter().map(|&(l, f)| Some((l, Some(f)))).collect();
    assert_eq!(cpus(&s), expect);
    assert_eq!(s.emc, emc(0, Some(1866)));
    assert_eq!(gpu(&s), Some((Some(0), vec![140])));
    assert_eq!(engines(&s), vec![mhz("APE", 150)]);
    assert_eq!(s.other.mts_fg_pct, Some(1));
    assert_eq!(s.other.mts_bg_pct, Some(8));
    assert_eq!(s.other.edp_limit_mhz, None);
    assert_eq!(
        temps(&s),
        vec![
            t("BCPU", 41.0),
            t("MCPU", 41.0),
            t("GPU", 39.0),
            t("PLL", 41.0),
            t("Tboard", 37.0),
            t("Tdiode", 37.25),
            t("PMIC", 100.0),
            t("thermal", 39.9),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("VDD_IN", 1931, 1931),
            r("VDD_CPU", 231, 231),
            r("VDD_GPU", 154, 154),
            r("VDD_SOC", 385, 385),
            r("VDD_WIFI", 38, 38),
            r("VDD_DDR", 326, 326),
        ]
    );
}

#[test]
fn tx2_r32_non_root_line_has_loads_without_frequencies() {
    let s = line(2);
    assert_eq!(time(&s), None);
    assert_eq!(s.ram, ram(896, 7859, 26, 4));
    assert_eq!(s.swap, swap(0, 3929, 0));
    let expect = [
        (4, 2035),
        (4, 345),
        (4, 345),
        (1, 2035),
        (0, 2035),
        (0, 2035),
    ];
    let expect: Vec<_> = expect.iter().map(|&(l, f)| Some((l, Some(f)))).collect();
    assert_eq!(cpus(&s), expect);
    assert_eq!(s.emc, emc(0, None));
    assert_eq!(gpu(&s), Some((Some(0), vec![])));
    assert!(s.engines.is_empty());
    assert_eq!(
        temps(&s),
        vec![
            t("PLL", 34.5),
            t("MCPU", 34.5),
            t("PMIC", 100.0),
            t("Tboard", 29.0),
            t("GPU", 31.0),
            t("BCPU", 34.5),
            t("thermal", 32.8),
            t("Tdiode", 30.5),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("VDD_SYS_GPU", 153, 153),
            r("VDD_SYS_SOC", 383, 383),
            r("VDD_4V0_WIFI", 0, 0),
            r("VDD_IN", 1840, 1840),
            r("VDD_SYS_CPU", 306, 306),
            r("VDD_SYS_DDR", 269, 269),
        ]
    );
    assert_eq!(s.other, Other::default());
}

#[test]
fn nano_r32_root_line_has_iram_and_pom_rails() {
    let s = line(3);
    assert_eq!(s.ram, ram(717, 3964, 140, 4));
    assert_eq!(s.swap, swap(0, 1982, 0));
    let iram = Iram {
        used_bytes: 0,
        total_bytes: 252 * 1024,
        lfb_bytes: Some(252 * 1024),
    };
    assert_eq!(s.iram, Some(iram));
    assert_eq!(cpus(&s), at(102, &[18, 2, 0, 0]));
    assert_eq!(s.emc, emc(2, Some(204)));
    assert_eq!(gpu(&s), Some((Some(0), vec![76])));
    assert_eq!(engines(&s), vec![mhz("APE", 25)]);
    assert_eq!(
        temps(&s),
        vec![
            t("PLL", 26.0),
            t("CPU", 29.5),
            t("iwlwifi", 33.0),
            t("PMIC", 100.0),
            t("GPU", 29.0),
            t("AO", 38.5),
            t("thermal", 29.5),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("POM_5V_IN", 1057, 1057),
            r("POM_5V_GPU", 0, 0),
            r("POM_5V_CPU", 126, 126),
        ]
    );
    assert_eq!(s.total_rail().map(|r| r.name), Some("POM_5V_IN"));
}

#[test]
fn agx_xavier_r31_line_has_off_cores_and_rails_named_like_other_fields() {
    let s = line(4);
    assert_eq!(time(&s), None);
    assert_eq!(s.ram, ram(1736, 15827, 3283, 4));
    assert_eq!(s.swap, None);
    let mut expect = vec![
        Some((1, Some(1160))),
        Some((2, Some(1161))),
        Some((0, Some(1189))),
        Some((0, Some(1189))),
    ];
    expect.extend([None, None, None, None]);
    assert_eq!(cpus(&s), expect);
    assert_eq!(s.emc, emc(0, Some(665)));
    assert_eq!(gpu(&s), Some((Some(0), vec![114])));
    assert_eq!(engines(&s), vec![mhz("APE", 150)]);
    assert_eq!((s.other.mts_fg_pct, s.other.mts_bg_pct), (Some(0), Some(0)));
    assert_eq!(
        temps(&s),
        vec![
            t("AO", 29.0),
            t("GPU", 30.0),
            t("iwlwifi", 34.0),
            t("Tboard", 30.0),
            t("Tdiode", 33.0),
            t("AUX", 29.0),
            t("CPU", 30.0),
            t("thermal", 29.45),
            t("PMIC", 100.0),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("GPU", 466, 466),
            r("CPU", 466, 466),
            r("SOC", 932, 932),
            r("CV", 0, 0),
            r("VDDRQ", 0, 0),
            r("SYS5V", 1854, 1854),
        ]
    );
    assert_eq!(s.total_rail(), None);
}

#[test]
fn xavier_nx_r32_line_has_average_unlike_current_power() {
    let s = line(5);
    assert_eq!(s.ram, ram(5246, 7771, 7, 4));
    assert_eq!(s.swap, swap(983, 20269, 280));
    assert_eq!(cpus(&s), at(1420, &[47, 23, 32, 22, 31, 96]));
    assert_eq!(s.emc, emc(2, Some(1600)));
    assert_eq!(gpu(&s), Some((Some(0), vec![1109])));
    assert_eq!(engines(&s), vec![mhz("APE", 150)]);
    assert_eq!((s.other.mts_fg_pct, s.other.mts_bg_pct), (Some(1), Some(9)));
    assert_eq!(
        temps(&s),
        vec![
            t("AO", 29.0),
            t("GPU", 31.5),
            t("PMIC", 100.0),
            t("AUX", 30.0),
            t("CPU", 33.5),
            t("thermal", 31.35),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("VDD_IN", 6140, 5510),
            r("VDD_CPU_GPU_CV", 2706, 2119),
            r("VDD_SOC", 1074, 1051),
        ]
    );
}

#[test]
fn agx_orin_r35_line_has_two_gpc_tokens_and_disabled_sensors() {
    let s = line(6);
    assert_eq!(time(&s).as_deref(), Some("2023-10-16T10:59:22"));
    assert_eq!(s.ram, ram(1205, 30623, 6429, 4));
    assert_eq!(s.swap, swap(0, 15311, 0));
    let mut expect = at(729, &[0, 0, 1, 0, 0]);
    expect.extend(at(730, &[0, 0]));
    expect.extend(at(729, &[0, 0, 0, 0, 0]));
    assert_eq!(cpus(&s), expect);
    assert_eq!(s.emc, emc(0, Some(204)));
    assert_eq!(gpu(&s), Some((Some(0), vec![114, 114])));
    assert_eq!(
        engines(&s),
        vec![mhz("NVJPG1", 729), mhz("VIC", 729), mhz("APE", 233)]
    );
    assert_eq!(
        temps(&s),
        vec![
            ("CV0", None, None),
            t("CPU", 43.5),
            t("Tdiode", 32.5),
            t("SOC2", 40.062),
            t("SOC0", 40.5),
            ("CV1", None, None),
            t("GPU", 38.156),
            t("SOC1", 39.125),
            ("CV2", None, None),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("VDD_GPU_SOC", 4788, 4788),
            r("VDD_CPU_CV", 798, 798),
            r("VIN_SYS_5V0", 3842, 3842),
            r("NC", 0, 0),
            r("VDDQ_VDD2_1V8AO", 707, 707),
            r("NC", 0, 0),
        ]
    );
    assert_eq!(s.other, Other::default());
}

#[test]
fn orin_nano_jetpack6_root_line_has_bracketed_gpu_and_off_engines() {
    let s = line(7);
    assert_eq!(time(&s).as_deref(), Some("2024-11-15T08:38:09"));
    assert_eq!(s.ram, ram(6185, 7620, 8, 2));
    assert_eq!(s.swap, swap(851, 3810, 1));
    assert_eq!(cpus(&s), at(729, &[15, 11, 14, 13, 11, 8]));
    assert_eq!(s.emc, emc(43, Some(2133)));
    assert_eq!(gpu(&s), Some((Some(63), vec![621])));
    assert_eq!(
        engines(&s),
        vec![
            off("NVDEC"),
            off("NVJPG"),
            off("NVJPG1"),
            off("VIC"),
            off("OFA"),
            mhz("APE", 200)
        ]
    );
    assert_eq!(
        temps(&s),
        vec![
            t("cpu", 53.968),
            t("soc2", 52.437),
            t("soc0", 50.75),
            t("gpu", 53.343),
            t("tj", 53.968),
            t("soc1", 51.656),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("VDD_IN", 12479, 12479),
            r("VDD_CPU_GPU_CV", 4667, 4667),
            r("VDD_SOC", 2817, 2817),
        ]
    );
}

#[test]
fn orin_nano_jetpack6_non_root_line_has_no_emc_and_a_bare_gpu_load() {
    let s = line(8);
    assert_eq!(time(&s).as_deref(), Some("2025-06-18T11:25:24"));
    assert_eq!(s.ram, ram(3452, 7620, 25, 4));
    assert_eq!(s.swap, swap(1518, 16384, 174));
    let mut expect = at(1420, &[1, 2, 0, 2]);
    expect.extend(at(729, &[2, 1]));
    assert_eq!(cpus(&s), expect);
    assert_eq!(s.emc, None);
    assert_eq!(gpu(&s), Some((Some(0), vec![])));
    assert!(s.engines.is_empty());
    assert_eq!(
        temps(&s),
        vec![
            t("cpu", 50.031),
            t("soc2", 49.031),
            t("soc0", 50.0),
            t("gpu", 49.031),
            t("tj", 50.25),
            t("soc1", 50.25),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("VDD_IN", 4824, 4824),
            r("VDD_CPU_GPU_CV", 518, 518),
            r("VDD_SOC", 1475, 1475),
        ]
    );
}

#[test]
fn agx_orin_jetpack6_root_line_has_dla_pva_and_two_gpc_frequencies() {
    let s = line(9);
    assert_eq!(time(&s).as_deref(), Some("2025-10-26T05:10:54"));
    assert_eq!(s.ram, ram(6879, 62841, 3, 4));
    assert_eq!(s.swap, swap(0, 31421, 0));
    assert_eq!(cpus(&s), at(729, &[5, 1, 0, 9, 1, 3, 5, 0, 3, 1, 1, 7]));
    assert_eq!(s.emc, emc(0, Some(2133)));
    assert_eq!(gpu(&s), Some((Some(0), vec![305, 305])));
    let names = [
        "NVENC", "NVDEC", "NVJPG", "NVJPG1", "VIC", "OFA", "NVDLA0", "NVDLA1", "PVA0",
    ];
    let mut expect: Vec<_> = names.iter().map(|n| off(n)).collect();
    expect.push(mhz("APE", 174));
    assert_eq!(engines(&s), expect);
    assert_eq!(
        temps(&s),
        vec![
            t("cpu", 47.687),
            t("tboard", 36.75),
            t("soc2", 44.312),
            t("tdiode", 37.5),
            t("soc0", 45.718),
            t("gpu", 43.218),
            t("tj", 47.687),
            t("soc1", 45.125),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("VDD_GPU_SOC", 2801, 2801),
            r("VDD_CPU_CV", 400, 400),
            r("VIN_SYS_5V0", 4536, 4536),
            r("VDDQ_VDD2_1V8AO", 604, 604),
        ]
    );
    assert_eq!(s.total_rail(), None);
}

#[test]
fn orin_nano_super_r39_line_has_peak_temperatures_and_three_value_rails() {
    let s = line(10);
    assert_eq!(time(&s).as_deref(), Some("2026-09-19T13:33:02"));
    assert_eq!(s.ram, ram(2850, 7486, 33, 4));
    assert_eq!(s.swap, None);
    assert_eq!(cpus(&s), at(729, &[2, 0, 0, 0, 1, 0]));
    assert_eq!(s.emc, emc(5, Some(665)));
    assert_eq!(gpu(&s), Some((Some(0), vec![305])));
    assert_eq!(
        engines(&s),
        vec![
            off("NVDEC0"),
            off("NVJPG0"),
            off("NVJPG1"),
            off("VIC"),
            off("OFA"),
            mhz("APE", 200)
        ]
    );
    let both = |n, c| (n, Some(c), Some(c));
    assert_eq!(
        temps(&s),
        vec![
            both("cpu", 45.812),
            both("soc2", 44.843),
            both("soc0", 46.093),
            both("gpu", 46.843),
            both("tj", 46.843),
            both("soc1", 46.281),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            ("VDD_IN", 3582, 3582, Some(3582)),
            ("VDD_CPU_GPU_CV", 523, 523, Some(523)),
            ("VDD_SOC", 1127, 1127, Some(1127)),
        ]
    );
}

#[test]
fn agx_thor_r38_line_has_a_gpu_without_load_and_at_only_engines() {
    let s = line(11);
    assert_eq!(time(&s).as_deref(), Some("2026-05-17T10:00:32"));
    assert_eq!(s.ram, ram(4208, 125773, 31, 4));
    assert_eq!(s.swap, swap(0, 2048, 0));
    assert_eq!(
        cpus(&s),
        at(972, &[1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 3, 0, 0, 1])
    );
    assert_eq!(s.emc, emc(0, Some(665)));
    assert_eq!(gpu(&s), Some((None, vec![0, 0, 0])));
    assert_eq!(
        engines(&s),
        vec![
            mhz("NVENC0", 0),
            mhz("NVENC1", 0),
            mhz("NVDEC0", 0),
            mhz("NVDEC1", 0),
            mhz("NVJPG0", 0),
            off("VIC"),
            mhz("OFA", 0),
            off("PVA0"),
            mhz("APE", 300),
        ]
    );
    assert_eq!(
        temps(&s),
        vec![
            t("cpu", 34.468),
            t("tj", 34.5),
            t("soc012", 33.781),
            t("soc345", 34.5),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            r("VDD_GPU", 0, 0),
            r("VDD_CPU_SOC_MSS", 4165, 4165),
            r("VIN_SYS_5V0", 4126, 4126),
        ]
    );
}

#[test]
fn agx_thor_jetpack72_line_has_no_gpu_token_and_a_vin_total() {
    let s = line(12);
    assert_eq!(time(&s).as_deref(), Some("2026-07-02T13:45:44"));
    assert_eq!(s.ram, ram(36529, 125749, 12, 4));
    assert_eq!(s.swap, swap(11, 4096, 9));
    assert_eq!(
        cpus(&s),
        at(972, &[2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
    );
    assert_eq!(s.emc, None);
    assert_eq!(gpu(&s), None);
    assert!(s.engines.is_empty());
    assert_eq!(
        temps(&s),
        vec![
            t("cpu", 60.406),
            t("tj", 63.281),
            t("soc012", 58.468),
            t("gpu", 62.906),
            t("soc345", 63.281),
        ]
    );
    assert_eq!(
        rails(&s),
        vec![
            ("VDD_GPU", 37528, 37528, Some(37528)),
            ("VDD_CPU_SOC_MSS", 18961, 18961, Some(18961)),
            ("VIN_SYS_5V0", 18331, 18331, Some(18331)),
            ("VIN", 87426, 43713, Some(87426)),
        ]
    );
    assert_eq!(s.total_rail().map(|r| r.milliwatts), Some(87426));
}
