//! Pure parsers for the cgroup memory files and for the two files that locate a cgroup.
//!
//! Memory files (v1 under `/sys/fs/cgroup/memory/...`, v2 under `/sys/fs/cgroup/...`):
//!
//! ```text
//! memory.limit_in_bytes   9223372036854771712          (v1; PAGE_COUNTER_MAX = unlimited)
//! memory.max              max | 4294967296              (v2)
//! memory.stat             total_inactive_file 5681152   (v1: `key value` lines; v2 `inactive_file`)
//! memory.oom_control      oom_kill_disable 0\nunder_oom 0\noom_kill 0      (v1)
//! memory.events           low 0\nhigh 0\nmax 0\noom 0\noom_kill 0          (v2)
//! ```
//!
//! Locating (`/proc/self/cgroup`, `/proc/self/mountinfo`):
//!
//! ```text
//! 4:memory:/process_api/14abe11be728f029494d3dc2a48d5913      (v1: id:controllers:path)
//! 0::/system.slice/jetgate.service                            (v2)
//! 35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
//! 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
//! ```

use super::super::error::{parse_u64, ParseError};
use crate::units::Bytes;

/// v1 prints `PAGE_COUNTER_MAX` (`LONG_MAX` rounded down to the page size) for "no limit":
/// `0x7FFF_FFFF_FFFF_F000` with 4 KiB pages, `...F_0000` with 64 KiB pages. Anything at or
/// above the 64 KiB-page form is "unlimited".
pub const V1_UNLIMITED_FLOOR: u64 = 0x7FFF_FFFF_FFFF_0000;

/// v1 `memory.limit_in_bytes`: `None` when unlimited.
pub fn parse_v1_limit(text: &str) -> Result<Option<Bytes>, ParseError> {
    let v = parse_u64("memory.limit_in_bytes", text)?;
    Ok((v < V1_UNLIMITED_FLOOR).then_some(Bytes(v)))
}

/// v2 `memory.max` (or `memory.high`): `None` for `max`.
pub fn parse_v2_max(text: &str) -> Result<Option<Bytes>, ParseError> {
    match text.trim() {
        "max" => Ok(None),
        t => parse_u64("memory.max", t).map(|v| Some(Bytes(v))),
    }
}

/// A byte count alone in a file (`memory.usage_in_bytes`, `memory.current`).
pub fn parse_bytes(field: &'static str, text: &str) -> Result<Bytes, ParseError> {
    parse_u64(field, text).map(Bytes)
}

/// Calls `f(key, value)` for each `key value` line of a flat keyed file (`memory.stat`,
/// `memory.events`, `memory.oom_control`). Lines that do not have that shape are skipped.
pub fn for_each_keyed(text: &str, mut f: impl FnMut(&str, u64)) {
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        if let (Some(k), Some(v), None) = (words.next(), words.next(), words.next()) {
            if let Ok(v) = v.parse::<u64>() {
                f(k, v);
            }
        }
    }
}

/// File-backed page figures from `memory.stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFigures {
    pub file: Option<Bytes>,
    pub inactive_file: Option<Bytes>,
}

/// v1 `memory.stat`: hierarchical `total_cache` / `total_inactive_file`, falling back to the
/// local `cache` / `inactive_file` where the `total_` lines are missing.
pub fn parse_v1_stat(text: &str) -> StatFigures {
    let (mut file, mut inactive, mut local_file, mut local_inactive) = (None, None, None, None);
    for_each_keyed(text, |k, v| match k {
        "total_cache" => file = Some(Bytes(v)),
        "total_inactive_file" => inactive = Some(Bytes(v)),
        "cache" => local_file = Some(Bytes(v)),
        "inactive_file" => local_inactive = Some(Bytes(v)),
        _ => {}
    });
    StatFigures {
        file: file.or(local_file),
        inactive_file: inactive.or(local_inactive),
    }
}

/// v2 `memory.stat`: `file` and `inactive_file` (already hierarchical).
pub fn parse_v2_stat(text: &str) -> StatFigures {
    let mut s = StatFigures::default();
    for_each_keyed(text, |k, v| match k {
        "file" => s.file = Some(Bytes(v)),
        "inactive_file" => s.inactive_file = Some(Bytes(v)),
        _ => {}
    });
    s
}

/// OOM and limit-hit counters; which ones exist depends on the version and kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct OomCounters {
    /// v1 `memory.oom_control` `oom_kill` (kernels ≥ 4.13), v2 `memory.events` `oom_kill`.
    pub oom_kill: Option<u64>,
    /// v1 `under_oom` (the group is stalled in OOM right now).
    pub under_oom: Option<bool>,
    /// v1 `memory.failcnt`: times usage hit the limit.
    pub failcnt: Option<u64>,
    /// v2 `oom`: times the OOM killer was invoked for this group.
    pub oom: Option<u64>,
    /// v2 `max`: times usage was about to go over `memory.max`.
    pub max: Option<u64>,
    /// v2 `high`: times usage went over `memory.high` and was throttled.
    pub high: Option<u64>,
}

/// v1 `memory.oom_control` into the counters (leaves `failcnt` alone).
pub fn parse_v1_oom_control(text: &str, c: &mut OomCounters) {
    for_each_keyed(text, |k, v| match k {
        "oom_kill" => c.oom_kill = Some(v),
        "under_oom" => c.under_oom = Some(v != 0),
        _ => {}
    });
}

/// v2 `memory.events`.
pub fn parse_v2_events(text: &str) -> OomCounters {
    let mut c = OomCounters::default();
    for_each_keyed(text, |k, v| match k {
        "oom" => c.oom = Some(v),
        "oom_kill" => c.oom_kill = Some(v),
        "max" => c.max = Some(v),
        "high" => c.high = Some(v),
        _ => {}
    });
    c
}

/// One line of `/proc/PID/cgroup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLine<'a> {
    pub hierarchy: u32,
    /// Comma-separated controllers (`memory`, `cpu,cpuacct`, `name=systemd`); empty for v2.
    pub controllers: &'a str,
    pub path: &'a str,
}

impl CgroupLine<'_> {
    pub fn has_controller(&self, name: &str) -> bool {
        self.controllers.split(',').any(|c| c == name)
    }

    /// The v2 line: hierarchy 0 with no controllers.
    pub fn is_unified(&self) -> bool {
        self.hierarchy == 0 && self.controllers.is_empty()
    }
}

/// Parses `/proc/PID/cgroup`. The path may itself contain `:`, so only the first two split.
pub fn parse_proc_cgroup(text: &str) -> Result<Vec<CgroupLine<'_>>, ParseError> {
    let mut lines = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ParseError::Malformed(format!("cgroup line {line:.80}")));
        };
        let hierarchy = parse_u64("hierarchy id", id)? as u32;
        lines.push(CgroupLine {
            hierarchy,
            controllers,
            path,
        });
    }
    Ok(lines)
}

/// A cgroup filesystem mount from `/proc/PID/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// The cgroup path of the hierarchy that is mounted here (`/` unless in a namespace).
    pub root: String,
    /// Where it is mounted, octal escapes (`\040`) decoded.
    pub mount_point: String,
    /// `cgroup2` or `cgroup`.
    pub unified: bool,
    /// v1: the super options (`rw,memory`); v2: empty.
    pub super_options: String,
}

impl CgroupMount {
    pub fn has_controller(&self, name: &str) -> bool {
        self.super_options.split(',').any(|o| o == name)
    }
}

/// The cgroup and cgroup2 mounts in `/proc/PID/mountinfo`; other mounts are skipped.
pub fn parse_cgroup_mounts(text: &str) -> Result<Vec<CgroupMount>, ParseError> {
    let mut mounts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (left, right) = line
            .split_once(" - ")
            .ok_or_else(|| ParseError::Malformed(format!("mountinfo line {line:.80}")))?;
        let mut after = right.split_ascii_whitespace();
        let (fstype, _source, super_options) = (after.next(), after.next(), after.next());
        let unified = match fstype {
            Some("cgroup2") => true,
            Some("cgroup") => false,
            _ => continue,
        };
        let mut before = left.split_ascii_whitespace();
        let (Some(root), Some(mount_point)) = (before.nth(3), before.next()) else {
            return Err(ParseError::Malformed(format!("mountinfo line {line:.80}")));
        };
        mounts.push(CgroupMount {
            root: unescape_octal(root),
            mount_point: unescape_octal(mount_point),
            unified,
            super_options: super_options.unwrap_or("").to_string(),
        });
    }
    Ok(mounts)
}

/// mountinfo writes space, tab, newline and backslash as `\040`, `\011`, `\012`, `\134`.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn v1_page_counter_max_means_unlimited_for_4k_and_64k_pages() {
        assert_eq!(parse_v1_limit("9223372036854771712\n"), Ok(None));
        assert_eq!(parse_v1_limit("9223372036854710272\n"), Ok(None));
        assert_eq!(parse_v1_limit("2147483648\n"), Ok(Some(Bytes::from_gib(2))));
        assert!(parse_v1_limit("-1").is_err());
    }

    #[test]
    fn v2_max_means_unlimited() {
        assert_eq!(parse_v2_max("max\n"), Ok(None));
        assert_eq!(parse_v2_max("536870912\n"), Ok(Some(Bytes::from_mib(512))));
        assert!(parse_v2_max("lots").is_err());
    }

    #[test]
    fn v1_stat_prefers_hierarchical_totals_and_falls_back_to_local_figures() {
        let s = parse_v1_stat(
            "cache 100\ninactive_file 40\ntotal_cache 300\ntotal_inactive_file 120\n",
        );
        assert_eq!(s.file, Some(Bytes(300)));
        assert_eq!(s.inactive_file, Some(Bytes(120)));
        let s = parse_v1_stat("cache 100\ninactive_file 40\n");
        assert_eq!(
            (s.file, s.inactive_file),
            (Some(Bytes(100)), Some(Bytes(40)))
        );
    }

    #[test]
    fn v2_stat_and_events_are_read_by_key() {
        let s = parse_v2_stat(
            "anon 4096\nfile 81920\nkernel 0\ninactive_file 40960\nactive_file 40960\n",
        );
        assert_eq!(
            (s.file, s.inactive_file),
            (Some(Bytes(81920)), Some(Bytes(40960)))
        );
        let e = parse_v2_events("low 0\nhigh 12\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n");
        assert_eq!(
            (e.high, e.max, e.oom, e.oom_kill),
            (Some(12), Some(3), Some(2), Some(1))
        );
        assert_eq!(e.failcnt, None);
    }

    #[test]
    fn v1_oom_control_reads_under_oom_and_oom_kill() {
        let mut c = OomCounters::default();
        parse_v1_oom_control("oom_kill_disable 0\nunder_oom 1\noom_kill 4\n", &mut c);
        assert_eq!((c.under_oom, c.oom_kill), (Some(true), Some(4)));
        // Kernels before 4.13 have no oom_kill line.
        let mut c = OomCounters::default();
        parse_v1_oom_control("oom_kill_disable 0\nunder_oom 0\n", &mut c);
        assert_eq!((c.under_oom, c.oom_kill), (Some(false), None));
    }

    #[test]
    fn proc_cgroup_lines_keep_colons_inside_the_path() {
        let lines = parse_proc_cgroup(
            "4:memory:/process_api/14abe\n1:cpu,cpuacct:/\n0::/system.slice/a:b.service\n",
        )
        .unwrap();
        assert!(lines[0].has_controller("memory"));
        assert!(lines[1].has_controller("cpuacct"));
        assert!(lines[2].is_unified());
        assert_eq!(lines[2].path, "/system.slice/a:b.service");
        assert!(parse_proc_cgroup("garbage\n").is_err());
    }

    #[test]
    fn mountinfo_yields_cgroup_mounts_with_escapes_decoded() {
        let text = "\
23 1 8:1 / / rw,relatime - ext4 /dev/root rw
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
50 31 0:40 /kube/pod1 /mnt/my\\040cg rw - cgroup2 cgroup2 rw,nsdelegate
";
        let m = parse_cgroup_mounts(text).unwrap();
        assert_eq!(m.len(), 3);
        assert!(!m[0].unified && m[0].has_controller("memory"));
        assert_eq!(m[0].mount_point, "/sys/fs/cgroup/memory");
        assert!(m[1].unified);
        assert_eq!(m[2].mount_point, "/mnt/my cg");
        assert_eq!(m[2].root, "/kube/pod1");
    }

    proptest! {
        #[test]
        fn locating_parsers_never_panic_on_arbitrary_text(s in "(?s).{0,300}") {
            let _ = parse_proc_cgroup(&s);
            let _ = parse_cgroup_mounts(&s);
            let _ = parse_v1_limit(&s);
            let _ = parse_v2_max(&s);
            let _ = parse_v1_stat(&s);
            let _ = parse_v2_events(&s);
        }

        #[test]
        fn unescaping_never_panics(s in "[\\\\0-9a-z ]{0,20}") {
            let _ = unescape_octal(&s);
        }
    }
}
