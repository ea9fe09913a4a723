//! Tests of the process-tree walk: children files, the ppid-scan fallback, PSS/fd/thread sums, on fixture trees and live trees.
#![allow(clippy::disallowed_methods)] // live tests spawn a real process tree

use super::*;
use crate::sources::process::{PssSource, TreeDetail};
use proptest::prelude::*;
use std::process::{Command, Stdio};

fn link(pid: u32, ppid: u32) -> Link {
    Link {
        pid,
        ppid,
        kernel_thread: false,
    }
}

fn sorted(mut links: Vec<Link>) -> Vec<Link> {
    links.sort_unstable_by_key(|l| l.ppid);
    links
}

#[test]
fn descendants_follow_ppid_links_through_every_generation() {
    let links = sorted(vec![
        link(1, 0),
        link(10, 1),
        link(11, 10),
        link(12, 10),
        link(13, 12),
        link(20, 1),
    ]);
    let mut out = Vec::new();
    descendants(&links, 10, &mut out);
    out[1..].sort();
    assert_eq!(out, vec![10, 11, 12, 13]);
    descendants(&links, 20, &mut out);
    assert_eq!(out, vec![20]);
}

#[test]
fn aggregate_sums_memory_and_counts_zombies_and_unknown_fds() {
    let p = |pid, state, pss_mib, fds| ProcessSample {
        pid,
        state,
        threads: 2,
        rss: Bytes::from_mib(pss_mib * 2),
        pss: Bytes::from_mib(pss_mib),
        swap: Bytes::from_mib(1),
        fds,
        ..ProcessSample::default()
    };
    let mut rss_only = p(4, 'S', 8, Some(1));
    rss_only.pss_source = PssSource::Rss;
    let t = aggregate(
        1,
        &[
            p(1, 'S', 100, Some(10)),
            p(2, 'Z', 0, None),
            p(3, 'R', 50, Some(5)),
            rss_only,
        ],
    );
    assert_eq!(t.processes, 4);
    assert_eq!(t.zombies, 1);
    assert_eq!(t.threads, 8);
    assert_eq!(t.pss, Bytes::from_mib(158));
    assert_eq!(t.rss, Bytes::from_mib(316));
    assert_eq!(t.swap, Bytes::from_mib(4));
    assert_eq!((t.fds, t.fds_unknown), (16, 1));
    assert_eq!(t.pss_from_rss(), 1);
}

/// Spawns `sh -c 'sleep 60 & sleep 60 & wait'` and waits until both sleeps are its children.
fn spawn_three_process_tree() -> std::process::Child {
    let mut child = Command::new("sh")
        .args(["-c", "sleep 60 & sleep 60 & wait"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut sampler = TreeSampler::new(Root::host());
    for _ in 0..500 {
        if let Ok(Some(t)) = sampler.sample(child.id()) {
            if t.processes == 3
                && sampler
                    .members()
                    .iter()
                    .filter(|m| m.comm == "sleep")
                    .count()
                    == 2
            {
                return child;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the shell never had two sleep children");
}

#[test]
fn samples_a_live_three_process_tree() {
    let mut child = spawn_three_process_tree();
    let mut sampler = TreeSampler::new(Root::host());
    let t = sampler.sample(child.id()).unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(t.root_pid, child.id());
    assert_eq!(t.processes, 3);
    assert_eq!(t.zombies, 0);
    assert_eq!(t.threads, 3);
    assert!(t.pss > Bytes::ZERO && t.rss >= t.pss);
    assert!(t.fds >= 3);
    let members = sampler.members();
    assert_eq!(members[0].comm, "sh");
    assert!(members[1..]
        .iter()
        .all(|m| m.ppid == child.id() && m.comm == "sleep"));
}

#[test]
fn a_tree_whose_root_has_gone_samples_as_none() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let mut sampler = TreeSampler::new(Root::host());
    assert_eq!(sampler.sample(pid).unwrap(), None);
}

#[test]
fn a_killed_child_left_unreaped_counts_as_a_zombie() {
    let mut child = spawn_three_process_tree();
    let mut sampler = TreeSampler::new(Root::host());
    sampler.sample(child.id()).unwrap();
    let sleeper = sampler.members()[1].pid;
    // Stop the shell so it cannot reap, then kill one sleep.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleeper as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut zombies = 0;
    for _ in 0..500 {
        zombies = sampler.sample(child.id()).unwrap().unwrap().zombies;
        if zombies == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(zombies, 1);
}

#[test]
fn heaviest_trees_exclude_pid_one_and_kernel_threads_and_are_sorted_by_pss() {
    let mut sampler = TreeSampler::new(Root::host());
    let trees = sampler.heaviest(50).unwrap();
    assert!(!trees.is_empty());
    assert!(trees.iter().all(|t| t.totals.root_pid != 1));
    assert!(trees
        .iter()
        .all(|t| t.totals.root_pid != 2 && t.comm != "kthreadd"));
    assert!(trees.windows(2).all(|w| w[0].totals.pss >= w[1].totals.pss));
    assert!(sampler.heaviest(1).unwrap().len() <= 1);
}

proptest! {
    #[test]
    fn descendants_terminate_and_never_repeat_on_arbitrary_links(
        pairs in proptest::collection::vec((0u32..40, 0u32..40), 0..60), root in 0u32..40
    ) {
        // Real pids are unique; keep the first link per pid (cycles may remain).
        let mut seen = std::collections::HashSet::new();
        let links = sorted(pairs.into_iter().filter(|(p, _)| seen.insert(*p)).map(|(p, pp)| link(p, pp)).collect());
        let mut out = Vec::new();
        descendants(&links, root, &mut out);
        let unique: std::collections::HashSet<_> = out.iter().collect();
        prop_assert_eq!(unique.len(), out.len());
    }
}

/// `(pid, ppid, threads, [(tid, that thread's children file)])`.
type FixtureProc = (u32, u32, u32, &'static [(u32, &'static str)]);

/// A fixture `/proc`: each `(pid, ppid, threads, children per task)`; every process gets a
/// stat, a smaps_rollup (PSS = pid kB, so sums show who was counted) and an empty fd directory. `children_files`
/// false leaves the task directories without `children` (a kernel without
/// CONFIG_PROC_CHILDREN).
fn fixture_proc(procs: &[FixtureProc], children_files: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let proc_dir = dir.path().join("proc");
    std::fs::create_dir_all(proc_dir.join("self")).unwrap();
    std::fs::write(proc_dir.join("self/smaps_rollup"), "").unwrap();
    for &(pid, ppid, threads, tasks) in procs {
        let p = proc_dir.join(pid.to_string());
        std::fs::create_dir_all(p.join("fd")).unwrap();
        std::fs::write(
            p.join("stat"),
            format!("{pid} (p{pid}) S {ppid} {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 {threads} 0 100 0 10 0\n"),
        )
        .unwrap();
        std::fs::write(
            p.join("smaps_rollup"),
            format!("Rss: {pid} kB\nPss: {pid} kB\n"),
        )
        .unwrap();
        for &(tid, kids) in tasks {
            let t = p.join(format!("task/{tid}"));
            std::fs::create_dir_all(&t).unwrap();
            if children_files {
                std::fs::write(t.join("children"), kids).unwrap();
            }
        }
    }
    dir
}

/// 100 → 101, and 100's second thread 103 → 102 → 104; 105 claims 100 as its parent in its
/// stat but no children file lists it, so only the ppid scan can find it.
const TREE: &[FixtureProc] = &[
    (1, 0, 1, &[(1, "100 ")]),
    (100, 1, 2, &[(100, "101 "), (103, "102 ")]),
    (101, 100, 1, &[(101, "")]),
    (102, 100, 1, &[(102, "104")]),
    (104, 102, 1, &[(104, "")]),
    (105, 100, 1, &[(105, "")]),
];

fn pids_of(sampler: &TreeSampler) -> Vec<u32> {
    let mut pids: Vec<u32> = sampler.members().iter().map(|m| m.pid).collect();
    pids[1..].sort();
    pids
}

#[test]
fn members_are_found_through_every_thread_s_children_file_without_a_scan() {
    let tree = fixture_proc(TREE, true);
    let mut sampler = TreeSampler::new(Root::new(tree.path()));
    let t = sampler
        .sample_detail(100, TreeDetail::Memory)
        .unwrap()
        .unwrap();
    assert_eq!(pids_of(&sampler), vec![100, 101, 102, 104]);
    assert_eq!(t.pss, Bytes::from_kib(100 + 101 + 102 + 104));
    assert!(sampler.children_files);
}

#[test]
fn without_children_files_the_tree_comes_from_the_ppid_scan_from_then_on() {
    let tree = fixture_proc(TREE, false);
    let mut sampler = TreeSampler::new(Root::new(tree.path()));
    sampler.sample(100).unwrap().unwrap();
    assert_eq!(pids_of(&sampler), vec![100, 101, 102, 104, 105]);
    assert!(!sampler.children_files);
    sampler.sample(102).unwrap().unwrap();
    assert_eq!(pids_of(&sampler), vec![102, 104]);
}

#[test]
fn a_captured_tree_without_task_directories_falls_back_to_the_scan() {
    let tree = fixture_proc(
        &[(1, 0, 1, &[]), (100, 1, 1, &[]), (101, 100, 1, &[])],
        true,
    );
    let mut sampler = TreeSampler::new(Root::new(tree.path()));
    assert_eq!(sampler.sample(100).unwrap().unwrap().processes, 2);
    assert!(!sampler.children_files);
}

#[test]
fn known_members_are_read_as_given_with_the_root_first_and_once() {
    let tree = fixture_proc(TREE, true);
    let mut sampler = TreeSampler::new(Root::new(tree.path()));
    let t = sampler
        .sample_members(100, &[105, 100, 999], TreeDetail::Memory)
        .unwrap()
        .unwrap();
    assert_eq!(pids_of(&sampler), vec![100, 105], "999 does not exist");
    assert_eq!(t.processes, 2);
    assert_eq!(
        sampler
            .sample_members(999, &[100], TreeDetail::Memory)
            .unwrap(),
        None
    );
}

#[test]
fn memory_detail_reads_pss_and_threads_but_leaves_fds_unknown() {
    let mut child = spawn_three_process_tree();
    let mut sampler = TreeSampler::new(Root::host());
    let memory = sampler
        .sample_detail(child.id(), TreeDetail::Memory)
        .unwrap()
        .unwrap();
    let full = sampler.sample(child.id()).unwrap().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((memory.processes, memory.threads), (3, 3));
    assert!(memory.pss > Bytes::ZERO);
    assert_eq!((memory.fds, memory.fds_unknown), (0, 3));
    assert!(full.fds >= 3 && full.fds_unknown == 0);
}

#[test]
fn finds_a_live_child_forked_by_a_thread_other_than_the_main_one() {
    // Test functions run on harness threads, never on this process's main thread, so the
    // child hangs off this thread's children file, not the main thread's.
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let mut sampler = TreeSampler::new(Root::host());
    let found = sampler.sample_detail(std::process::id(), TreeDetail::Memory);
    let pids: Vec<u32> = sampler.members().iter().map(|m| m.pid).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(found.unwrap().is_some());
    assert!(sampler.children_files);
    assert!(pids.contains(&child.id()), "{pids:?} lacks {}", child.id());
}

#[test]
fn a_fixture_tree_sums_fd_entries_and_stat_threads_over_its_members() {
    let tree = fixture_proc(TREE, true);
    // fd entries per member: 100 → 5, 101 → 2, 102 → 0, 104 → 3; 105 is not in the tree.
    for (pid, n) in [(100, 5), (101, 2), (104, 3), (105, 50)] {
        for fd in 0..n {
            let path = tree.path().join(format!("proc/{pid}/fd/{fd}"));
            std::fs::write(path, "").unwrap();
        }
    }
    let mut sampler = TreeSampler::new(Root::new(tree.path()));
    let t = sampler.sample(100).unwrap().unwrap();
    assert_eq!((t.fds, t.fds_unknown), (10, 0));
    assert_eq!(
        t.threads,
        2 + 1 + 1 + 1,
        "from each member's stat num_threads"
    );
}

/// Samples `sh -c SCRIPT` once it has exec'd `sleep`.
fn sample_exec_sleep(script: &str) -> TreeTotals {
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut sampler = TreeSampler::new(Root::host());
    let mut found = None;
    for _ in 0..500 {
        if let Ok(Some(t)) = sampler.sample(child.id()) {
            if sampler.members()[0].comm == "sleep" {
                found = Some(t);
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    found.expect("the shell never exec'd sleep")
}

#[test]
fn counts_the_fds_and_threads_of_a_live_process() {
    // Whatever the test runner lets children inherit, three more open fds count as three.
    let close = "exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&- 9<&-;";
    let base = sample_exec_sleep(&format!("{close} exec sleep 60"));
    let more = sample_exec_sleep(&format!(
        "{close} exec 3</dev/null 4</dev/null 5</dev/null; exec sleep 60"
    ));
    assert!(base.fds >= 3, "stdin, stdout, stderr at least: {base:?}");
    assert_eq!(more.fds, base.fds + 3);
    assert_eq!((more.processes, more.threads, more.fds_unknown), (1, 1, 0));
}

#[test]
fn splits_a_live_trees_pss_into_its_file_backed_share_where_the_kernel_does() {
    let t = sample_exec_sleep("exec sleep 60");
    let kernel_splits =
        std::fs::read_to_string("/proc/self/smaps_rollup").is_ok_and(|s| s.contains("Pss_File:"));
    if kernel_splits {
        // `sleep` maps its binary and libc: a file-backed share, never above the whole PSS.
        let file = t.pss_file.expect("Pss_File read from the rollup");
        assert!(file > Bytes::ZERO && file <= t.pss, "{t:?}");
    } else {
        assert_eq!(t.pss_file, None);
    }
}
