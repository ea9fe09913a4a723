//! Pid record files: one per running unit in the state directory, so an agent that comes back
//! after a crash can find the children its previous instance left behind.
//!
//! Owns `<dir>/<unit>.pid`: written atomically (temporary file, fsync, rename) right after a
//! spawn, removed once the unit's tree is gone and reaped. The text is `key=value` lines; the
//! start time (`/proc/PID/stat` field 22, clock ticks after boot) tells a live orphan from an
//! unrelated process that reused its pid.
//!
//! ```text
//! pid=4242
//! pgid=4242
//! start_ticks=183377
//! cgroup=/sys/fs/cgroup/memory/jetgate/models/llama
//! ```
//!
//! Parsing and the liveness verdict are pure ([`parse`], [`judge`], [`uptime`]); the rest is
//! small file I/O.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::procstat::ProcStat;
use super::spawn::PidRecord;

/// The file suffix of a record.
pub const SUFFIX: &str = ".pid";

/// `<dir>/<unit>.pid`.
pub fn path_for(dir: &Path, unit: &str) -> PathBuf {
    dir.join(format!("{unit}{SUFFIX}"))
}

/// The record's text.
pub fn to_text(record: &PidRecord) -> String {
    let mut out = format!("pid={}\npgid={}\n", record.pid, record.pgid);
    if let Some(t) = record.start_ticks {
        out.push_str(&format!("start_ticks={t}\n"));
    }
    if let Some(cg) = &record.cgroup {
        out.push_str(&format!("cgroup={}\n", cg.display()));
    }
    out
}

/// Parses a record for unit `name`. Unknown keys are ignored (a newer agent may add some);
/// `pid` and `pgid` are required and must be positive.
pub fn parse(name: &str, text: &str) -> Result<PidRecord, &'static str> {
    let (mut pid, mut pgid, mut start_ticks, mut cgroup) = (None, None, None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "pid" => {
                pid = Some(
                    value
                        .trim()
                        .parse::<i32>()
                        .map_err(|_| "pid is not a number")?,
                )
            }
            "pgid" => {
                pgid = Some(
                    value
                        .trim()
                        .parse::<i32>()
                        .map_err(|_| "pgid is not a number")?,
                )
            }
            "start_ticks" => {
                start_ticks = Some(
                    value
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| "start_ticks is not a number")?,
                )
            }
            "cgroup" if !value.trim().is_empty() => cgroup = Some(PathBuf::from(value.trim())),
            _ => {}
        }
    }
    let pid = pid.ok_or("no pid")?;
    let pgid = pgid.ok_or("no pgid")?;
    if pid <= 1 || pgid <= 1 {
        return Err("pid and pgid must be above 1");
    }
    Ok(PidRecord {
        name: name.to_string(),
        pid,
        pgid,
        start_ticks,
        cgroup,
    })
}

/// What became of a recorded process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// No such process, or only its zombie: nothing to stop.
    Gone,
    /// The pid now names another process (different start time or group): never signal it.
    Reused { found_ticks: u64 },
    /// The record has no start time, so the process cannot be told from a stranger.
    Unverifiable,
    /// Still running: the same process the previous agent started.
    Alive,
}

/// Judges a record against the process's current `/proc/PID/stat` (`None`: no such process).
pub fn judge(record: &PidRecord, stat: Option<&ProcStat>) -> Liveness {
    let Some(stat) = stat else {
        return Liveness::Gone;
    };
    if stat.state == 'Z' || stat.state == 'X' {
        return Liveness::Gone;
    }
    let Some(ticks) = record.start_ticks else {
        return Liveness::Unverifiable;
    };
    if stat.start_ticks != ticks || stat.pgrp != record.pgid {
        return Liveness::Reused {
            found_ticks: stat.start_ticks,
        };
    }
    Liveness::Alive
}

/// How long a process has run: `/proc/uptime` seconds against its start ticks at `hz`.
pub fn uptime(start_ticks: u64, boot_uptime_secs: f64, hz: u64) -> Duration {
    if hz == 0 || !boot_uptime_secs.is_finite() || boot_uptime_secs < 0.0 {
        return Duration::ZERO;
    }
    let started = Duration::from_secs_f64(start_ticks as f64 / hz as f64);
    Duration::from_secs_f64(boot_uptime_secs).saturating_sub(started)
}

/// Parses the first figure of `/proc/uptime` (seconds since boot).
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_ascii_whitespace().next()?.parse().ok()
}

/// Writes the record atomically: a temporary file beside it, fsynced, then renamed over.
pub fn write(dir: &Path, record: &PidRecord) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = path_for(dir, &record.name);
    let tmp = dir.join(format!(".{}{SUFFIX}.tmp", record.name));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(to_text(record).as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)
}

/// Removes `<dir>/<unit>.pid` if it still names `pid` (a newer spawn's record is left alone).
pub fn remove(dir: &Path, unit: &str, pid: i32) {
    let path = path_for(dir, unit);
    let ours = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| parse(unit, &t).ok())
        .is_some_and(|r| r.pid == pid);
    if ours {
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!("removing pid record {}: {e}", path.display());
        }
    }
}

/// Every record file in `dir`: the unit name, the path, and the parsed record or why not.
pub fn read_all(dir: &Path) -> Vec<(String, PathBuf, Result<PidRecord, String>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(unit) = file.strip_suffix(SUFFIX).filter(|u| !u.starts_with('.')) else {
            continue;
        };
        let record = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse(unit, &t).map_err(str::to_string));
        out.push((unit.to_string(), path.clone(), record));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests;
