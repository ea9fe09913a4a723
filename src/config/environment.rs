//! Start-time checks: what a valid configuration names must also be there on this machine,
//! or the agent would fail (or start a unit that can only fail) once it is running.
//!
//! The loader's checks are pure functions of the text; these touch the filesystem, the group
//! database and the device root, so they are a layer of their own, run by `jetgate config
//! check` and by the agent before it creates anything (no store, no socket, no cgroup, no
//! record). Each finding is an [`Issue`] at the key it is about, placed in the file like the
//! loader's problems.
//!
//! | key | refused when |
//! |---|---|
//! | `container.engine` | its client (`podman`, `docker`) not found on the agent's `PATH` |
//! | `command`, `health.exec` | a bare name not found on `PATH` (the entry's `env.PATH`, else the agent's); a relative path (`bin/server`); an absolute path that does not exist, is not a file or is not executable |
//! | `weights` | does not exist or is not a file |
//! | `cwd` | does not exist or is not a directory |
//! | `memory.scope` | the cgroup does not exist under the device's cgroup mount |
//! | `memory.reserve` | larger than the device's memory (`MemTotal`) |
//! | `control.group` | no such group |
//! | `control.socket` | something other than a socket is there (a file, a directory, a link: the agent never removes it) |
//! | `store.path` | is a directory |
//! | `metrics.textfile` | its directory does not exist, or the path is a directory |
//! | `mqtt.ca`, `cert`, `key`, `password_file` | does not exist or is not a file |

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::config::problem::{Issues, KeyPath};
use crate::config::{Config, MemoryScope, ProgramConfig};
use crate::sources::{read_meminfo, Root};

/// What the checks look at besides the configuration.
#[derive(Debug, Clone)]
pub struct Machine<'a> {
    /// Where `/proc` and `/sys` are read (the device root; `/` on the device itself).
    pub root: &'a Root,
    /// The agent's `PATH`, where bare command names are looked up.
    pub path: Option<&'a OsStr>,
}

impl Machine<'_> {
    /// Every start-time issue of `config` on this machine.
    pub fn check(&self, config: &Config) -> Issues {
        let mut issues = Issues::default();
        let root = KeyPath::root();
        for (i, model) in config.models.iter().enumerate() {
            let at = root.key("model").index(i);
            self.program(&model.program, &at, &mut issues);
            if let Some(weights) = &model.weights {
                file(weights, "weights file", &at.key("weights"), &mut issues);
            }
        }
        for (i, service) in config.services.iter().enumerate() {
            self.program(&service.program, &root.key("service").index(i), &mut issues);
        }
        self.scope(
            &config.memory.scope,
            &root.key("memory").key("scope"),
            &mut issues,
        );
        if let Some(reserve) = config.memory.reserve {
            let mut buf = String::new();
            // Unreadable meminfo: the agent reports that itself; nothing to compare with.
            if let Ok(info) = read_meminfo(self.root, &mut buf) {
                issues.require(
                    reserve < info.total,
                    root.key("memory").key("reserve"),
                    || {
                        format!(
                            "`memory.reserve` {reserve} is not below the device's memory {} \
                             (MemTotal): no model could ever be admitted",
                            info.total
                        )
                    },
                );
            }
        }
        if let Some(group) = &config.control.group {
            let known = nix::unistd::Group::from_name(group)
                .ok()
                .flatten()
                .is_some();
            issues.require(known, root.key("control").key("group"), || {
                format!("`control.group` {group:?}: no such group on this machine")
            });
        }
        let socket = &config.control.socket;
        if let Some(kind) = crate::control::server::not_a_socket(socket) {
            issues.report(
                root.key("control").key("socket"),
                format!(
                "`control.socket` {}: a {kind} is there, not a socket; the agent never removes \
                 it: remove it or name another path",
                socket.display()
            ),
            );
        }
        let store = &config.store.path;
        issues.require(!store.is_dir(), root.key("store").key("path"), || {
            format!(
                "`store.path` {} is a directory: name the database file in it, e.g. {}",
                store.display(),
                store.join("jetgate.db").display()
            )
        });
        if let Some(file) = &config.metrics.textfile {
            let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
            let ok = !file.is_dir() && dir.is_some_and(|d| d.is_dir());
            issues.require(ok, root.key("metrics").key("textfile"), || {
                format!(
                    "`metrics.textfile` {}: the file is written in its directory, which must \
                     exist (and the path must not be a directory)",
                    file.display()
                )
            });
        }
        if let Some(mqtt) = &config.mqtt {
            let at = root.key("mqtt");
            for (key, path) in [
                ("ca", &mqtt.ca),
                ("cert", &mqtt.cert),
                ("key", &mqtt.key),
                ("password_file", &mqtt.password_file),
            ] {
                if let Some(path) = path {
                    file(path, key, &at.key(key), &mut issues);
                }
            }
        }
        issues
    }

    fn program(&self, p: &ProgramConfig, at: &KeyPath, issues: &mut Issues) {
        let path = p
            .env
            .get("PATH")
            .map(|s| OsStr::new(s.as_str()))
            .or(self.path);
        if let Some(program) = p.command.as_ref().and_then(|c| c.0.first()) {
            if let Err(why) = executable(program, path) {
                issues.report(at.key("command"), why);
            }
        }
        // The client runs with the agent's environment: `env` goes into the container.
        if let Some(container) = &p.container {
            if let Err(why) = executable(container.engine.program(), self.path) {
                issues.report(at.key("container").key("engine"), why);
            }
        }
        if let Some(crate::config::HealthCheck::Exec(argv)) = p.health.as_ref().map(|h| &h.check) {
            if let Some(program) = argv.0.first() {
                if let Err(why) = executable(program, path) {
                    issues.report(at.key("health").key("exec"), why);
                }
            }
        }
        if let Some(cwd) = &p.cwd {
            issues.require(cwd.is_dir(), at.key("cwd"), || {
                let what = if cwd.exists() {
                    "is not a directory"
                } else {
                    "does not exist"
                };
                format!("`cwd` {} {what}", cwd.display())
            });
        }
    }

    fn scope(&self, scope: &MemoryScope, at: &KeyPath, issues: &mut Issues) {
        let MemoryScope::Cgroup(path) = scope else {
            return;
        };
        let text = path.to_string_lossy();
        if let Err(e) = crate::sources::cgroup::named_cgroup(self.root, &text) {
            issues.report(
                at.clone(),
                format!("`memory.scope` cgroup:{text}: {e} (create it, or use \"system\")"),
            );
        }
    }
}

/// `path` names an existing regular file.
fn file(path: &Path, what: &str, at: &KeyPath, issues: &mut Issues) {
    issues.require(path.is_file(), at.clone(), || {
        let why = if path.exists() {
            "is not a file"
        } else {
            "does not exist"
        };
        format!("{what} {} {why}", path.display())
    });
}

/// Where the runner would find `program`, or why it would not start: a bare name is looked up
/// on `path` (as the spawn does), a relative path is refused (it would depend on the agent's
/// directory), an absolute one must be an executable file.
pub fn executable(program: &str, path: Option<&OsStr>) -> Result<PathBuf, String> {
    if !program.contains('/') {
        let dirs = path.map(std::env::split_paths).into_iter().flatten();
        for dir in dirs.filter(|d| d.is_absolute()) {
            let candidate = dir.join(program);
            if runnable(&candidate).is_ok() {
                return Ok(candidate);
            }
        }
        let shown = path.map_or("unset".into(), |p| p.to_string_lossy().into_owned());
        return Err(format!(
            "command {program:?} is not an executable on PATH ({shown}): write its absolute \
             path, or set PATH in `env`"
        ));
    }
    let candidate = PathBuf::from(program);
    if !candidate.is_absolute() {
        return Err(format!(
            "command {program:?} is a relative path: write it absolute (a bare name is looked \
             up on PATH)"
        ));
    }
    runnable(&candidate)
        .map(|()| candidate)
        .map_err(|why| format!("command {program:?} {why}"))
}

/// An existing regular file with an execute bit the agent may use.
fn runnable(path: &Path) -> Result<(), &'static str> {
    let meta = std::fs::metadata(path).map_err(|_| "does not exist")?;
    if !meta.is_file() {
        return Err("is not a file");
    }
    let mode = meta.permissions().mode();
    let allowed = nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok();
    if mode & 0o111 == 0 || !allowed {
        return Err("is not executable");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn commands_resolve_like_the_spawn_and_say_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let run = write(dir.path(), "server", 0o755);
        let plain = write(dir.path(), "data", 0o644);
        let path = dir.path().as_os_str();
        assert_eq!(executable(run.to_str().unwrap(), None), Ok(run.clone()));
        assert_eq!(executable("server", Some(path)), Ok(run));
        let why = executable("server", Some(OsStr::new("/nonexistent-dir"))).unwrap_err();
        assert!(why.contains("not an executable on PATH"), "{why}");
        let why = executable(plain.to_str().unwrap(), None).unwrap_err();
        assert!(why.ends_with("is not executable"), "{why}");
        // A non-executable file of that name on PATH is not the command either.
        assert!(executable("data", Some(path)).is_err());
        let why = executable("bin/server", Some(path)).unwrap_err();
        assert!(why.contains("relative path"), "{why}");
        let why = executable("/nonexistent/server", None).unwrap_err();
        assert!(why.ends_with("does not exist"), "{why}");
        let why = executable(dir.path().to_str().unwrap(), None).unwrap_err();
        assert!(why.ends_with("is not a file"), "{why}");
    }
}
