use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::container::{CgroupManager, Engine};
use crate::sources::cgroup::parse::parse_cgroup_mounts;

fn run(engine: Engine, manager: CgroupManager) -> ContainerRun {
    ContainerRun {
        engine,
        manager,
        image: "localhost/llama:1".into(),
        args: vec!["-m".into(), "/m.gguf".into()],
        options: vec!["--runtime".into(), "nvidia".into()],
        env: vec![("CUDA_VISIBLE_DEVICES".into(), "0".into())],
    }
}

#[test]
fn podman_runs_in_the_foreground_named_labelled_removed_and_under_the_units_cgroup() {
    let argv = run_argv(
        &run(Engine::Podman, CgroupManager::Cgroupfs),
        "llm",
        "/jetgate/llm",
        "00ff",
    );
    assert_eq!(
        argv.join(" "),
        "podman --cgroup-manager cgroupfs run --rm --replace --name jetgate-llm \
         --label io.jetgate.unit=llm --label io.jetgate.instance=00ff \
         --cgroup-parent /jetgate/llm --env CUDA_VISIBLE_DEVICES=0 --runtime nvidia \
         localhost/llama:1 -m /m.gguf"
    );
    assert!(!argv.iter().any(|a| a == "-d" || a == "--detach"));
}

#[test]
fn docker_shares_the_run_without_podmans_own_options() {
    let argv = run_argv(
        &run(Engine::Docker, CgroupManager::Systemd),
        "llm",
        "jetgate-llm.slice",
        "00ff",
    );
    assert_eq!(
        argv.join(" "),
        "docker run --rm --name jetgate-llm --label io.jetgate.unit=llm \
         --label io.jetgate.instance=00ff --cgroup-parent jetgate-llm.slice \
         --env CUDA_VISIBLE_DEVICES=0 --runtime nvidia localhost/llama:1 -m /m.gguf"
    );
}

#[test]
fn stop_rm_list_and_inspect_name_the_units_container() {
    let grace = Duration::from_millis(2500);
    assert_eq!(
        stop_argv(Engine::Podman, "llm", grace).join(" "),
        "podman stop --time 3 jetgate-llm",
        "the grace is rounded up to whole seconds"
    );
    assert_eq!(
        stop_argv(Engine::Docker, "llm", Duration::from_secs(10)).join(" "),
        "docker stop --time 10 jetgate-llm"
    );
    assert_eq!(
        kill_argv(Engine::Podman, "jetgate-llm").join(" "),
        "podman kill jetgate-llm"
    );
    assert_eq!(
        rm_argv(Engine::Docker, "jetgate-llm").join(" "),
        "docker rm --force jetgate-llm"
    );
    assert_eq!(
        list_argv(Engine::Podman, "00ff").join(" "),
        "podman ps --all --filter label=io.jetgate.instance=00ff --format {{.Names}}"
    );
    assert_eq!(
        digests_argv(Engine::Podman, "localhost/llama:1")[..4].join(" "),
        "podman image inspect --format"
    );
}

#[test]
fn the_cgroupfs_parent_is_the_path_in_the_hierarchy_and_systemd_needs_slices() {
    let mountinfo = "\
30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
32 25 0:28 /ns /mnt/cg2 rw - cgroup2 cgroup2 rw
";
    let mounts = parse_cgroup_mounts(mountinfo).unwrap();
    let dir = Path::new("/sys/fs/cgroup/memory/process_api/ab/jetgate-1/llm");
    let path = hierarchy_path(dir, &mounts).unwrap();
    assert_eq!(path, "/process_api/ab/jetgate-1/llm");
    assert_eq!(
        hierarchy_path(Path::new("/mnt/cg2/models/llm"), &mounts).unwrap(),
        "/ns/models/llm",
        "a mount of a sub-hierarchy prepends its root"
    );
    assert_eq!(hierarchy_path(Path::new("/tmp/llm"), &mounts), None);
    assert_eq!(cgroup_parent(CgroupManager::Cgroupfs, &path).unwrap(), path);
    assert_eq!(
        cgroup_parent(
            CgroupManager::Systemd,
            "/jetgate.slice/jetgate-models.slice/jetgate-models-llm.slice"
        )
        .unwrap(),
        "jetgate-models-llm.slice"
    );
    let refused = cgroup_parent(CgroupManager::Systemd, "/system.slice/jetgate.service/llm");
    assert!(refused.unwrap_err().contains("chain of slices"));
    assert!(cgroup_parent(CgroupManager::Systemd, "/a.slice/b.slice").is_err());
}

#[test]
fn a_pin_matches_one_of_the_local_digests_or_refuses_naming_them() {
    let pin = format!("sha256:{}", "a".repeat(64));
    let ok = format!(
        "localhost/llama@sha256:{}\nother@sha256:{}\n",
        "b".repeat(64),
        "A".repeat(64)
    );
    assert_eq!(check_pin("localhost/llama", &pin, &ok), Ok(()));
    let err = check_pin(
        "localhost/llama",
        &pin,
        &format!("x@sha256:{}\n", "b".repeat(64)),
    )
    .unwrap_err();
    assert!(err.contains(&"b".repeat(64)) && err.contains(&pin), "{err}");
    assert!(check_pin("i", &pin, "").unwrap_err().contains("no digest"));
    assert_eq!(
        split_pin("localhost/llama:1@SHA256:AB"),
        Some(("localhost/llama:1", "sha256:ab".to_string()))
    );
    assert_eq!(split_pin("localhost/llama:1"), None);
}

#[test]
fn the_instance_label_is_stable_per_record_directory() {
    let a = instance_of(Path::new("/var/lib/jetgate/pids"));
    assert_eq!(a.len(), 16);
    assert_eq!(a, instance_of(Path::new("/var/lib/jetgate/pids")));
    assert_ne!(a, instance_of(Path::new("/tmp/other/pids")));
    assert_eq!(container_name("llm"), "jetgate-llm");
}
