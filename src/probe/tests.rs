//! Probes against real local servers, real processes and real files.
#![allow(clippy::disallowed_methods)] // each test's base instant for the heartbeat clocks

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// Serves one canned status per connection, in order, after reading the request head.
async fn server_answering(statuses: &'static [&'static str]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        for status in statuses {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8_lossy(&head);
            assert!(text.starts_with("GET /health HTTP/1.1\r\n"), "{text}");
            assert!(text.contains("\r\nHost: 127.0.0.1:"), "{text}");
            let reply =
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            sock.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    addr
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

const PATIENT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn http_is_healthy_on_200_and_failing_on_503_naming_the_target() {
    let addr = server_answering(&["200 OK", "503 Service Unavailable"]).await;
    let target = HttpTarget::parse(&format!("http://{addr}/health")).unwrap();
    let first = http_get(&target, PATIENT).await;
    assert!(first.ok, "{first:?}");
    assert_eq!(first.detail, format!("http 200 from {addr}/health"));
    let second = http_get(&target, PATIENT).await;
    assert!(!second.ok);
    assert_eq!(second.detail, format!("http 503 from {addr}/health"));
}

#[tokio::test]
async fn http_and_tcp_report_a_refused_connection() {
    let addr = closed_port().await;
    let target = HttpTarget::parse(&format!("http://{addr}/health")).unwrap();
    let http = http_get(&target, PATIENT).await;
    assert!(!http.ok);
    assert_eq!(http.detail, format!("connect refused ({addr})"));
    let tcp = tcp_connect(&addr, PATIENT).await;
    assert!(!tcp.ok);
    assert_eq!(tcp.detail, format!("connect refused ({addr})"));
}

#[tokio::test]
async fn http_times_out_on_a_server_that_accepts_but_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(sock);
    });
    let target = HttpTarget::parse(&format!("http://{addr}/health")).unwrap();
    let outcome = http_get(&target, Duration::from_millis(200)).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.detail, "timed out after 200ms");
    assert!(outcome.took >= Duration::from_millis(200));
    server.abort();
}

#[tokio::test]
async fn tcp_is_healthy_when_something_listens() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let outcome = tcp_connect(&addr, PATIENT).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.detail, format!("connected to {addr}"));
}

#[tokio::test]
async fn a_garbage_answer_is_a_failure_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await.unwrap();
    });
    let target = HttpTarget::parse(&format!("http://{addr}/health")).unwrap();
    let outcome = http_get(&target, PATIENT).await;
    assert!(!outcome.ok);
    assert!(
        outcome.detail.starts_with("not an HTTP status line"),
        "{}",
        outcome.detail
    );
}

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn exec_is_healthy_on_exit_zero_and_failing_otherwise() {
    let ok = exec(&argv(&["true"]), PATIENT).await.unwrap();
    assert!(ok.ok, "{ok:?}");
    let bad = exec(&argv(&["sh", "-c", "exit 3"]), PATIENT).await.unwrap();
    assert!(!bad.ok);
    assert_eq!(bad.detail, "exit 3 from sh");
    let missing = exec(&argv(&["/nonexistent/check"]), PATIENT).await.unwrap();
    assert!(!missing.ok);
    assert!(
        missing.detail.contains("/nonexistent/check"),
        "{}",
        missing.detail
    );
    assert!(matches!(
        exec(&[], PATIENT).await,
        Err(ProbeError::EmptyArgv)
    ));
}

#[tokio::test]
async fn a_hung_exec_check_is_killed_on_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("echo $$ > {}; exec sleep 30", pidfile.display());
    let outcome = exec(&argv(&["sh", "-c", &script]), Duration::from_millis(300))
        .await
        .unwrap();
    assert!(!outcome.ok);
    assert_eq!(outcome.detail, "timed out after 300ms (sh killed)");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Awaited after the kill: the process no longer exists at all.
    assert!(
        !PathBuf::from(format!("/proc/{pid}")).exists(),
        "pid {pid} survived"
    );
}

#[test]
fn a_heartbeat_is_stale_once_its_mtime_is_older_than_the_limit() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let beat = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    file.as_file().set_modified(beat).unwrap();
    let limit = Duration::from_secs(10);
    let t0 = Instant::now();
    let watch = || HeartbeatWatch::new(file.path().to_path_buf(), limit);
    let fresh = watch().check(beat + Duration::from_secs(5), t0);
    assert!(fresh.ok, "{fresh:?}");
    let stale = watch().check(beat + Duration::from_secs(42), t0);
    assert!(!stale.ok);
    assert!(
        stale.detail.ends_with("unchanged for 42s (limit 10s)"),
        "{}",
        stale.detail
    );
    let future = watch().check(beat - Duration::from_secs(60), t0);
    assert!(future.ok, "an mtime ahead of now counts as just written");
}

/// An RTC-less board syncing NTP: the wall clock steps days either way under a running watch.
#[test]
fn a_wall_clock_step_neither_blinds_a_heartbeat_nor_fails_a_beating_one() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let beat = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    file.as_file().set_modified(beat).unwrap();
    let limit = Duration::from_secs(10);
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let days = s(40 * 86_400);

    // The wall clock steps back 40 days; the file stops beating. It goes stale on monotonic
    // time, although its mtime is now 40 days "in the future".
    let mut stopped = HeartbeatWatch::new(file.path().to_path_buf(), limit);
    assert!(stopped.check(beat + s(1), t0).ok);
    assert!(stopped.check(beat + s(5) - days, t0 + s(5)).ok);
    let blind = stopped.check(beat + s(12) - days, t0 + s(12));
    assert!(!blind.ok, "a step back must not blind the check: {blind:?}");

    // The wall clock steps 40 days forward; the file keeps beating (its mtime changes at
    // every check): it stays live, although each mtime "looks" 40 days old.
    let mut beating = HeartbeatWatch::new(file.path().to_path_buf(), limit);
    assert!(beating.check(beat + s(1), t0 + s(1)).ok);
    for k in 1..=5u64 {
        let mtime = beat + s(5 * k);
        file.as_file().set_modified(mtime).unwrap();
        let out = beating.check(mtime + days, t0 + s(5 * k));
        assert!(out.ok, "check {k}: {out:?}");
    }
}

#[test]
fn a_missing_heartbeat_or_ready_file_fails_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llama.hb");
    let hb = HeartbeatWatch::new(path.clone(), Duration::from_secs(1))
        .check(SystemTime::UNIX_EPOCH, Instant::now());
    assert!(!hb.ok);
    assert!(hb.detail.contains("llama.hb"), "{}", hb.detail);
    assert!(!file_exists(&path).ok);
    std::fs::write(&path, "").unwrap();
    assert!(file_exists(&path).ok);
}

#[tokio::test]
async fn a_log_ready_probe_turns_ready_when_a_fed_line_matches() {
    let mut ready = Ready::Log(LogMatcher::new("model loaded").unwrap());
    assert!(!ready.check(PATIENT).await.ok);
    ready.feed("loading...");
    ready.feed("model loaded in 3.2s");
    assert!(ready.check(PATIENT).await.ok);
}

#[tokio::test]
async fn liveness_dispatches_to_the_configured_probe() {
    let addr = closed_port().await;
    let mut live = Liveness::Tcp(addr.clone());
    let now = Instant::now();
    let outcome = live
        .check(PATIENT, SystemTime::UNIX_EPOCH, now)
        .await
        .unwrap();
    assert_eq!(outcome.detail, format!("connect refused ({addr})"));
    let mut live = Liveness::Exec(argv(&["true"]));
    assert!(
        live.check(PATIENT, SystemTime::UNIX_EPOCH, now)
            .await
            .unwrap()
            .ok
    );
}
