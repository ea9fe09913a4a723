//! The first hour on a Jetson, as a new user meets it: plain logs under systemd, the boot plan
//! from `config check`, memory figures in their own frame, errors that say their cause once,
//! the demo's one-line refusal without root, and a version string worth pasting into a bug.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{sim_model, wait_for, Agent, TestCgroup, JETGATE};

/// A model whose command cannot start: the agent logs a warning or an error for it. The file
/// is there and executable (the start-time checks pass), but its interpreter is not, so the
/// spawn itself fails.
fn broken_model(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let server = dir.join("jetgate-test-server");
    std::fs::write(&server, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&server, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "[[model]]\nname = \"broken\"\ncommand = [\"{}\"]\n\
         memory = \"16MiB\"\nready = {{ log = \"READY\" }}\n",
        server.display()
    )
}

#[test]
fn logs_piped_to_a_file_hold_no_escape_byte() {
    let bin = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(&broken_model(bin.path()));
    wait_for(Duration::from_secs(30), "the failed start", || {
        (agent.state("broken") == "failed").then_some(())
    });
    agent.terminate();
    let log = agent.log();
    assert!(
        log.contains("WARN") || log.contains("ERROR"),
        "the failure is logged with its level: {log}"
    );
    assert!(!log.contains('\x1b'), "escape sequences in a file: {log:?}");
}

#[test]
fn logs_to_the_journal_carry_a_syslog_priority_on_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("control.sock");
    let config = dir.path().join("jetgate.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[store]\npath = \"{}\"\n\n[control]\nsocket = \"{}\"\n",
            broken_model(dir.path()),
            dir.path().join("jetgate.db").display(),
            socket.display()
        ),
    )
    .unwrap();
    // The journal's stream is the file on stderr: JOURNAL_STREAM names its device and inode.
    let log_path = dir.path().join("journal.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let meta = log.metadata().unwrap();
    let mut child = Command::new(JETGATE)
        .args(["agent", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .env_remove("JETGATE_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(30), "the failed start logged", || {
        let text = std::fs::read_to_string(&log_path).ok()?;
        text.lines()
            .any(|l| l.starts_with("<4>") || l.starts_with("<3>"))
            .then_some(())
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.lines().any(|l| l.starts_with("<6>")), "{text}");
    for line in text.lines() {
        let prio = line.strip_prefix('<').and_then(|l| l.split_once('>'));
        assert!(
            matches!(prio, Some((p, _)) if p.len() == 1 && ("0"..="7").contains(&p)),
            "a journal line without its priority: {line:?}"
        );
    }
    assert!(!text.contains('\x1b'), "{text:?}");
}

#[test]
fn config_check_says_what_starts_at_boot() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jetgate.toml");
    let text = format!(
        "{}{}[[service]]\nname = \"api\"\ncommand = [\"/bin/sleep\", \"60\"]\n",
        sim_model("llm", "1GiB", &[]).replace("autostart = false\n", ""),
        sim_model("detector", "1GiB", &[]),
    );
    std::fs::write(&file, text).unwrap();
    let out = Command::new(JETGATE)
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].ends_with("ok: 2 models, 1 service, scope system, mqtt off, metrics off"),
        "{stdout}"
    );
    assert_eq!(lines[1], "at agent start:", "{stdout}");
    assert!(lines[2].contains("service  api") && lines[2].contains("starts at once"));
    assert!(lines[3].contains("model    llm") && lines[3].contains("queues for the gate, 1st"));
    assert!(
        lines[4].contains("detector")
            && lines[4].contains("stays stopped (autostart = false): `jetgate load detector`"),
        "{stdout}"
    );
}

#[test]
fn with_a_cgroup_scope_status_shows_available_against_the_scope_and_the_host_apart() {
    let Some(cgroup) = TestCgroup::new("frame", 512 << 20) else {
        return;
    };
    let agent = Agent::start(&format!(
        "[memory]\nscope = \"cgroup:{}\"\nreserve = \"64MiB\"\n",
        cgroup.name
    ));
    let text = wait_for(Duration::from_secs(20), "a memory sample", || {
        let out = agent.cli(&["status"]);
        let text = String::from_utf8(out.stdout).ok()?;
        (!text.contains("no sample yet")).then_some(text)
    });
    let memory = text.lines().find(|l| l.starts_with("memory ")).unwrap();
    assert!(
        memory.contains(" of 512.0MiB (cgroup limit)"),
        "the scope's total beside its available: {text}"
    );
    let host = text.lines().find(|l| l.starts_with("host ")).unwrap();
    let total = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kib: u64 = total
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let total = jetgate::units::Bytes(total_kib * 1024).to_string();
    assert!(
        host.contains("MemAvailable ") && host.contains(&format!(" of {total}")),
        "the host's figures on their own line: {text}"
    );
}

#[test]
fn without_an_agent_the_error_says_its_cause_once_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("control.sock");
    let out = Command::new(JETGATE)
        .args(["status", "--socket"])
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
    assert!(!stderr.contains("os error"), "{stderr}");
    assert!(
        stderr.contains("jetgate agent") && stderr.contains("--local"),
        "what to do: {stderr}"
    );
}

#[test]
fn a_missing_file_is_named_once() {
    let out = Command::new(JETGATE)
        .args(["tegrastats", "/nonexistent/tegrastats.log"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let cause = std::fs::File::open("/nonexistent/tegrastats.log")
        .unwrap_err()
        .to_string();
    let cause = cause.split(" (").next().unwrap();
    assert_eq!(stderr.matches(cause).count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn the_demo_refuses_without_root_in_one_line_before_building() {
    // A copy of the demo's scripts readable by `nobody`, run as `nobody` with no cargo on PATH:
    // a build attempt would print cargo's own error.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts/lib")).unwrap();
    for file in ["scripts/demo.sh", "scripts/lib/scope.sh"] {
        std::fs::copy(repo.join(file), dir.path().join(file)).unwrap();
    }
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir.path())
        .status()
        .unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["env", "PATH=/usr/bin:/bin", "bash"])
        .arg(dir.path().join("scripts/demo.sh"))
        .current_dir("/")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    if !nix::unistd::geteuid().is_root() {
        crate::prerequisite::missing::<()>(
            "dropping to nobody needs root",
            &format!("CI runs the tests as root; the script said: {stderr}"),
        );
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("needs root") && stderr.contains("run: sudo "),
        "{stderr}"
    );
}

#[test]
fn the_version_names_the_target_the_commit_and_the_glibc_floor() {
    let out = Command::new(JETGATE).arg("--version").output().unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let line = line.trim_end();
    let inner = line
        .strip_prefix(&format!("jetgate {} (", env!("CARGO_PKG_VERSION")))
        .and_then(|l| l.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    let parts: Vec<&str> = inner.split(", ").collect();
    assert_eq!(parts.len(), 3, "{line}");
    let commit = parts[0].strip_prefix("commit ").unwrap();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(
        commit,
        String::from_utf8(head.stdout).unwrap().trim(),
        "{line}"
    );
    assert_eq!(
        parts[1],
        format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
    );
    // The floor is what the dynamic symbol table requires, as objdump reads it.
    let objdump = Command::new("objdump")
        .arg("-T")
        .arg(JETGATE)
        .output()
        .unwrap();
    let symbols = String::from_utf8_lossy(&objdump.stdout);
    let highest = symbols
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            v.split('.')
                .map(|p| p.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
        })
        .max()
        .unwrap();
    let highest: Vec<String> = highest.iter().map(u32::to_string).collect();
    assert_eq!(
        parts[2],
        format!("glibc {} or newer", highest.join(".")),
        "{line}"
    );
}
