//! [`render`]: a [`Snapshot`] as exposition text. Pure: no clock, no I/O; everything it
//! writes is in the snapshot (the core loop's figures) or in the agent's own process figures
//! the caller read. Families are written in [`catalog::ALL`]'s order; a figure the snapshot
//! lacks (no memory sample yet, no tegrastats, no broker) leaves its family out.

use super::catalog::{self as c, Metric};
use super::exposition::{Exposition, Format, Value};
use super::process::ProcessFigures;
use super::Snapshot;
use crate::status::{ServiceState, ServiceView};

/// Every state a unit can be in, for `jetgate_unit_state` (one sample each).
const STATES: [ServiceState; 8] = [
    ServiceState::Stopped,
    ServiceState::Queued,
    ServiceState::Loading,
    ServiceState::Ready,
    ServiceState::Running,
    ServiceState::BackingOff,
    ServiceState::GaveUp,
    ServiceState::Failed,
];

/// The metrics text of `snapshot` (and of the agent process, `own`, where read).
pub fn render(snapshot: &Snapshot, own: Option<&ProcessFigures>, format: Format) -> String {
    let mut x = Exposition::new(format);
    device(&mut x, snapshot);
    memory(&mut x, snapshot);
    gate(&mut x, snapshot);
    units(
        &mut x,
        snapshot.status.services.as_deref().unwrap_or_default(),
    );
    for (kind, n) in snapshot.events.iter() {
        x.sample(&c::EVENTS, &[("kind", kind)], n);
    }
    if let Some(store) = &snapshot.status.store {
        x.sample(
            &c::STORE_OK,
            &[],
            store.state == crate::store::StoreState::Ok,
        );
        x.sample(&c::STORE_WRITE_FAILURES, &[], store.writes_failed);
    }
    link(&mut x, snapshot);
    super::tegrastats::write(&mut x, snapshot);
    agent(&mut x, snapshot, own);
    x.finish()
}

fn one(x: &mut Exposition, m: &Metric, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        x.sample(m, &[], v);
    }
}

fn device(x: &mut Exposition, s: &Snapshot) {
    let d = &s.status.device;
    let id = d.id.as_deref().unwrap_or("");
    x.sample(&c::DEVICE, &[("device", id), ("board", &d.board.id)], 1u64);
}

fn memory(x: &mut Exposition, s: &Snapshot) {
    let Some(m) = &s.status.memory else {
        return;
    };
    x.sample(&c::MEM_AVAILABLE, &[], m.available_bytes);
    x.sample(&c::MEM_MEM_AVAILABLE, &[], m.mem_available_bytes);
    x.sample(&c::MEM_TOTAL, &[], m.total_bytes);
    x.sample(&c::MEM_FREE, &[], m.free_bytes);
    x.sample(&c::MEM_CACHED, &[], m.cached_bytes);
    x.sample(&c::MEM_SWAP_TOTAL, &[], m.swap_total_bytes);
    x.sample(&c::MEM_SWAP_USED, &[], m.swap_used_bytes);
    one(x, &c::MEM_GPU_HELD, m.gpu_held_bytes);
    one(x, &c::MEM_CMA_TOTAL, m.cma_total_bytes);
    one(x, &c::MEM_CMA_FREE, m.cma_free_bytes);
    if let Some(cg) = &m.cgroup {
        one(x, &c::MEM_CGROUP_LIMIT, cg.limit_bytes);
        x.sample(&c::MEM_CGROUP_USAGE, &[], cg.usage_bytes);
        x.sample(&c::MEM_CGROUP_RECLAIMABLE, &[], cg.reclaimable_bytes);
        one(x, &c::MEM_CGROUP_OOM_KILLS, cg.oom_kill);
    }
    if let Some(p) = &m.pressure {
        // Through the f32's shortest text: 0.12 % is 0.0012, not 0.0011999999731779099.
        let ratio = |pct: f32| pct.to_string().parse().unwrap_or(f64::from(pct)) / 100.0;
        for (kind, window, pct) in [
            ("some", "10s", Some(p.some_avg10)),
            ("some", "60s", Some(p.some_avg60)),
            ("full", "10s", p.full_avg10),
            ("full", "60s", p.full_avg60),
        ] {
            if let Some(pct) = pct {
                let labels = [("kind", kind), ("window", window)];
                x.sample(&c::MEM_PRESSURE, &labels, ratio(pct));
            }
        }
    }
    one(x, &c::MEM_SAMPLE_AGE, m.sample_age_ms.map(seconds));
}

fn gate(x: &mut Exposition, s: &Snapshot) {
    if let Some(g) = &s.status.gate {
        x.sample(&c::GATE_RESERVE, &[], g.reserve_bytes.get());
        one(x, &c::GATE_BUDGET, g.budget_bytes.map(|b| b.get()));
        one(
            x,
            &c::GATE_AVAILABLE_BUDGET,
            g.available_budget_bytes.map(|b| b.get()),
        );
        one(
            x,
            &c::GATE_LEDGER_BUDGET,
            g.ledger_budget_bytes.map(|b| b.get()),
        );
        x.sample(&c::GATE_COMMITTED, &[], g.committed_bytes.get());
        x.sample(&c::GATE_OUTSTANDING, &[], g.outstanding_bytes.get());
        x.sample(&c::GATE_RESERVED, &[], g.reserved_bytes.get());
        x.sample(&c::GATE_QUEUE, &[], g.queue.len() as u64);
        x.sample(&c::GATE_IN_FLIGHT, &[], g.in_flight.is_some());
        if let Some(l) = &g.in_flight {
            let labels = [("model", l.model.as_str()), ("phase", l.phase.as_str())];
            x.sample(&c::GATE_LOAD_ELAPSED, &labels, seconds(l.elapsed_ms));
        }
    }
    for (decision, reason, n) in s.decisions.iter() {
        let labels = [("decision", decision), ("reason", reason)];
        x.sample(&c::GATE_DECISIONS, &labels, n);
    }
}

fn units(x: &mut Exposition, units: &[ServiceView]) {
    let labels = |u: &ServiceView| [("unit", u.name.clone()), ("kind", u.kind.to_string())];
    for u in units {
        let [(_, name), (_, kind)] = labels(u);
        for state in STATES {
            let l = [
                ("unit", name.as_str()),
                ("kind", kind.as_str()),
                ("state", state.as_str()),
            ];
            x.sample(&c::UNIT_STATE, &l, u.state == state);
        }
    }
    let each = |x: &mut Exposition, m: &Metric, f: &dyn Fn(&ServiceView) -> Option<Value>| {
        for u in units {
            if let Some(v) = f(u) {
                let [(_, name), (_, kind)] = labels(u);
                x.sample(m, &[("unit", name.as_str()), ("kind", kind.as_str())], v);
            }
        }
    };
    each(x, &c::UNIT_MEMORY, &|u| u.memory_bytes.map(Value::from));
    each(x, &c::UNIT_GPU, &|u| u.gpu_bytes.map(Value::from));
    each(x, &c::UNIT_RESTARTS, &|u| Some(Value::from(u.restarts)));
    each(x, &c::UNIT_BACKOFF, &|u| {
        Some(Value::from(u.restart_in_ms.map_or(0.0, seconds)))
    });
    each(x, &c::UNIT_LEAK_SLOPE, &|u| {
        let t = u.trend.as_ref()?;
        Some(Value::from(t.slope_bytes_per_hour as f64 / 3600.0))
    });
}

fn link(x: &mut Exposition, s: &Snapshot) {
    x.sample(&c::MQTT_ENABLED, &[], s.link.is_some());
    let Some(l) = &s.link else {
        return;
    };
    x.sample(&c::MQTT_CONNECTED, &[], l.connected);
    x.sample(&c::MQTT_SESSION, &[], l.session);
    x.sample(&c::MQTT_OUTBOX, &[], l.outbox_events);
    x.sample(&c::MQTT_IN_FLIGHT, &[], l.in_flight);
    x.sample(&c::MQTT_DROPPED, &[], l.dropped_events);
    x.sample(&c::MQTT_CONNECTIONS, &[], l.connections);
    x.sample(&c::MQTT_CONNECT_FAILURES, &[], l.failed_attempts);
}

fn agent(x: &mut Exposition, s: &Snapshot, own: Option<&ProcessFigures>) {
    let Some(a) = &s.status.agent else {
        return;
    };
    x.sample(&c::AGENT, &[("version", a.version.as_str())], 1u64);
    x.sample(&c::AGENT_START, &[], s.started_unix_ms as f64 / 1000.0);
    if let Some(p) = own {
        x.sample(&c::AGENT_CPU, &[], p.cpu_seconds);
        x.sample(&c::AGENT_RSS, &[], p.resident_bytes);
    }
    x.sample(&c::AGENT_ZOMBIES, &[], a.zombies_reaped);
    if let Some(h) = &a.allocator {
        x.sample(&c::HEAP_ALLOCATED, &[], h.allocated_bytes);
        x.sample(&c::HEAP_ACTIVE, &[], h.active_bytes);
        x.sample(&c::HEAP_RESIDENT, &[], h.resident_bytes);
        x.sample(&c::HEAP_MAPPED, &[], h.mapped_bytes);
        x.sample(&c::HEAP_RETAINED, &[], h.retained_bytes);
        x.sample(&c::HEAP_METADATA, &[], h.metadata_bytes);
    }
}

/// Milliseconds as seconds.
pub(super) fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
