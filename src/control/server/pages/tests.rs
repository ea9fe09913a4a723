use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::*;
use crate::control::server::{bind, serve};
use crate::event::NewEvent;
use crate::store::{EventFilter, Store};
use crate::tasks::Tasks;

/// A core loop that answers `events` from a real in-memory store, as the agent's does, and
/// records each page's `limit`; `fail_after` pages, it answers an error instead.
fn store_core(
    store: Store,
    limits: Arc<Mutex<Vec<u32>>>,
    fail_after: Option<usize>,
) -> mpsc::Sender<ControlRequest> {
    let (tx, mut rx) = mpsc::channel::<ControlRequest>(8);
    tokio::spawn(async move {
        let store = store;
        while let Some(req) = rx.recv().await {
            let Cmd::Events {
                since_ms,
                after_seq,
                kind,
                subject,
                limit,
            } = req.cmd
            else {
                panic!("only events here");
            };
            let mut seen = limits.lock().unwrap();
            seen.push(limit.unwrap());
            if fail_after.is_some_and(|n| seen.len() > n) {
                let _ = req.reply.send(Response::error(
                    crate::control::ErrorCode::Internal,
                    "store: disk I/O error",
                ));
                continue;
            }
            let filter = EventFilter {
                since_ms,
                after_seq,
                kind,
                subject,
                min_severity: None,
                limit: limit.map(u64::from),
            };
            let _ = req.reply.send(Response::ok(store.query(&filter).unwrap()));
        }
    });
    tx
}

/// A store holding `n` events: notes about `a` and `b` alternately.
fn store_of(n: usize) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let batch = (0..n)
        .map(|i| {
            let subject = if i % 2 == 0 { "a" } else { "b" };
            NewEvent::untyped(EventKind::Note, Some(subject))
                .message(format!("note {i}"))
                .figure("i", i as u64)
        })
        .collect();
    store.append_batch(batch).unwrap();
    store
}

async fn start(
    store: Store,
    fail_after: Option<usize>,
) -> (tempfile::TempDir, PathBuf, Arc<Mutex<Vec<u32>>>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    let listener = bind(&path, None).await.unwrap();
    let limits = Arc::new(Mutex::new(Vec::new()));
    let core = store_core(store, Arc::clone(&limits), fail_after);
    tokio::spawn(serve(listener, core, Tasks::new(), Arc::new(|_| {})));
    (dir, path, limits)
}

/// Sends `request` and reads the raw answer line (empty if the connection closed first).
fn raw_answer(path: &Path, request: &str) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    let _ = BufReader::new(s).read_line(&mut line);
    line
}

/// The whole answer as the agent wrote it before pages: the query's rows in one response.
fn whole_answer(store: &Store, filter: EventFilter) -> String {
    Response::ok(store.query(&filter).unwrap()).to_line()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paged_answer_is_byte_for_byte_the_whole_answer() {
    let store = store_of(700);
    let cases: Vec<(String, EventFilter)> = vec![
        (r#"{"v":1,"cmd":"events"}"#.into(), EventFilter::default()),
        (
            r#"{"v":1,"cmd":"events","limit":0}"#.into(),
            EventFilter {
                limit: Some(0),
                ..EventFilter::default()
            },
        ),
        (
            r#"{"v":1,"cmd":"events","limit":256}"#.into(),
            EventFilter {
                limit: Some(256),
                ..EventFilter::default()
            },
        ),
        (
            r#"{"v":1,"cmd":"events","limit":257,"after_seq":3}"#.into(),
            EventFilter {
                limit: Some(257),
                after_seq: Some(3),
                ..EventFilter::default()
            },
        ),
        (
            r#"{"v":1,"cmd":"events","subject":"b","limit":300}"#.into(),
            EventFilter {
                limit: Some(300),
                subject: Some("b".into()),
                ..EventFilter::default()
            },
        ),
        (
            r#"{"v":1,"cmd":"events","after_seq":9999}"#.into(),
            EventFilter {
                after_seq: Some(9999),
                ..EventFilter::default()
            },
        ),
    ];
    let expected: Vec<String> = cases
        .iter()
        .map(|(_, filter)| whole_answer(&store, filter.clone()))
        .collect();
    let (_dir, path, limits) = start(store, None).await;
    for ((request, _), expected) in cases.into_iter().zip(expected) {
        let p = path.clone();
        let sent = format!("{request}\n");
        let line = tokio::task::spawn_blocking(move || raw_answer(&p, &sent))
            .await
            .unwrap();
        assert!(
            line == expected,
            "{request}: {} bytes against {}",
            line.len(),
            expected.len()
        );
    }
    let limits = limits.lock().unwrap();
    assert!(limits.iter().all(|&l| l <= PAGE_ROWS), "{limits:?}");
    assert!(limits.len() > 6, "the long answers came in several pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_on_the_first_page_is_the_answer_and_a_later_one_cuts_the_line() {
    let (_dir, path, _limits) = start(store_of(700), Some(0)).await;
    let p = path.clone();
    let line =
        tokio::task::spawn_blocking(move || raw_answer(&p, "{\"v\":1,\"cmd\":\"events\"}\n"))
            .await
            .unwrap();
    let answer: Response = serde_json::from_str(&line).unwrap();
    assert!(!answer.ok);
    assert!(answer.error.unwrap().message.contains("disk I/O error"));

    let (_dir, path, _limits) = start(store_of(700), Some(1)).await;
    let line =
        tokio::task::spawn_blocking(move || raw_answer(&path, "{\"v\":1,\"cmd\":\"events\"}\n"))
            .await
            .unwrap();
    assert!(
        line.starts_with("{\"v\":1,\"ok\":true,\"data\":[") && !line.ends_with('\n'),
        "a cut line is never completed ({} bytes)",
        line.len()
    );
    assert!(serde_json::from_str::<Response>(&line).is_err());
}

#[test]
fn the_frame_is_the_whole_answers_own_text() {
    let (head, tail) = frame();
    assert_eq!(head, "{\"v\":1,\"ok\":true,\"data\":[");
    assert_eq!(tail, "]}\n");
}

#[test]
fn a_request_for_more_than_the_limit_is_cut_to_it() {
    let ask = EventsAsk::from_cmd(Cmd::Events {
        since_ms: None,
        after_seq: None,
        kind: None,
        subject: None,
        limit: Some(u32::MAX),
    })
    .unwrap();
    assert_eq!(ask.rows, MAX_EVENTS_PER_REQUEST);
    assert!(EventsAsk::from_cmd(Cmd::Status {}).is_err());
}
