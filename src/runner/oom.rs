//! Kernel OOM kills in a child cgroup: the counters the kernel keeps, read at spawn and again
//! once the child's leader has exited, and the kernel's figures for the event that names them.
//!
//! | hierarchy | kill counter                                   | limit / peak / usage / limit hits                                                |
//! |-----------|------------------------------------------------|----------------------------------------------------------------------------------|
//! | v1        | `oom_kill N` in `memory.oom_control` (4.13+)   | `memory.limit_in_bytes`, `memory.max_usage_in_bytes`, `memory.usage_in_bytes`, `memory.failcnt` |
//! | v2        | `oom_kill N` in `memory.events`                | `memory.max`, `memory.peak` (5.19+), `memory.current`, `max N` in `memory.events` |
//!
//! ```text
//! memory.oom_control (v1)        memory.events (v2)
//! oom_kill_disable 0             low 0
//! under_oom 0                    high 0
//! oom_kill 1                     max 431
//!                                oom 1
//!                                oom_kill 1
//! ```
//!
//! Parsing (the sampler's parsers, [`crate::sources::cgroup::parse`]) and the decision
//! ([`kills_since`]) are pure; [`OomProbe`] does the reads. A kernel
//! that keeps no counter (v1 before 4.13) gives `None` at spawn: the runner then logs that an
//! OOM kill cannot be told from any other SIGKILL in that cgroup.

use std::path::Path;

use super::cgroup::ChildCgroup;
use crate::sources::cgroup::parse::{
    parse_bytes, parse_v1_limit, parse_v1_oom_control, parse_v2_events, parse_v2_max,
};
use crate::sources::cgroup::OomCounters;
use crate::sources::CgroupVersion;
use crate::units::Bytes;

/// What the kernel says about a child cgroup in which its OOM killer acted since spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OomKill {
    /// OOM kills in the cgroup since the child was spawned (at least 1).
    pub kills: u64,
    /// The kernel limit in force; `None` when unlimited or unreadable.
    pub limit: Option<Bytes>,
    /// The highest usage the kernel charged (`memory.max_usage_in_bytes`, `memory.peak`).
    pub peak: Option<Bytes>,
    /// Usage when read, after the leader's exit (`memory.usage_in_bytes`, `memory.current`).
    pub usage: Option<Bytes>,
    /// Times a charge hit the limit (`memory.failcnt`, `max` of `memory.events`).
    pub limit_hits: Option<u64>,
}

/// The kill counter of one reading of the counter file (`memory.oom_control` on v1,
/// `memory.events` on v2), through the sampler's parsers; `None` where the kernel keeps none.
pub fn parse_kills(version: CgroupVersion, text: &str) -> Option<u64> {
    counters(version, text).oom_kill
}

fn counters(version: CgroupVersion, text: &str) -> OomCounters {
    match version {
        CgroupVersion::V1 => {
            let mut c = OomCounters::default();
            parse_v1_oom_control(text, &mut c);
            c
        }
        CgroupVersion::V2 => parse_v2_events(text),
    }
}

/// A limit file: `None` when unlimited (`max`, v1's page-counter maximum) or unreadable.
pub fn parse_limit(version: CgroupVersion, text: &str) -> Option<Bytes> {
    match version {
        CgroupVersion::V1 => parse_v1_limit(text).ok().flatten(),
        CgroupVersion::V2 => parse_v2_max(text).ok().flatten(),
    }
}

/// A usage file (`memory.usage_in_bytes`, `memory.current`, `memory.peak`, ...): one number.
fn parse_usage(text: &str) -> Option<Bytes> {
    parse_bytes("usage", text).ok()
}

/// OOM kills between the two readings: `Some(n)` with n ≥ 1 when the kernel killed in the
/// cgroup since spawn; `None` when it did not, or when either count is unknown (no counter on
/// this kernel, or the file could not be read).
pub fn kills_since(at_spawn: Option<u64>, now: Option<u64>) -> Option<u64> {
    let killed = now?.checked_sub(at_spawn?)?;
    (killed > 0).then_some(killed)
}

/// The files [`OomProbe`] reads, by hierarchy.
struct Files {
    counter: &'static str,
    limit: &'static str,
    peak: &'static str,
    usage: &'static str,
}

fn files(version: CgroupVersion) -> Files {
    match version {
        CgroupVersion::V1 => Files {
            counter: "memory.oom_control",
            limit: "memory.limit_in_bytes",
            peak: "memory.max_usage_in_bytes",
            usage: "memory.usage_in_bytes",
        },
        CgroupVersion::V2 => Files {
            counter: "memory.events",
            limit: "memory.max",
            peak: "memory.peak",
            usage: "memory.current",
        },
    }
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// Reads one child cgroup's OOM counter and, after an exit, its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OomProbe {
    cgroup: ChildCgroup,
    /// The kill counter when the child was spawned; `None` where the kernel keeps none.
    at_spawn: Option<u64>,
}

impl OomProbe {
    /// Takes the counter now (right after the cgroup was created, before the child runs).
    pub fn at_spawn(cgroup: &ChildCgroup) -> OomProbe {
        let probe = OomProbe {
            cgroup: cgroup.clone(),
            at_spawn: None,
        };
        OomProbe {
            at_spawn: probe.kills(),
            ..probe
        }
    }

    /// Whether this kernel counts OOM kills in the cgroup.
    pub fn counts(&self) -> bool {
        self.at_spawn.is_some()
    }

    fn kills(&self) -> Option<u64> {
        let f = files(self.cgroup.version);
        read(&self.cgroup.path, f.counter).and_then(|t| parse_kills(self.cgroup.version, &t))
    }

    /// After the leader's exit, before the cgroup is emptied and removed: the kernel's figures
    /// when it OOM-killed in the cgroup since spawn, else `None`.
    pub fn after_exit(&self) -> Option<OomKill> {
        let kills = kills_since(self.at_spawn, self.kills())?;
        let version = self.cgroup.version;
        let f = files(version);
        let dir = &self.cgroup.path;
        let limit_hits = match version {
            CgroupVersion::V1 => read(dir, "memory.failcnt").and_then(|t| t.trim().parse().ok()),
            CgroupVersion::V2 => read(dir, f.counter).and_then(|t| counters(version, &t).max),
        };
        Some(OomKill {
            kills,
            limit: read(dir, f.limit).and_then(|t| parse_limit(version, &t)),
            peak: read(dir, f.peak).and_then(|t| parse_usage(&t)),
            usage: read(dir, f.usage).and_then(|t| parse_usage(&t)),
            limit_hits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The v1 text as a 5.10+ kernel prints `memory.oom_control` (4.13 added `oom_kill`).
    const V1_OOM_CONTROL: &str = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
    // v1 before 4.13: no counter.
    const V1_OOM_CONTROL_OLD: &str = "oom_kill_disable 0\nunder_oom 0\n";
    // v2 `memory.events` (5.x layout, `oom_group_kill` from 5.17).
    const V2_EVENTS: &str = "low 0\nhigh 0\nmax 431\noom 1\noom_kill 1\noom_group_kill 0\n";

    #[test]
    fn the_oom_kill_counter_reads_from_v1_and_v2_text() {
        use CgroupVersion::{V1, V2};
        assert_eq!(parse_kills(V1, V1_OOM_CONTROL), Some(2));
        assert_eq!(parse_kills(V2, V2_EVENTS), Some(1));
        assert_eq!(counters(V2, V2_EVENTS).max, Some(431));
        // `oom_kill_disable` and `oom_group_kill` are other keys, not prefixes of a match.
        assert_eq!(parse_kills(V1, V1_OOM_CONTROL_OLD), None);
        assert_eq!(parse_kills(V2, "oom_group_kill 3\n"), None);
        assert_eq!(parse_kills(V2, "oom_kill x\n"), None);
        assert_eq!(parse_kills(V1, "oom_kill 1 2\n"), None);
        assert_eq!(parse_kills(V1, ""), None);
    }

    #[test]
    fn kills_count_only_when_both_readings_exist_and_the_counter_rose() {
        assert_eq!(kills_since(Some(0), Some(1)), Some(1));
        assert_eq!(kills_since(Some(3), Some(5)), Some(2));
        assert_eq!(kills_since(Some(2), Some(2)), None);
        assert_eq!(kills_since(None, Some(1)), None, "no counter at spawn");
        assert_eq!(kills_since(Some(0), None), None, "unreadable at exit");
        assert_eq!(kills_since(Some(4), Some(1)), None, "a counter never falls");
    }

    #[test]
    fn limits_read_as_bytes_and_unlimited_as_none() {
        use CgroupVersion::{V1, V2};
        assert_eq!(parse_limit(V1, "134217728\n"), Some(Bytes::from_mib(128)));
        assert_eq!(parse_limit(V2, "134217728\n"), Some(Bytes::from_mib(128)));
        assert_eq!(parse_limit(V2, "max\n"), None);
        assert_eq!(parse_limit(V1, "9223372036854771712\n"), None);
        assert_eq!(parse_limit(V1, "garbage"), None);
        assert_eq!(parse_usage("430080\n"), Some(Bytes(430080)));
    }

    fn child(version: CgroupVersion, dir: &Path) -> ChildCgroup {
        ChildCgroup {
            version,
            path: dir.to_path_buf(),
        }
    }

    #[test]
    fn a_v2_cgroup_whose_counter_rose_reports_the_kernel_figures() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(
            p.join("memory.events"),
            "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
        )
        .unwrap();
        let probe = OomProbe::at_spawn(&child(CgroupVersion::V2, p));
        assert!(probe.counts());
        assert_eq!(probe.after_exit(), None, "nothing happened yet");
        std::fs::write(p.join("memory.events"), V2_EVENTS).unwrap();
        std::fs::write(p.join("memory.max"), "134217728\n").unwrap();
        std::fs::write(p.join("memory.peak"), "134217728\n").unwrap();
        std::fs::write(p.join("memory.current"), "0\n").unwrap();
        assert_eq!(
            probe.after_exit(),
            Some(OomKill {
                kills: 1,
                limit: Some(Bytes::from_mib(128)),
                peak: Some(Bytes::from_mib(128)),
                usage: Some(Bytes::ZERO),
                limit_hits: Some(431),
            })
        );
    }

    #[test]
    fn a_v1_kernel_without_the_counter_reports_nothing_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(p.join("memory.oom_control"), V1_OOM_CONTROL_OLD).unwrap();
        let probe = OomProbe::at_spawn(&child(CgroupVersion::V1, p));
        assert!(!probe.counts());
        std::fs::write(p.join("memory.oom_control"), V1_OOM_CONTROL).unwrap();
        assert_eq!(probe.after_exit(), None);
    }
}
