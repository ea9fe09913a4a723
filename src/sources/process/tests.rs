//! Tests of the per-process readers (status, smaps_rollup, fds) on fixtures and on live processes.
#![allow(clippy::disallowed_methods)] // live tests spawn real processes to read

use super::*;
use proptest::prelude::*;
use std::fs;
use std::process::{Command, Stdio};

/// A python3 model server renamed by its script to "python3 ) (x", on an Orin (R36).
const TRAP_STAT: &str = "4242 (python3 ) (x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 50 20 0 0 20 0 7 0 51234 2345678848 98304 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 3 0 0 0 0 0\n";

#[test]
fn a_comm_with_parentheses_and_spaces_is_cut_at_the_last_parenthesis() {
    let s = parse_stat(TRAP_STAT).unwrap();
    assert_eq!(s.pid, 4242);
    assert_eq!(s.comm, "python3 ) (x");
    assert_eq!(s.state, 'S');
    assert_eq!((s.ppid, s.pgid), (1, 4242));
    assert_eq!(s.threads, 7);
    assert_eq!(s.start_ticks, 51234);
    assert_eq!(s.rss_pages, 98304);
    assert!(!s.is_kernel_thread());
}

#[test]
fn a_kernel_thread_is_recognised_by_its_flags() {
    let kworker = "57 (kworker/3:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 12 0 0 20 0 1 0 80 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 3 0 0 0 0 0\n";
    let s = parse_stat(kworker).unwrap();
    assert!(s.is_kernel_thread());
    assert_eq!((s.state, s.ppid), ('I', 2));
}

#[test]
fn truncated_or_garbled_stat_lines_are_errors() {
    assert!(parse_stat("").is_err());
    assert!(parse_stat("12 (sh) S 1 12").is_err());
    assert!(parse_stat("x (sh) S 1 2 3 4 5 6").is_err());
    assert!(parse_stat("12 )sh( S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21").is_err());
}

#[test]
fn smaps_rollup_gives_rss_pss_and_swap() {
    let text = "\
aaaac1a40000-ffffd1e6f000 ---p 00000000 00:00 0                          [rollup]
Rss:             1843200 kB
Pss:             1790512 kB
Pss_Anon:        1702400 kB
Pss_File:          88112 kB
Shared_Clean:      61440 kB
Swap:              10240 kB
SwapPss:           10240 kB
";
    let r = parse_smaps_rollup(text).unwrap();
    assert_eq!(r.rss, Bytes::from_kib(1843200));
    assert_eq!(r.pss, Bytes::from_kib(1790512));
    assert_eq!(r.swap, Bytes::from_kib(10240));
    assert_eq!(r.pss_file, Some(Bytes::from_kib(88112)));
    assert_eq!(parse_smaps_rollup("").unwrap(), Rollup::default());
}

#[test]
fn a_rollup_without_a_file_share_leaves_it_unknown() {
    // Kernels before 5.10 (L4T R32's 4.9) give Rss, Pss and Swap only.
    let r = parse_smaps_rollup("Rss:  2048 kB\nPss:  1024 kB\nSwap:  0 kB\n").unwrap();
    assert_eq!(r.pss, Bytes::from_kib(1024));
    assert_eq!(r.pss_file, None);
    assert!(parse_smaps_rollup("Pss_File: lots kB\n").is_err());
}

#[test]
fn status_gives_swap_and_none_means_zero() {
    assert_eq!(
        parse_status_swap("Name:\tsh\nVmRSS:\t 1000 kB\nVmSwap:\t 512 kB\n"),
        Ok(Bytes::from_kib(512))
    );
    assert_eq!(parse_status_swap("Name:\tkthreadd\n"), Ok(Bytes::ZERO));
}

/// A fixture /proc for a kernel without smaps_rollup (4.9, L4T R32).
fn fixture_without_rollup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("proc/4242");
    fs::create_dir_all(p.join("fd")).unwrap();
    fs::create_dir_all(dir.path().join("proc/self")).unwrap();
    fs::write(p.join("stat"), TRAP_STAT).unwrap();
    fs::write(
        p.join("status"),
        "Name:\tpython3 ) (x\nVmSwap:\t    2048 kB\n",
    )
    .unwrap();
    for fd in ["0", "1", "2"] {
        fs::write(p.join("fd").join(fd), "").unwrap();
    }
    dir
}

#[test]
fn without_smaps_rollup_pss_falls_back_to_rss_and_says_so() {
    let tree = fixture_without_rollup();
    let mut reader = ProcReader::new(Root::new(tree.path()));
    assert!(!reader.has_smaps_rollup());
    let mut s = ProcessSample::default();
    assert!(reader.read_process(4242, &mut s).unwrap());
    assert_eq!(s.pss_source, PssSource::Rss);
    assert_eq!(s.pss, s.rss);
    assert_eq!(s.rss, Bytes(98304 * reader.page_size));
    assert_eq!(s.swap, Bytes::from_kib(2048));
    assert_eq!(s.fds, Some(3));
    assert_eq!(s.comm, "python3 ) (x");
}

#[test]
fn a_pid_that_is_not_there_is_vanished_not_an_error() {
    let tree = fixture_without_rollup();
    let mut reader = ProcReader::new(Root::new(tree.path()));
    let mut s = ProcessSample::default();
    assert!(!reader.read_process(999_999, &mut s).unwrap());
}

#[test]
fn reads_this_process_live() {
    let mut reader = ProcReader::new(Root::host());
    let mut s = ProcessSample::default();
    assert!(reader.read_process(std::process::id(), &mut s).unwrap());
    assert_eq!(s.pid, std::process::id());
    assert_eq!(s.ppid, std::os::unix::process::parent_id());
    assert!(s.threads >= 1);
    assert!(s.rss > Bytes::ZERO && s.pss > Bytes::ZERO);
    assert!(s.fds.unwrap() >= 3);
    assert!(!s.kernel_thread);
    assert_eq!(s.pss_source, PssSource::SmapsRollup);
}

#[test]
fn reads_a_live_process_whose_name_holds_parentheses_and_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("x) (y z");
    fs::copy("/bin/sleep", &exe).unwrap();
    let mut child = Command::new(&exe)
        .arg("30")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = ProcReader::new(Root::host());
    let mut s = ProcessSample::default();
    let found = reader.read_process(child.id(), &mut s);
    let _ = child.kill();
    let _ = child.wait();
    assert!(found.unwrap());
    assert_eq!(s.comm, "x) (y z");
    assert_eq!(s.ppid, std::process::id());
}

#[test]
fn a_process_that_exited_and_was_reaped_reads_as_vanished() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let mut reader = ProcReader::new(Root::host());
    let mut s = ProcessSample::default();
    assert!(!reader.read_process(pid, &mut s).unwrap());
}

#[test]
fn lists_pids_including_our_own() {
    let reader = ProcReader::new(Root::host());
    let mut pids = Vec::new();
    reader.pids(&mut pids).unwrap();
    assert!(pids.contains(&std::process::id()));
    assert!(pids.contains(&1));
}

proptest! {
    #[test]
    fn parsers_never_panic_on_arbitrary_text(s in "(?s).{0,300}") {
        let _ = parse_stat(&s);
        let _ = parse_smaps_rollup(&s);
        let _ = parse_status_swap(&s);
    }

    #[test]
    fn any_comm_up_to_64_bytes_round_trips(comm in "[ -~]{0,64}") {
        let line = format!("77 ({comm}) R 1 77 77 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 5 0 10 0\n");
        let s = parse_stat(&line).unwrap();
        prop_assert_eq!(s.comm, comm.as_str());
        prop_assert_eq!(s.rss_pages, 10);
    }
}
