//! Test harness: a real `jetgate agent` process on a temporary config, store and socket, a real
//! cgroup v1 memory scope sized like a small board, and the real CLI to drive them.
//!
//! Waits are bounded polls (a deadline only stops a hung test; nothing asserts on wall time).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    dead_code
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jetgate::event::EventKind;
use serde_json::Value;

pub const JETGATE: &str = env!("CARGO_BIN_EXE_jetgate");

/// Tests that allocate gigabytes run one at a time (the machine has 2 cores and 24 GiB).
static HEAVY: Mutex<()> = Mutex::new(());

pub fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// `jetgate config check FILE` as a user runs it: its exit code and stdout then stderr.
pub fn config_check(file: &Path) -> (Option<i32>, String) {
    config_check_in(Command::new(JETGATE), file)
}

/// [`config_check`] with `PATH` set to `path`: bare command names are looked up there.
pub fn config_check_with_path(file: &Path, path: &str) -> (Option<i32>, String) {
    let mut cmd = Command::new(JETGATE);
    cmd.env("PATH", path);
    config_check_in(cmd, file)
}

fn config_check_in(mut cmd: Command, file: &Path) -> (Option<i32>, String) {
    let out = cmd.args(["config", "check"]).arg(file).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The stdout of a command that must have succeeded (its stderr in the panic otherwise).
pub fn succeeded(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A v1 memory cgroup under this process's own, with a limit; removed (children first) on drop.
pub struct TestCgroup {
    /// Path as the hierarchy names it (`/process_api/…/jgtest-…`), for `scope = "cgroup:…"`.
    pub name: String,
    /// Filesystem directory.
    pub dir: PathBuf,
}

const V1_MEMORY: &str = "/sys/fs/cgroup/memory";

impl TestCgroup {
    /// `None` (with a printed reason) where no writable v1 memory hierarchy exists; under CI
    /// that is a failure, not a skip.
    pub fn new(tag: &str, limit: u64) -> Option<TestCgroup> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .ok()?
            .lines()
            .find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers
                    .split(',')
                    .any(|c| c == "memory")
                    .then(|| path.to_string())
            });
        let Some(own) = own else {
            return skip("no v1 memory cgroup for this process");
        };
        let own = own.trim_end_matches('/');
        let name = format!("{own}/jgtest-{tag}-{}", std::process::id());
        let dir = PathBuf::from(format!("{V1_MEMORY}{name}"));
        let _ = std::fs::remove_dir(&dir);
        if let Err(e) = std::fs::create_dir(&dir) {
            return skip(&format!("cannot create {}: {e}", dir.display()));
        }
        std::fs::write(dir.join("memory.limit_in_bytes"), limit.to_string()).unwrap();
        Some(TestCgroup { name, dir })
    }

    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap()
    }

    pub fn failcnt(&self) -> u64 {
        self.read("memory.failcnt").trim().parse().unwrap()
    }

    /// `oom_kill` from `memory.oom_control` (kernels ≥ 4.13).
    pub fn oom_kills(&self) -> u64 {
        self.read("memory.oom_control")
            .lines()
            .find_map(|l| {
                l.strip_prefix("oom_kill ")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0)
    }
}

fn skip<T>(reason: &str) -> Option<T> {
    crate::prerequisite::missing(
        reason,
        "run as root on a writable cgroup v1 memory hierarchy",
    )
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.path().is_dir() {
                    kill_procs(&e.path());
                    let _ = std::fs::remove_dir(e.path());
                }
            }
        }
        kill_procs(&self.dir);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn kill_procs(dir: &Path) {
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running agent with its own directory (config, store, socket).
pub struct Agent {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub config: PathBuf,
    /// The store's file.
    db: PathBuf,
    child: Option<Child>,
    /// Extra environment for the agent process (e.g. a fake `NOTIFY_SOCKET`).
    env: Vec<(String, String)>,
    /// Extra global options before `agent` (e.g. `--root DIR`).
    globals: Vec<String>,
}

/// A `[[model]]` entry running `jetgate sim-model` with these arguments, started only when a
/// test asks (`autostart = false`).
pub fn sim_model(name: &str, memory: &str, args: &[&str]) -> String {
    let mut argv = vec![JETGATE.to_string(), "sim-model".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    format!(
        "[[model]]\nname = \"{name}\"\ncommand = {argv:?}\nmemory = \"{memory}\"\nready = {{ log = \"READY\" }}\nstop_grace = \"2s\"\nautostart = false\n\n"
    )
}

/// A `[[service]]` running `jetgate sim-model` with `args`, started with the agent, plus
/// `extra` keys (limit, health, restart, leak...).
pub fn sim_service(name: &str, args: &[&str], extra: &str) -> String {
    let mut argv = vec![JETGATE.to_string(), "sim-model".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    format!(
        "[[service]]\nname = \"{name}\"\ncommand = {argv:?}\nautostart = true\nstop_grace = \"2s\"\n{extra}\n\n"
    )
}

/// [`sim_model`] started by the agent itself at start-up (`autostart = true`).
pub fn sim_model_autostarted(name: &str, memory: &str, args: &[&str]) -> String {
    sim_model(name, memory, args).replace("autostart = false", "autostart = true")
}

impl Agent {
    /// Writes `body` plus the store and control sections, starts the agent, waits for its socket.
    pub fn start(body: &str) -> Agent {
        Agent::start_with_env(body, &[])
    }

    /// [`Agent::start`] with extra environment variables for the agent process.
    pub fn start_with_env(body: &str, env: &[(&str, &str)]) -> Agent {
        Agent::start_with(body, env, &[], None)
    }

    /// [`Agent::start`] reading the device under `root` (`--root`) instead of `/`.
    pub fn start_rooted(body: &str, root: &Path) -> Agent {
        Agent::start_with(
            body,
            &[],
            &["--root".into(), root.display().to_string()],
            None,
        )
    }

    /// [`Agent::start`] with the store at `db` instead of in the agent's directory.
    pub fn start_with_store(body: &str, db: &Path) -> Agent {
        Agent::start_with(body, &[], &[], Some(db))
    }

    fn start_with(
        body: &str,
        env: &[(&str, &str)],
        globals: &[String],
        db: Option<&Path>,
    ) -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let config = dir.path().join("jetgate.toml");
        let db = db.map_or_else(|| dir.path().join("jetgate.db"), Path::to_path_buf);
        let text = format!(
            "{body}\n[store]\npath = \"{}\"\n\n[control]\nsocket = \"{}\"\n",
            db.display(),
            socket.display()
        );
        std::fs::write(&config, text).unwrap();
        let mut agent = Agent {
            dir,
            socket,
            config,
            db,
            child: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            globals: globals.to_vec(),
        };
        agent.spawn();
        agent
    }

    /// Starts (or restarts) the agent process on the same directory.
    pub fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("agent.log")).unwrap();
        let child = Command::new(JETGATE)
            .args(&self.globals)
            .args(["agent", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .env_remove("JETGATE_SOCKET")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let socket = self.socket.clone();
        wait_for(Duration::from_secs(20), "the agent's socket", || {
            std::os::unix::net::UnixStream::connect(&socket).ok()
        });
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap()
    }

    /// The agent's store.
    pub fn db(&self) -> PathBuf {
        self.db.clone()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    /// Runs the CLI against this agent.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(JETGATE)
            .args(args)
            .env("JETGATE_SOCKET", &self.socket)
            .output()
            .unwrap()
    }

    /// Runs the CLI and parses its stdout as one JSON document; panics with stderr on failure.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "jetgate {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn service(&self, name: &str) -> Value {
        let all = self.json(&["services", "--json"]);
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap()
    }

    pub fn state(&self, name: &str) -> String {
        self.service(name)["state"].as_str().unwrap().to_string()
    }

    /// Waits until `name` is in `state`.
    pub fn wait_state(&self, name: &str, state: &str, limit: Duration) -> Value {
        wait_for(limit, &format!("{name} to be {state}"), || {
            let s = self.service(name);
            (s["state"] == state).then_some(s)
        })
    }

    /// Every stored event, oldest first. Each event of a known kind must have the figures of
    /// its kind's struct, exactly (read as the struct, written back the same): this holds every
    /// producer the test drove to the typed figures, those still built untyped included.
    pub fn events(&self) -> Vec<Value> {
        let out = self.cli(&["events", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for e in &events {
            crate::figures_fit::assert_figures_fit(e);
        }
        events
    }

    /// SIGTERM, then waits for the agent to exit; returns its exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let status = wait_for(Duration::from_secs(40), "the agent to exit", || {
            child.try_wait().ok().flatten()
        });
        status.code()
    }

    /// SIGKILL (a crash): no cleanup runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.terminate();
        }
    }
}

/// The events of these kinds, as (kind, subject) pairs in order.
pub fn sequence(events: &[Value], kinds: &[&str]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| kinds.contains(&e["kind"].as_str().unwrap_or("")))
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["subject"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Panics if two loads were ever in flight at once: every `load_admitted` must be followed by
/// that model's `load_ready`, `load_failed`, `load_timed_out` or `load_aborted` before the next
/// admission.
pub fn assert_loads_never_overlap(events: &[Value]) {
    let mut in_flight: Option<String> = None;
    for (kind, subject) in sequence(
        events,
        &[
            EventKind::LoadAdmitted.as_str(),
            EventKind::LoadReady.as_str(),
            EventKind::LoadFailed.as_str(),
            EventKind::LoadTimedOut.as_str(),
            EventKind::LoadAborted.as_str(),
        ],
    ) {
        if kind == EventKind::LoadAdmitted.as_str() {
            assert!(
                in_flight.is_none(),
                "{subject} admitted while {in_flight:?} was loading"
            );
            in_flight = Some(subject);
        } else if in_flight.as_deref() == Some(subject.as_str()) {
            in_flight = None;
        }
    }
}
