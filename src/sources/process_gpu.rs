//! Per-process GPU memory from whichever source this device has, behind one reader.
//!
//! Owns [`ProcessGpuReader`] and its reading [`ProcessGpu`]. Two sources, in this order:
//!
//! 1. nvmap's `iovmm/clients` ([`super::nvmap`]): nvgpu Jetsons up to Orin, read as root. Where
//!    it is readable it is the figure: NVML on Orin lists processes without memory.
//! 2. NVML's running compute and graphics processes ([`super::nvml`]): Thor and discrete GPUs.
//!    NVML is re-probed after a failed initialisation, never latched off for the run.
//!
//! Neither readable (not a Jetson and no NVML, an Orin read as a user): no reading, so every
//! figure is `None`, never a made-up zero.
//!
//! Where the GPU memory lives matters to the gate: on a Jetson the GPU allocates from the same
//! DRAM as the CPU, so a tree's GPU memory is memory the device no longer has and it counts in
//! the gate's ledger; a discrete GPU's memory is its own, shown everywhere and counted in a
//! unit's `limit`, but never charged against the device's DRAM. [`ProcessGpu::shares_dram`]
//! says which.

use std::sync::Arc;

use super::nvmap::{read_nvmap_clients, NvmapClients};
use super::nvml::{NvmlReading, NvmlSource};
use super::Root;
use crate::units::Bytes;

/// Which source a per-process figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuFrom {
    Nvmap,
    Nvml,
}

/// One pid's GPU memory; `None` where the source lists the process but cannot say how much
/// (NVML's "not available").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidGpu {
    pub pid: u32,
    pub used: Option<Bytes>,
}

/// Every process the source lists with GPU memory, at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessGpu {
    pub from: GpuFrom,
    /// The GPU allocates from the device's DRAM (a Jetson): the figure belongs in the gate.
    pub shares_dram: bool,
    pids: Vec<PidGpu>,
}

impl ProcessGpu {
    /// nvmap's clients: always a Jetson, always the device's DRAM. Kernel clients (pid 0)
    /// belong to no process. Each client counts its [`NvmapClient::gpu`](super::nvmap::NvmapClient::gpu):
    /// its PSS where the file has that column, so a buffer shared inside a tree counts once.
    pub fn from_nvmap(clients: &NvmapClients) -> ProcessGpu {
        let mut pids: Vec<PidGpu> = Vec::new();
        for c in clients.clients.iter().filter(|c| c.pid != 0) {
            add(&mut pids, c.pid, Some(c.gpu()));
        }
        ProcessGpu {
            from: GpuFrom::Nvmap,
            shares_dram: true,
            pids,
        }
    }

    /// NVML's processes over every device; `None` where no device could list its processes.
    pub fn from_nvml(reading: &NvmlReading, shares_dram: bool) -> Option<ProcessGpu> {
        let lists: Vec<_> = reading
            .devices
            .iter()
            .filter_map(|d| d.processes.as_ref().ok())
            .collect();
        if lists.is_empty() {
            return None;
        }
        let mut pids: Vec<PidGpu> = Vec::new();
        for p in lists.into_iter().flatten() {
            add(&mut pids, p.pid, p.used);
        }
        Some(ProcessGpu {
            from: GpuFrom::Nvml,
            shares_dram,
            pids,
        })
    }

    /// GPU memory of a set of pids (a process tree): a pid the source does not list holds
    /// none; `None` when a listed member's figure is unknown (the sum would understate).
    pub fn for_pids(&self, pids: &[u32]) -> Option<Bytes> {
        let mut sum = Bytes::ZERO;
        for entry in self.pids.iter().filter(|e| pids.contains(&e.pid)) {
            sum = sum.saturating_add(entry.used?);
        }
        Some(sum)
    }
}

/// Adds `used` to `pid`'s entry (a process may hold several nvmap clients, or appear on
/// several GPUs); unknown stays unknown.
fn add(pids: &mut Vec<PidGpu>, pid: u32, used: Option<Bytes>) {
    match pids.iter_mut().find(|e| e.pid == pid) {
        Some(e) => e.used = e.used.zip(used).map(|(a, b)| a.saturating_add(b)),
        None => pids.push(PidGpu { pid, used }),
    }
}

/// Reads per-process GPU memory: nvmap first, NVML where nvmap is not readable.
#[derive(Debug, Clone)]
pub struct ProcessGpuReader {
    nvml: Arc<NvmlSource>,
    /// The device's GPU allocates from DRAM (the board is a Jetson).
    shares_dram: bool,
}

impl ProcessGpuReader {
    pub fn new(nvml: Arc<NvmlSource>, shares_dram: bool) -> ProcessGpuReader {
        ProcessGpuReader { nvml, shares_dram }
    }

    /// A reader for tests and tools that never touches NVML's library: nvmap only, which
    /// implies a Jetson.
    pub fn nvmap_only() -> ProcessGpuReader {
        ProcessGpuReader {
            nvml: Arc::new(NvmlSource::disabled()),
            shares_dram: true,
        }
    }

    /// Whether the GPU allocates from the device's DRAM (a Jetson): only then does a figure
    /// count against the memory the gate guards.
    pub fn shares_dram(&self) -> bool {
        self.shares_dram
    }

    /// The current figures, or `None` where neither source can be read.
    pub fn read(&self, root: &Root) -> Option<ProcessGpu> {
        if let Ok(clients) = read_nvmap_clients(root) {
            return Some(ProcessGpu::from_nvmap(&clients));
        }
        let reading = self.nvml.read().ok()?;
        ProcessGpu::from_nvml(&reading, self.shares_dram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::nvml::{GpuProcess, NvmlDevice, NvmlError};

    const MIB: u64 = 1 << 20;

    fn device(processes: Result<Vec<GpuProcess>, NvmlError>) -> NvmlDevice {
        NvmlDevice {
            index: 0,
            name: Ok("GPU".into()),
            memory: Err(NvmlError::Unsupported {
                reason: "memory_info: not supported".into(),
            }),
            processes,
            graphics_clock_mhz: None,
        }
    }

    fn proc(pid: u32, mib: Option<u64>) -> GpuProcess {
        GpuProcess {
            pid,
            used: mib.map(|m| Bytes(m * MIB)),
        }
    }

    #[test]
    fn nvmap_figures_sum_over_a_trees_members_and_pid_0_is_nobodys() {
        let clients = crate::sources::nvmap::parse_nvmap_clients(
            "CLIENT PROCESS PID SIZE\n\
             user  llama-server  100  1024K\n\
             user  llama-server  100  1024K\n\
             user  worker        101  2048K\n\
             user  kernel          0  4096K\n\
             total 8192K\n",
        )
        .unwrap();
        let gpu = ProcessGpu::from_nvmap(&clients);
        assert_eq!((gpu.from, gpu.shares_dram), (GpuFrom::Nvmap, true));
        assert_eq!(gpu.for_pids(&[100, 101]), Some(Bytes::from_kib(4096)));
        assert_eq!(gpu.for_pids(&[0]), Some(Bytes::ZERO));
        assert_eq!(
            gpu.for_pids(&[7]),
            Some(Bytes::ZERO),
            "not listed: holds none"
        );
    }

    #[test]
    fn with_a_pss_column_a_buffer_shared_inside_a_tree_counts_once() {
        // A server and its worker map one 1 GiB buffer: SIZE shows it in both, PSS halves it.
        let clients = crate::sources::nvmap::parse_nvmap_clients(
            "CLIENT PROCESS PID PSS SIZE\n\
             user  llama-server  100  524288K  1048576K\n\
             user  worker        101  524288K  1048576K\n\
             total 1048576K 1048576K\n",
        )
        .unwrap();
        let gpu = ProcessGpu::from_nvmap(&clients);
        assert_eq!(gpu.for_pids(&[100, 101]), Some(Bytes::from_gib(1)));
    }

    /// Thor on R38: nvidia-smi (NVML's own tool) lists the desktop's processes at 0 MiB each in
    /// a public capture from an AGX Thor devkit; such a tree holds zero, not "unknown".
    #[test]
    fn nvml_processes_on_thor_give_their_figure_and_a_process_not_listed_holds_none() {
        let thor = NvmlReading {
            devices: vec![device(Ok(vec![proc(3507, Some(0)), proc(3735, Some(0))]))],
        };
        let gpu = ProcessGpu::from_nvml(&thor, true).unwrap();
        assert_eq!((gpu.from, gpu.shares_dram), (GpuFrom::Nvml, true));
        assert_eq!(gpu.for_pids(&[3507, 3735]), Some(Bytes::ZERO));
        assert_eq!(gpu.for_pids(&[42]), Some(Bytes::ZERO));
    }

    #[test]
    fn a_discrete_gpu_sums_a_process_over_its_devices_and_does_not_share_dram() {
        let reading = NvmlReading {
            devices: vec![
                device(Ok(vec![proc(10, Some(500)), proc(11, Some(100))])),
                device(Ok(vec![proc(10, Some(300))])),
            ],
        };
        let gpu = ProcessGpu::from_nvml(&reading, false).unwrap();
        assert!(!gpu.shares_dram);
        assert_eq!(gpu.for_pids(&[10]), Some(Bytes(800 * MIB)));
        assert_eq!(gpu.for_pids(&[10, 11]), Some(Bytes(900 * MIB)));
    }

    #[test]
    fn a_member_whose_figure_nvml_cannot_give_makes_the_trees_figure_unknown() {
        let reading = NvmlReading {
            devices: vec![device(Ok(vec![proc(10, Some(500)), proc(11, None)]))],
        };
        let gpu = ProcessGpu::from_nvml(&reading, false).unwrap();
        assert_eq!(gpu.for_pids(&[10]), Some(Bytes(500 * MIB)));
        assert_eq!(gpu.for_pids(&[10, 11]), None);
    }

    #[test]
    fn no_device_that_can_list_processes_is_no_reading() {
        let reading = NvmlReading {
            devices: vec![device(Err(NvmlError::Unsupported {
                reason: "running_compute_processes: not supported".into(),
            }))],
        };
        assert_eq!(ProcessGpu::from_nvml(&reading, true), None);
        assert_eq!(
            ProcessGpu::from_nvml(&NvmlReading { devices: vec![] }, true),
            None
        );
    }

    #[test]
    fn nvmap_wins_where_it_is_readable_and_nothing_is_read_where_neither_is() {
        let dir = tempfile::tempdir().unwrap();
        let reader = ProcessGpuReader::nvmap_only();
        assert_eq!(reader.read(&Root::new(dir.path())), None);
        let nvmap = dir.path().join("sys/kernel/debug/nvmap/iovmm");
        std::fs::create_dir_all(&nvmap).unwrap();
        std::fs::write(
            nvmap.join("clients"),
            "CLIENT PROCESS PID SIZE\nuser  gem  4481  118372K\ntotal  118372K\n",
        )
        .unwrap();
        let gpu = reader.read(&Root::new(dir.path())).unwrap();
        assert_eq!(gpu.from, GpuFrom::Nvmap);
        assert_eq!(gpu.for_pids(&[4481]), Some(Bytes::from_kib(118372)));
    }
}
