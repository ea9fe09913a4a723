//! Child cgroup file handling against a temporary directory tree. This checks the file-level
//! parts only (which file gets which value, which kill path is chosen); a tempdir is not a
//! cgroup, so placement and the kernel's behaviour are covered by `cgroup_real` on v1 only.

use std::fs;

use super::*;
use crate::units::Bytes;

fn fake_v2_child(dir: &std::path::Path, with_kill_file: bool) -> ChildCgroup {
    let path = dir.join("llama");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("cgroup.procs"), "").unwrap();
    fs::write(path.join("memory.max"), "max\n").unwrap();
    if with_kill_file {
        fs::write(path.join("cgroup.kill"), "").unwrap();
    }
    ChildCgroup {
        version: CgroupVersion::V2,
        path,
    }
}

#[test]
fn v2_limit_goes_to_memory_max_in_bytes_and_pids_to_cgroup_procs() {
    let dir = tempfile::tempdir().unwrap();
    let cg = fake_v2_child(dir.path(), false);
    cg.set_limit(Bytes::from_mib(512)).unwrap();
    cg.add_pid(4242).unwrap();
    assert_eq!(
        fs::read_to_string(cg.path.join("memory.max")).unwrap(),
        "536870912"
    );
    assert_eq!(
        fs::read_to_string(cg.path.join("cgroup.procs")).unwrap(),
        "4242"
    );
    assert_eq!(cg.pids().unwrap(), [4242]);
}

#[test]
fn v1_limit_goes_to_memory_limit_in_bytes() {
    let cg = ChildCgroup {
        version: CgroupVersion::V1,
        path: "/sys/fs/cgroup/memory/jetgate/llama".into(),
    };
    assert!(cg.limit_path().ends_with("memory.limit_in_bytes"));
    assert!(cg.procs_path().ends_with("llama/cgroup.procs"));
}

fn fake_v1_child(dir: &std::path::Path, with_memsw: bool) -> ChildCgroup {
    let path = dir.join("llama");
    fs::create_dir(&path).unwrap();
    // Empty: a write to a tempfile does not truncate, unlike a write to a cgroup file.
    fs::write(path.join("memory.limit_in_bytes"), "").unwrap();
    if with_memsw {
        fs::write(path.join("memory.memsw.limit_in_bytes"), "").unwrap();
    }
    ChildCgroup {
        version: CgroupVersion::V1,
        path,
    }
}

#[test]
fn v1_limit_also_bounds_memory_and_swap_where_the_kernel_accounts_swap() {
    let dir = tempfile::tempdir().unwrap();
    let cg = fake_v1_child(dir.path(), true);
    cg.set_limit(Bytes::from_mib(128)).unwrap();
    for file in ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"] {
        assert_eq!(fs::read_to_string(cg.path.join(file)).unwrap(), "134217728");
    }
}

#[test]
fn v1_limit_without_swap_accounting_writes_the_memory_limit_only() {
    let dir = tempfile::tempdir().unwrap();
    let cg = fake_v1_child(dir.path(), false);
    cg.set_limit(Bytes::from_mib(128)).unwrap();
    assert_eq!(
        fs::read_to_string(cg.path.join("memory.limit_in_bytes")).unwrap(),
        "134217728"
    );
    assert!(
        !cg.path.join("memory.memsw.limit_in_bytes").exists(),
        "never created"
    );
}

#[test]
fn v2_kill_uses_cgroup_kill_when_the_kernel_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let cg = fake_v2_child(dir.path(), true);
    assert_eq!(cg.kill_once().unwrap(), 0);
    assert_eq!(
        fs::read_to_string(cg.path.join("cgroup.kill")).unwrap(),
        "1"
    );
}

#[tokio::test]
async fn v2_kill_without_cgroup_kill_signals_every_listed_pid() {
    let dir = tempfile::tempdir().unwrap();
    let cg = fake_v2_child(dir.path(), false);
    let h = harness(None);
    let victim = h.runner.spawn(&spec("victim", "exec sleep 30")).unwrap();
    fs::write(cg.procs_path(), format!("{}\n", victim.pid())).unwrap();
    assert_eq!(cg.kill_once().unwrap(), 1);
    tokio::time::timeout(PATIENCE, victim.wait_gone())
        .await
        .unwrap();
}

#[test]
fn a_v2_limit_without_the_memory_controller_is_an_error_and_leaves_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let scope = CgroupScope {
        version: CgroupVersion::V2,
        path: dir.path().to_path_buf(),
    };
    let err = scope
        .create_child("llama", Some(Bytes::from_gib(1)))
        .unwrap_err();
    assert!(err.to_string().contains("llama/memory.max"), "{err}");
    assert!(!dir.path().join("llama").exists());
}

#[test]
fn child_names_that_would_escape_the_scope_are_refused() {
    let scope = CgroupScope {
        version: CgroupVersion::V2,
        path: "/tmp/scope".into(),
    };
    for bad in ["", ".", "..", "a/b", "../x"] {
        assert!(matches!(
            scope.child_path(bad),
            Err(CgroupError::BadName { .. })
        ));
    }
    assert_eq!(
        scope.child_path("llama").unwrap(),
        std::path::Path::new("/tmp/scope/llama")
    );
}

#[test]
fn an_existing_child_cgroup_is_reported_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("llama")).unwrap();
    let scope = CgroupScope {
        version: CgroupVersion::V2,
        path: dir.path().to_path_buf(),
    };
    assert!(matches!(
        scope.create_child("llama", None),
        Err(CgroupError::Exists { .. })
    ));
}

#[test]
fn cgroup_procs_parsing_skips_blank_lines() {
    assert_eq!(cgroup::parse_procs("12\n\n345\n"), [12, 345]);
    assert!(cgroup::parse_procs("").is_empty());
}
