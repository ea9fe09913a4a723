//! `jetgate status [--json] [--local]`: device, memory, gate and services.
//!
//! By default it asks the agent (so it shows what the agent believes). `--local` reads the
//! device directly under `--root` (default `/`): board, memory, the agent's own cgroup,
//! pressure, and the heaviest process trees by PSS; it works with no agent running, and on a
//! captured fixture tree (`--root tests/fixtures/orin-nano-8gb-jp6`).

use crate::cli::figures::tegrastats_lines;
use crate::cli::human;
use crate::cli::remote::{ask, read_reply, services_table_toned, REQUEST_TIMEOUT};
use crate::cli::table::Table;
use crate::cli::Globals;
use crate::clock;
use crate::control::Cmd;
use crate::exit::{self, CliError, CliResult};
use crate::gate::GateView;
use crate::sources::{AvailableFrom, Sampler, Scope, TreeSampler};
use crate::status::{
    AgentView, DeviceView, FragmentationView, GpuLoad, GpuView, MemoryView, NvmlView, Source,
    StatusDocument, TreeView,
};
use crate::store::{StoreHealthView, StoreState};
use crate::units::Bytes;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The status document as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Read the device directly instead of asking the agent.
    #[arg(long)]
    pub local: bool,
    /// How many of the heaviest process trees to list with --local.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    let doc = if args.local {
        local_document(globals, args.top)?.to_value()
    } else {
        ask(globals, Cmd::Status {}, Some(REQUEST_TIMEOUT))?
    };
    if args.json {
        println!("{doc}");
    } else {
        let doc: StatusDocument = read_reply(doc)?;
        print!("{}", render_toned(&doc, human::colour_stdout()));
    }
    Ok(exit::SUCCESS)
}

/// The local status document: the same `device` and `memory` sections as the agent's, plus the
/// GPU and the heaviest process trees.
pub fn local_document(globals: &Globals, top: usize) -> Result<StatusDocument, CliError> {
    let root = &globals.root;
    let board = crate::board::detect(root).map_err(|e| CliError::new(exit::FAILURE, e))?;
    let mut sampler = Sampler::new(root.clone(), Scope::System);
    let sample = sampler
        .sample(None)
        .map_err(|e| CliError::new(exit::FAILURE, e))?;
    let trees = TreeSampler::new(root.clone())
        .heaviest(top)
        .map_err(|e| CliError::new(exit::FAILURE, e))?;
    let trees = trees
        .iter()
        .map(|t| TreeView {
            comm: t.comm.clone(),
            pid: t.totals.root_pid,
            processes: t.totals.processes,
            zombies: t.totals.zombies,
            threads: t.totals.threads,
            pss_bytes: t.totals.pss.get(),
            rss_bytes: t.totals.rss.get(),
            swap_bytes: t.totals.swap.get(),
            fds: t.totals.fds,
        })
        .collect();
    Ok(StatusDocument {
        source: Some(Source::Local),
        root: Some(root.base().display().to_string()),
        device: DeviceView {
            id: None,
            board: (&board).into(),
        },
        memory: Some(
            MemoryView::from_sample(&sample, None)
                .with_fragmentation(FragmentationView::read(root)),
        ),
        gpu: Some(gpu_view(root, &board)),
        trees: Some(trees),
        ..StatusDocument::default()
    })
}

/// GPU load from the board's devfreq node, and NVML where it works (discrete GPUs, Thor). Each
/// absent source says why instead of failing the document.
fn gpu_view(root: &crate::sources::Root, board: &crate::board::Detected) -> GpuView {
    use crate::sources::{devfreq, nvml};
    let candidates: Vec<String> = match &board.profile {
        Some(p) if !p.gpu.load_paths.is_empty() => p.gpu.load_paths.clone(),
        _ => devfreq::DEFAULT_GPU_LOAD_PATHS
            .iter()
            .map(|p| p.to_string())
            .collect(),
    };
    let mut buf = String::new();
    let load = match devfreq::read_gpu_load(root, &candidates, &mut buf) {
        Ok((path, load)) => GpuLoad::Read {
            load_pct: f64::from(load.permille) / 10.0,
            path: path.display().to_string(),
        },
        Err(e) => GpuLoad::Unsupported {
            unsupported: e.to_string(),
        },
    };
    // NVML reads the live driver, so only when looking at this machine, not a captured tree.
    let nvml = if !root.is_host() {
        NvmlView::Unsupported {
            unsupported: "not read under --root (NVML reads the live driver)".into(),
        }
    } else {
        match nvml::NvmlSource::new().read() {
            Ok(reading) => NvmlView::Read {
                devices: reading
                    .devices
                    .iter()
                    .map(|d| serde_json::to_value(d).unwrap_or_default())
                    .collect(),
            },
            Err(e) => NvmlView::Unsupported {
                unsupported: e.to_string(),
            },
        }
    };
    GpuView { load, nvml }
}

/// The CMA pool and how much free memory lies in large blocks, where the device has either:
/// `          CMA 164.5MiB free of 512.0MiB  free in blocks ≥ 64.0KiB 1.0GiB of 3.0GiB (largest 16.0MiB)`.
/// Nothing where it has neither (a host without CMA whose buddyinfo could not be read).
fn render_contiguous(m: &MemoryView) -> Option<String> {
    let cma = match (m.cma_total_bytes, m.cma_free_bytes) {
        (Some(total), Some(free)) if total > 0 => {
            Some(format!("CMA {} free of {}", Bytes(free), Bytes(total)))
        }
        _ => None,
    };
    let blocks = m.fragmentation.map(|f| {
        format!(
            "free in blocks ≥ {} {} of {} (largest {})",
            Bytes(f.block_bytes),
            Bytes(f.free_high_order_bytes),
            Bytes(f.free_bytes),
            size(f.largest_free_block_bytes),
        )
    });
    if cma.is_none() && blocks.is_none() {
        return None;
    }
    Some(format!(
        "          {}  {}\n",
        cma.unwrap_or_else(|| "CMA n/a".to_string()),
        blocks.unwrap_or_else(|| "free blocks n/a".to_string()),
    ))
}

fn size(v: Option<u64>) -> String {
    v.map_or("-".to_string(), |b| Bytes(b).to_string())
}

/// The text, or `default` when absent or empty; escaped ([`crate::text::escape`]) since names,
/// versions and reasons come from the agent's document, not from this program.
fn or<'a>(v: Option<&'a str>, default: &'a str) -> std::borrow::Cow<'a, str> {
    crate::text::escape(v.filter(|s| !s.is_empty()).unwrap_or(default))
}

/// Human form of a status document (local or from the agent), without colour.
pub fn render(doc: &StatusDocument) -> String {
    render_toned(doc, false)
}

/// Human form of a status document; service states coloured when `colour`.
pub fn render_toned(doc: &StatusDocument, colour: bool) -> String {
    let mut out = String::new();
    let board = &doc.device.board;
    let l4t = board.l4t.map(|r| r.to_string());
    out.push_str(&format!(
        "board     {} [{}]  L4T {}  JetPack {}\n",
        or(Some(&board.name), "unknown"),
        or(Some(&board.id), "?"),
        or(l4t.as_deref(), "-"),
        or(board.jetpack.as_deref(), "-"),
    ));
    if let Some(agent) = &doc.agent {
        out.push_str(&format!(
            "agent     pid {}  up {}  version {}  socket {}\n",
            agent.pid,
            human::span_ms(agent.uptime_ms),
            or(Some(&agent.version), "-"),
            or(Some(&agent.socket), "-"),
        ));
    }
    if let Some(m) = &doc.memory {
        out.push_str(&render_available(m));
        out.push_str(&format!(
            "          swap {}/{} (never counted)  GPU-held {}  pressure {}\n",
            size(Some(m.swap_used_bytes)),
            size(Some(m.swap_total_bytes)),
            size(m.gpu_held_bytes),
            match &m.pressure {
                Some(p) => format!(
                    "some {:.2}% full {:.2}% (avg10)",
                    p.some_avg10,
                    p.full_avg10.unwrap_or(0.0)
                ),
                None => "unsupported".to_string(),
            },
        ));
        if let Some(line) = render_contiguous(m) {
            out.push_str(&line);
        }
        if let Some(cg) = &m.cgroup {
            out.push_str(&format!(
                "cgroup    {}  limit {}  usage {}  reclaimable {}  oom kills {}\n",
                cg.version.as_str(),
                size(cg.limit_bytes),
                size(Some(cg.usage_bytes)),
                size(Some(cg.reclaimable_bytes)),
                cg.oom_kill.map_or("-".into(), |n| n.to_string()),
            ));
        }
    } else {
        out.push_str("memory    no sample yet\n");
    }
    if let Some(gpu) = &doc.gpu {
        let load = match &gpu.load {
            GpuLoad::Read { load_pct, .. } => format!("{load_pct:.1}%"),
            GpuLoad::Unsupported { .. } => "unsupported".to_string(),
        };
        let nvml = match &gpu.nvml {
            NvmlView::Read { devices } => format!("{} device(s)", devices.len()),
            NvmlView::Unsupported { unsupported } => {
                format!("unsupported ({})", crate::text::escape(unsupported))
            }
        };
        out.push_str(&format!("gpu       load {load}  NVML {nvml}\n"));
    }
    if let Some(t) = &doc.tegrastats {
        let (first, second) = tegrastats_lines(Some(t));
        out.push_str(&format!("tegrastats {}\n", crate::text::escape(&first)));
        if !second.is_empty() {
            out.push_str(&format!("          {}\n", crate::text::escape(&second)));
        }
    }
    if let Some(gate) = &doc.gate {
        out.push_str(&render_gate(gate));
    }
    if let Some(services) = &doc.services {
        out.push('\n');
        out.push_str(&services_table_toned(services, colour));
    }
    if let Some(agent) = &doc.agent {
        out.push_str(&render_agent(agent));
    }
    if let Some(store) = &doc.store {
        out.push_str(&render_store(store));
    }
    if let Some(trees) = &doc.trees {
        let mut t = Table::new(&[
            "TREE", "PID", "PROCS", "PSS", "RSS", "SWAP", "THREADS", "FDS",
        ]);
        for tree in trees {
            t.row(vec![
                or(Some(&tree.comm), "?").to_string(),
                tree.pid.to_string(),
                tree.processes.to_string(),
                size(Some(tree.pss_bytes)),
                size(Some(tree.rss_bytes)),
                size(Some(tree.swap_bytes)),
                tree.threads.to_string(),
                tree.fds.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    out
}

/// The available-memory lines, each figure against the total of its own frame. Bounded by a
/// memory cgroup, available is measured against the cgroup's limit, and the host's
/// `MemAvailable` and `MemTotal` get their own line:
///
/// ```text
/// memory    available 1016.8MiB of 3.0GiB (cgroup limit)
/// host      MemAvailable 20.1GiB of 23.5GiB  free 18.0GiB  cached 2.0GiB
/// ```
fn render_available(m: &MemoryView) -> String {
    let cgroup_limit = m.cgroup.as_ref().and_then(|c| c.limit_bytes);
    match cgroup_limit {
        Some(limit) if m.available_from == AvailableFrom::Cgroup => format!(
            "memory    available {} of {} (cgroup limit)\n\
             host      MemAvailable {} of {}  free {}  cached {}\n",
            size(Some(m.available_bytes)),
            Bytes(limit),
            size(Some(m.mem_available_bytes)),
            size(Some(m.total_bytes)),
            size(Some(m.free_bytes)),
            size(Some(m.cached_bytes)),
        ),
        _ => format!(
            "memory    available {} of {} ({})  free {}  cached {}\n",
            size(Some(m.available_bytes)),
            size(Some(m.total_bytes)),
            m.available_from.as_str(),
            size(Some(m.free_bytes)),
            size(Some(m.cached_bytes)),
        ),
    }
}

/// `store     ok  writes failed 0`, or while failing
/// `store     FAILING since 2026-11-24T03:06:39.120Z  writes failed 3  last: event note: <error>`
fn render_store(store: &StoreHealthView) -> String {
    match (store.state, store.failing_since_ms) {
        (StoreState::Failing, since) => format!(
            "store     FAILING since {}  writes failed {}  last: {}: {}\n",
            since.map_or("?".to_string(), |ms| {
                clock::format_rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
            }),
            store.writes_failed,
            or(store.last_lost.as_deref(), "?"),
            or(store.last_error.as_deref(), "?"),
        ),
        (StoreState::Ok, _) => match &store.last_error {
            Some(e) if store.writes_failed > 0 => format!(
                "store     ok  writes failed {} (recovered; last error: {e})\n",
                store.writes_failed
            ),
            _ => format!("store     ok  writes failed {}\n", store.writes_failed),
        },
    }
}

/// `agent     pid 4242  v0.1.0  up 3h 2m  heap allocated 2.1MiB  resident 6.0MiB`
fn render_agent(agent: &AgentView) -> String {
    let uptime = {
        let s = agent.uptime_ms / 1000;
        match (s / 3600, s / 60 % 60, s % 60) {
            (0, 0, s) => format!("{s}s"),
            (0, m, s) => format!("{m}m {s}s"),
            (h, m, _) => format!("{h}h {m}m"),
        }
    };
    let heap = match &agent.allocator {
        Some(a) => format!(
            "heap allocated {}  resident {}",
            size(Some(a.allocated_bytes)),
            size(Some(a.resident_bytes))
        ),
        None => "heap unknown".to_string(),
    };
    format!(
        "agent     pid {}  v{}  up {uptime}  {heap}\n",
        agent.pid,
        or(Some(&agent.version), "?"),
    )
}

fn render_gate(gate: &GateView) -> String {
    let mut out = format!(
        "gate      reserve {}  budget {}  outstanding {}\n",
        gate.reserve_bytes,
        size(gate.budget_bytes.map(Bytes::get)),
        gate.outstanding_bytes,
    );
    if let (Some(available), Some(ledger), Some(from)) = (
        gate.available_budget_bytes,
        gate.ledger_budget_bytes,
        gate.budget_from,
    ) {
        out.push_str(&format!(
            "          budget by available {available}, by ledger {ledger} ({} committed of {}): \
             {} decides\n",
            gate.committed_bytes,
            size(gate.total_bytes.map(Bytes::get)),
            from.as_str(),
        ));
    }
    for c in &gate.committed {
        out.push_str(&format!(
            "          committed: {} {} (peak {}, live {}{})\n",
            crate::text::escape(&c.model),
            c.committed_bytes,
            c.peak_bytes,
            c.live_bytes,
            if c.gpu_offload {
                ", weights on the GPU"
            } else {
                ""
            },
        ));
    }
    if let Some(flight) = &gate.in_flight {
        out.push_str(&format!(
            "          in flight: {} ({}, {}, consumed {} of need {})\n",
            or(Some(&flight.model), "?"),
            flight.phase.as_str(),
            human::span_ms(flight.elapsed_ms),
            flight.consumed_bytes,
            flight.need_bytes,
        ));
    }
    for (i, q) in gate.queue.iter().enumerate() {
        out.push_str(&format!(
            "          queue {}: {} need {}: {}\n",
            i + 1,
            or(Some(&q.model), "?"),
            q.need_bytes,
            crate::text::escape(&q.reason),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A status document as `jetgate status` reads it from the agent's JSON.
    fn typed(doc: serde_json::Value) -> StatusDocument {
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn renders_a_gate_with_its_queue_and_reasons() {
        let doc = json!({
            "device": {"board": {"name": "Jetson Orin Nano 8GB", "id": "orin-nano-8gb", "l4t": "36.4.4", "jetpack": "6.x"}},
            "memory": {"available_bytes": 1u64 << 30, "total_bytes": 8u64 << 30, "available_from": "mem_available"},
            "gate": {"reserve_bytes": 512u64 << 20, "budget_bytes": 100u64 << 20, "outstanding_bytes": 0,
                     "available_budget_bytes": 2u64 << 30, "ledger_budget_bytes": 100u64 << 20,
                     "budget_from": "ledger", "total_bytes": 3u64 << 30, "committed_bytes": 2516582400u64,
                     "committed": [{"model": "det", "committed_bytes": 1258291200u64, "peak_bytes": 1258291200u64,
                                    "live_bytes": 1200000000u64, "from": "peak", "gpu_offload": false},
                                   {"model": "track", "committed_bytes": 1258291200u64, "peak_bytes": 1258291200u64,
                                    "live_bytes": 1200000000u64, "from": "peak", "gpu_offload": true}],
                     "queue": [{"model": "llm", "need_bytes": 1u64 << 30, "reason": "waiting: budget 100.0MiB < need"}]},
            "services": [],
            "agent": {"pid": 4242, "version": "0.1.0", "uptime_ms": 10_920_000u64,
                      "allocator": {"allocated_bytes": 2u64 << 20, "resident_bytes": 6u64 << 20}},
        });
        let text = render(&typed(doc));
        assert!(
            text.contains(
                "agent     pid 4242  v0.1.0  up 3h 2m  heap allocated 2.0MiB  resident 6.0MiB"
            ),
            "{text}"
        );
        assert!(
            text.contains("Jetson Orin Nano 8GB [orin-nano-8gb]  L4T 36.4.4"),
            "{text}"
        );
        assert!(text.contains("available 1.0GiB of 8.0GiB"), "{text}");
        assert!(
            text.contains("queue 1: llm need 1.0GiB: waiting: budget"),
            "{text}"
        );
        assert!(
            text.contains(
                "budget by available 2.0GiB, by ledger 100.0MiB (2.3GiB committed of 3.0GiB): \
                 ledger decides"
            ),
            "{text}"
        );
        assert!(
            text.contains("committed: track 1.2GiB (peak 1.2GiB, live 1.1GiB, weights on the GPU)"),
            "{text}"
        );
        assert!(
            !text.contains("tegrastats"),
            "a local document has no tegrastats"
        );
    }

    #[test]
    fn renders_cma_and_fragmentation_where_the_device_has_them_and_nothing_where_not() {
        // The R36.5 Orin Nano after its failed load (figures of the real capture).
        let doc = json!({
            "device": {"board": {"name": "Jetson Orin Nano 8GB"}},
            "memory": {"available_bytes": 6_156_320u64 * 1024, "total_bytes": 7_790_364u64 * 1024,
                       "available_from": "mem_available",
                       "cma_total_bytes": 524_288u64 * 1024, "cma_free_bytes": 168_452u64 * 1024,
                       "fragmentation": {"high_order": 4, "block_bytes": 65536,
                                         "free_high_order_bytes": 1052u64 << 20,
                                         "largest_free_block_bytes": 16u64 << 20,
                                         "free_bytes": 792_012u64 * 4096}},
        });
        let text = render(&typed(doc));
        assert!(
            text.contains(
                "CMA 164.5MiB free of 512.0MiB  free in blocks ≥ 64.0KiB 1.0GiB of 3.0GiB \
                 (largest 16.0MiB)"
            ),
            "{text}"
        );
        // A host without CMA: the blocks only.
        let doc = json!({
            "device": {"board": {"name": "x86"}},
            "memory": {"available_bytes": 1u64 << 30, "total_bytes": 8u64 << 30,
                       "cma_total_bytes": 0, "cma_free_bytes": 0,
                       "fragmentation": {"high_order": 4, "block_bytes": 65536,
                                         "free_high_order_bytes": 1u64 << 30,
                                         "largest_free_block_bytes": 4u64 << 20,
                                         "free_bytes": 2u64 << 30}},
        });
        let text = render(&typed(doc));
        assert!(
            text.contains("CMA n/a  free in blocks ≥ 64.0KiB 1.0GiB"),
            "{text}"
        );
        // Neither: no line at all, and nothing fails.
        let doc = json!({
            "device": {"board": {"name": "x86"}},
            "memory": {"available_bytes": 1u64 << 30, "total_bytes": 8u64 << 30},
        });
        let text = render(&typed(doc));
        assert!(!text.contains("CMA") && !text.contains("blocks"), "{text}");
    }

    #[test]
    fn renders_the_agent_tegrastats_and_coloured_states_only_when_asked() {
        let doc = json!({
            "device": {"board": {"name": "Jetson Orin Nano 8GB"}},
            "memory": null,
            "gate": {"reserve_bytes": 0, "budget_bytes": null, "outstanding_bytes": 0, "queue": [],
                     "in_flight": {"model": "llm", "phase": "loading", "elapsed_ms": 12_345,
                                   "consumed_bytes": 1u64 << 30, "need_bytes": 2u64 << 30}},
            "services": [{"name": "llm", "kind": "model", "state": "loading", "pid": 7,
                          "memory_bytes": 1u64 << 30, "restarts": 0}],
            "tegrastats": {"state": "unavailable", "reason": "/usr/bin/tegrastats not found"},
            "agent": {"pid": 812, "uptime_ms": 185_000, "version": "0.1.0", "socket": "/s"},
        });
        let doc = typed(doc);
        let plain = render(&doc);
        assert!(
            plain.contains("agent     pid 812  up 3m05s  version 0.1.0  socket /s"),
            "{plain}"
        );
        assert!(
            plain.contains("tegrastats unavailable: /usr/bin/tegrastats not found"),
            "{plain}"
        );
        assert!(
            plain.contains("in flight: llm (loading, 12.3s, consumed 1.0GiB of need 2.0GiB)"),
            "{plain}"
        );
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = render_toned(&doc, true);
        assert!(coloured.contains("\x1b[33mloading\x1b[0m"), "{coloured}");
    }

    #[test]
    fn renders_the_stores_health_failing_recovered_and_ok() {
        let failing = typed(json!({
            "store": {"state": "failing", "writes_failed": 3, "failing_since_ms": 1_764_000_000_000u64,
                      "last_error": "database or disk is full", "last_lost": "event note"},
        }));
        let text = render(&failing);
        assert!(
            text.contains(
                "store     FAILING since 2025-11-24T16:00:00.000Z  writes failed 3  last: event \
                 note: database or disk is full"
            ),
            "{text}"
        );
        let recovered = typed(json!({
            "store": {"state": "ok", "writes_failed": 3, "last_error": "database or disk is full"},
        }));
        assert!(
            render(&recovered).contains(
                "store     ok  writes failed 3 (recovered; last error: database or disk is full)"
            ),
            "{}",
            render(&recovered)
        );
        let ok = typed(json!({"store": {"state": "ok", "writes_failed": 0}}));
        assert!(render(&ok).contains("store     ok  writes failed 0\n"));
        assert!(
            !render(&typed(json!({}))).contains("store"),
            "a --local document has none"
        );
    }
}
