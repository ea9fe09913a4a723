//! Cost of sampling: one full [`Sampler`] sample against a real 3-process tree, the parsers
//! alone, and the same parsing and reading done by the `procfs` crate, for the crate-or-hand-
//! written decision in `docs/sources.md`. Figures: `docs/benchmarks-sampling.md`.
//!
//! ```text
//! cargo bench --bench sampling
//! ```
#![allow(clippy::disallowed_methods)] // spawns the measured process tree
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark fails loudly

use std::hint::black_box;
use std::process::{Command, Stdio};

use criterion::{criterion_group, criterion_main, Criterion};
use jetgate::sources::cgroup::{own_cgroup, CgroupFiles};
use jetgate::sources::handle::CachedFile;
use jetgate::sources::meminfo::{parse_meminfo, read_meminfo};
use jetgate::sources::process::{parse_smaps_rollup, parse_stat, ProcReader, ProcessSample};
use jetgate::sources::proctree::{TreeDetail, TreeSampler};
use jetgate::sources::{Root, Sampler, Scope};
use procfs::{Current, FromRead};

/// `sh -c 'sleep 60 & sleep 60 & wait'`, returned once both sleeps are its children.
fn three_process_tree() -> std::process::Child {
    let mut child = Command::new("sh")
        .args(["-c", "sleep 60 & sleep 60 & wait"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sh");
    let mut trees = TreeSampler::new(Root::host());
    for _ in 0..500 {
        if trees.sample(child.id()).ok().flatten().map(|t| t.processes) == Some(3) {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("sh never had its two sleep children");
}

fn parsers(c: &mut Criterion) {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();

    let mut g = c.benchmark_group("parse");
    g.bench_function("meminfo/jetgate", |b| {
        b.iter(|| parse_meminfo(black_box(&meminfo)).unwrap())
    });
    g.bench_function("meminfo/procfs", |b| {
        b.iter(|| procfs::Meminfo::from_read(black_box(meminfo.as_bytes())).unwrap())
    });
    g.bench_function("stat/jetgate", |b| {
        b.iter(|| parse_stat(black_box(&stat)).unwrap().rss_pages)
    });
    g.bench_function("stat/procfs", |b| {
        b.iter(|| procfs::process::Stat::from_read(black_box(stat.as_bytes())).unwrap())
    });
    g.bench_function("smaps_rollup/jetgate", |b| {
        b.iter(|| parse_smaps_rollup(black_box(&rollup)).unwrap())
    });
    g.bench_function("smaps_rollup/procfs", |b| {
        b.iter(|| procfs::process::SmapsRollup::from_read(black_box(rollup.as_bytes())).unwrap())
    });
    g.finish();
}

fn reads(c: &mut Criterion) {
    let mut g = c.benchmark_group("read");
    let root = Root::host();
    let mut buf = String::new();
    g.bench_function("meminfo/jetgate", |b| {
        b.iter(|| read_meminfo(&root, &mut buf).unwrap())
    });
    g.bench_function("meminfo/procfs", |b| {
        b.iter(|| procfs::Meminfo::current().unwrap())
    });
    let pid = std::process::id();
    let mut reader = ProcReader::new(Root::host());
    let mut sample = ProcessSample::default();
    g.bench_function("process_stat_rollup_fds/jetgate", |b| {
        b.iter(|| reader.read_process(pid, &mut sample).unwrap())
    });
    g.bench_function("process_stat_rollup_fds/procfs", |b| {
        b.iter(|| {
            let p = procfs::process::Process::new(pid as i32).unwrap();
            let stat = p.stat().unwrap();
            let rollup = p.smaps_rollup().unwrap();
            let fds = p.fd_count().unwrap();
            (stat.rss, rollup.memory_map_rollup.0.len(), fds)
        })
    });
    g.finish();
}

fn full_sample(c: &mut Criterion) {
    let mut child = three_process_tree();
    let tree_root = child.id();
    let mut g = c.benchmark_group("sample");
    let mut sampler = Sampler::new(Root::host(), Scope::System);
    let first = sampler.sample(Some(tree_root)).unwrap();
    assert_eq!(first.tree.map(|t| t.processes), Some(3));
    assert!(first.cgroup.is_some());
    g.bench_function("full_3_process_tree", |b| {
        b.iter(|| sampler.sample(black_box(Some(tree_root))).unwrap())
    });
    let mut every_10 = Sampler::new(Root::host(), Scope::System);
    every_10.set_tree_every(10);
    g.bench_function("full_3_process_tree_read_every_10th", |b| {
        b.iter(|| every_10.sample(black_box(Some(tree_root))).unwrap())
    });
    g.bench_function("system_only_no_tree", |b| {
        b.iter(|| sampler.sample(None).unwrap())
    });
    let mut trees = TreeSampler::new(Root::host());
    g.bench_function("tree_only_3_processes", |b| {
        b.iter(|| {
            trees
                .sample_detail(black_box(tree_root), TreeDetail::Memory)
                .unwrap()
        })
    });
    g.bench_function("tree_only_3_processes_with_fds", |b| {
        b.iter(|| trees.sample(black_box(tree_root)).unwrap())
    });
    let members: Vec<u32> = trees.members().iter().map(|m| m.pid).collect();
    assert_eq!(members.len(), 3);
    g.bench_function("tree_only_3_known_members", |b| {
        b.iter(|| {
            trees
                .sample_members(tree_root, black_box(&members), TreeDetail::Memory)
                .unwrap()
        })
    });
    g.finish();
    let _ = child.kill();
    let _ = child.wait();
}

/// Each file of a full sample on its own, opened, read and closed each time (what the readers
/// did before the handle cache) and through a kept handle read with `pread` at offset 0 (what
/// the sampler does now): where the microseconds go.
fn files(c: &mut Criterion) {
    let root = Root::host();
    let pid = std::process::id();
    let cgroup = own_cgroup(&root).expect("this machine puts us in a memory cgroup");
    let mut buf = String::new();
    let mut g = c.benchmark_group("file_open_read_close");
    let mut paths: Vec<(String, std::path::PathBuf)> = vec![
        ("meminfo".into(), "/proc/meminfo".into()),
        ("pressure_memory".into(), "/proc/pressure/memory".into()),
        ("pid_stat".into(), format!("/proc/{pid}/stat").into()),
        (
            "pid_smaps_rollup".into(),
            format!("/proc/{pid}/smaps_rollup").into(),
        ),
        ("pid_status".into(), format!("/proc/{pid}/status").into()),
        (
            "pid_task_children".into(),
            format!("/proc/{pid}/task/{pid}/children").into(),
        ),
    ];
    for name in CGROUP_V1_FILES {
        paths.push((name.to_string(), cgroup.dir.join(name)));
    }
    for (name, path) in &paths {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| root.read_into(black_box(path), &mut buf).unwrap())
        });
    }
    g.finish();
    let mut g = c.benchmark_group("file_pread_kept_open");
    for (name, path) in &paths {
        let mut file = CachedFile::new(path.clone());
        g.bench_function(name.as_str(), |b| {
            b.iter(|| file.read_into(&mut buf).unwrap())
        });
    }
    let mut files = CgroupFiles::new(&root, &cgroup);
    g.bench_function("cgroup_v1_all_5_files_parsed", |b| {
        b.iter(|| files.read(&mut buf).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("file_open_read_close");
    g.bench_function("cgroup_v1_all_5_files_parsed", |b| {
        b.iter(|| cgroup.read_memory(&root, &mut buf).unwrap())
    });
    g.bench_function("pid_fd_listing", |b| {
        b.iter(|| {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .count()
        })
    });
    let mut reader = ProcReader::new(Root::host());
    let mut pids = Vec::new();
    g.bench_function("scan_all_proc_stat", |b| {
        b.iter(|| {
            reader.pids(&mut pids).unwrap();
            let mut n = 0;
            for &p in &pids {
                n += reader.with_stat(p, |s| s.ppid).ok().flatten().is_some() as u32;
            }
            n
        })
    });
    g.finish();
}

const CGROUP_V1_FILES: [&str; 5] = [
    "memory.limit_in_bytes",
    "memory.usage_in_bytes",
    "memory.stat",
    "memory.oom_control",
    "memory.failcnt",
];

criterion_group!(benches, parsers, reads, files, full_sample);
criterion_main!(benches);
