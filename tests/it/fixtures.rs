//! Whole fixture trees of Jetsons (constructed from published facts, see
//! `tests/fixtures/README.md`) read end to end: through the CLI as a user would
//! (`jetgate status --local --root TREE`, `jetgate board --root TREE`) and through each reader.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::Command;

use jetgate::sources::{devfreq, nvmap, Root, Sampler, Scope};
use jetgate::units::Bytes;
use serde_json::Value;

use crate::harness::JETGATE;

fn tree(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn local_status(name: &str) -> Value {
    let out = Command::new(JETGATE)
        .args(["status", "--local", "--json", "--root"])
        .arg(tree(name))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_orin_nano_on_jetpack_6_reads_end_to_end() {
    let doc = local_status("orin-nano-8gb-jp6");
    let board = &doc["device"]["board"];
    assert_eq!(board["id"], "orin-nano-8gb");
    assert_eq!(board["l4t"], "36.4.4");
    let m = &doc["memory"];
    assert_eq!(m["total_bytes"], 7_802_892u64 * 1024);
    assert_eq!(m["available_bytes"], 3_391_548u64 * 1024);
    // An R36 kernel prints no NvMap line: no system-wide GPU figure, and nothing fails for it.
    assert!(m["gpu_held_bytes"].is_null(), "R36 has no NvMapMemUsed");
    assert_eq!(m["cma_total_bytes"], 262_144u64 * 1024);
    assert_eq!(m["cma_free_bytes"], 40_960u64 * 1024);
    // buddyinfo: all of MemFree, 417.75 MiB of it in blocks of 64 KiB and up (4 KiB pages).
    let page = jetgate::sources::process::page_size();
    assert_eq!(
        m["fragmentation"]["free_bytes"],
        1_254_320u64 * 1024 / 4096 * page
    );
    assert_eq!(m["fragmentation"]["free_high_order_bytes"], 106_944 * page);
    assert_eq!(m["cgroup"]["version"], "v2");
    assert!(m["pressure"].is_object());
    let trees = doc["trees"].as_array().unwrap();
    assert!(!trees.is_empty());
    assert!(trees
        .windows(2)
        .all(|w| w[0]["pss_bytes"].as_u64() >= w[1]["pss_bytes"].as_u64()));

    let root = Root::new(tree("orin-nano-8gb-jp6"));
    let clients = nvmap::read_nvmap_clients(&root).unwrap();
    assert!(clients.total.unwrap() > Bytes::ZERO);
    assert!(
        clients.for_pid(1702) > Bytes::ZERO,
        "gnome-shell's GPU memory"
    );
    let mut buf = String::new();
    let (_, load) =
        devfreq::read_gpu_load(&root, devfreq::DEFAULT_GPU_LOAD_PATHS, &mut buf).unwrap();
    assert_eq!(load.permille, 631);
}

#[test]
fn an_agx_orin_on_jetpack_5_reads_end_to_end_through_cgroup_v1() {
    let doc = local_status("agx-orin-32gb-jp5");
    assert_eq!(doc["device"]["board"]["id"], "agx-orin-32gb");
    assert_eq!(doc["device"]["board"]["jetpack"], "5.x");
    let m = &doc["memory"];
    assert_eq!(m["total_bytes"], 31_358_004u64 * 1024);
    assert_eq!(m["gpu_held_bytes"], 9_535_488u64 * 1024);
    assert_eq!(m["cgroup"]["version"], "v1");
    let root = Root::new(tree("agx-orin-32gb-jp5"));
    let sample = Sampler::new(root.clone(), Scope::System)
        .sample(Some(2140))
        .unwrap();
    let t = sample.tree.expect("the model server's tree");
    assert!(t.processes >= 3, "{t:?}");
    assert!(t.pss > Bytes::ZERO);
    assert!(nvmap::read_nvmap_clients(&root).unwrap().total.unwrap() > Bytes::ZERO);
}

#[test]
fn a_thor_on_jetpack_7_reads_end_to_end_without_nvmap() {
    let doc = local_status("thor-jp7");
    assert_eq!(doc["device"]["board"]["id"], "agx-thor");
    assert_eq!(doc["device"]["board"]["nvml_memory"], true);
    let m = &doc["memory"];
    assert_eq!(m["total_bytes"], 128_791_908u64 * 1024);
    assert!(m["gpu_held_bytes"].is_null(), "Thor has no NvMapMemUsed");
    assert!(
        m["fragmentation"].is_null(),
        "the Thor tree has no buddyinfo"
    );
    assert!(m["cgroup"]["limit_bytes"].is_null(), "memory.max is max");
    assert!(
        doc["gpu"]["load"]["unsupported"].is_string(),
        "Thor has no devfreq load"
    );
    let root = Root::new(tree("thor-jp7"));
    let err = nvmap::read_nvmap_clients(&root).unwrap_err();
    assert!(err.is_unsupported(), "{err}");
}

#[test]
fn board_json_on_a_fixture_names_the_module() {
    let out = Command::new(JETGATE)
        .args(["board", "--json", "--root"])
        .arg(tree("orin-nano-8gb-jp6"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["id"], "orin-nano-8gb");
    assert_eq!(doc["input_rail"], "VDD_IN");
}

#[test]
fn a_configured_board_is_the_agents_board_and_an_unknown_one_is_refused_at_its_line() {
    // This machine is no Jetson: detection says generic; `device.board` names the profile.
    let agent = crate::harness::Agent::start("[device]\nboard = \"orin-nx-16gb\"\n");
    let status = agent.json(&["status", "--json"]);
    assert_eq!(status["device"]["board"]["id"], "orin-nx-16gb", "{status}");
    drop(agent);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jetgate.toml");
    std::fs::write(&file, "[device]\nboard = \"orin-nano-9gb\"\n").unwrap();
    let (code, text) = crate::harness::config_check(&file);
    assert_eq!(code, Some(3));
    assert!(text.contains("jetgate.toml:2:"), "{text}");
    assert!(
        text.contains("names no board profile") && text.contains("orin-nx-16gb"),
        "{text}"
    );
}
