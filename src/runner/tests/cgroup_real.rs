//! The real cgroup v1 memory hierarchy: placement before exec, kill via the cgroup, removal.
//! Each test creates its own scope directory under this process's memory cgroup and skips,
//! printing why, when that hierarchy is absent or not writable (under `CI` it fails instead).

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::units::Bytes;

const V1_MEMORY_MOUNT: &str = "/sys/fs/cgroup/memory";
/// How to have the prerequisite these tests need.
const RUN_AS: &str = "run as root on a writable cgroup v1 memory hierarchy";

/// A scope directory for one test; removed on drop (after its children are gone).
struct TestScope {
    scope: CgroupScope,
    rel: String,
}

impl Drop for TestScope {
    /// Best effort even after a failed assertion: kill whatever a child cgroup still holds and
    /// remove the children, then the scope, so a failing run leaves no cgroups behind.
    fn drop(&mut self) {
        let children = fs::read_dir(&self.scope.path)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir());
        for child in children {
            let cg = ChildCgroup {
                version: CgroupVersion::V1,
                path: child.path(),
            };
            for _ in 0..200 {
                let _ = cg.kill_once();
                if fs::remove_dir(&cg.path).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = fs::remove_dir(&self.scope.path);
    }
}

/// This process's v1 memory cgroup, relative to the mount (`/process_api/<id>`).
fn own_memory_cgroup() -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.to_string())
    })
}

fn test_scope(tag: &str) -> Option<TestScope> {
    let Some(own) = own_memory_cgroup() else {
        return crate::prerequisite::missing(
            "no cgroup v1 memory controller in /proc/self/cgroup",
            RUN_AS,
        );
    };
    let rel = format!("{own}/jetgate-test-{}-{tag}", std::process::id())
        .trim_start_matches('/')
        .to_string();
    let path = PathBuf::from(V1_MEMORY_MOUNT).join(&rel);
    if let Err(e) = fs::create_dir(&path) {
        return crate::prerequisite::missing(
            &format!(
                "cgroup v1 memory hierarchy not writable ({}: {e})",
                path.display()
            ),
            RUN_AS,
        );
    }
    Some(TestScope {
        scope: CgroupScope {
            version: CgroupVersion::V1,
            path,
        },
        rel,
    })
}

/// The memory cgroup a live process is in, from `/proc/PID/cgroup`.
fn memory_cgroup_of(pid: i32) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
        .unwrap()
}

#[tokio::test]
async fn a_child_is_in_its_cgroup_before_it_execs() {
    let Some(ts) = test_scope("first") else {
        return;
    };
    let mut h = harness(Some(ts.scope.clone()));
    let mut s = Spec::new("first", &["cat", "/proc/self/cgroup"]);
    s.parent_env = clean_env();
    h.runner.spawn(&s).unwrap();
    // cat reads its cgroup as the very first thing it does after exec.
    let expected = format!(":memory:/{}/first", ts.rel);
    let mut seen = Vec::new();
    loop {
        let line = h.next_line().await.line;
        if line.contains(":memory:") {
            assert!(line.ends_with(&expected), "{line} vs {expected}");
            break;
        }
        seen.push(line);
        assert!(seen.len() < 64, "no memory line in {seen:?}");
    }
    let exit = h.next_exit().await;
    assert_eq!(exit.code, Some(0));
    assert_eq!(exit.cgroup_left, None);
    assert!(!ts.scope.path.join("first").exists());
}

#[tokio::test]
async fn a_cgroup_kill_reaches_a_grandchild_that_left_the_process_group() {
    let Some(ts) = test_scope("tree") else { return };
    let mut h = harness(Some(ts.scope.clone()));
    let mut s = Spec::new("tree", &["sh", "-c", "setsid sleep 30 & sleep 30"]);
    s.parent_env = clean_env();
    s.memory_limit = Some(Bytes::from_mib(256));
    let child = h.runner.spawn(&s).unwrap();
    let cg = child.cgroup().unwrap().clone();

    // Listed from the first instant: spawn has returned, so the pid must already be there.
    assert!(cg.pids().unwrap().contains(&child.pid()));
    assert!(memory_cgroup_of(child.pid()).ends_with("/tree"));
    assert_eq!(
        fs::read_to_string(cg.limit_path()).unwrap().trim(),
        (256 * Bytes::MIB).to_string()
    );

    // Three processes, one of which has called setsid() and left the process group.
    let outside_group = |pids: &[i32]| {
        pids.iter()
            .filter(|p| {
                procstat::read_stat(&Root::host(), **p)
                    .map(|s| s.pgrp != child.pgid())
                    .unwrap_or(false)
            })
            .count()
    };
    eventually("sh, the sleep and the setsid sleep in the cgroup", || {
        cg.pids()
            .map(|p| p.len() == 3 && outside_group(&p) == 1)
            .unwrap_or(false)
    })
    .await;
    let pids = cg.pids().unwrap();

    child.kill_now().unwrap();
    let exit = h.next_exit().await;
    assert_eq!(exit.signal, Some(libc::SIGKILL));
    assert_eq!(exit.oom, None, "our SIGKILL is not the kernel's OOM killer");
    assert_eq!(exit.cgroup_left, None);
    assert!(!cg.path.exists(), "child cgroup removed");
    eventually("every process of the tree dead", || {
        pids.iter().all(|p| is_dead(*p))
    })
    .await;
}

#[tokio::test]
async fn kill_and_remove_empties_a_populated_cgroup_and_removes_it() {
    let Some(ts) = test_scope("drain") else {
        return;
    };
    let cg = ts.scope.create_child("drain", None).unwrap();
    let h = harness(None);
    let victim = h
        .runner
        .spawn(&spec("drain-victim", "exec sleep 30"))
        .unwrap();
    cg.add_pid(victim.pid()).unwrap();
    assert_eq!(cg.pids().unwrap(), [victim.pid()]);
    cg.kill_and_remove(PATIENCE).await.unwrap();
    assert!(!cg.path.exists());
    tokio::time::timeout(PATIENCE, victim.wait_gone())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_limit_is_written_to_memory_and_to_memory_plus_swap_where_the_kernel_has_it() {
    let Some(ts) = test_scope("limits") else {
        return;
    };
    let mut h = harness(Some(ts.scope.clone()));
    let s = Spec {
        memory_limit: Some(Bytes::from_mib(96)),
        ..spec("limits", "exec sleep 30")
    };
    let child = h.runner.spawn(&s).unwrap();
    let cg = child.cgroup().unwrap().clone();
    let read = |file: &str| fs::read_to_string(cg.path.join(file)).unwrap();
    assert_eq!(read("memory.limit_in_bytes").trim(), "100663296");
    let memsw = cg.memsw_limit_path().unwrap();
    if memsw.exists() {
        assert_eq!(read("memory.memsw.limit_in_bytes").trim(), "100663296");
    } else {
        eprintln!("no swap accounting on this kernel: memory.memsw.limit_in_bytes absent");
    }
    child.kill_now().unwrap();
    assert_eq!(h.next_exit().await.oom, None);
}

/// A leader that allocates far past its cgroup's limit at once: the kernel's OOM killer ends
/// it, and the exit says so with the kernel's figures (read before the cgroup was removed).
#[tokio::test]
async fn a_kernel_oom_kill_comes_back_with_the_exit_and_the_kernel_figures() {
    let Some(ts) = test_scope("oom") else {
        return;
    };
    let mut h = harness(Some(ts.scope.clone()));
    // dd's one 256 MiB buffer is written in full by its first read of /dev/zero.
    let s = Spec {
        memory_limit: Some(Bytes::from_mib(32)),
        ..spec("oom", "exec dd if=/dev/zero of=/dev/null bs=256M count=1")
    };
    h.runner.spawn(&s).unwrap();
    let exit = h.next_exit().await;
    assert_eq!(exit.signal, Some(libc::SIGKILL), "{exit:?}");
    let oom = exit.oom.clone().expect("the kernel OOM kill is reported");
    assert!(oom.kills >= 1, "{oom:?}");
    assert_eq!(oom.limit, Some(Bytes::from_mib(32)));
    let peak = oom.peak.expect("memory.max_usage_in_bytes is read");
    assert!(peak > Bytes::ZERO && peak <= Bytes::from_mib(32), "{oom:?}");
    assert_eq!(exit.cgroup_left, None);
    assert!(!ts.scope.path.join("oom").exists(), "child cgroup removed");
}

const V1_FREEZER_MOUNT: &str = "/sys/fs/cgroup/freezer";

/// A cgroup v1 freezer group of this test: thawed and removed on drop, so a failed assertion
/// never leaves a frozen process behind.
struct Freezer(PathBuf);

impl Freezer {
    fn new(tag: &str) -> Option<Freezer> {
        let text = fs::read_to_string("/proc/self/cgroup").ok()?;
        let own = text.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "freezer")
                .then(|| path.trim_start_matches('/').to_string())
        });
        let Some(own) = own else {
            return crate::prerequisite::missing(
                "no cgroup v1 freezer in /proc/self/cgroup",
                RUN_AS,
            );
        };
        let path = PathBuf::from(V1_FREEZER_MOUNT)
            .join(own)
            .join(format!("jetgate-test-{}-{tag}", std::process::id()));
        match fs::create_dir(&path) {
            Ok(()) => Some(Freezer(path)),
            Err(e) => crate::prerequisite::missing(
                &format!("cgroup v1 freezer not writable ({}: {e})", path.display()),
                RUN_AS,
            ),
        }
    }

    fn freeze(&self, pid: i32) {
        fs::write(self.0.join("cgroup.procs"), pid.to_string()).unwrap();
        fs::write(self.0.join("freezer.state"), "FROZEN").unwrap();
    }

    fn state(&self) -> String {
        fs::read_to_string(self.0.join("freezer.state"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

impl Drop for Freezer {
    fn drop(&mut self) {
        let _ = fs::write(self.0.join("freezer.state"), "THAWED");
        for _ in 0..200 {
            if fs::remove_dir(&self.0).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A process frozen by the cgroup v1 freezer is in uninterruptible sleep and keeps SIGKILL
/// pending until it is thawed: a real, deterministic process that survives the kill. The stop
/// must say so (`StillAlive` with the pid and its state `D`), not hang and not claim success;
/// once thawed, the pending kill ends it and the runner reports the exit as usual.
#[tokio::test]
async fn a_stop_names_a_process_that_survives_sigkill_and_its_state() {
    let Some(ts) = test_scope("frozen") else {
        return;
    };
    let Some(freezer) = Freezer::new("frozen") else {
        return;
    };
    let mut h = harness(Some(ts.scope.clone()));
    let mut s = Spec::new("frozen", &["sleep", "600"]);
    s.parent_env = clean_env();
    let child = h.runner.spawn(&s).unwrap();
    freezer.freeze(child.pid());
    eventually("the child frozen", || freezer.state() == "FROZEN").await;

    let error = child
        .stop_within(Duration::from_millis(100), Duration::from_millis(300))
        .await
        .expect_err("a frozen process cannot have ended");
    let RunnerError::StillAlive { pid, survivors, .. } = &error else {
        panic!("not StillAlive: {error}");
    };
    assert_eq!(*pid, child.pid());
    assert!(
        survivors
            .iter()
            .any(|s| s.pid == child.pid() && s.state == 'D'),
        "{survivors:?}"
    );
    assert!(
        error.to_string().contains("uninterruptible sleep"),
        "{error}"
    );

    drop(freezer); // thawed: the signals pending since the stop take effect
    let exit = h.next_exit().await;
    // SIGTERM and SIGKILL were both pending while frozen; either may be the one that ends it.
    assert!(
        matches!(exit.signal, Some(libc::SIGKILL | libc::SIGTERM)),
        "{exit:?}"
    );
    assert_eq!(exit.cgroup_left, None);
}

/// The system scope on the real hierarchy: the units' parent is made under this process's own
/// cgroup, a unit's cgroup there gets no limit even when its spec has one, and a `setsid()`
/// grandchild dies with the unit.
#[tokio::test]
async fn in_the_system_scope_each_unit_gets_a_cgroup_without_a_limit() {
    // The same prerequisite as every test here: a writable v1 memory hierarchy.
    let Some(_probe) = test_scope("system-probe") else {
        return;
    };
    let tag = format!("jetgate-test-{}-system", std::process::id());
    let parent = super::super::system_scope::units_parent(&Root::host(), &tag).unwrap();
    let own = own_memory_cgroup().unwrap();
    assert!(
        parent
            .path
            .ends_with(format!("{}/{tag}", own.trim_start_matches('/'))),
        "{}",
        parent.path.display()
    );
    let ts = TestScope {
        scope: parent.clone(),
        rel: tag.clone(),
    };
    let (out_tx, mut out) = mpsc::channel(64);
    let (exit_tx, mut exits) = mpsc::channel(4);
    let runner = Runner::new(Root::host(), Some(parent), out_tx, exit_tx).without_limits();
    let s = Spec {
        memory_limit: Some(Bytes::from_mib(96)),
        ..spec("unit", "setsid sleep 30 & echo $!; sleep 30")
    };
    let child = runner.spawn(&s).unwrap();
    let cg = child.cgroup().unwrap().clone();
    let limit: u64 = fs::read_to_string(cg.limit_path())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        limit > Bytes::from_mib(96).get(),
        "no limit written: {limit}"
    );
    let line = tokio::time::timeout(PATIENCE, out.recv())
        .await
        .unwrap()
        .unwrap();
    let escapee: i32 = line.line.parse().unwrap();
    assert!(memory_cgroup_of(escapee).ends_with(&format!("{tag}/unit")));
    child.stop(PATIENCE).await.unwrap();
    tokio::time::timeout(PATIENCE, exits.recv())
        .await
        .unwrap()
        .unwrap();
    eventually("the setsid grandchild is dead", || is_dead(escapee)).await;
    assert!(!cg.path.exists());
    super::super::system_scope::remove_parent(&ts.scope).unwrap();
}
