//! Per-process GPU memory on nvgpu Jetsons (up to Orin) from nvmap's debugfs.
//!
//! Owns [`NvmapClients`], the parser [`parse_nvmap_clients`] and the reader
//! [`read_nvmap_clients`]. The file is root only (debugfs): not root → `Denied`; absent
//! (Thor, non-Jetson, debugfs not mounted) → unsupported. The kernel prints each client as
//! `%-18s %18s %8u %10lluK` (client name, process comm, pid, size in KiB) and ends with a
//! `total` line; some older carveout heaps print the client size without the `K`:
//!
//! ```text
//! CLIENT                        PROCESS      PID        SIZE
//! user                       gnome-shell     7256     36868K
//! user                   python3-inferen     9120   2539520K
//! user                            kernel        0      4096K
//! total                                              2580484K
//! ```
//!
//! Some nvmap builds print a fifth column, the client's proportional share, before the size,
//! and two figures on the `total` line:
//!
//! ```text
//! CLIENT                        PROCESS      PID         PSS        SIZE
//! user                   nvargus-daemon     4678          0K         76K
//! total                                                  64K         76K
//! ```
//!
//! The header names the layout; a file without a header is read as the four-column one.
//! Where both columns exist, a process's GPU figure ([`NvmapClient::gpu`]) is its PSS, not its
//! SIZE: SIZE counts every buffer the client holds in full, so a buffer shared by two members
//! of one process tree (a server and its worker, or a model and the camera daemon feeding it)
//! would be counted once per member when the tree is summed ([`NvmapClients::for_pids`]);
//! PSS splits each shared buffer between its holders, so sums over processes count it once,
//! as `smaps` PSS does for CPU memory. In the four-column layout SIZE is all there is.
//!
//! Trap: the process column is the kernel's comm, cut to 15 bytes (`python3-inference-server`
//! shows as `python3-inferen`), and a comm may hold spaces. Match clients to processes by pid;
//! [`comm_matches`] compares names the way the kernel truncates them. Parsing reads the last
//! columns (size, the PSS where the header has it, pid) from the right and the first word as
//! the client name, so the comm in between may hold spaces.

use std::path::Path;

use super::error::{parse_u64, ParseError, SourceError};
use super::root::Root;
use crate::units::Bytes;

pub const NVMAP_CLIENTS_PATH: &str = "/sys/kernel/debug/nvmap/iovmm/clients";

/// The kernel's `TASK_COMM_LEN` − 1: the longest name the process column can show.
pub const COMM_MAX: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NvmapClient {
    /// nvmap's client name (`user` for user space).
    pub client: String,
    /// The process comm, at most 15 bytes; `kernel` for in-kernel clients (pid 0).
    pub process: String,
    pub pid: u32,
    /// The `SIZE` column: every buffer the client holds, shared ones in full.
    pub size: Bytes,
    /// The `PSS` column, where the file has one: shared buffers split between their holders.
    pub pss: Option<Bytes>,
}

impl NvmapClient {
    /// The client's GPU memory: its PSS where the file prints one, else its SIZE (see the
    /// module doc for why PSS wins).
    pub fn gpu(&self) -> Bytes {
        self.pss.unwrap_or(self.size)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct NvmapClients {
    pub clients: Vec<NvmapClient>,
    /// The `total` line's SIZE: all nvmap memory (shared buffers counted once).
    pub total: Option<Bytes>,
    /// The `total` line's PSS, in the layout with a PSS column.
    pub total_pss: Option<Bytes>,
}

impl NvmapClients {
    /// GPU memory held by one pid (a process may appear as several clients): the sum of
    /// [`NvmapClient::gpu`].
    pub fn for_pid(&self, pid: u32) -> Bytes {
        self.clients
            .iter()
            .filter(|c| c.pid == pid && pid != 0)
            .map(NvmapClient::gpu)
            .sum()
    }

    /// GPU memory held by a set of pids (a process tree).
    pub fn for_pids(&self, pids: &[u32]) -> Bytes {
        pids.iter().map(|&p| self.for_pid(p)).sum()
    }
}

/// True when `shown` is how the kernel would print `full_name` in the process column.
pub fn comm_matches(shown: &str, full_name: &str) -> bool {
    let cut = full_name
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|&end| end <= COMM_MAX)
        .last()
        .unwrap_or(0);
    shown == &full_name[..cut]
}

fn parse_size(field: &'static str, text: &str) -> Result<Bytes, ParseError> {
    let digits = text.strip_suffix('K').unwrap_or(text);
    parse_u64(field, digits).map(Bytes::from_kib)
}

/// Splits off the last whitespace-separated word: `("user  Web Content  11873", "2048K")`.
fn rsplit_word(t: &str) -> Option<(&str, &str)> {
    t.trim_end().rsplit_once(|c: char| c.is_ascii_whitespace())
}

/// True when a header line names the PSS column (`CLIENT PROCESS PID PSS SIZE`).
fn header_has_pss(header: &str) -> bool {
    header.split_ascii_whitespace().any(|w| w == "PSS")
}

/// Parses the text of `iovmm/clients`, in either layout (see the module doc).
pub fn parse_nvmap_clients(text: &str) -> Result<NvmapClients, ParseError> {
    let mut out = NvmapClients::default();
    let mut with_pss = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with("CLIENT") {
            with_pss = header_has_pss(trimmed);
            continue;
        }
        let mut words = trimmed.split_ascii_whitespace();
        let first = words.next().unwrap_or("");
        if first == "total" {
            let figures: Vec<&str> = words.collect();
            let (pss, size) = match (with_pss, figures.as_slice()) {
                (false, [size]) => (None, size),
                (true, [pss, size]) => (Some(parse_size("PSS", pss)?), size),
                _ => {
                    return Err(ParseError::Malformed(format!(
                        "nvmap total line {line:.80}"
                    )))
                }
            };
            out.total = Some(parse_size("SIZE", size)?);
            out.total_pss = pss;
            continue;
        }
        // From the right: size, the PSS where printed, pid; the comm sits between the client
        // name and the pid.
        let (head, size) = rsplit_word(trimmed).ok_or(ParseError::Missing("SIZE"))?;
        let (head, pss) = if with_pss {
            let (head, pss) = rsplit_word(head).ok_or(ParseError::Missing("PSS"))?;
            (head, Some(parse_size("PSS", pss)?))
        } else {
            (head, None)
        };
        let (head, pid) = rsplit_word(head).ok_or(ParseError::Missing("PID"))?;
        let process = head
            .trim()
            .strip_prefix(first)
            .map(str::trim)
            .ok_or_else(|| ParseError::Malformed(format!("nvmap line {line:.80}")))?;
        out.clients.push(NvmapClient {
            client: first.to_string(),
            process: process.to_string(),
            pid: parse_u64("PID", pid)? as u32,
            size: parse_size("SIZE", size)?,
            pss,
        });
    }
    Ok(out)
}

/// Reads `iovmm/clients` under `root` (root only).
pub fn read_nvmap_clients(root: &Root) -> Result<NvmapClients, SourceError> {
    let rel = Path::new(NVMAP_CLIENTS_PATH);
    let text = root.read(rel)?;
    parse_nvmap_clients(&text).map_err(|e| SourceError::parse(root.path(rel), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Orin Nano, L4T R36.3, a llama.cpp server and the desktop running.
    const ORIN: &str = "\
CLIENT                        PROCESS      PID        SIZE
user                       gnome-shell     7256     36868K
user                              Xorg     6856     84396K
user                   python3-inferen     9120   2539520K
user                       Web Content    11873      2048K
user                    nvargus-daemon     5130         0K
user                            kernel        0      4096K
total                                              2667024K
";

    #[test]
    fn parses_clients_and_the_total_line() {
        let c = parse_nvmap_clients(ORIN).unwrap();
        assert_eq!(c.clients.len(), 6);
        assert_eq!(c.total, Some(Bytes::from_kib(2667024)));
        let xorg = &c.clients[1];
        assert_eq!(
            (xorg.client.as_str(), xorg.process.as_str(), xorg.pid),
            ("user", "Xorg", 6856)
        );
        assert_eq!(xorg.size, Bytes::from_kib(84396));
        assert_eq!(c.for_pid(9120), Bytes::from_kib(2539520));
        assert_eq!(c.for_pids(&[7256, 6856]), Bytes::from_kib(36868 + 84396));
        assert_eq!(
            c.for_pid(0),
            Bytes::ZERO,
            "kernel clients belong to no process"
        );
    }

    #[test]
    fn a_comm_with_a_space_stays_whole() {
        let c = parse_nvmap_clients(ORIN).unwrap();
        assert_eq!(c.clients[3].process, "Web Content");
        assert_eq!(c.clients[3].pid, 11873);
    }

    #[test]
    fn truncated_process_names_match_their_full_name_but_pids_decide() {
        let c = parse_nvmap_clients(ORIN).unwrap();
        let shown = &c.clients[2].process;
        assert_eq!(shown, "python3-inferen");
        assert!(comm_matches(shown, "python3-inference-server"));
        assert!(comm_matches("Xorg", "Xorg"));
        assert!(!comm_matches(shown, "python3"));
        assert!(!comm_matches("python3-inferen", "python3-inferex-other"));
    }

    use crate::sources::captures::capture;

    #[test]
    fn reads_a_four_column_file_copied_from_a_device() {
        let c = parse_nvmap_clients(&capture("nvmap_clients_gimbal.txt")).unwrap();
        let rows: Vec<(&str, u32, u64)> = c
            .clients
            .iter()
            .map(|c| (c.process.as_str(), c.pid, c.size.get() / 1024))
            .collect();
        assert_eq!(
            rows,
            [
                ("gem", 4481, 118372),
                ("gnome-shell", 2831, 5384),
                ("Xorg", 1731, 18140),
                ("nvargus-daemon", 1012, 0)
            ]
        );
        assert!(c.clients.iter().all(|c| c.pss.is_none()));
        assert_eq!(c.total, Some(Bytes::from_kib(141896)));
        assert_eq!(c.total_pss, None);
        // Without a PSS column the process's figure is its SIZE.
        assert_eq!(c.for_pid(4481), Bytes::from_kib(118372));
        let sum: Bytes = c.clients.iter().map(|c| c.size).sum();
        assert_eq!(Some(sum), c.total, "the sizes add up to the total line");
    }

    #[test]
    fn reads_the_four_column_file_with_a_wider_total() {
        let c = parse_nvmap_clients(&capture("nvmap_clients_htop_readme.txt")).unwrap();
        assert_eq!(c.clients.len(), 3);
        assert_eq!(c.clients[0].process, "gpu_burn");
        assert_eq!(c.for_pid(7979), Bytes::from_kib(23525644));
        assert_eq!(c.total, Some(Bytes::from_kib(23549320)));
    }

    #[test]
    fn reads_the_layout_with_a_pss_column_and_counts_the_pss() {
        let text = capture("nvmap_clients_pss_column.txt");
        let c = parse_nvmap_clients(&text).unwrap();
        assert_eq!(c.clients.len(), 1);
        let d = &c.clients[0];
        assert_eq!(
            (d.client.as_str(), d.process.as_str(), d.pid),
            ("user", "nvargus-daemon", 4678)
        );
        assert_eq!(d.pss, Some(Bytes::ZERO));
        assert_eq!(d.size, Bytes::from_kib(76));
        assert_eq!(c.total_pss, Some(Bytes::from_kib(64)));
        assert_eq!(c.total, Some(Bytes::from_kib(76)));
        // The process's GPU figure is its share, not every buffer it maps.
        assert_eq!(c.for_pid(4678), Bytes::ZERO);
        // Read as the four-column layout, the PSS would have been taken for the pid.
        let err = parse_nvmap_clients(&text.replace(" PSS", "    ")).unwrap_err();
        assert!(err.to_string().contains("PID"), "{err}");
    }

    #[test]
    fn a_pss_layout_sums_shared_buffers_once_over_a_tree() {
        // A server and its worker share one 1 GiB buffer: SIZE shows it in both, PSS splits it.
        let text = "\
CLIENT                        PROCESS      PID         PSS        SIZE
user                      llama-server     2140     524288K    1048576K
user                            worker     2141     524288K    1048576K
total                                             1048576K    1048576K
";
        let c = parse_nvmap_clients(text).unwrap();
        assert_eq!(c.for_pids(&[2140, 2141]), Bytes::from_kib(1048576));
        assert_eq!(c.for_pids(&[2140, 2141]), c.total_pss.unwrap());
    }

    #[test]
    fn a_total_line_that_does_not_fit_the_header_is_an_error() {
        let four = "CLIENT PROCESS PID SIZE\ntotal 64K 76K\n";
        assert!(parse_nvmap_clients(four).is_err());
        let five = "CLIENT PROCESS PID PSS SIZE\ntotal 76K\n";
        assert!(parse_nvmap_clients(five).is_err());
        let bad_pss = "CLIENT PROCESS PID PSS SIZE\nuser a 12 xK 76K\n";
        let err = parse_nvmap_clients(bad_pss).unwrap_err();
        assert!(err.to_string().contains("PSS"), "{err}");
    }

    #[test]
    fn sizes_without_the_k_suffix_are_still_kib() {
        let c = parse_nvmap_clients("user  a  12  2048\ntotal  4096K\n").unwrap();
        assert_eq!(c.clients[0].size, Bytes::from_kib(2048));
    }

    #[test]
    fn garbage_lines_are_errors_not_panics() {
        assert!(parse_nvmap_clients("user gnome-shell x 12K\n").is_err());
        assert!(parse_nvmap_clients("lonely\n").is_err());
    }

    #[test]
    fn without_debugfs_it_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_nvmap_clients(&Root::new(dir.path())).unwrap_err();
        assert!(err.is_unsupported());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "(?s).{0,300}") {
            let _ = parse_nvmap_clients(&s);
        }

        #[test]
        fn comm_matching_never_panics_on_multibyte_names(s in "\\PC{0,20}") {
            prop_assert!(comm_matches(&s.chars().take(0).collect::<String>(), "") );
            let _ = comm_matches("x", &s);
        }
    }
}
