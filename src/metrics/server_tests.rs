//! The `/metrics` server on a real loopback socket: answers from the published snapshot,
//! 503 before the first, and its connection cap (a connection over it is closed unread; a
//! freed slot serves again).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::server::{self, BOUNDS};
use super::tests::snapshot;
use crate::tasks::Tasks;

const SCRAPE: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

/// One scrape's answer; empty when the server closed the connection without one.
async fn scrape(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut out = Vec::new();
    if s.write_all(SCRAPE).await.is_ok() {
        let _ = s.read_to_end(&mut out).await;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn serves_the_latest_snapshot_and_closes_connections_over_the_cap_unread() {
    let tasks = Tasks::new();
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = watch::channel(None);
    tasks.spawn(server::serve(listener, rx, tasks.clone()));

    assert!(scrape(port).await.starts_with("HTTP/1.1 503 "));
    tx.send_replace(Some(Arc::new(snapshot())));
    let answer = scrape(port).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\njetgate_gate_reserve_bytes 536870912\n"));

    // Every slot held by a client that says nothing: the next connection is closed unread.
    let mut silent = Vec::new();
    for _ in 0..BOUNDS.max_connections {
        silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    // The server takes them in order: once one more is refused, all of the silent ones hold a
    // slot (each accepted before it).
    let mut over = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = over.write_all(SCRAPE).await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), over.read_to_end(&mut got)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "over the cap: closed with nothing sent, got {:?}",
        String::from_utf8_lossy(&got)
    );
    // A client that leaves frees its slot.
    drop(silent);
    let answer = loop {
        let a = scrape(port).await;
        if !a.is_empty() {
            break a;
        }
        tokio::task::yield_now().await;
    };
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    drop(tx);
    assert_eq!(tasks.shutdown(Duration::from_secs(5)).await, 0);
}
