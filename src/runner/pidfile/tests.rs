//! Tests of the pid records: format, atomic write, and the start-time check that tells a leftover child from a reused pid.
use super::*;

fn record() -> PidRecord {
    PidRecord {
        name: "llama".into(),
        pid: 4242,
        pgid: 4242,
        start_ticks: Some(183_377),
        cgroup: Some("/sys/fs/cgroup/memory/jetgate/llama".into()),
    }
}

fn stat(state: char, pgrp: i32, start_ticks: u64) -> ProcStat {
    ProcStat {
        pid: 4242,
        state,
        ppid: 1,
        pgrp,
        start_ticks,
    }
}

#[test]
fn a_record_round_trips_through_its_text() {
    let text = to_text(&record());
    assert_eq!(
        text,
        "pid=4242\npgid=4242\nstart_ticks=183377\ncgroup=/sys/fs/cgroup/memory/jetgate/llama\n"
    );
    assert_eq!(parse("llama", &text), Ok(record()));
}

#[test]
fn a_record_without_start_time_or_cgroup_parses_and_unknown_keys_are_ignored() {
    let r = parse("tts", "pid=10\npgid=10\nfuture=1\n").unwrap();
    assert_eq!(r.start_ticks, None);
    assert_eq!(r.cgroup, None);
}

#[test]
fn broken_records_are_errors_not_zeros() {
    assert!(parse("x", "").is_err());
    assert!(parse("x", "pid=12\n").is_err());
    assert!(parse("x", "pid=abc\npgid=12\n").is_err());
    assert!(parse("x", "pid=12\npgid=12\nstart_ticks=-1\n").is_err());
    // pid 1 or a negative group would make killpg hit init or everything: refused.
    assert!(parse("x", "pid=1\npgid=1\n").is_err());
    assert!(parse("x", "pid=-1\npgid=-1\n").is_err());
}

#[test]
fn the_same_start_time_and_group_is_the_same_process() {
    assert_eq!(
        judge(&record(), Some(&stat('S', 4242, 183_377))),
        Liveness::Alive
    );
}

#[test]
fn a_reused_pid_is_never_taken_for_the_orphan() {
    assert_eq!(
        judge(&record(), Some(&stat('S', 4242, 999_999))),
        Liveness::Reused {
            found_ticks: 999_999
        }
    );
    assert_eq!(
        judge(&record(), Some(&stat('S', 77, 183_377))),
        Liveness::Reused {
            found_ticks: 183_377
        }
    );
}

#[test]
fn a_missing_process_or_a_zombie_is_gone() {
    assert_eq!(judge(&record(), None), Liveness::Gone);
    assert_eq!(
        judge(&record(), Some(&stat('Z', 4242, 183_377))),
        Liveness::Gone
    );
}

#[test]
fn without_a_start_time_a_live_pid_cannot_be_verified() {
    let mut r = record();
    r.start_ticks = None;
    assert_eq!(judge(&r, Some(&stat('S', 4242, 1))), Liveness::Unverifiable);
}

#[test]
fn uptime_is_boot_uptime_minus_the_start_time() {
    assert_eq!(uptime(1_000, 110.0, 100), Duration::from_secs(100));
    assert_eq!(uptime(20_000, 110.0, 100), Duration::ZERO);
    assert_eq!(uptime(1_000, 110.0, 0), Duration::ZERO);
    assert_eq!(parse_uptime("350735.47 234388.90\n"), Some(350_735.47));
    assert_eq!(parse_uptime(""), None);
}

#[test]
fn records_are_written_atomically_listed_and_removed_only_by_their_own_pid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("pids");
    write(&d, &record()).unwrap();
    std::fs::write(d.join("bad.pid"), "nonsense").unwrap();
    let all = read_all(&d);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].0, "bad");
    assert!(all[0].2.is_err());
    assert_eq!(all[1].2.as_ref().unwrap(), &record());
    assert!(!d.join(".llama.pid.tmp").exists());
    remove(&d, "llama", 1234);
    assert!(path_for(&d, "llama").exists(), "another pid's record stays");
    remove(&d, "llama", 4242);
    assert!(!path_for(&d, "llama").exists());
}
