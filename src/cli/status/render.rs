//! The human form of the status document: device, memory, gate, services, store and agent,
//! one block each (`jetgate status` without `--json`).

use crate::cli::figures::tegrastats_lines;
use crate::cli::human;
use crate::cli::remote::services_table_toned;
use crate::cli::table::Table;
use crate::clock;
use crate::gate::GateView;
use crate::sources::AvailableFrom;
use crate::status::{AgentView, GpuLoad, MemoryView, NvmlView, StatusDocument};
use crate::store::{StoreHealthView, StoreState};
use crate::units::Bytes;

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
