//! A watched tree's member files, kept open between samples, and its children lists.
//!
//! Owns [`PidFiles`] (per member pid: `stat`, `smaps_rollup` and the main thread's `children`,
//! each a [`CachedFile`] re-read with `pread`) and the pure [`parse_children`]. Finding a
//! tree's members this way costs one read per member instead of one `stat` per process on the
//! system (the ppid scan in [`super::proctree`]):
//!
//! ```text
//! /proc/PID/task/TID/children    "4243 4250 "    pids forked by thread TID (CONFIG_PROC_CHILDREN, ≥ 3.5)
//! ```
//!
//! A child hangs off the thread that forked it, so a process with several threads needs every
//! `task/TID/children`; a single-threaded one (its stat says `num_threads` 1) needs only
//! `task/PID/children`. proc(5) warns the list is only exact while the tree is frozen: a child
//! forked or reparented during the read can be missed for one sample. The gate's kill floor
//! rests on `available`, not on the tree's PSS, so one sample's miss is tolerable.
//!
//! Handles are kept for at most [`MAX_KEPT_PIDS`] members (three descriptors each); more
//! members are read by path. A pass ([`PidFiles::begin_pass`] … [`PidFiles::end_pass`]) closes
//! the handles of pids no longer in the tree.

use std::fmt::Write as _;

use super::error::{parse_u64, ParseError};
use super::handle::CachedFile;
use super::root::{ReadError, Root};

/// Members whose files are kept open; a larger tree reads the rest by path.
pub const MAX_KEPT_PIDS: usize = 64;

/// Which of a member's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidFile {
    Stat,
    SmapsRollup,
    /// `task/PID/children`: the main thread's children.
    Children,
}

impl PidFile {
    pub(crate) fn rel(self, pid: u32, out: &mut String) {
        out.clear();
        let _ = match self {
            PidFile::Stat => write!(out, "/proc/{pid}/stat"),
            PidFile::SmapsRollup => write!(out, "/proc/{pid}/smaps_rollup"),
            PidFile::Children => write!(out, "/proc/{pid}/task/{pid}/children"),
        };
    }
}

#[derive(Debug)]
struct Kept {
    pid: u32,
    pass: u64,
    files: [CachedFile; 3],
}

/// Open handles on the files of a tree's members.
#[derive(Debug)]
pub struct PidFiles {
    root: Root,
    kept: Vec<Kept>,
    pass: u64,
    path: String,
}

impl PidFiles {
    pub fn new(root: Root) -> PidFiles {
        PidFiles {
            root,
            kept: Vec::new(),
            pass: 0,
            path: String::with_capacity(48),
        }
    }

    /// Starts a sample: pids read from now on are marked as still in the tree.
    pub fn begin_pass(&mut self) {
        self.pass += 1;
    }

    /// Ends a sample: closes the handles of pids not read since [`PidFiles::begin_pass`].
    pub fn end_pass(&mut self) {
        let pass = self.pass;
        self.kept.retain(|k| k.pass == pass);
    }

    /// Pids with handles kept.
    pub fn kept(&self) -> usize {
        self.kept.len()
    }

    /// Reads one of `pid`'s files into `buf`, through a kept handle when there is room.
    pub fn read(&mut self, pid: u32, file: PidFile, buf: &mut String) -> Result<(), ReadError> {
        let index = match self.kept.iter().position(|k| k.pid == pid) {
            Some(i) => Some(i),
            None if self.kept.len() < MAX_KEPT_PIDS => {
                let files = [PidFile::Stat, PidFile::SmapsRollup, PidFile::Children].map(|f| {
                    f.rel(pid, &mut self.path);
                    CachedFile::new(self.root.path(&self.path))
                });
                self.kept.push(Kept {
                    pid,
                    pass: self.pass,
                    files,
                });
                Some(self.kept.len() - 1)
            }
            None => None,
        };
        match index {
            Some(i) => {
                let kept = &mut self.kept[i];
                kept.pass = self.pass;
                kept.files[file as usize].read_into(buf)
            }
            None => {
                file.rel(pid, &mut self.path);
                self.root.read_into(&self.path, buf)
            }
        }
    }
}

/// Appends the pids of a `children` file (`"4243 4250 "`, possibly empty) to `out`.
pub fn parse_children(text: &str, out: &mut Vec<u32>) -> Result<(), ParseError> {
    for word in text.split_ascii_whitespace() {
        let pid = parse_u64("children", word)?;
        out.push(u32::try_from(pid).map_err(|_| ParseError::bad("children", word))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_children_file_lists_pids_separated_by_spaces() {
        let mut out = vec![1];
        parse_children("4243 4250 ", &mut out).unwrap();
        assert_eq!(out, vec![1, 4243, 4250]);
        parse_children("", &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert!(parse_children("12 x3", &mut out).is_err());
        assert!(parse_children("99999999999", &mut out).is_err());
    }

    #[test]
    fn handles_of_pids_left_out_of_a_pass_are_closed() {
        let mut files = PidFiles::new(Root::host());
        let mut buf = String::new();
        let me = std::process::id();
        files.begin_pass();
        files.read(me, PidFile::Stat, &mut buf).unwrap();
        files.read(1, PidFile::Stat, &mut buf).unwrap();
        files.end_pass();
        assert_eq!(files.kept(), 2);
        files.begin_pass();
        files.read(me, PidFile::Stat, &mut buf).unwrap();
        files.end_pass();
        assert_eq!(files.kept(), 1);
        assert!(buf.starts_with(&format!("{me} (")));
    }

    #[test]
    fn beyond_the_kept_limit_files_are_read_by_path() {
        let dir = tempfile::tempdir().unwrap();
        for pid in 1..=(MAX_KEPT_PIDS as u32 + 3) {
            let p = dir.path().join(format!("proc/{pid}"));
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("stat"), format!("{pid} (x) S 1")).unwrap();
        }
        let mut files = PidFiles::new(Root::new(dir.path()));
        let mut buf = String::new();
        files.begin_pass();
        for pid in 1..=(MAX_KEPT_PIDS as u32 + 3) {
            files.read(pid, PidFile::Stat, &mut buf).unwrap();
            assert!(buf.starts_with(&format!("{pid} (x)")));
        }
        assert_eq!(files.kept(), MAX_KEPT_PIDS);
    }

    proptest! {
        #[test]
        fn any_list_of_pids_round_trips(pids in proptest::collection::vec(0u32..4_194_304, 0..50)) {
            let text: String = pids.iter().map(|p| format!("{p} ")).collect();
            let mut out = Vec::new();
            parse_children(&text, &mut out).unwrap();
            prop_assert_eq!(out, pids);
        }
    }
}
