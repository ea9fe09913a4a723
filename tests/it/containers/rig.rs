//! The container tests' rig: a private podman store and configuration, the sim-model image
//! built once per test run, and what the tests read of the cgroups (see the parent module).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::harness::{Agent, TestCgroup, JETGATE};

pub(super) const GIB: u64 = 1 << 30;

/// A private podman: its store, its configuration, the sim-model image imported.
pub(super) struct Podman {
    dir: tempfile::TempDir,
    pub(super) image: String,
    /// The scopes agents ran in: the engine makes their path in every hierarchy.
    scopes: std::cell::RefCell<Vec<String>>,
}

impl Podman {
    /// `None` (a skip; a failure under `CI`) without `podman` and `runc` on `PATH`.
    pub(super) fn new() -> Option<Podman> {
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
    pub(super) fn env(&self) -> Vec<(String, String)> {
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

    pub(super) fn cmd(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .args(args)
            .envs(self.env())
            .output()
            .unwrap()
    }

    /// Every container in the store, running or not.
    pub(super) fn containers(&self) -> Vec<String> {
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
    pub(super) fn model(&self, name: &str, memory: &str, args: &[&str], extra: &str) -> String {
        format!(
            "[[model]]\nname = \"{name}\"\nmemory = \"{memory}\"\nready = {{ log = \"READY\" }}\n\
             stop_grace = \"2s\"\nautostart = false\n{extra}\n\
             [model.container]\nengine = \"podman\"\nimage = \"{}\"\nargs = {args:?}\n\
             options = [\"--runtime\", \"runc\", \"--network\", \"none\"]\n\n",
            self.image
        )
    }

    pub(super) fn agent(&self, cgroup: &TestCgroup, reserve: &str, models: &str) -> Agent {
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

pub(super) fn remove_empty(dir: &Path) {
    for sub in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if sub.path().is_dir() {
            remove_empty(&sub.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl Podman {
    pub(super) fn containers_quietly(&self) -> Vec<String> {
        let out = self.cmd(&["ps", "--all", "--format", "{{.Names}} {{.ID}}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

pub(super) fn scoped(cgroup: &TestCgroup, reserve: &str, models: &str) -> String {
    format!(
        "[memory]\nscope = \"cgroup:{}\"\nreserve = \"{reserve}\"\nload_sample_interval = \"5ms\"\n\n\
         [gate]\nsettle_window = \"300ms\"\nsettle_tolerance = \"32MiB\"\n\n{models}",
        cgroup.name
    )
}

/// The image's root filesystem as a tarball: the `jetgate` binary (stripped) at `/jetgate` and
/// the libraries it loads. Built once per test run, cached beside the binary under its content
/// hash; returns its path and that hash (the image's tag).
pub(super) fn image_tarball() -> (PathBuf, String) {
    static BUILT: OnceLock<(PathBuf, String)> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            use sha2::{Digest, Sha256};
            let binary = std::fs::read(JETGATE).unwrap();
            let hash: String = Sha256::digest(&binary)[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            // Beside the binary (the build's target directory), older builds' images removed.
            let dir = Path::new(JETGATE).parent().unwrap();
            let name = format!("jetgate-sim-image-{hash}.tar");
            let tarball = dir.join(&name);
            if !tarball.exists() {
                build_tarball(&tarball);
                for old in std::fs::read_dir(dir).unwrap().flatten() {
                    let file = old.file_name().to_string_lossy().into_owned();
                    if file.starts_with("jetgate-sim-image-")
                        && file.ends_with(".tar")
                        && file != name
                    {
                        let _ = std::fs::remove_file(old.path());
                    }
                }
            }
            (tarball, hash)
        })
        .clone()
}

pub(super) fn build_tarball(tarball: &Path) {
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
pub(super) fn unit_usage(cgroup: &TestCgroup, unit: &str) -> Option<u64> {
    let file = find_unit_cgroup(&cgroup.dir, unit)?.join("memory.usage_in_bytes");
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// `<scope>/<unit>` (the runner's child cgroup, directly under the scope).
pub(super) fn find_unit_cgroup(scope: &Path, unit: &str) -> Option<PathBuf> {
    let dir = scope.join(unit);
    dir.is_dir().then_some(dir)
}

/// Whether a process of the container (its sim-model) is in a cgroup below the unit's.
pub(super) fn container_in_unit_cgroup(cgroup: &TestCgroup, unit: &str) -> bool {
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

/// No directory the engine made for `unit` is left in any hierarchy (memory, cpu, pids, ...).
pub(super) fn no_unit_dirs_left(cgroup: &TestCgroup, unit: &str) -> Vec<PathBuf> {
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
