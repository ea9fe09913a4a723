//! The agent's own CPU time and resident size, for `jetgate_agent_cpu_seconds_total` and
//! `jetgate_agent_resident_memory_bytes`: `/proc/self/stat` (utime + stime, in clock ticks)
//! and `/proc/self/statm` (resident pages), read when a scrape or the textfile asks. Always
//! the host's `/proc`: the agent's own process is never in a captured tree (`--root`).
//!
//! ```text
//! /proc/self/stat:  812 (jetgate) S 1 812 812 0 -1 4194560 2711 0 0 0 153 87 0 0 20 0 9 ...
//!                                                   utime ─┘   └─ stime  (fields 14 and 15)
//! /proc/self/statm: 5412 1534 1103 1291 0 2077 0      (resident: the second field, pages)
//! ```

use crate::sources::process::page_size;
use crate::sources::Root;

/// The agent process's figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessFigures {
    /// User plus system CPU time.
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
}

/// Clock ticks (utime + stime) of a `/proc/PID/stat` line; `None` when it is not one. The
/// command name may hold spaces and parentheses: fields are counted after the last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_ascii_whitespace();
    // After ")": state is field 3, so utime (14) and stime (15) are the 12th and 13th.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Resident pages of a `/proc/PID/statm` line.
pub fn parse_statm_resident(statm: &str) -> Option<u64> {
    statm.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// Reads the agent's figures now; `None` where `/proc` cannot be read.
pub fn read() -> Option<ProcessFigures> {
    let root = Root::host();
    let ticks = parse_stat_ticks(&root.read("/proc/self/stat").ok()?)?;
    let pages = parse_statm_resident(&root.read("/proc/self/statm").ok()?)?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&hz| hz > 0)? as f64;
    Some(ProcessFigures {
        cpu_seconds: ticks as f64 / hz,
        resident_bytes: pages.saturating_mul(page_size()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_fields_after_the_last_parenthesis_of_the_name() {
        let stat = "812 (a) b (c) S 1 812 812 0 -1 4194560 2711 0 0 0 153 87 0 0 20 0 9 0";
        assert_eq!(parse_stat_ticks(stat), Some(240));
        assert_eq!(parse_stat_ticks("812 (jetgate) S 1"), None);
        assert_eq!(parse_stat_ticks("garbage"), None);
        assert_eq!(
            parse_statm_resident("5412 1534 1103 1291 0 2077 0\n"),
            Some(1534)
        );
        assert_eq!(parse_statm_resident("5412"), None);
    }

    #[test]
    fn reads_this_process() {
        let p = read().expect("/proc/self is readable");
        assert!(p.resident_bytes > 0, "{p:?}");
        assert!(p.cpu_seconds >= 0.0, "{p:?}");
    }
}
