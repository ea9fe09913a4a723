#![allow(clippy::disallowed_methods)] // the live test spawns a process into the cgroup

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use super::*;
use crate::sources::cgroup::own_cgroup;

/// Removes a test cgroup directory on drop.
struct RmDir(PathBuf);

impl Drop for RmDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

#[test]
fn a_v2_cgroup_has_no_usage_threshold() {
    let cg = Cgroup {
        version: CgroupVersion::V2,
        dir: PathBuf::from("/sys/fs/cgroup/models"),
    };
    let err = UsageThreshold::arm(&Root::host(), &cg, Bytes::from_mib(1)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
}

#[test]
fn a_cgroup_without_the_v1_files_cannot_be_armed() {
    let dir = tempfile::tempdir().unwrap();
    let cg = Cgroup {
        version: CgroupVersion::V1,
        dir: PathBuf::from("/sys/fs/cgroup/memory/gone"),
    };
    let err = UsageThreshold::arm(&Root::new(dir.path()), &cg, Bytes::from_mib(1)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn a_psi_trigger_needs_a_pressure_file() {
    let dir = tempfile::tempdir().unwrap();
    assert!(PsiTrigger::arm(&dir.path().join("memory.pressure")).is_err());
}

#[test]
fn a_v1_threshold_counts_a_crossing_each_way_in_a_real_cgroup() {
    let host = Root::host();
    let own = own_cgroup(&host).unwrap();
    if own.version != CgroupVersion::V1 {
        crate::prerequisite::missing::<()>(
            "own memory cgroup is v2 here; the v1 threshold test needs a v1 hierarchy",
            "run on a machine with a cgroup v1 memory hierarchy",
        );
        return;
    }
    let name = format!("jetgate-wake-{}", std::process::id());
    let dir = own.dir.join(&name);
    fs::create_dir(&dir).unwrap();
    let _guard = RmDir(dir.clone());
    let cg = Cgroup {
        version: CgroupVersion::V1,
        dir: dir.clone(),
    };
    let threshold = UsageThreshold::arm(&host, &cg, Bytes::from_mib(4)).unwrap();
    assert_eq!(threshold.level(), Bytes::from_mib(4));
    assert_eq!(threshold.take().unwrap(), 0, "nothing crossed yet");

    // A shell joins the group and writes 8 MiB to tmpfs: shmem stays charged to the group.
    let shm = PathBuf::from(format!("/dev/shm/{name}"));
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec dd if=/dev/zero of={} bs=1M count=8 status=none",
        dir.display(),
        shm.display()
    );
    let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    assert!(status.success());
    assert!(threshold.take().unwrap() >= 1, "usage rose through 4 MiB");
    assert_eq!(
        threshold.take().unwrap(),
        0,
        "taken: the count starts again"
    );

    fs::remove_file(&shm).unwrap();
    assert!(
        threshold.take().unwrap() >= 1,
        "usage fell back through 4 MiB"
    );
}
