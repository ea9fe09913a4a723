//! Tests of the pure board matcher: scoring, ties, memory ranges, the generic fallback.
use super::*;
use crate::board::profile::embedded;

fn facts(model: &str, compatible: &[&str], mem_mib: Option<u64>) -> Facts {
    Facts {
        model: (!model.is_empty()).then(|| model.to_string()),
        compatible: compatible.iter().map(|s| s.to_string()).collect(),
        l4t: None,
        mem_total: mem_mib.map(Bytes::from_mib),
        cpus_present: None,
    }
}

fn id_for(f: &Facts) -> String {
    match_profiles(f, &embedded().unwrap()).id().to_string()
}

const NANO_DT: [&str; 3] = [
    "nvidia,p3768-0000+p3767-0005-super",
    "nvidia,p3767-0005",
    "nvidia,tegra234",
];

#[test]
fn memtotal_tells_the_4gb_orin_nano_from_the_8gb_on_a_shared_device_tree() {
    let model = "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super";
    assert_eq!(id_for(&facts(model, &NANO_DT, Some(7620))), "orin-nano-8gb");
    assert_eq!(id_for(&facts(model, &NANO_DT, Some(3434))), "orin-nano-4gb");
}

#[test]
fn memtotal_tells_the_32gb_agx_orin_from_the_64gb() {
    let dt = [
        "nvidia,p3737-0000+p3701-0000",
        "nvidia,p3701-0000",
        "nvidia,tegra234",
    ];
    let model = "NVIDIA Jetson AGX Orin Developer Kit";
    assert_eq!(id_for(&facts(model, &dt, Some(30623))), "agx-orin-32gb");
    // A 64 GB module booted with the -0000 tree is still told apart by its memory.
    assert_eq!(id_for(&facts(model, &dt, Some(62841))), "agx-orin-64gb");
}

#[test]
fn without_memtotal_a_shared_tree_is_a_tie_that_the_verdict_names() {
    let d = match_profiles(&facts("", &NANO_DT, None), &embedded().unwrap());
    assert_eq!(d.id(), "orin-nano-4gb");
    assert_eq!(d.tied_with, vec!["orin-nano-8gb".to_string()]);
}

#[test]
fn part_numbers_inside_board_pairs_match_with_suffixes_removed() {
    let nano = ["nvidia,p3449-0000-b00+p3448-0000-b00", "nvidia,tegra210"];
    let d = match_profiles(&facts("", &nano, Some(3964)), &embedded().unwrap());
    assert_eq!(d.id(), "nano");
    assert_eq!(d.how[0], Rule::Compatible("nvidia,p3448-0000".into()));
    let forms = compatible_forms(&["nvidia,p3768-0000+p3767-0005-super".to_string()]);
    assert!(
        forms.contains(&"nvidia,p3767-0005".to_string()),
        "{forms:?}"
    );
    assert!(
        forms.contains(&"nvidia,p3768-0000".to_string()),
        "{forms:?}"
    );
}

#[test]
fn recognises_every_family_by_its_device_tree() {
    let cases: [(&str, &[&str], u64, &str); 6] = [
        (
            "quill",
            &["nvidia,p2771-0000", "nvidia,tegra186"],
            7854,
            "tx2",
        ),
        (
            "Jetson-AGX",
            &["nvidia,p2972-0000", "nvidia,galen", "nvidia,tegra194"],
            15827,
            "agx-xavier",
        ),
        (
            "NVIDIA Jetson Xavier NX Developer Kit",
            &["nvidia,p3449-0000+p3668-0001", "nvidia,tegra194"],
            7771,
            "xavier-nx",
        ),
        (
            "NVIDIA Jetson Orin NX Engineering Reference Developer Kit",
            &[
                "nvidia,p3768-0000+p3767-0000",
                "nvidia,p3767-0000",
                "nvidia,tegra234",
            ],
            15388,
            "orin-nx-16gb",
        ),
        (
            "NVIDIA Jetson Orin NX Engineering Reference Developer Kit",
            &[
                "nvidia,p3768-0000+p3767-0000",
                "nvidia,p3767-0000",
                "nvidia,tegra234",
            ],
            7450,
            "orin-nx-8gb",
        ),
        (
            "NVIDIA Jetson AGX Thor Developer Kit",
            &[
                "nvidia,p4071-0000+p3834-0008",
                "nvidia,p3834-0008",
                "nvidia,tegra264",
            ],
            125773,
            "agx-thor",
        ),
    ];
    for (model, dt, mib, want) in cases {
        assert_eq!(id_for(&facts(model, dt, Some(mib))), want, "{model}");
    }
}

#[test]
fn a_soc_that_contradicts_the_profile_excludes_it_even_when_the_model_matches() {
    // A Xavier NX tree whose model was edited to say "Orin Nano" must not become an Orin.
    let dt = ["nvidia,p3509-0000+p3668-0001", "nvidia,tegra194"];
    assert_eq!(
        id_for(&facts("Orin Nano clone", &dt, Some(7620))),
        "xavier-nx"
    );
}

#[test]
fn memory_outside_every_range_falls_back_to_generic() {
    // An AGX Thor T4000 (64 GB) is not the T5000 profile.
    let dt = ["nvidia,p4071-0000+p3834-0005", "nvidia,tegra264"];
    let d = match_profiles(
        &facts("NVIDIA Jetson AGX Thor Developer Kit", &dt, Some(62000)),
        &embedded().unwrap(),
    );
    assert!(!d.is_known());
    assert_eq!(d.id(), "generic");
    assert_eq!(d.soc(), Some(Soc::T264));
}

#[test]
fn a_machine_without_a_device_tree_is_generic_with_a_tenth_of_memory_reserved() {
    let d = match_profiles(&facts("", &[], Some(32768)), &embedded().unwrap());
    assert_eq!(d.id(), "generic");
    assert!(d.how.is_empty());
    assert_eq!(
        d.default_reserve(),
        Bytes(Bytes::from_mib(32768).get() / 10)
    );
    assert_eq!(
        generic_reserve(Some(Bytes::from_mib(2048))),
        GENERIC_RESERVE_FLOOR
    );
    assert_eq!(generic_reserve(None), GENERIC_RESERVE_FLOOR);
}

#[test]
fn rules_read_as_sentences() {
    let r = Rule::MemTotal {
        total: Bytes::from_mib(7620),
        min: Some(Bytes::from_gib(5)),
        max: Some(Bytes::from_gib(10)),
    };
    assert_eq!(r.to_string(), "memory 7.4GiB in 5.0GiB..10.0GiB");
    assert_eq!(
        serde_json::to_string(&Rule::Compatible("nvidia,p3767-0005".into())).unwrap(),
        "\"compatible nvidia,p3767-0005\""
    );
}
