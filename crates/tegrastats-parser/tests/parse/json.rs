//! The serde form is exactly the `jetgate tegrastats --json` contract (docs/tegrastats.md,
//! "JSON contract").

use tegrastats_parser::parse_line;

use crate::fixture_lines;

#[test]
fn orin_nano_line_serialises_to_the_exact_contract_shape() {
    let s = parse_line(fixture_lines()[7]).unwrap();
    let got: serde_json::Value = serde_json::to_value(&s).unwrap();
    let want = serde_json::json!({
        "time": "2024-11-15T08:38:09",
        "ram": {"used_bytes": 6185u64 << 20, "total_bytes": 7620u64 << 20,
                "lfb_blocks": 8, "lfb_block_bytes": 2u64 << 20},
        "swap": {"used_bytes": 851u64 << 20, "total_bytes": 3810u64 << 20,
                 "cached_bytes": 1u64 << 20},
        "iram": null,
        "cpus": [
            {"load_pct": 15, "freq_mhz": 729}, {"load_pct": 11, "freq_mhz": 729},
            {"load_pct": 14, "freq_mhz": 729}, {"load_pct": 13, "freq_mhz": 729},
            {"load_pct": 11, "freq_mhz": 729}, {"load_pct": 8, "freq_mhz": 729}
        ],
        "emc": {"load_pct": 43, "freq_mhz": 2133},
        "gpu": {"load_pct": 63, "freq_mhz": [621]},
        "engines": [
            {"name": "NVDEC", "on": false, "load_pct": null, "freq_mhz": null},
            {"name": "NVJPG", "on": false, "load_pct": null, "freq_mhz": null},
            {"name": "NVJPG1", "on": false, "load_pct": null, "freq_mhz": null},
            {"name": "VIC", "on": false, "load_pct": null, "freq_mhz": null},
            {"name": "OFA", "on": false, "load_pct": null, "freq_mhz": null},
            {"name": "APE", "on": true, "load_pct": null, "freq_mhz": 200}
        ],
        "temps": [
            {"name": "cpu", "celsius": 53.968, "peak_celsius": null},
            {"name": "soc2", "celsius": 52.437, "peak_celsius": null},
            {"name": "soc0", "celsius": 50.75, "peak_celsius": null},
            {"name": "gpu", "celsius": 53.343, "peak_celsius": null},
            {"name": "tj", "celsius": 53.968, "peak_celsius": null},
            {"name": "soc1", "celsius": 51.656, "peak_celsius": null}
        ],
        "rails": [
            {"name": "VDD_IN", "milliwatts": 12479, "avg_milliwatts": 12479, "peak_milliwatts": null},
            {"name": "VDD_CPU_GPU_CV", "milliwatts": 4667, "avg_milliwatts": 4667, "peak_milliwatts": null},
            {"name": "VDD_SOC", "milliwatts": 2817, "avg_milliwatts": 2817, "peak_milliwatts": null}
        ],
        "other": {"mts_fg_pct": null, "mts_bg_pct": null, "edp_limit_mhz": null},
        "unrecognized": []
    });
    assert_eq!(got, want);
}

#[test]
fn json_keys_come_in_contract_order() {
    let s = parse_line(fixture_lines()[3]).unwrap();
    let text = serde_json::to_string(&s).unwrap();
    let keys = [
        "\"time\"",
        "\"ram\"",
        "\"swap\"",
        "\"iram\"",
        "\"cpus\"",
        "\"emc\"",
        "\"gpu\"",
        "\"engines\"",
        "\"temps\"",
        "\"rails\"",
        "\"other\"",
        "\"unrecognized\"",
    ];
    let at: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        text.starts_with("{\"time\":null,\"ram\":{\"used_bytes\":751828992,"),
        "{text}"
    );
}

#[test]
fn off_core_absent_fields_and_disabled_sensor_serialise_as_null() {
    let s = parse_line("RAM 1/2MB (lfb 1x4MB) CPU [off,1%@5] CV0@-256C").unwrap();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["cpus"][0], serde_json::Value::Null);
    assert_eq!(v["cpus"][1]["freq_mhz"], 5);
    for absent in ["time", "swap", "iram", "emc", "gpu"] {
        assert_eq!(v[absent], serde_json::Value::Null, "{absent}");
    }
    assert_eq!(v["temps"][0]["celsius"], serde_json::Value::Null);
    assert!(v["other"].is_object());
}
