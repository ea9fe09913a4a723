//! The metrics text: golden files of both formats for a fixed snapshot (the status golden
//! document plus counters), the catalog held to `docs/metrics.md`, escaping, `promtool check
//! metrics`, the HTTP parser and the textfile's atomic write.
#![allow(clippy::disallowed_methods)] // promtool: a test prerequisite run on the text

use std::path::{Path, PathBuf};

use super::catalog::{self, Type};
use super::http::{self, Route};
use super::process::ProcessFigures;
use super::*;
use crate::event::EventKind;
use crate::gate::GateAction;
use crate::units::Bytes;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The status golden document with every counter kind set, a link and the process figures.
pub(crate) fn snapshot() -> Snapshot {
    let text = std::fs::read_to_string(manifest().join("tests/golden/status_agent.json")).unwrap();
    let mut decisions = DecisionCounts::default();
    decisions.count(&GateAction::Withdrawn {
        model: "asr".into(),
        waited: std::time::Duration::ZERO,
    });
    decisions.count(&GateAction::Deny {
        model: "big".into(),
        need: Bytes::ZERO,
        required: Bytes::ZERO,
        total: Bytes::ZERO,
        reserve: Bytes::ZERO,
    });
    let mut events = EventCounts::default();
    events.count(&EventKind::AgentStarted);
    events.count(&EventKind::LoadRequested);
    events.count(&EventKind::LoadRequested);
    Snapshot {
        status: serde_json::from_str(&text).unwrap(),
        decisions,
        events,
        link: Some(LinkStats {
            connected: true,
            session: 7,
            outbox_events: 3,
            in_flight: 1,
            dropped_events: 0,
            connections: 1,
            failed_attempts: 2,
        }),
        started_unix_ms: 1_764_000_000_250,
    }
}

const OWN: ProcessFigures = ProcessFigures {
    cpu_seconds: 12.5,
    resident_bytes: 9_437_184,
};

/// Compares `actual` with `tests/golden/NAME`, or rewrites it under `JETGATE_BLESS=1`.
fn golden_text(name: &str, actual: &str) {
    let path = manifest().join("tests/golden").join(name);
    if std::env::var_os("JETGATE_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with JETGATE_BLESS=1)", path.display()));
    assert!(
        expected == actual,
        "{name}: the metrics text changed; got\n{actual}"
    );
}

#[test]
fn both_formats_keep_their_golden_text() {
    let s = snapshot();
    golden_text("metrics.prom", &render(&s, Some(&OWN), Format::Text));
    golden_text(
        "metrics.openmetrics.txt",
        &render(&s, Some(&OWN), Format::OpenMetrics),
    );
}

#[test]
fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
    let om = render(&snapshot(), Some(&OWN), Format::OpenMetrics);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE jetgate_events counter\n"));
    assert!(om.contains("jetgate_events_total{kind=\"load_requested\"} 2\n"));
    assert!(om.contains("# UNIT jetgate_gate_reserve_bytes bytes\n"));
    assert!(om.contains("# TYPE jetgate_agent info\n"));
    assert!(om.contains("\njetgate_agent_info{version=\"0.1.0\"} 1\n"));
    let text = render(&snapshot(), Some(&OWN), Format::Text);
    assert!(!text.contains("# EOF"));
    assert!(text.contains("# TYPE jetgate_events_total counter\n"));
    assert!(text.contains("# TYPE jetgate_agent_info gauge\n"));
    assert!(
        text.contains("jetgate_gate_decisions_total{decision=\"deny\",reason=\"never_fits\"} 1\n")
    );
}

/// Every sample's metric name (without labels and value).
fn sample_names(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect()
}

#[test]
fn writes_only_catalogued_names_each_family_in_one_run() {
    let text = render(&snapshot(), Some(&OWN), Format::Text);
    let names = sample_names(&text);
    let known: Vec<String> = catalog::ALL.iter().map(|m| m.sample_name()).collect();
    for n in &names {
        assert!(known.iter().any(|k| k == n), "{n} is not in the catalog");
    }
    let mut runs = names.clone();
    runs.dedup();
    let mut unique = runs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        runs.len(),
        unique.len(),
        "a family's samples are split: {runs:?}"
    );
    // The fixture has something of every family but the ones it cannot: no GPU-held figure
    // (its kernel prints none), no CMA, no unit GPU memory.
    for m in catalog::ALL {
        let absent = [
            "jetgate_memory_gpu_held_bytes",
            "jetgate_memory_cma_total_bytes",
            "jetgate_memory_cma_free_bytes",
            "jetgate_unit_gpu_memory_bytes",
        ];
        let present = names.contains(&m.sample_name().as_str());
        assert!(
            present || absent.contains(&m.name),
            "{} not written",
            m.name
        );
    }
}

#[test]
fn every_metric_is_documented_with_its_type_and_every_documented_one_exists() {
    let doc = std::fs::read_to_string(manifest().join("docs/metrics.md")).unwrap();
    let rows: Vec<(&str, &str)> = doc
        .lines()
        .filter_map(|l| {
            let rest = l
                .strip_prefix("| `")
                .filter(|r| r.starts_with("jetgate_"))?;
            let (name, rest) = rest.split_once('`')?;
            let kind = rest.trim_start_matches(" | ").split(' ').next()?;
            Some((name, kind))
        })
        .collect();
    for m in catalog::ALL {
        let kind = match m.kind {
            Type::Gauge => "gauge",
            Type::Counter => "counter",
            Type::Info => "info",
        };
        let name = m.sample_name();
        assert!(
            rows.contains(&(name.as_str(), kind)),
            "docs/metrics.md has no row `| `{name}` | {kind} |`"
        );
    }
    for (name, _) in rows {
        assert!(
            catalog::ALL.iter().any(|m| m.sample_name() == name),
            "docs/metrics.md documents {name}, which the agent does not export"
        );
    }
}

#[test]
fn label_values_are_escaped_whatever_they_hold() {
    let mut s = Snapshot::default();
    let mut unit = s_unit();
    unit.name = "a\"b\\c\nd".into();
    s.status.services = Some(vec![unit]);
    let text = render(&s, None, Format::Text);
    assert!(
        text.contains("jetgate_unit_restarts_total{unit=\"a\\\"b\\\\c\\nd\",kind=\"service\"} 0\n"),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| l.is_empty()).count(), 0);
}

fn s_unit() -> crate::status::ServiceView {
    crate::status::ServiceView {
        name: "s".into(),
        kind: crate::status::ServiceKind::Service,
        state: crate::status::ServiceState::Running,
        pid: Some(1),
        memory_bytes: None,
        gpu_bytes: None,
        trend: None,
        restarts: 0,
        restart_in_ms: None,
        reason: None,
        estimate: None,
    }
}

#[test]
fn an_empty_snapshot_still_renders_the_counters_and_nothing_it_lacks() {
    let text = render(&Snapshot::default(), None, Format::OpenMetrics);
    assert!(text.contains("jetgate_events_total{kind=\"note\"} 0\n"));
    assert!(text.contains("jetgate_mqtt_enabled 0\n"));
    assert!(!text.contains("jetgate_memory_available_bytes"));
    assert!(!text.contains("jetgate_agent_cpu_seconds"));
}

/// `promtool check metrics` on `text`; `None` when promtool is missing (outside CI).
pub(crate) fn promtool_check(text: &str) -> Option<(bool, String)> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return crate::prerequisite::missing(
                &format!("promtool: {e}"),
                "apt-get install prometheus",
            )
        }
    };
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
    Some((out.status.success() && said.trim().is_empty(), said))
}

#[test]
fn promtool_finds_nothing_to_say_about_the_text_format() {
    let text = render(&snapshot(), Some(&OWN), Format::Text);
    let Some((clean, said)) = promtool_check(&text) else {
        return;
    };
    assert!(clean, "promtool check metrics:\n{said}");
    // It can fail: a counter without _total is a finding.
    let bad = "# HELP x_bytes A thing.\n# TYPE x_bytes counter\nx_bytes 1\n";
    let (clean, said) = promtool_check(bad).unwrap();
    assert!(!clean, "promtool accepted a badly named counter: {said}");
}

#[test]
fn routes_get_and_head_of_metrics_and_refuses_everything_else() {
    let head = |s: &str| http::route(s.as_bytes());
    let om = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n";
    assert_eq!(
        head(om),
        Route::Metrics {
            format: Format::OpenMetrics,
            head_only: false
        }
    );
    assert_eq!(
        head("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n"),
        Route::Metrics {
            format: Format::Text,
            head_only: true
        }
    );
    assert_eq!(
        head("GET /metrics HTTP/1.1\r\naccept: application/openmetrics-text;q=0\r\n\r\n"),
        Route::Metrics {
            format: Format::Text,
            head_only: false
        }
    );
    assert_eq!(head("GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
    assert_eq!(
        head("POST /metrics HTTP/1.1\r\n\r\n"),
        Route::MethodNotAllowed
    );
    for bad in [
        "GET /metrics\r\n\r\n",
        "GET /metrics HTTP/2\r\n\r\n",
        "get /metrics HTTP/1.1\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET /m\u{e9}trics HTTP/1.1\r\n\r\n",
        "\r\n\r\n",
    ] {
        assert!(matches!(head(bad), Route::BadRequest(_)), "{bad:?}");
    }
    assert_eq!(http::head_len(b"GET / HTTP/1.1\r\n"), None);
    assert_eq!(http::head_len(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
}

#[test]
fn a_response_says_its_length_and_closes_and_head_leaves_the_body_out() {
    let r = http::response("200 OK", Format::Text.content_type(), b"abc", false);
    let r = String::from_utf8(r).unwrap();
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(r.contains("Content-Length: 3\r\n"));
    assert!(r.contains("Connection: close\r\n"));
    assert!(r.ends_with("\r\n\r\nabc"));
    let h = http::response("405 Method Not Allowed", "text/plain", b"abc", true);
    let h = String::from_utf8(h).unwrap();
    assert!(h.contains("Allow: GET, HEAD\r\n") && h.ends_with("\r\n\r\n"));
}

#[test]
fn the_textfile_is_replaced_whole_and_promtool_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jetgate.prom");
    std::fs::write(&path, "old").unwrap();
    let text = render(&snapshot(), Some(&OWN), Format::Text);
    textfile::write_atomically(&path, &text).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert!(
        !textfile::temp_path(&path).exists(),
        "no temporary file is left"
    );
    assert_eq!(
        textfile::temp_path(Path::new("/d/jetgate.prom")),
        Path::new("/d/.jetgate.prom.tmp")
    );
    // A directory that is not there: an error, and nothing written anywhere.
    let gone = dir.path().join("gone/jetgate.prom");
    assert!(textfile::write_atomically(&gone, &text).is_err());
    if let Some((clean, said)) = promtool_check(&std::fs::read_to_string(&path).unwrap()) {
        assert!(clean, "{said}");
    }
}
