//! The metrics endpoint end to end: a real agent with `[metrics] listen` on a free port,
//! scraped by hand (`promtool check metrics` on what it serves) and by a real Prometheus
//! (Debian's `prometheus`), whose query API must answer a gate series with the value the
//! agent reports; the node_exporter textfile; an address in use refusing the start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::broker::free_port;
use crate::harness::{sim_model, wait_for, Agent, JETGATE};

const LIMIT: Duration = Duration::from_secs(60);

/// `(status line, headers, body)` of one raw request to `127.0.0.1:port`.
fn request(port: u16, raw: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("a complete response");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_string(), body.to_string())
}

fn get(port: u16, path: &str, accept: Option<&str>) -> (String, String, String) {
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{accept}\r\n"),
    )
}

/// Whether `tool` runs; otherwise the prerequisite is missing (a failure under CI).
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok || jetgate::prerequisite::missing::<()>(
        &format!("{tool} is not installed"),
        "apt-get install prometheus (Debian's package has prometheus and promtool)",
    )
    .is_some()
}

/// `promtool check metrics` on `text`: its findings, empty when clean.
fn promtool(text: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        said
    } else {
        format!("exit {:?}: {said}", out.status.code())
    }
}

/// A real Prometheus scraping `target` every second, killed (by its pid) on drop.
struct Prometheus {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: u16) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: jetgate\n    static_configs:\n\
                 \x20     - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Prometheus { port, child, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The instant query's result list, or `None` while Prometheus does not answer.
    fn query(&self, promql: &str) -> Option<Vec<Value>> {
        let (status, _, body) = std::panic::catch_unwind(|| {
            get(
                self.port,
                &format!("/api/v1/query?query={}", encode(promql)),
                None,
            )
        })
        .ok()?;
        if !status.contains(" 200 ") {
            return None;
        }
        // Prometheus answers chunked when it likes; the JSON is the one line that is an object.
        let json = body.lines().find(|l| l.starts_with('{'))?;
        let v: Value = serde_json::from_str(json).ok()?;
        v["data"]["result"].as_array().cloned()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn metrics_agent(extra: &str) -> (Agent, u16) {
    let port = free_port();
    let body = format!(
        "{}[metrics]\nlisten = \"127.0.0.1:{port}\"\n{extra}\n",
        sim_model("m", "64MiB", &["--alloc", "16MiB"])
    );
    (Agent::start(&body), port)
}

#[test]
fn prometheus_scrapes_the_agent_and_answers_a_gate_series_with_the_agents_figure() {
    if !have("promtool") || !have("prometheus") {
        return;
    }
    let (agent, port) = metrics_agent("");
    assert!(
        agent.cli(&["load", "m", "--wait"]).status.success(),
        "{}",
        agent.log()
    );

    // What the agent serves by hand: the text format, which promtool finds nothing to say about.
    let (status, headers, body) = wait_for(LIMIT, "the load counted in the metrics", || {
        let r = get(port, "/metrics", None);
        r.2.contains("jetgate_gate_decisions_total{decision=\"ready\",reason=\"settled\"} 1\n")
            .then_some(r)
    });
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        headers.contains("Content-Type: text/plain; version=0.0.4"),
        "{headers}"
    );
    assert_eq!(promtool(&body), "", "promtool check metrics on\n{body}");
    // Asked for OpenMetrics, it answers OpenMetrics.
    let (_, headers, om) = get(
        port,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0"),
    );
    assert!(
        headers.contains("application/openmetrics-text; version=1.0.0"),
        "{headers}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");

    let prometheus = Prometheus::start(port);
    let reserve = agent.json(&["status", "--json"])["gate"]["reserve_bytes"]
        .as_u64()
        .unwrap();
    let result = wait_for(
        LIMIT,
        "Prometheus to answer for jetgate_gate_reserve_bytes",
        || {
            prometheus
                .query("jetgate_gate_reserve_bytes")
                .filter(|r| !r.is_empty())
        },
    );
    assert_eq!(result.len(), 1, "one series: {result:?}");
    assert_eq!(result[0]["metric"]["job"], "jetgate", "{result:?}");
    let value: f64 = result[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(
        value as u64, reserve,
        "Prometheus has what the agent reports"
    );
    // A counter too, with the decision the agent took.
    let ready = prometheus
        .query("jetgate_gate_decisions_total{decision=\"ready\"}")
        .unwrap_or_default();
    assert!(
        ready.iter().any(|r| r["value"][1] == "1"),
        "no ready decision in Prometheus: {ready:?}\n{}",
        prometheus.log()
    );
    let up = prometheus.query("up{job=\"jetgate\"}").unwrap();
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
}

#[test]
fn other_paths_methods_and_garbage_are_refused_and_change_nothing() {
    let (agent, port) = metrics_agent("");
    let (status, _, _) = get(port, "/", None);
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    let (status, headers, _) = request(port, "POST /metrics HTTP/1.1\r\n\r\n");
    assert!(status.starts_with("HTTP/1.1 405"), "{status}");
    assert!(headers.contains("Allow: GET, HEAD"), "{headers}");
    for garbage in [
        "\x16\x03\x01\x02\x00\r\n\r\n",
        "hello\r\n\r\n",
        "GET /metrics\r\n\r\n",
    ] {
        let (status, _, _) = request(port, garbage);
        assert!(status.starts_with("HTTP/1.1 400"), "{garbage:?}: {status}");
    }
    let (status, _, _) = request(
        port,
        &format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000)),
    );
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");
    // A client that says nothing holds a connection, not the endpoint.
    let _silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let (status, _, body) = get(port, "/metrics", None);
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("jetgate_unit_state{unit=\"m\",kind=\"model\",state=\"stopped\"} 1"));
    assert_eq!(agent.state("m"), "stopped");
    let events = agent.events();
    let started = events
        .iter()
        .find(|e| e["kind"] == "agent_started")
        .unwrap();
    assert_eq!(
        started["figures"]["metrics"],
        format!("metrics on (127.0.0.1:{port})"),
        "agent_started names what it serves"
    );
}

#[test]
fn the_textfile_is_written_whole_and_promtool_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jetgate.prom");
    let (_agent, _) = metrics_agent(&format!("textfile = \"{}\"\n", file.display()));
    let text = wait_for(LIMIT, "the textfile", || {
        std::fs::read_to_string(&file).ok()
    });
    assert!(text.contains("\njetgate_gate_reserve_bytes "), "{text}");
    assert!(
        !text.contains("# EOF"),
        "node_exporter's collector reads the text format"
    );
    if have("promtool") {
        assert_eq!(promtool(&text), "", "promtool check metrics on\n{text}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("jetgate.prom")],
        "no temporary file left"
    );
}

#[test]
fn an_address_in_use_stops_the_start_and_names_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("jetgate.toml");
    std::fs::write(
        &config,
        format!(
            "[metrics]\nlisten = \"127.0.0.1:{port}\"\n[store]\npath = \"{}\"\n[control]\nsocket = \"{}\"\n",
            dir.path().join("jetgate.db").display(),
            dir.path().join("control.sock").display()
        ),
    )
    .unwrap();
    let out = Command::new(JETGATE)
        .args(["agent", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("metrics.listen 127.0.0.1:{port}: cannot listen")),
        "{stderr}"
    );
    assert!(
        !Path::new(&dir.path().join("control.sock")).exists(),
        "no socket left behind"
    );
}
