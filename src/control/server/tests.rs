use super::*;
use crate::control::client::Client;
use crate::event::EventKind;
use std::io::{BufRead, BufReader, Write};

/// A stand-in core loop that answers every command with its debug form.
fn echo_core() -> mpsc::Sender<ControlRequest> {
    let (tx, mut rx) = mpsc::channel::<ControlRequest>(8);
    tokio::spawn(async move {
        while let Some(req) = rx.recv().await {
            let _ = req
                .reply
                .send(Response::ok(serde_json::json!(format!("{:?}", req.cmd))));
        }
    });
    tx
}

async fn start() -> (tempfile::TempDir, PathBuf, CancelToken) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/control.sock");
    let listener = bind(&path, None).await.unwrap();
    let tasks = Tasks::new();
    let cancel = tasks.token();
    tokio::spawn(serve(listener, echo_core(), tasks, Arc::new(|_| {})));
    (dir, path, cancel)
}

fn raw_exchange(path: &Path, bytes: &[u8]) -> Response {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.write_all(bytes).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

/// A core loop that answers at once, except `load --wait`: those answers wait until `release`
/// is notified. `waiting` counts the loads it holds.
fn holding_core(
    release: Arc<tokio::sync::Notify>,
    waiting: Arc<std::sync::atomic::AtomicUsize>,
) -> mpsc::Sender<ControlRequest> {
    let (tx, mut rx) = mpsc::channel::<ControlRequest>(8);
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                req = rx.recv() => {
                    let Some(req) = req else { return };
                    if matches!(req.cmd, Cmd::Load { wait: true, .. }) {
                        held.push(req.reply);
                        waiting.store(held.len(), std::sync::atomic::Ordering::SeqCst);
                    } else {
                        let _ = req.reply.send(Response::ok("answered"));
                    }
                }
                _ = release.notified() => {
                    for reply in held.drain(..) {
                        let _ = reply.send(Response::ok("loaded"));
                    }
                }
            }
        }
    });
    tx
}

fn status_on(c: &mut Client) -> bool {
    c.call(Cmd::Status {}).is_ok_and(|r| r.ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_table_closes_the_longest_idle_connection_and_refuses_only_when_all_wait_on_the_agent(
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    let listener = bind(&path, None).await.unwrap();
    let tasks = Tasks::new();
    let cancel = tasks.token();
    let release = Arc::new(tokio::sync::Notify::new());
    let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let core = holding_core(Arc::clone(&release), Arc::clone(&waiting));
    let reported = Arc::new(std::sync::Mutex::new(Vec::<NewEvent>::new()));
    let shed = ShedReport {
        every: Duration::from_millis(200),
        report: {
            let reported = Arc::clone(&reported);
            Arc::new(move |e| reported.lock().unwrap().push(e))
        },
    };
    tokio::spawn(serve_limited(listener, core, tasks, 2, shed));
    let p = path.clone();
    let release_later = Arc::clone(&release);
    tokio::task::spawn_blocking(move || {
        let connect = || Client::connect(&p, Some(Duration::from_secs(5))).unwrap();
        let (mut first, mut second) = (connect(), connect());
        assert!(status_on(&mut first) && status_on(&mut second));
        // Both wait on their clients; a third takes the place of the first, idle longest.
        let mut third = connect();
        assert!(status_on(&mut third));
        assert!(
            !status_on(&mut first),
            "the longest idle connection was closed"
        );
        // The two left wait on the agent (a load --wait each): nothing can be evicted.
        let mut loads: Vec<_> = [&p, &p]
            .iter()
            .map(|p| {
                let mut s = std::os::unix::net::UnixStream::connect(p).unwrap();
                s.write_all(b"{\"v\":1,\"cmd\":\"load\",\"name\":\"llm\",\"wait\":true}\n")
                    .unwrap();
                s
            })
            .collect();
        let mut polls = 0;
        while waiting.load(std::sync::atomic::Ordering::SeqCst) < 2 {
            polls += 1;
            assert!(polls < 1000, "the loads never reached the core");
            std::thread::sleep(Duration::from_millis(5));
        }
        let busy = raw_exchange(&p, b"");
        assert!(
            format!("{busy:?}").contains(TOO_MANY_CONNECTIONS),
            "{busy:?}"
        );
        // Once answered, they wait on their clients again and give way to a newcomer.
        release_later.notify_one();
        for s in &mut loads {
            let mut line = String::new();
            BufReader::new(&*s).read_line(&mut line).unwrap();
            assert!(line.contains("loaded"), "{line}");
        }
        assert!(status_on(&mut connect()));
        drop(second.call(Cmd::Status {}));
    })
    .await
    .unwrap();
    // The closed and the refused connections are on record, counted, in few events.
    let mut polls = 0;
    let (evicted, refused) = loop {
        let events = reported.lock().unwrap().clone();
        let sum = |figure: &str| -> u64 {
            events
                .iter()
                .map(|e| e.figures[figure].as_u64().unwrap())
                .sum()
        };
        // First, second and third were each closed for a newcomer before the refusal.
        if sum("refused") >= 1 && sum("evicted") >= 3 {
            assert!(events
                .iter()
                .all(|e| e.kind == EventKind::ControlConnectionsShed));
            break (sum("evicted"), sum("refused"));
        }
        polls += 1;
        assert!(polls < 100, "no shed report: {events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(refused, 1);
    assert!(evicted <= 4, "{evicted}");
    cancel.cancel();
}

#[test]
fn nothing_shed_is_no_event_and_something_shed_says_the_counts() {
    let window = Duration::from_secs(60);
    assert!(Shed::default().event(window, 128).is_none());
    let e = Shed {
        evicted: 3,
        refused: 0,
    }
    .event(window, 128)
    .unwrap();
    assert_eq!(e.kind, EventKind::ControlConnectionsShed);
    assert_eq!(e.figures["evicted"], 3);
    assert_eq!(e.figures["window_s"], 60);
    assert!(
        e.message.contains("3 idle connections closed"),
        "{}",
        e.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_valid_requests_in_order_on_one_connection() {
    let (_dir, path, cancel) = start().await;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "owner only without `control.group`");
    let answers = tokio::task::spawn_blocking(move || {
        let mut c = Client::connect(&path, Some(Duration::from_secs(5))).unwrap();
        let a = c.call(Cmd::Status {}).unwrap();
        let b = c.call(Cmd::Unload { name: "llm".into() }).unwrap();
        (a, b)
    })
    .await
    .unwrap();
    assert_eq!(answers.0.data.unwrap(), "Status");
    assert!(answers.1.data.unwrap().as_str().unwrap().contains("llm"));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_garbage_oversized_and_half_written_requests_with_errors() {
    let (_dir, path, cancel) = start().await;
    let cases: Vec<Vec<u8>> = vec![
        b"garbage\n".to_vec(),
        b"{\"v\":1,\"cmd\":\"load\"}\n".to_vec(),
        b"{\"v\":1,\"cmd\":\"status\"".to_vec(), // no newline, then EOF
        vec![b'x'; MAX_REQUEST_BYTES + 10],
        vec![0xff, 0x00, b'\n'],
    ];
    for bytes in cases {
        let p = path.clone();
        let resp = tokio::task::spawn_blocking(move || raw_exchange(&p, &bytes))
            .await
            .unwrap();
        assert!(!resp.ok);
        assert_eq!(resp.error.unwrap().code, ErrorCode::BadRequest);
    }
    cancel.cancel();
}

#[tokio::test]
async fn refuses_to_take_over_a_socket_where_an_agent_listens() {
    let (_dir, path, cancel) = start().await;
    assert!(matches!(
        bind(&path, None).await,
        Err(ServerError::InUse { .. })
    ));
    cancel.cancel();
}

#[tokio::test]
async fn replaces_a_stale_socket_left_by_a_crashed_agent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    bind(&path, None).await.unwrap();
}

#[tokio::test]
async fn never_removes_a_file_that_is_not_a_socket_and_says_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("precious.txt");
    std::fs::write(&file, "keep me").unwrap();
    let err = bind(&file, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            ServerError::NotASocket {
                kind: "regular file",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    let sub = dir.path().join("a-dir");
    std::fs::create_dir(&sub).unwrap();
    let err = bind(&sub, None).await.unwrap_err();
    assert!(err.to_string().contains("a directory is there"), "{err}");
    let link = dir.path().join("link.sock");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    assert!(matches!(
        bind(&link, None).await,
        Err(ServerError::NotASocket {
            kind: "symbolic link",
            ..
        })
    ));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[tokio::test]
async fn names_a_missing_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    let err = bind(&path, Some("no-such-group-jetgate"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-group-jetgate"));
}
