#![allow(clippy::disallowed_methods)] // live tests spawn a real process tree

use super::*;
use crate::sources::process::PssSource;
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
fn samples_a_real_three_process_tree() {
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
