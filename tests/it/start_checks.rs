//! What would fail at start is caught before it: `jetgate config check` names the line and
//! exits 3, and `jetgate agent` refuses the same file with exit 3 having created nothing (no
//! store, no socket, no cgroup under the scope). One case per start-time check, each on real
//! files, a real group database and a real v1 memory cgroup.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{config_check, wait_for, TestCgroup, JETGATE};

/// A runnable command line for entries whose command is not the point.
fn ok_command() -> String {
    format!("{:?}", [JETGATE, "sim-model", "--alloc", "1MiB"])
}

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            out.insert(p.strip_prefix(dir).unwrap().to_path_buf());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// A directory with a configuration whose store and socket live in it.
struct Case {
    dir: tempfile::TempDir,
    file: PathBuf,
}

impl Case {
    /// `body` gets the store and control sections appended (unless it has its own `[store]`).
    fn new(body: impl FnOnce(&Path) -> String) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jetgate.toml");
        let mut text = body(dir.path());
        if !text.contains("[store]") {
            text.push_str(&format!(
                "\n[store]\npath = \"{}\"\n",
                dir.path().join("state/jetgate.db").display()
            ));
        }
        if !text.contains("[control]") {
            text.push_str(&format!(
                "\n[control]\nsocket = \"{}\"\n",
                dir.path().join("run/control.sock").display()
            ));
        }
        std::fs::write(&file, text).unwrap();
        Case { dir, file }
    }

    /// `config check` exits 3 naming `line` and saying `what`; the agent then exits 3 and
    /// leaves the directory as it was.
    fn refused(&self, line: usize, what: &str) {
        let (code, text) = config_check(&self.file);
        assert_eq!(code, Some(3), "{text}");
        assert!(
            text.contains(&format!("jetgate.toml:{line}:")),
            "line {line}: {text}"
        );
        assert!(text.contains(what), "{what:?} in {text}");

        let before = tree(self.dir.path());
        let mut child = Command::new(JETGATE)
            .args(["agent", "--config"])
            .arg(&self.file)
            .env_remove("JETGATE_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let status = wait_for(Duration::from_secs(20), "the agent's refusal", || {
            child.try_wait().unwrap()
        });
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(3), "agent pid {pid}: {stderr}");
        assert!(stderr.contains(what), "{what:?} in {stderr}");
        assert_eq!(tree(self.dir.path()), before, "the agent created something");
    }
}

fn model(command: &str, extra: &str) -> String {
    format!(
        "[[model]]\nname = \"llm\"\ncommand = {command}\nmemory = \"8MiB\"\n\
         ready = {{ log = \"READY\" }}\nautostart = false\n{extra}"
    )
}

#[test]
fn a_command_that_does_not_exist_is_refused_at_its_line() {
    Case::new(|_| model("[\"/nonexistent/jetgate-server\"]", ""))
        .refused(3, "\"/nonexistent/jetgate-server\" does not exist");
}

#[test]
fn a_command_that_is_not_executable_is_refused_at_its_line() {
    Case::new(|dir| {
        let server = dir.join("server");
        std::fs::write(&server, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&server, std::fs::Permissions::from_mode(0o644)).unwrap();
        model(&format!("[{:?}]", server), "")
    })
    .refused(3, "is not executable");
}

#[test]
fn a_relative_command_or_a_name_not_on_path_is_refused_at_its_line() {
    Case::new(|_| model("[\"bin/server\"]", "")).refused(3, "is a relative path");
    Case::new(|_| {
        let service = "[[service]]\nname = \"api\"\ncommand = [\"jetgate-no-such-program\"]\n";
        format!("{service}\n")
    })
    .refused(3, "is not an executable on PATH");
}

#[test]
fn a_missing_weights_file_or_cwd_is_refused_at_its_line() {
    Case::new(|dir| {
        let weights = dir.join("model.gguf");
        model(
            &ok_command(),
            &format!("weights = {weights:?}\nsha256 = \"{}\"\n", "0".repeat(64)),
        )
    })
    .refused(7, "model.gguf does not exist");
    Case::new(|dir| model(&ok_command(), &format!("cwd = {:?}\n", dir.join("work"))))
        .refused(7, "work does not exist");
}

#[test]
fn a_memory_scope_cgroup_that_does_not_exist_is_refused_and_none_is_created() {
    let Some(parent) = TestCgroup::new("scope-check", 256 << 20) else {
        return;
    };
    let missing = format!("{}/absent", parent.name);
    let children = || {
        std::fs::read_dir(&parent.dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_dir())
            .count()
    };
    let case = Case::new(|_| {
        format!(
            "[memory]\nscope = \"cgroup:{missing}\"\n\n{}",
            model(&ok_command(), "")
        )
    });
    case.refused(2, "absent");
    assert_eq!(
        children(),
        0,
        "a cgroup was created under the scope's parent"
    );
    // The same file naming the cgroup that exists passes the check.
    let ok = Case::new(|_| {
        format!(
            "[memory]\nscope = \"cgroup:{}\"\n\n{}",
            parent.name,
            model(&ok_command(), "")
        )
    });
    let (code, text) = config_check(&ok.file);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn a_control_group_that_does_not_exist_is_refused_at_its_line() {
    Case::new(|dir| {
        format!(
            "[control]\nsocket = \"{}\"\ngroup = \"jetgate-no-such-group\"\n",
            dir.join("run/control.sock").display()
        )
    })
    .refused(3, "no such group");
}

#[test]
fn a_control_socket_path_naming_a_file_is_refused_and_the_file_left_as_it_was() {
    let case = Case::new(|dir| {
        let notes = dir.join("notes.txt");
        std::fs::write(&notes, "keep me").unwrap();
        format!("[control]\nsocket = \"{}\"\n", notes.display())
    });
    case.refused(2, "a regular file is there, not a socket");
    assert_eq!(
        std::fs::read_to_string(case.dir.path().join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn a_store_path_that_is_a_directory_is_refused_and_left_empty() {
    let case = Case::new(|dir| {
        let store = dir.join("state");
        std::fs::create_dir(&store).unwrap();
        format!("[store]\npath = \"{}\"\n", store.display())
    });
    case.refused(2, "is a directory");
    assert_eq!(
        std::fs::read_dir(case.dir.path().join("state"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn a_reserve_larger_than_the_devices_memory_is_refused_at_its_line() {
    let total = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    let over = total * 1024 + (1 << 30);
    Case::new(|_| format!("[memory]\nreserve = {over}\n"))
        .refused(2, "is not below the device's memory");
    // Below it is accepted.
    let under = Case::new(|_| "[memory]\nreserve = \"64MiB\"\n".to_string());
    let (code, text) = config_check(&under.file);
    assert_eq!(code, Some(0), "{text}");
}
