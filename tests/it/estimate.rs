//! `memory = "auto"` end to end: a real agent estimates a model from its weights file, gates the
//! load on the estimate, learns the ratio of the real peak to it, keeps the ratio across a
//! restart and scales the next estimate by it; a real llama-server's peak against its estimate;
//! `jetgate estimate` and `config check` as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)] // a test: runs the CLI

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use jetgate::event::EventKind;
use serde_json::Value;

use crate::broker::free_port;
use crate::harness::{heavy, Agent, JETGATE};
use crate::llama::{Llama, Shape};

const MIB: u64 = 1 << 20;

/// A sparse file of `len` bytes: sized by `OTHER_FACTOR` (1.5), never read.
fn weights(dir: &Path, name: &str, len: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().set_len(len).unwrap();
    path
}

fn requested(agent: &Agent) -> Vec<Value> {
    agent
        .events()
        .into_iter()
        .filter(|e| e["kind"] == EventKind::LoadRequested.as_str())
        .collect()
}

#[test]
fn an_auto_model_is_gated_on_its_estimate_and_learns_the_ratio_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let file = weights(dir.path(), "model.bin", 40 * MIB);
    let body = format!(
        "[memory]\nreserve = \"64MiB\"\n[gate]\nsettle_window = \"200ms\"\nsettle_tolerance = \"16MiB\"\n\n\
         [[model]]\nname = \"auto\"\ncommand = [\"{JETGATE}\", \"sim-model\", \"--alloc\", \"120MiB\"]\n\
         memory = \"auto\"\nweights = \"{}\"\nready = {{ log = \"READY\" }}\nstop_grace = \"2s\"\nautostart = false\n",
        file.display()
    );
    let mut agent = Agent::start(&body);
    let out = agent.cli(&["load", "auto", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The first load: the need is the estimate, 40 MiB × 1.5.
    let first = &requested(&agent)[0]["figures"];
    assert_eq!(first["estimate_bytes"], 60 * MIB, "{first}");
    assert_eq!(first["need_bytes"], 60 * MIB, "{first}");
    assert_eq!(first["estimate_weights_bytes"], 40 * MIB, "{first}");
    assert!(first.get("estimate_ratio").is_none(), "{first}");
    let admitted = agent
        .events()
        .into_iter()
        .find(|e| e["kind"] == EventKind::LoadAdmitted.as_str())
        .unwrap();
    assert_eq!(admitted["figures"]["estimate_bytes"], 60 * MIB);
    // It took 120 MiB and more: the ratio learned is above 1.9, shown on its row.
    let row = agent.service("auto");
    let estimate = &row["estimate"];
    assert_eq!(estimate["format"], "other", "{row}");
    assert_eq!(estimate["total_bytes"], 60 * MIB, "{row}");
    assert!(
        estimate["basis"].as_str().unwrap().contains("× 1.5"),
        "{row}"
    );
    let ratio = estimate["ratio"].as_f64().unwrap();
    assert!(ratio > 1.9, "{row}");

    // After a restart the ratio comes from the store and scales the next estimate.
    assert!(agent.cli(&["unload", "auto"]).status.success());
    agent.wait_state("auto", "stopped", std::time::Duration::from_secs(20));
    assert_eq!(agent.terminate(), Some(0));
    agent.spawn();
    let out = agent.cli(&["load", "auto", "--wait"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let second = &requested(&agent).last().unwrap()["figures"].clone();
    let need = second["need_bytes"].as_u64().unwrap();
    assert_eq!(second["estimate_ratio"].as_f64(), Some(ratio), "{second}");
    assert_eq!(need, (60.0 * MIB as f64 * ratio).ceil() as u64, "{second}");
}

#[test]
fn an_auto_model_whose_file_cannot_be_estimated_is_refused_and_not_started() {
    let dir = tempfile::tempdir().unwrap();
    // A GGUF magic and then nothing: a header cut short.
    let file = dir.path().join("cut.gguf");
    std::fs::write(&file, b"GGUF\x03\0\0\0").unwrap();
    let marker = dir.path().join("started");
    let body = format!(
        "[[model]]\nname = \"cut\"\ncommand = [\"{JETGATE}\", \"sim-model\", \"--alloc\", \"1MiB\", \"--ready-file\", \"{}\"]\n\
         memory = \"auto\"\nweights = \"{}\"\nready = {{ file = \"{}\" }}\nautostart = false\n",
        marker.display(),
        file.display(),
        marker.display()
    );
    let agent = Agent::start(&body);
    let out = agent.cli(&["load", "cut", "--wait"]);
    assert!(!out.status.success());
    let row = agent.service("cut");
    assert_eq!(row["state"], "failed");
    let reason = row["reason"].as_str().unwrap();
    assert!(
        reason.contains("no estimate") && reason.contains("cut.gguf"),
        "{reason}"
    );
    assert!(!marker.exists(), "the model was started");
}

#[test]
fn the_estimate_command_prints_the_parts_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = weights(dir.path(), "det.engine", 300 * MIB);
    let out = Command::new(JETGATE)
        .arg("estimate")
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("tensorrt, estimate 812.0MiB"), "{text}");
    assert!(text.contains("allowance   512.0MiB"), "{text}");
    let out = Command::new(JETGATE)
        .args(["estimate", "--json"])
        .arg(&file)
        .args(["--", "-c", "4096"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["total_bytes"], 812 * MIB);
    assert_eq!(doc["parts"]["weights_bytes"], 300 * MIB);
    assert_eq!(doc["basis"]["format"], "tensorrt");
    let out = Command::new(JETGATE)
        .args(["estimate", "/nonexistent/model.gguf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model.gguf"), "{err}");
}

#[test]
fn config_check_refuses_auto_memory_without_weights_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jetgate.toml");
    std::fs::write(
        &file,
        "[[model]]\nname = \"llm\"\ncommand = [\"/opt/llm\"]\nmemory = \"auto\"\nready = { tcp = \"127.0.0.1:8080\" }\n",
    )
    .unwrap();
    let (code, text) = crate::harness::config_check(&file);
    assert_eq!(code, Some(3));
    assert!(text.contains("jetgate.toml:4:"), "{text}");
    assert!(text.contains("set `weights`"), "{text}");
}

/// One completion whose prompt (641 tokens) fills a whole ubatch, so the compute buffer is used
/// as far as llama-server reserved it; the answer's status line.
fn complete(port: u16) -> String {
    let body = format!(
        "{{\"prompt\": \"{}\", \"n_predict\": 2}}",
        "a b c d e f g h ".repeat(80).trim_end()
    );
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    write!(
        s,
        "POST /completion HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_string()
}

/// `VmHWM` of `pid`, in bytes.
fn peak_rss(pid: u64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn a_real_llama_server_peaks_within_ten_percent_of_its_auto_estimate() {
    let _heavy = heavy();
    let Some(llama) = Llama::find() else {
        return;
    };
    // 2 layers at 2048 wide: about 190 MiB of f16 weights.
    let model = llama.model(Shape::layers(2, 7));
    let port = free_port();
    let argv: Vec<String> = [
        llama.server.display().to_string(),
        "-m".into(),
        model.display().to_string(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "-c".into(),
        "2048".into(),
        "--threads".into(),
        "2".into(),
    ]
    .into();
    let body = format!(
        "[memory]\nreserve = \"64MiB\"\n[gate]\nsettle_window = \"500ms\"\nsettle_tolerance = \"32MiB\"\n\n\
         [[model]]\nname = \"llm\"\ncommand = {argv:?}\nmemory = \"auto\"\nweights = \"{}\"\n\
         ready = {{ http = \"http://127.0.0.1:{port}/health\", timeout = \"5m\" }}\n\
         stop_grace = \"5s\"\nautostart = false\n",
        model.display()
    );
    let agent = Agent::start(&body);
    let out = agent.cli(&["load", "llm", "--wait"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        agent.log()
    );
    let row = agent.service("llm");
    let estimate = row["estimate"]["total_bytes"].as_u64().unwrap();
    assert!(
        row["estimate"]["basis"]
            .as_str()
            .unwrap()
            .contains("ctx 2048 from -c"),
        "{row}"
    );
    let status = complete(port);
    assert!(status.contains(" 200 "), "{status}");
    let measured = peak_rss(row["pid"].as_u64().unwrap());
    let error = (estimate as f64 - measured as f64) / measured as f64;
    eprintln!(
        "estimate {:.1} MiB, llama-server's VmHWM {:.1} MiB: {:+.1} %",
        estimate as f64 / MIB as f64,
        measured as f64 / MIB as f64,
        error * 100.0
    );
    assert!(
        error.abs() <= 0.10,
        "estimate {estimate}, measured {measured}: {row}"
    );
}
