//! Container units end to end with a real engine: Debian's `podman` with `runc`, an image
//! imported from a tarball this test run builds (`jetgate sim-model`, stripped, and the
//! libraries `ldd` lists), no registry.
//!
//! Set-up each test gets ([`Podman::new`]): a private store (`storage.conf` with `graphroot`
//! and `runroot` under its tempdir, the `vfs` driver, which needs no mounts) and a
//! `containers.conf` (`CONTAINERS_CONF`) with `default_ulimits = []` (this sandbox's podman
//! cannot raise the default nofile limit), `cgroup_manager = "cgroupfs"` (no systemd as
//! init), `events_logger = "file"` (no journald) and a private `tmp_dir` (its exit files); each
//! unit passes `--runtime runc` and `--network none` in `options`. Every container is removed
//! and the store deleted when the test ends, passed or failed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use jetgate::event::EventKind;

use crate::harness::{assert_loads_never_overlap, heavy, sequence, Agent, TestCgroup, JETGATE};

const GIB: u64 = 1 << 30;
const LOAD: Duration = Duration::from_secs(90);

/// A private podman: its store, its configuration, the sim-model image imported.
struct Podman {
    dir: tempfile::TempDir,
    image: String,
    /// The scopes agents ran in: the engine makes their path in every hierarchy.
    scopes: std::cell::RefCell<Vec<String>>,
}

impl Podman {
    /// `None` (a skip; a failure under `CI`) without `podman` and `runc` on `PATH`.
    fn new() -> Option<Podman> {
        for tool in ["podman", "runc"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !found {
                return jetgate::prerequisite::missing(
                    &format!("{tool} is not installed"),
                    "apt-get install podman runc",
                );
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
                root.display()
            ),
        )
        .unwrap();
        std::fs::write(
            root.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = \"cgroupfs\"\n\
                 events_logger = \"file\"\ntmp_dir = \"{}/tmp\"\n",
                root.display()
            ),
        )
        .unwrap();
        let (tarball, tag) = image_tarball();
        let podman = Podman {
            dir,
            image: format!("localhost/jetgate-sim:{tag}"),
            scopes: Default::default(),
        };
        let out = podman.cmd(&[
            "import",
            "--change",
            "ENTRYPOINT=[\"/jetgate\",\"sim-model\"]",
            &tarball.display().to_string(),
            &podman.image,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(podman)
    }

    /// The environment the agent and every `podman` here run with.
    fn env(&self) -> Vec<(String, String)> {
        let root = self.dir.path();
        vec![
            (
                "CONTAINERS_CONF".into(),
                root.join("containers.conf").display().to_string(),
            ),
            (
                "CONTAINERS_STORAGE_CONF".into(),
                root.join("storage.conf").display().to_string(),
            ),
        ]
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .args(args)
            .envs(self.env())
            .output()
            .unwrap()
    }

    /// Every container in the store, running or not.
    fn containers(&self) -> Vec<String> {
        let out = self.cmd(&["ps", "--all", "--format", "{{.Names}} {{.ID}}"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// A `[[model]]` running the image's `sim-model` with `args`.
    fn model(&self, name: &str, memory: &str, args: &[&str], extra: &str) -> String {
        format!(
            "[[model]]\nname = \"{name}\"\nmemory = \"{memory}\"\nready = {{ log = \"READY\" }}\n\
             stop_grace = \"2s\"\nautostart = false\n{extra}\n\
             [model.container]\nengine = \"podman\"\nimage = \"{}\"\nargs = {args:?}\n\
             options = [\"--runtime\", \"runc\", \"--network\", \"none\"]\n\n",
            self.image
        )
    }

    fn agent(&self, cgroup: &TestCgroup, reserve: &str, models: &str) -> Agent {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.scopes.borrow_mut().push(cgroup.name.clone());
        Agent::start_with_env(&scoped(cgroup, reserve, models), &env)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for line in self.containers_quietly() {
            let id = line
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .to_string();
            let _ = self.cmd(&["rm", "--force", &id]);
        }
        let _ = self.cmd(&["rmi", "--all", "--force"]);
        // The scope's path the engine made in the other hierarchies (empty by now; the memory
        // one is the test cgroup's own).
        for scope in self.scopes.borrow().iter() {
            for hierarchy in std::fs::read_dir("/sys/fs/cgroup")
                .into_iter()
                .flatten()
                .flatten()
            {
                let dir = hierarchy.path().join(scope.trim_start_matches('/'));
                if dir.is_dir() && !dir.starts_with("/sys/fs/cgroup/memory") {
                    remove_empty(&dir);
                }
            }
        }
    }
}

fn remove_empty(dir: &Path) {
    for sub in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if sub.path().is_dir() {
            remove_empty(&sub.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl Podman {
    fn containers_quietly(&self) -> Vec<String> {
        let out = self.cmd(&["ps", "--all", "--format", "{{.Names}} {{.ID}}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn scoped(cgroup: &TestCgroup, reserve: &str, models: &str) -> String {
    format!(
        "[memory]\nscope = \"cgroup:{}\"\nreserve = \"{reserve}\"\nload_sample_interval = \"5ms\"\n\n\
         [gate]\nsettle_window = \"300ms\"\nsettle_tolerance = \"32MiB\"\n\n{models}",
        cgroup.name
    )
}

/// The image's root filesystem as a tarball: the `jetgate` binary (stripped) at `/jetgate` and
/// the libraries it loads. Built once per test run, cached in the temp directory under the
/// binary's content hash; returns its path and that hash (the image's tag).
fn image_tarball() -> (PathBuf, String) {
    static BUILT: OnceLock<(PathBuf, String)> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            use sha2::{Digest, Sha256};
            let binary = std::fs::read(JETGATE).unwrap();
            let hash: String = Sha256::digest(&binary)[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let tarball = std::env::temp_dir().join(format!("jetgate-sim-image-{hash}.tar"));
            if !tarball.exists() {
                build_tarball(&tarball);
            }
            (tarball, hash)
        })
        .clone()
}

fn build_tarball(tarball: &Path) {
    let rootfs = tempfile::tempdir().unwrap();
    let root = rootfs.path();
    let out = Command::new("strip")
        .arg("-o")
        .arg(root.join("jetgate"))
        .arg(JETGATE)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ldd = Command::new("ldd").arg(JETGATE).output().unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let to = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(lib, &to).unwrap();
    }
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let partial = tarball.with_extension(format!("{}.part", std::process::id()));
    let out = Command::new("tar")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(&partial)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&partial, tarball).unwrap();
}

/// A unit cgroup's memory use, its sub-cgroups (the container's) included.
fn unit_usage(cgroup: &TestCgroup, unit: &str) -> Option<u64> {
    let file = find_unit_cgroup(&cgroup.dir, unit)?.join("memory.usage_in_bytes");
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// `<scope>/<unit>` (the runner's child cgroup, directly under the scope).
fn find_unit_cgroup(scope: &Path, unit: &str) -> Option<PathBuf> {
    let dir = scope.join(unit);
    dir.is_dir().then_some(dir)
}

/// Whether a process of the container (its sim-model) is in a cgroup below the unit's.
fn container_in_unit_cgroup(cgroup: &TestCgroup, unit: &str) -> bool {
    let Some(dir) = find_unit_cgroup(&cgroup.dir, unit) else {
        return false;
    };
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("libpod-"))
        .any(|e| {
            std::fs::read_to_string(e.path().join("cgroup.procs"))
                .is_ok_and(|p| !p.trim().is_empty())
        })
}

#[test]
fn three_containerised_models_are_gated_like_processes_two_fit_one_waits() {
    let _heavy = heavy();
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctr3", 3 * GIB) else {
        return;
    };
    let models: String = ["det", "track", "llm"]
        .iter()
        .map(|n| podman.model(n, "1GiB", &["--alloc", "1GiB", "--ramp", "300ms"], ""))
        .collect();
    let agent = podman.agent(&cgroup, "512MiB", &models);
    for name in ["det", "track", "llm"] {
        let out = agent.cli(&["load", name]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    agent.wait_state("det", "ready", LOAD);
    agent.wait_state("track", "ready", LOAD);
    let held = agent.wait_state("llm", "queued", LOAD);
    let reason = held["reason"].as_str().unwrap();
    assert!(reason.contains("budget"), "reason: {reason}");
    // The containers' memory is in their units' cgroups, under the scope.
    for unit in ["det", "track"] {
        assert!(
            container_in_unit_cgroup(&cgroup, unit),
            "{unit}: no libpod-* cgroup with processes"
        );
        let usage = unit_usage(&cgroup, unit).unwrap();
        assert!(usage >= GIB, "{unit}: cgroup usage {usage}");
    }
    // The agent's reading of each unit (limits, leak trends, views) is the whole container:
    // the cgroup's members, not the `podman run` client's descendants.
    let view = crate::harness::wait_for(LOAD, "det's memory in services", || {
        let s = agent.service("det");
        (s["memory_bytes"].as_u64()? >= GIB).then_some(s)
    });
    eprintln!(
        "det: {view}, unit cgroup usage {:?}",
        unit_usage(&cgroup, "det")
    );
    let names = podman.containers();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("jetgate-det ")),
        "{names:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(agent.state("llm"), "queued");

    assert!(agent.cli(&["unload", "det"]).status.success());
    agent.wait_state("det", "stopped", LOAD);
    agent.wait_state("llm", "ready", LOAD);
    let names = podman.containers();
    assert!(
        !names.iter().any(|n| n.starts_with("jetgate-det ")),
        "{names:?}"
    );
    let events = agent.events();
    assert_loads_never_overlap(&events);
    let admitted: Vec<_> = sequence(&events, &[EventKind::LoadAdmitted.as_str()])
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(admitted, ["det", "track", "llm"]);
    assert_eq!(cgroup.failcnt(), 0, "the scope's limit was hit");
}

/// No directory the engine made for `unit` is left in any hierarchy (memory, cpu, pids, ...).
fn no_unit_dirs_left(cgroup: &TestCgroup, unit: &str) -> Vec<PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| {
            e.path()
                .join(cgroup.name.trim_start_matches('/'))
                .join(unit)
        })
        .filter(|d| d.exists())
        .collect()
}

#[test]
fn an_overshooting_containerised_load_is_killed_before_the_scope_limit_and_its_container_is_gone() {
    let _heavy = heavy();
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctrliar", 2 * GIB) else {
        return;
    };
    // Declares 256 MiB, then grows at 2 GiB/s toward 2 GiB (the whole scope).
    let args = [
        "--alloc",
        "256MiB",
        "--overshoot",
        "1792MiB",
        "--rate",
        "2GiB/s",
        "--overshoot-during-ramp",
        "--ramp",
        "100ms",
    ];
    let model = podman.model("liar", "256MiB", &args, "");
    let agent = podman.agent(&cgroup, "512MiB", &model);
    let out = agent.cli(&["load", "liar", "--wait", "--json"]);
    assert!(!out.status.success(), "an aborted load must not exit 0");
    agent.wait_state("liar", "failed", LOAD);
    let events = agent.events();
    let aborted = events
        .iter()
        .find(|e| e["kind"] == EventKind::LoadAborted.as_str())
        .unwrap_or_else(|| panic!("no load_aborted in {events:#?}"));
    let f = &aborted["figures"];
    assert!(
        f["available_bytes"].as_u64().unwrap() < f["floor_bytes"].as_u64().unwrap(),
        "{f}"
    );
    // The kernel never had to act: the limit was not hit and nothing was OOM-killed.
    assert_eq!(cgroup.failcnt(), 0, "the scope's limit was hit");
    assert_eq!(cgroup.oom_kills(), 0, "the kernel OOM killer acted");
    crate::harness::wait_for(LOAD, "the aborted tree to be gone", || {
        agent.service("liar")["pid"].is_null().then_some(())
    });
    let left = podman.containers();
    assert!(left.is_empty(), "containers after the kill: {left:?}");
    let dirs = no_unit_dirs_left(&cgroup, "liar");
    assert!(dirs.is_empty(), "cgroups left: {dirs:?}");
    let events = agent.events();
    let removed = events
        .iter()
        .find(|e| e["kind"] == EventKind::ContainerRemoved.as_str())
        .unwrap_or_else(|| panic!("no container_removed in {events:#?}"));
    eprintln!("{aborted}\n{removed}");
    assert_eq!(removed["figures"]["container"], "jetgate-liar", "{removed}");
    assert!(removed["figures"]["error"].is_null(), "{removed}");
}

#[test]
fn an_unload_and_an_agent_stop_leave_no_container() {
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctrunload", GIB) else {
        return;
    };
    let models = podman.model("a", "64MiB", &["--alloc", "64MiB"], "")
        + &podman.model("b", "64MiB", &["--alloc", "64MiB"], "");
    let mut agent = podman.agent(&cgroup, "128MiB", &models);
    for unit in ["a", "b"] {
        assert!(agent.cli(&["load", unit, "--wait"]).status.success());
    }
    assert_eq!(podman.containers().len(), 2);
    assert!(agent.cli(&["unload", "a"]).status.success());
    agent.wait_state("a", "stopped", LOAD);
    let left = podman.containers();
    assert!(
        left.iter().all(|n| !n.starts_with("jetgate-a ")),
        "{left:?}"
    );
    assert!(no_unit_dirs_left(&cgroup, "a").is_empty());
    // The agent's own stop takes `b` with it.
    assert_eq!(agent.terminate(), Some(0));
    let left = podman.containers();
    assert!(
        left.is_empty(),
        "containers after the agent stopped: {left:?}"
    );
    assert!(no_unit_dirs_left(&cgroup, "b").is_empty());
}

#[test]
fn after_a_sigkill_of_the_agent_a_restart_runs_no_second_copy_of_the_container() {
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctrcrash", GIB) else {
        return;
    };
    let model = podman
        .model("m", "64MiB", &["--alloc", "64MiB"], "")
        .replace("autostart = false", "autostart = true");
    let mut agent = podman.agent(&cgroup, "128MiB", &model);
    let ready = agent.wait_state("m", "ready", LOAD);
    let client = ready["pid"].as_i64().unwrap() as i32;
    let before = podman.containers();
    assert_eq!(before.len(), 1, "{before:?}");
    agent.kill();
    // The agent is gone; its container is not. With its `run` client and podman's `conmon`
    // killed too (a crash of everything but the container), nothing will remove it on its own:
    // `--rm` was the client's job and the clean-up on exit `conmon`'s.
    let conmon = std::fs::read_to_string(cgroup.dir.join("m/conmon/cgroup.procs")).unwrap();
    let pids = conmon.lines().filter_map(|l| l.trim().parse::<i32>().ok());
    for pid in pids.chain([client]) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(podman.containers(), before);
    agent.spawn();
    agent.wait_state("m", "ready", LOAD);
    let after = podman.containers();
    assert_eq!(after.len(), 1, "two copies: {after:?}");
    assert!(after[0].starts_with("jetgate-m "), "{after:?}");
    assert_ne!(after, before, "the old container was kept: {after:?}");
    let events = agent.events();
    let stopped: Vec<_> = events
        .iter()
        .filter(|e| e["kind"] == EventKind::OrphanStopped.as_str())
        .collect();
    assert!(!stopped.is_empty(), "{events:#?}");
    // The old container's processes died with its cgroup; the engine's record of it was
    // removed by its label before the unit started again.
    assert!(
        stopped
            .iter()
            .any(|e| e["figures"]["found"] == "container" && e["figures"]["ended"] == "removed"),
        "{stopped:#?}"
    );
    // One sim-model in the unit's cgroup: the new container's.
    let procs: Vec<String> = std::fs::read_dir(cgroup.dir.join("m"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("libpod-"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("cgroup.procs")).ok())
        .filter(|p| !p.trim().is_empty())
        .collect();
    assert_eq!(procs.len(), 1, "{procs:?}");
}

#[test]
fn a_pinned_image_whose_local_digest_differs_refuses_the_load_and_a_matching_one_loads() {
    let Some(podman) = Podman::new() else { return };
    let Some(cgroup) = TestCgroup::new("ctrpin", GIB) else {
        return;
    };
    let out = podman.cmd(&["image", "inspect", "--format", "{{.Digest}}", &podman.image]);
    let digest = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let wrong = format!("sha256:{}", "0".repeat(64));
    let models = podman.model("good", "64MiB", &["--alloc", "64MiB"], "")
        + &podman.model("bad", "64MiB", &["--alloc", "64MiB"], "");
    let image = podman.image.clone();
    let models = models
        .replacen(&format!("\"{image}\""), &format!("\"{image}@{digest}\""), 1)
        .replacen(&format!("\"{image}\""), &format!("\"{image}@{wrong}\""), 1);
    let agent = podman.agent(&cgroup, "128MiB", &models);
    let out = agent.cli(&["load", "bad", "--wait"]);
    assert!(
        !out.status.success(),
        "a load of a mismatched image must fail"
    );
    agent.wait_state("bad", "failed", LOAD);
    let events = agent.events();
    let refused = events
        .iter()
        .find(|e| e["kind"] == EventKind::LoadRefused.as_str() && e["subject"] == "bad")
        .unwrap_or_else(|| panic!("no load_refused in {events:#?}"));
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains(&wrong) && message.contains(&digest),
        "{message}"
    );
    assert!(podman.containers().is_empty(), "a container was started");
    assert!(agent.cli(&["load", "good", "--wait"]).status.success());
    let names = podman.containers();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn config_check_refuses_an_engine_run_command_and_an_engine_not_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jetgate.toml");
    std::fs::write(
        &file,
        "[[model]]\nname = \"llm\"\ncommand = [\"docker\", \"run\", \"--runtime\", \"nvidia\", \"llama\"]\n\
         memory = \"1GiB\"\nready = { tcp = \"127.0.0.1:8080\" }\n",
    )
    .unwrap();
    let (code, text) = crate::harness::config_check(&file);
    assert_ne!(code, Some(0), "{text}");
    assert!(text.contains("jetgate.toml:3:"), "{text}");
    assert!(text.contains("container = {"), "{text}");

    std::fs::write(
        &file,
        "[[model]]\nname = \"llm\"\nmemory = \"1GiB\"\nready = { tcp = \"127.0.0.1:8080\" }\n\
         container = { engine = \"docker\", image = \"llama:1\" }\n",
    )
    .unwrap();
    let (code, text) = crate::harness::config_check_with_path(&file, "/nonexistent");
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("\"docker\""), "{text}");
}
