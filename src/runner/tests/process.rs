//! Real processes, no cgroup scope.

use std::time::Duration;

use super::*;

fn pids_in_group(pgid: i32) -> Vec<i32> {
    let root = Root::host();
    root.list("/proc")
        .unwrap()
        .iter()
        .filter_map(|e| e.parse::<i32>().ok())
        .filter_map(|pid| procstat::read_stat(&root, pid).ok())
        .filter(|s| s.pgrp == pgid && s.state != 'Z')
        .map(|s| s.pid)
        .collect()
}

#[tokio::test]
async fn output_lines_arrive_in_order_and_stay_in_the_ring() {
    let mut h = harness(None);
    let child = h
        .runner
        .spawn(&spec(
            "counter",
            "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2",
        ))
        .unwrap();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    while stdout.len() < 5 || stderr.is_empty() {
        let out = h.next_line().await;
        assert_eq!(out.name, "counter");
        match out.stream {
            Stream::Stdout => stdout.push(out.line),
            Stream::Stderr => stderr.push(out.line),
        }
    }
    assert_eq!(stdout, ["line1", "line2", "line3", "line4", "line5"]);
    assert_eq!(stderr, ["oops"]);
    let exit = h.next_exit().await;
    assert_eq!((exit.code, exit.signal), (Some(0), None));
    assert_eq!(exit.pid, child.pid());
    let (ring, dropped) = child.recent_output();
    assert_eq!(ring.len(), 6);
    assert_eq!(dropped, 0);
    assert_eq!(child.phase(), Phase::Gone);
}

#[tokio::test]
async fn systemd_variables_are_stripped_but_others_pass_through() {
    let mut h = harness(None);
    let mut s = spec(
        "env",
        "echo ${NOTIFY_SOCKET:-unset} ${WATCHDOG_USEC:-unset} ${INVOCATION_ID:-unset} $KEEP $EXTRA",
    );
    s.parent_env = ParentEnv::Given(vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("NOTIFY_SOCKET".into(), "/run/systemd/notify".into()),
        ("WATCHDOG_USEC".into(), "30000000".into()),
        ("INVOCATION_ID".into(), "abc".into()),
        ("KEEP".into(), "kept".into()),
    ]);
    s.env = vec![("EXTRA".into(), "extra".into())];
    h.runner.spawn(&s).unwrap();
    assert_eq!(h.next_line().await.line, "unset unset unset kept extra");
}

#[test]
fn spec_env_overrides_the_parent_and_stripping_applies_only_to_inherited_vars() {
    let parent = [("A", "1"), ("LISTEN_FDS", "3"), ("B", "2")].map(|(k, v)| (k.into(), v.into()));
    let env = child_env(parent, &[("B".into(), "9".into())]);
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
        .collect();
    assert_eq!(env, [("A".into(), "1".into()), ("B".into(), "9".into())]);
}

#[tokio::test]
async fn the_child_leads_its_own_process_group_and_its_record_has_a_start_time() {
    let h = harness(None);
    let child = h.runner.spawn(&spec("grp", "sleep 30")).unwrap();
    let stat = procstat::read_stat(&Root::host(), child.pid()).unwrap();
    assert_eq!(stat.pgrp, child.pid());
    assert_eq!(child.pgid(), child.pid());
    assert_ne!(stat.pgrp, nix::unistd::getpgrp().as_raw());
    assert_eq!(child.record().start_ticks, Some(stat.start_ticks));
    child.kill_now().unwrap();
    child.wait_gone().await;
}

#[tokio::test]
async fn grandchildren_die_with_a_group_kill() {
    let mut h = harness(None);
    let child = h
        .runner
        .spawn(&spec("tree", "sleep 30 & sleep 30 & wait"))
        .unwrap();
    let pgid = child.pgid();
    eventually("three processes in the group", || {
        pids_in_group(pgid).len() == 3
    })
    .await;
    let members = pids_in_group(pgid);
    child.kill_now().unwrap();
    let exit = h.next_exit().await;
    assert_eq!(exit.signal, Some(libc::SIGKILL));
    eventually("every group member dead", || {
        members.iter().all(|p| is_dead(*p))
    })
    .await;
}

#[tokio::test]
async fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
    let mut h = harness(None);
    let child = h
        .runner
        .spawn(&spec(
            "stubborn",
            "trap '' TERM; echo armed; while :; do sleep 1; done",
        ))
        .unwrap();
    assert_eq!(h.next_line().await.line, "armed");
    let outcome = child.stop(Duration::from_millis(300)).await.unwrap();
    assert_eq!(outcome, StopOutcome::Killed);
    let exit = h.next_exit().await;
    assert_eq!(exit.signal, Some(libc::SIGKILL));
    assert_eq!(
        child.stop(Duration::ZERO).await.unwrap(),
        StopOutcome::AlreadyGone
    );
}

#[tokio::test]
async fn a_child_honouring_sigterm_ends_within_the_grace_period() {
    let mut h = harness(None);
    let child = h.runner.spawn(&spec("polite", "exec sleep 30")).unwrap();
    let outcome = child.stop(PATIENCE).await.unwrap();
    assert_eq!(outcome, StopOutcome::Terminated);
    assert_eq!(h.next_exit().await.signal, Some(libc::SIGTERM));
}

#[tokio::test]
async fn leftovers_of_the_group_are_killed_when_the_leader_exits() {
    let mut h = harness(None);
    let child = h
        .runner
        .spawn(&spec("leaky", "sleep 30 & echo $!"))
        .unwrap();
    let orphan: i32 = h.next_line().await.line.parse().unwrap();
    let exit = h.next_exit().await;
    assert_eq!(exit.code, Some(0));
    assert_eq!(exit.pid, child.pid());
    eventually("the orphaned sleep is dead", || is_dead(orphan)).await;
}

#[tokio::test]
async fn an_empty_argv_and_a_missing_program_are_errors_naming_the_child() {
    let h = harness(None);
    let err = h.runner.spawn(&Spec::new("none", &[])).unwrap_err();
    assert!(err.to_string().contains("none"), "{err}");
    let err = h
        .runner
        .spawn(&Spec::new("ghost", &["/nonexistent/jetgate-test-binary"]))
        .unwrap_err();
    assert!(err.to_string().contains("ghost"), "{err}");
    assert!(err.to_string().contains("/nonexistent"), "{err}");
}

#[test]
fn spawning_outside_a_runtime_is_an_error_not_a_panic() {
    let h = harness(None);
    let err = h.runner.spawn(&spec("early", "true")).unwrap_err();
    assert!(matches!(err, RunnerError::NoRuntime { .. }), "{err}");
}

/// The escapee's pid (first output line) and a file whose creation lets its parent shell exit.
async fn spawn_escapee(h: &mut Harness, name: &str, release: &std::path::Path) -> RunningChild {
    let script = format!(
        "(setsid sleep 30 & echo $!; while [ ! -e {} ]; do sleep 0.02; done); sleep 30",
        release.display()
    );
    h.runner.spawn(&spec(name, &script)).unwrap()
}

#[tokio::test]
async fn a_grandchild_that_left_the_group_and_its_parent_dies_with_an_unload_without_a_cgroup() {
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    let mut h = harness(None);
    let child = spawn_escapee(&mut h, "escape", &release).await;
    let escapee: i32 = h.next_line().await.line.parse().unwrap();
    eventually("the escapee is followed", || {
        child.descendants().contains(&escapee)
    })
    .await;
    let first_parent = procstat::read_stat(&Root::host(), escapee).unwrap().ppid;
    std::fs::write(&release, "").unwrap();
    eventually("the escapee's parent shell has exited", || {
        is_dead(first_parent)
    })
    .await;
    let stat = procstat::read_stat(&Root::host(), escapee).unwrap();
    assert_ne!(stat.pgrp, child.pgid(), "it left the process group");
    assert_ne!(stat.ppid, first_parent, "it was re-parented");

    let outcome = child.stop(PATIENCE).await.unwrap();
    assert_eq!(outcome, StopOutcome::Terminated);
    assert_eq!(h.next_exit().await.signal, Some(libc::SIGTERM));
    eventually("the escapee is dead", || is_dead(escapee)).await;
}

#[tokio::test]
async fn a_setsid_grandchild_dies_with_a_kill_now_without_a_cgroup() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(None);
    let child = spawn_escapee(&mut h, "escape-kill", &dir.path().join("never")).await;
    let escapee: i32 = h.next_line().await.line.parse().unwrap();
    eventually("the escapee has left the group", || {
        procstat::read_stat(&Root::host(), escapee).is_ok_and(|s| s.pgrp != child.pgid())
    })
    .await;
    // No wait for a walk: kill_now walks the tree itself before it signals.
    child.kill_now().unwrap();
    assert_eq!(h.next_exit().await.signal, Some(libc::SIGKILL));
    eventually("the escapee is dead", || is_dead(escapee)).await;
}
