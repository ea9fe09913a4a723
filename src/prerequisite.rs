//! A test's missing prerequisite (a writable cgroup v1 memory hierarchy, tmux, libfaketime,
//! llama-server): a skip on a developer's machine, a failure under `CI`. Shared by the unit
//! tests and the integration tests (which reach it as `jetgate::prerequisite`).
//!
//! The CI machine is set up to have every prerequisite (`scripts/test.sh` installs tmux,
//! libfaketime and llama-server, and runs as root on a writable cgroup v1 memory hierarchy),
//! so there a missing one means the test would prove nothing while passing: it fails, naming
//! what is missing and how to get it. Elsewhere the test prints why it skipped and returns.

/// Whether the environment says this is CI: `CI` set to anything but empty, `0` or `false`.
pub fn is_ci(ci: Option<&std::ffi::OsStr>) -> bool {
    ci.is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Under CI a panic naming `what` is missing and `how` to get it; elsewhere the reason on
/// stderr and `None`, so the caller returns.
pub fn missing<T>(what: &str, how: &str) -> Option<T> {
    missing_in(is_ci(std::env::var_os("CI").as_deref()), what, how)
}

fn missing_in<T>(ci: bool, what: &str, how: &str) -> Option<T> {
    if ci {
        panic!("CI must have every test prerequisite: {what} ({how})");
    }
    eprintln!("skipped: {what} ({how})");
    None
}

/// A tmpfs of a given size mounted on a test's directory (a disk that can really fill up),
/// lazily unmounted on drop. Needs root where mount(8) may mount a tmpfs: a prerequisite.
#[derive(Debug)]
pub struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    /// Mounts a `size` tmpfs (`"2m"`) on `dir`, or reports the missing prerequisite.
    #[allow(clippy::disallowed_methods)] // mount(8): the test's own filesystem
    pub fn mount(dir: &std::path::Path, size: &str) -> Option<SmallDisk> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        let how = "run as root where mount(8) may mount a tmpfs";
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk {
                path: dir.to_path_buf(),
            }),
            Ok(o) => missing(
                &format!(
                    "cannot mount a tmpfs: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                how,
            ),
            Err(e) => missing(&format!("cannot run mount: {e}"), how),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Writes zeros to a new file on the disk until it is full; returns the file.
    pub fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path.join("filler");
        if let Ok(mut f) = std::fs::File::create(&path) {
            let chunk = vec![0u8; 64 * 1024];
            while f.write_all(&chunk).is_ok() {}
        }
        path
    }
}

impl Drop for SmallDisk {
    #[allow(clippy::disallowed_methods)] // umount(8) of the test's own filesystem
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn ci_is_any_value_but_empty_zero_or_false() {
        assert!(is_ci(Some(OsStr::new("true"))));
        assert!(!is_ci(None));
        assert!(!is_ci(Some(OsStr::new(""))));
        assert!(!is_ci(Some(OsStr::new("false"))));
    }

    #[test]
    #[should_panic(expected = "CI must have every test prerequisite: a v1 memory cgroup")]
    fn a_missing_prerequisite_under_ci_is_a_failure() {
        missing_in::<()>(true, "a v1 memory cgroup", "run as root");
    }

    #[test]
    fn a_missing_prerequisite_elsewhere_is_a_skip() {
        assert_eq!(
            missing_in::<()>(false, "a v1 memory cgroup", "run as root"),
            None
        );
    }
}
