//! Refaults of file pages: pages the kernel evicted and had to read back soon after, the mark
//! of a working set that no longer fits (thrashing), counted since boot.
//!
//! Owns the pure parser [`parse_refaults`] and the reader [`RefaultSource`], which knows where
//! the scope's counter lives:
//!
//! ```text
//! scope "system"          /proc/vmstat          workingset_refault_file 7180045   (≥ 5.9)
//!                                               workingset_refault 7180045        (before)
//! scope cgroup, v1        DIR/memory.stat       total_workingset_refault_file ... (≥ 5.9)
//! scope cgroup, v2        DIR/memory.stat       workingset_refault_file ...       (≥ 5.9)
//!                                               workingset_refault ...            (5.x before)
//! ```
//!
//! The figures are counts of pages; the reader multiplies by the page size. A kernel without
//! the counter (v1 before 5.x, L4T R32's 4.9 cgroups) gives `None`: unsupported, not failed.

use std::path::PathBuf;

use super::cgroup::{Cgroup, CgroupVersion};
use super::root::Root;
use crate::units::Bytes;

/// The keys that hold the file refault count, newest name first.
fn keys(source: &RefaultSource) -> &'static [&'static str] {
    match source.version {
        Some(CgroupVersion::V1) => &["total_workingset_refault_file", "total_workingset_refault"],
        _ => &["workingset_refault_file", "workingset_refault"],
    }
}

/// The first of `keys` found in `key value` lines, in key order.
pub fn parse_refaults(text: &str, keys: &[&str]) -> Option<u64> {
    let mut found: Vec<Option<u64>> = vec![None; keys.len()];
    for line in text.lines() {
        let mut parts = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some(i) = keys.iter().position(|k| *k == key) {
            found[i] = value.parse().ok();
        }
    }
    found.into_iter().flatten().next()
}

/// Where the scope's file refault counter is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefaultSource {
    path: PathBuf,
    version: Option<CgroupVersion>,
    page_size: u64,
}

impl RefaultSource {
    /// The whole device: `/proc/vmstat`.
    pub fn system(page_size: u64) -> RefaultSource {
        RefaultSource {
            path: PathBuf::from("/proc/vmstat"),
            version: None,
            page_size,
        }
    }

    /// A cgroup scope: its `memory.stat` (hierarchical on v1).
    pub fn cgroup(group: &Cgroup, page_size: u64) -> RefaultSource {
        RefaultSource {
            path: group.dir.join("memory.stat"),
            version: Some(group.version),
            page_size,
        }
    }

    /// File pages refaulted since boot (or since the group was made), in bytes; `None` where
    /// the kernel has no such counter or the file cannot be read.
    pub fn read(&self, root: &Root, buf: &mut String) -> Option<Bytes> {
        root.read_into(&self.path, buf).ok()?;
        parse_refaults(buf, keys(self)).map(|pages| Bytes(pages.saturating_mul(self.page_size)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: &[&str] = &["workingset_refault_file", "workingset_refault"];

    #[test]
    fn reads_the_newest_counter_name_first_and_falls_back_to_the_old_one() {
        let new = "nr_free_pages 100\nworkingset_refault_anon 0\nworkingset_refault_file 5026\n";
        assert_eq!(parse_refaults(new, SYSTEM), Some(5026));
        let old = "workingset_refault 77\nworkingset_activate 3\n";
        assert_eq!(parse_refaults(old, SYSTEM), Some(77));
        assert_eq!(parse_refaults("nr_free_pages 1\n", SYSTEM), None);
        assert_eq!(
            parse_refaults("workingset_refault_file lots\n", SYSTEM),
            None
        );
        assert_eq!(parse_refaults("", SYSTEM), None);
    }

    #[test]
    fn a_v1_group_reads_its_hierarchical_total() {
        let dir = tempfile::tempdir().unwrap();
        let group = dir.path().join("sys/fs/cgroup/memory/jetgate");
        std::fs::create_dir_all(&group).unwrap();
        std::fs::write(
            group.join("memory.stat"),
            "cache 1\nworkingset_refault_file 5\ntotal_workingset_refault_file 12\n",
        )
        .unwrap();
        let cg = Cgroup {
            version: CgroupVersion::V1,
            dir: PathBuf::from("/sys/fs/cgroup/memory/jetgate"),
        };
        let root = Root::new(dir.path());
        let mut buf = String::new();
        assert_eq!(
            RefaultSource::cgroup(&cg, 4096).read(&root, &mut buf),
            Some(Bytes(12 * 4096))
        );
        // A kernel without the counter (4.9) is unsupported, never zero.
        std::fs::write(group.join("memory.stat"), "cache 1\ntotal_cache 2\n").unwrap();
        assert_eq!(RefaultSource::cgroup(&cg, 4096).read(&root, &mut buf), None);
        assert_eq!(
            RefaultSource::system(4096).read(&root, &mut buf),
            None,
            "no vmstat"
        );
    }

    #[test]
    fn this_kernel_counts_refaults_system_wide() {
        let mut buf = String::new();
        // Every kernel since 3.15 has the counter (every JetPack's, this machine's).
        assert!(RefaultSource::system(4096)
            .read(&Root::host(), &mut buf)
            .is_some());
    }
}
