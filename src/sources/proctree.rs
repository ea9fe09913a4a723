//! Whole process trees: a service's memory is its tree's memory.
//!
//! Owns [`TreeTotals`] (the aggregate), the pure helpers [`descendants`] and [`aggregate`],
//! and [`TreeSampler`]. A watched tree's members are found from the root down through
//! `/proc/PID/task/TID/children` ([`super::members`]), reading each member as it is found
//! through kept handles ([`ProcReader::read_member`]): the cost follows the tree, not the
//! system. Where the kernel has no `children` files (`CONFIG_PROC_CHILDREN` off; detected on
//! first use and remembered), or for [`TreeSampler::heaviest`], which needs every process
//! anyway, one pass over `/proc/*/stat` gives parent links and children are found from `ppid`.
//! A caller that already knows the members (a model's cgroup `cgroup.procs`) passes them to
//! [`TreeSampler::sample_members`] and nothing is searched. Buffers (the pid list, the link
//! table, the member samples and their comm strings) are reused.
//!
//! Sums are in [`Bytes`]: RSS (double-counts shared pages), PSS (shares split, the figure to
//! limit on) and its file-backed share, swap; plus fds, threads, process and zombie counts. A member that vanishes
//! between the scan and its read is skipped.
//!
//! "Heaviest trees" ([`TreeSampler::heaviest`], for `jetgate status`): the top-level trees are
//! the processes whose parent is pid 1 (or 0, as in a pid namespace), each with all its
//! descendants. **pid 1 itself is excluded**: its tree is the whole system, and listing it would
//! hide everything below it. Kernel threads (`PF_KTHREAD`: kthreadd and its children) are
//! excluded: they have no user memory. Sorted by PSS, largest first.

use super::error::SourceError;
pub use super::process::TreeDetail;
use super::process::{Children, ProcReader, ProcessSample};
use super::root::Root;
use crate::units::Bytes;

/// Parent link of one process, from the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub pid: u32,
    pub ppid: u32,
    pub kernel_thread: bool,
}

/// Sums over a process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct TreeTotals {
    pub root_pid: u32,
    pub processes: u32,
    pub zombies: u32,
    pub threads: u64,
    pub rss: Bytes,
    pub pss: Bytes,
    /// The file-backed share of `pss` (mmap'd weights and other mapped files), when every
    /// member's kernel figure split it; `None` otherwise.
    pub pss_file: Option<Bytes>,
    pub swap: Bytes,
    /// Sum over the members whose fd directory we could read.
    pub fds: u64,
    /// Members whose `/proc/PID/fd` was not readable, or not read ([`TreeDetail::Memory`]);
    /// not counted in `fds`.
    pub fds_unknown: u32,
    /// Members whose PSS is their RSS (no `smaps_rollup`, or denied).
    pss_from_rss: u32,
}

impl TreeTotals {
    /// Members whose PSS fell back to RSS; non-zero means `pss` is an over-estimate.
    pub fn pss_from_rss(&self) -> u32 {
        self.pss_from_rss
    }
}

/// One top-level tree in the heaviest list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TreeSummary {
    pub comm: String,
    pub totals: TreeTotals,
}

/// Pids of `root` and all its descendants, root first, from links sorted by `ppid`.
pub fn descendants(links_by_ppid: &[Link], root: u32, out: &mut Vec<u32>) {
    out.clear();
    out.push(root);
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        let start = links_by_ppid.partition_point(|l| l.ppid < parent);
        for l in links_by_ppid[start..]
            .iter()
            .take_while(|l| l.ppid == parent)
        {
            // pid 0 is the scheduler, never a real child; guards against a cycle.
            if l.pid != 0 && l.pid != root {
                out.push(l.pid);
            }
        }
        i += 1;
    }
}

/// Sums the members of a tree.
pub fn aggregate(root_pid: u32, members: &[ProcessSample]) -> TreeTotals {
    let mut t = TreeTotals {
        root_pid,
        pss_file: Some(Bytes::ZERO),
        ..TreeTotals::default()
    };
    for p in members {
        t.processes += 1;
        t.zombies += u32::from(p.is_zombie());
        t.threads += u64::from(p.threads);
        t.rss = t.rss + p.rss;
        t.pss = t.pss + p.pss;
        t.pss_file = t.pss_file.zip(p.pss_file).map(|(a, b)| a + b);
        t.swap = t.swap + p.swap;
        match p.fds {
            Some(n) => t.fds += u64::from(n),
            None => t.fds_unknown += 1,
        }
        t.pss_from_rss += u32::from(p.pss_source == super::process::PssSource::Rss);
    }
    t
}

/// Samples process trees, reusing every buffer between calls.
#[derive(Debug)]
pub struct TreeSampler {
    reader: ProcReader,
    pids: Vec<u32>,
    links: Vec<Link>,
    tree: Vec<u32>,
    members: Vec<ProcessSample>,
    len: usize,
    /// False once a kernel without `children` files was seen: members come from the scan.
    children_files: bool,
}

impl TreeSampler {
    pub fn new(root: Root) -> TreeSampler {
        TreeSampler {
            reader: ProcReader::new(root),
            pids: Vec::new(),
            links: Vec::new(),
            tree: Vec::new(),
            members: Vec::new(),
            len: 0,
            children_files: true,
        }
    }

    pub fn reader(&mut self) -> &mut ProcReader {
        &mut self.reader
    }

    /// The members read by the last [`TreeSampler::sample`], root first.
    pub fn members(&self) -> &[ProcessSample] {
        &self.members[..self.len]
    }

    /// One pass over `/proc/*/stat` for parent links, sorted by ppid.
    fn scan(&mut self) -> Result<(), SourceError> {
        self.reader.pids(&mut self.pids)?;
        self.links.clear();
        for i in 0..self.pids.len() {
            let pid = self.pids[i];
            let link = self.reader.with_stat(pid, |s| Link {
                pid: s.pid,
                ppid: s.ppid,
                kernel_thread: s.is_kernel_thread(),
            });
            // A vanished process, or a stat that fails to read or parse, is one process
            // missing from the links, not a failed sample.
            if let Ok(Some(l)) = link {
                self.links.push(l);
            }
        }
        self.links.sort_unstable_by_key(|l| l.ppid);
        Ok(())
    }

    /// Reads every pid in `self.tree` into `self.members[..self.len]`, skipping the vanished;
    /// `member` selects kept handles at `detail` (a watched tree) over fresh full reads.
    fn read_tree(&mut self, member: Option<TreeDetail>) -> Result<(), SourceError> {
        self.len = 0;
        for i in 0..self.tree.len() {
            if self.members.len() == self.len {
                self.members.push(ProcessSample::default());
            }
            let pid = self.tree[i];
            let out = &mut self.members[self.len];
            let found = match member {
                Some(detail) => self.reader.read_member(pid, out, detail)?,
                None => self.reader.read_process(pid, out)?,
            };
            if found {
                self.len += 1;
            }
        }
        Ok(())
    }

    /// Breadth-first from `root_pid` through the `children` files, reading each member as it
    /// is found. `Ok(Children::Unsupported)` when the kernel has no such files.
    fn walk(&mut self, root_pid: u32, detail: TreeDetail) -> Result<Children, SourceError> {
        self.tree.clear();
        self.tree.push(root_pid);
        self.len = 0;
        let mut next = 0;
        while next < self.tree.len() {
            let pid = self.tree[next];
            next += 1;
            if self.members.len() == self.len {
                self.members.push(ProcessSample::default());
            }
            if !self
                .reader
                .read_member(pid, &mut self.members[self.len], detail)?
            {
                continue;
            }
            let threads = self.members[self.len].threads;
            self.len += 1;
            let known = self.tree.len();
            if self.reader.children(pid, threads, &mut self.tree)? == Children::Unsupported {
                return Ok(Children::Unsupported);
            }
            // A child reparented during the walk could be listed twice: keep the first.
            let mut i = known;
            while i < self.tree.len() {
                if self.tree[..i].contains(&self.tree[i]) {
                    self.tree.swap_remove(i);
                } else {
                    i += 1;
                }
            }
        }
        Ok(Children::Listed)
    }

    /// Samples the tree rooted at `root_pid`, every field ([`TreeDetail::Full`]). `Ok(None)`
    /// when the root process is gone.
    pub fn sample(&mut self, root_pid: u32) -> Result<Option<TreeTotals>, SourceError> {
        self.sample_detail(root_pid, TreeDetail::Full)
    }

    /// Samples the tree rooted at `root_pid` at `detail`. `Ok(None)` when the root is gone.
    pub fn sample_detail(
        &mut self,
        root_pid: u32,
        detail: TreeDetail,
    ) -> Result<Option<TreeTotals>, SourceError> {
        self.reader.begin_members();
        let result = self.find_and_read(root_pid, detail);
        self.reader.end_members();
        result?;
        Ok(self.totals(root_pid))
    }

    fn find_and_read(&mut self, root_pid: u32, detail: TreeDetail) -> Result<(), SourceError> {
        if self.children_files {
            match self.walk(root_pid, detail)? {
                Children::Listed => return Ok(()),
                Children::Unsupported => self.children_files = false,
            }
        }
        self.scan()?;
        descendants(&self.links, root_pid, &mut self.tree);
        self.read_tree(Some(detail))
    }

    /// Samples a tree whose members the caller already knows (e.g. from the `cgroup.procs` of
    /// a model's own cgroup), without searching: `root_pid` first, then `members` in order
    /// (duplicates of the root skipped). `Ok(None)` when the root is gone.
    pub fn sample_members(
        &mut self,
        root_pid: u32,
        members: &[u32],
        detail: TreeDetail,
    ) -> Result<Option<TreeTotals>, SourceError> {
        self.tree.clear();
        self.tree.push(root_pid);
        self.tree
            .extend(members.iter().copied().filter(|&p| p != root_pid));
        self.reader.begin_members();
        let result = self.read_tree(Some(detail));
        self.reader.end_members();
        result?;
        Ok(self.totals(root_pid))
    }

    /// The totals of the members just read; `None` when the root was not among them.
    fn totals(&self, root_pid: u32) -> Option<TreeTotals> {
        match self.members().first() {
            Some(first) if first.pid == root_pid => Some(aggregate(root_pid, self.members())),
            _ => None,
        }
    }

    /// The `n` heaviest top-level trees by PSS (see the module doc for what counts).
    pub fn heaviest(&mut self, n: usize) -> Result<Vec<TreeSummary>, SourceError> {
        self.scan()?;
        let tops: Vec<u32> = self
            .links
            .iter()
            .filter(|l| (l.ppid == 1 || l.ppid == 0) && l.pid != 1 && !l.kernel_thread)
            .map(|l| l.pid)
            .collect();
        let mut out = Vec::with_capacity(tops.len());
        for top in tops {
            descendants(&self.links, top, &mut self.tree);
            self.read_tree(None)?;
            let members = self.members();
            match members.first() {
                Some(first) if first.pid == top && !first.kernel_thread => {
                    out.push(TreeSummary {
                        comm: first.comm.clone(),
                        totals: aggregate(top, members),
                    });
                }
                _ => {}
            }
        }
        out.sort_by_key(|t| std::cmp::Reverse(t.totals.pss));
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
