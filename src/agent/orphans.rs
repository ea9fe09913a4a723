//! Children left by a previous agent instance (a crash, a SIGKILL, an OOM kill): found and
//! stopped at start, before any autostart, so a model never runs twice.
//!
//! Two ways to find them, both owned by the runner while the previous agent lived:
//! 1. the pid record `<state dir>/pids/<unit>.pid` (pid, pgid, start ticks; see
//!    [`crate::runner::pidfile`]), checked against `/proc/PID/stat` so a reused pid is never
//!    signalled;
//! 2. the unit's child cgroup `<scope>/<unit>` under the memory scope (its tree, whatever
//!    forked or re-grouped itself, and what a lost record would miss).
//!
//! A live orphan gets what an unload gets: SIGTERM to its process group, the unit's
//! `stop_grace`, SIGKILL, then its cgroup is killed and removed. Each one found is an
//! `orphan_stopped` event (unit, pid, pgid, uptime, how found, how it ended); a record naming a
//! dead or reused pid is an `orphan_record_stale` event. Adopting instead is not possible here:
//! the new agent cannot re-attach the old stdout/stderr pipes (ready-log probes, output ring) and
//! cannot `waitpid` a process that is not its child, so it could never learn how it exited
//! (docs/agent.md, "Agent restarts").
//!
//! Container units: the steps above stop the engine's `run` client and kill the container's
//! processes in the unit's cgroup; [`containers`] then removes what the engine still lists
//! with this instance's label.
#![allow(clippy::disallowed_methods)] // polls for an orphan's end against its own deadline

mod containers;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::config::container::Engine;
use crate::event::figures::{OrphanRecordStale, OrphanStopped};
use crate::event::{NewEvent, Severity};
use crate::runner::pidfile::{self, Liveness};
use crate::runner::procstat::read_stat;
use crate::runner::{CgroupScope, ChildCgroup, PidRecord, KILL_WAIT};
use crate::sources::Root;

/// How often an orphan's end is polled for.
const POLL: Duration = Duration::from_millis(20);
/// The grace for a unit no longer in the configuration.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Where the previous instance left its traces.
#[derive(Debug, Clone)]
pub struct Traces<'a> {
    pub root: &'a Root,
    /// The pid record directory.
    pub records: &'a Path,
    /// The runner's cgroup scope, if any.
    pub scope: Option<&'a CgroupScope>,
    /// Every configured unit and its stop grace.
    pub graces: &'a BTreeMap<String, Duration>,
    /// The engines the configured container units use.
    pub engines: &'a BTreeSet<Engine>,
    /// This agent instance's container label ([`crate::runner::Runner::instance`]).
    pub instance: &'a str,
}

/// Finds and stops every orphan; returns the events to record, in order.
pub async fn stop_orphans(traces: &Traces<'_>) -> Vec<NewEvent> {
    let mut events = Vec::new();
    for (unit, path, record) in pidfile::read_all(traces.records) {
        match record {
            Ok(record) => events.extend(stop_recorded(traces, &record).await),
            Err(reason) => events.push(
                NewEvent::new(
                    OrphanRecordStale {
                        reason: reason.to_string(),
                        found: "pid_record".to_string(),
                        ..OrphanRecordStale::default()
                    },
                    Some(&unit),
                )
                .message(format!(
                    "pid record {} unreadable: {reason}",
                    path.display()
                )),
            ),
        }
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!("removing pid record {}: {e}", path.display());
        }
    }
    if let Some(scope) = traces.scope {
        for (unit, grace) in traces.graces {
            events.extend(stop_cgroup(scope, unit, *grace).await);
        }
    }
    events.extend(containers::remove_leftovers(traces.engines, traces.instance).await);
    events
}

/// Stops the orphan a record names, if it is still that process.
async fn stop_recorded(traces: &Traces<'_>, record: &PidRecord) -> Option<NewEvent> {
    let unit = record.name.as_str();
    let stat = read_stat(traces.root, record.pid).ok();
    match pidfile::judge(record, stat.as_ref()) {
        Liveness::Gone => {
            tracing::info!("{unit}: recorded pid {} is gone", record.pid);
            None
        }
        Liveness::Reused { found_ticks } => Some(
            NewEvent::new(
                OrphanRecordStale {
                    pid: Some(record.pid),
                    reason: "pid reused".to_string(),
                    recorded_start_ticks: Some(record.start_ticks),
                    found_start_ticks: Some(found_ticks),
                    found: "pid_record".to_string(),
                },
                Some(unit),
            )
            .severity(Severity::Info)
            .message(format!(
                "pid {} now names another process (started at tick {found_ticks}, \
                 recorded {:?}): left alone",
                record.pid, record.start_ticks
            )),
        ),
        Liveness::Unverifiable => Some(
            NewEvent::new(
                OrphanRecordStale {
                    pid: Some(record.pid),
                    reason: "no start time".to_string(),
                    found: "pid_record".to_string(),
                    ..OrphanRecordStale::default()
                },
                Some(unit),
            )
            .message(format!(
                "pid {} has no recorded start time and cannot be told from a stranger: \
                 left alone (its cgroup, if any, is still checked)",
                record.pid
            )),
        ),
        Liveness::Alive => {
            let ticks = record.start_ticks.unwrap_or(0);
            let up = uptime_of(traces.root, ticks);
            let grace = grace_for(traces.graces, unit);
            let ended = stop_group(traces.root, record, grace).await;
            let mut cgroup_error = None;
            if let Some(dir) = &record.cgroup {
                let cg = ChildCgroup {
                    version: traces
                        .scope
                        .map_or(crate::sources::CgroupVersion::V1, |s| s.version),
                    path: dir.clone(),
                };
                // Still populated after the wait, or not removable: said in the event.
                cgroup_error = cg
                    .kill_and_remove(KILL_WAIT)
                    .await
                    .err()
                    .map(|e| e.to_string());
            }
            Some(
                NewEvent::new(
                    OrphanStopped {
                        pid: Some(record.pid),
                        pgid: Some(record.pgid),
                        start_ticks: Some(ticks),
                        uptime_ms: Some(up.as_millis() as u64),
                        grace_ms: grace.as_millis() as u64,
                        found: "pid_record".to_string(),
                        ended: ended.to_string(),
                        cgroup_error: Some(cgroup_error),
                        ..OrphanStopped::default()
                    },
                    Some(unit),
                )
                .message(format!(
                    "pid {} (group {}) of a previous agent, up {:.1}s: {ended}",
                    record.pid,
                    record.pgid,
                    up.as_secs_f64()
                )),
            )
        }
    }
}

/// SIGTERM to the group, the grace, SIGKILL; returns how it ended.
async fn stop_group(root: &Root, record: &PidRecord, grace: Duration) -> &'static str {
    let group = Pid::from_raw(record.pgid);
    let _ = killpg(group, Signal::SIGTERM); // ESRCH: it ended meanwhile
    if wait_gone(root, record, grace).await {
        return "terminated";
    }
    let _ = killpg(group, Signal::SIGKILL);
    if wait_gone(root, record, KILL_WAIT).await {
        "killed"
    } else {
        "still_alive"
    }
}

/// Polls until the recorded process is gone (or only a zombie), up to `limit`.
async fn wait_gone(root: &Root, record: &PidRecord, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let stat = read_stat(root, record.pid).ok();
        if pidfile::judge(record, stat.as_ref()) != Liveness::Alive {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Stops whatever is still in `<scope>/<unit>`, then removes the cgroup (the runner could not
/// create it again otherwise).
async fn stop_cgroup(scope: &CgroupScope, unit: &str, grace: Duration) -> Option<NewEvent> {
    let path = scope.child_path(unit).ok()?;
    if !path.is_dir() {
        return None;
    }
    let cg = ChildCgroup {
        version: scope.version,
        path,
    };
    let pids = cg.pids().unwrap_or_default();
    if pids.is_empty() {
        let _ = cg.kill_and_remove(KILL_WAIT).await;
        return None;
    }
    for pid in &pids {
        let _ = nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && cg.pids().is_ok_and(|p| !p.is_empty()) {
        tokio::time::sleep(POLL).await;
    }
    let terminated = cg.pids().is_ok_and(|p| p.is_empty());
    let removed = cg.kill_and_remove(KILL_WAIT).await;
    let ended = match (terminated, &removed) {
        (true, _) => "terminated",
        (false, Ok(())) => "killed",
        (false, Err(_)) => "still_alive",
    };
    Some(
        NewEvent::new(
            OrphanStopped {
                pid: pids.first().copied(),
                pids: Some(pids.len()),
                cgroup: Some(cg.path.display().to_string()),
                grace_ms: grace.as_millis() as u64,
                found: "cgroup".to_string(),
                ended: ended.to_string(),
                ..OrphanStopped::default()
            },
            Some(unit),
        )
        .message(format!(
            "{} process(es) of a previous agent in cgroup {}: {ended}",
            pids.len(),
            cg.path.display()
        )),
    )
}

fn grace_for(graces: &BTreeMap<String, Duration>, unit: &str) -> Duration {
    graces.get(unit).copied().unwrap_or(DEFAULT_GRACE)
}

/// `USER_HZ`, the unit of `/proc/PID/stat` times: 100 on every Linux ABI jetgate runs on
/// (arm64, x86-64); it is fixed by the ABI, unlike the kernel's internal `HZ`.
const USER_HZ: u64 = 100;

/// How long the process has run, from `/proc/uptime` and its start ticks.
fn uptime_of(root: &Root, start_ticks: u64) -> Duration {
    root.read("/proc/uptime")
        .ok()
        .and_then(|t| pidfile::parse_uptime(&t))
        .map_or(Duration::ZERO, |up| {
            pidfile::uptime(start_ticks, up, USER_HZ)
        })
}

/// The pid record directory for a store at `store`: `pids/` beside the database.
pub fn records_dir(store: &Path) -> std::path::PathBuf {
    store
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join("pids")
}

/// The engines of every configured container unit.
pub fn unit_engines(config: &crate::config::Config) -> BTreeSet<Engine> {
    config
        .models
        .iter()
        .map(|m| &m.program)
        .chain(config.services.iter().map(|s| &s.program))
        .filter_map(|p| p.container.as_ref().map(|c| c.engine))
        .collect()
}

/// Every configured model's and service's stop grace.
pub fn unit_graces(config: &crate::config::Config) -> BTreeMap<String, Duration> {
    config
        .models
        .iter()
        .map(|m| &m.program)
        .chain(config.services.iter().map(|s| &s.program))
        .map(|p| (p.name.clone(), p.stop_grace.0))
        .collect()
}
