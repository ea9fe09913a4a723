use super::*;

#[test]
fn a_listener_that_never_answers_is_not_responding_and_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    // Bound and listening, never accepting: the kernel queues the connection.
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let err = call(&path, Cmd::Status {}, Some(Duration::from_millis(100))).unwrap_err();
    assert!(matches!(err, ClientError::NotResponding { .. }), "{err:?}");
    assert!(err.unreachable());
    assert!(err.to_string().contains("agent not responding"), "{err}");
}

#[test]
fn a_socket_nobody_listens_on_is_no_agent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let err = call(&path, Cmd::Status {}, Some(Duration::from_millis(100))).unwrap_err();
    assert!(err.unreachable());
    assert!(
        err.to_string().contains("nothing listens on the socket"),
        "{err}"
    );
    let err = call(&dir.path().join("none.sock"), Cmd::Status {}, None).unwrap_err();
    assert!(
        err.to_string().contains("the socket does not exist"),
        "{err}"
    );
}

#[test]
fn the_refusal_of_a_full_agent_is_too_many_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let agent = std::thread::spawn(move || {
        // What the server writes to a connection past its limit, before reading anything.
        let (mut s, _) = listener.accept().unwrap();
        let line = Response::error(
            ErrorCode::Refused,
            format!("{TOO_MANY_CONNECTIONS} (at most 128 at once): try again"),
        )
        .to_line();
        s.write_all(line.as_bytes()).unwrap();
    });
    let err = call(&path, Cmd::Status {}, Some(Duration::from_secs(5))).unwrap_err();
    agent.join().unwrap();
    assert!(
        matches!(err, ClientError::TooManyConnections { .. }),
        "{err:?}"
    );
    assert!(err.unreachable());
}
