//! Golden tests: one per published JSON document. Each serializes a deterministic instance
//! (fixed figures, fixed time) and compares it with `tests/golden/NAME.json`; run with
//! `JETGATE_BLESS=1` to rewrite the files after a deliberate change of a contract.
#![allow(clippy::disallowed_methods)] // reads the golden files; an `Instant` anchors the ages

use std::time::{Duration, Instant};

use serde_json::Value;

use super::golden::golden;
use super::*;
use crate::allocator::AllocatorStats;
use crate::control::Response;
use crate::event::{EventKind, NewEvent};
use crate::gate::{
    BudgetFrom, CommitmentView, CommittedFrom, GateView, InFlightView, Phase, QueuedView,
    ReservationView,
};
use crate::sources::{Root, Sampler, Scope};
use crate::units::Bytes;

const FIXTURE: &str = "tests/fixtures/orin-nano-8gb-jp6";
const TEGRASTATS_LINE: &str = "11-15-2024 08:38:09 RAM 6185/7620MB (lfb 8x2MB) SWAP 851/3810MB \
    (cached 1MB) CPU [15%@729,11%@729,14%@729,13%@729,11%@729,8%@729] EMC_FREQ 43%@2133 \
    GR3D_FREQ 63%@[621] NVDEC off NVJPG off NVJPG1 off VIC off OFA off APE 200 cpu@53.968C \
    soc2@52.437C soc0@50.75C gpu@53.343C tj@53.968C soc1@51.656C VDD_IN 12479mW/12479mW \
    VDD_CPU_GPU_CV 4667mW/4667mW VDD_SOC 2817mW/2817mW";

fn sample() -> crate::sources::MemorySample {
    Sampler::new(Root::new(FIXTURE), Scope::System)
        .sample(None)
        .expect("the fixture samples")
}

fn gate() -> GateView {
    GateView {
        reserve_bytes: Bytes::from_mib(512),
        budget_bytes: Some(Bytes::from_gib(1)),
        available_budget_bytes: Some(Bytes::from_gib(1)),
        ledger_budget_bytes: Some(Bytes::from_mib(1331)),
        budget_from: Some(BudgetFrom::Available),
        available_bytes: Some(Bytes::from_mib(2560)),
        total_bytes: Some(Bytes::from_gib(3)),
        committed_bytes: Bytes::from_mib(1133),
        committed: vec![CommitmentView {
            model: "det".into(),
            committed_bytes: Bytes::from_mib(1133),
            peak_bytes: Bytes::from_mib(1133),
            live_bytes: Bytes::from_mib(1120),
            from: CommittedFrom::Peak,
            gpu_offload: false,
        }],
        outstanding_bytes: Bytes::from_mib(1124),
        reserved_bytes: Bytes::from_mib(100),
        reading_age_ms: Some(40),
        in_flight: Some(InFlightView {
            model: "llm".into(),
            elapsed_ms: 1800,
            phase: Phase::Loading,
            need_bytes: Bytes::from_gib(1),
            consumed_bytes: Bytes::ZERO,
        }),
        queue: vec![QueuedView {
            model: "asr".into(),
            need_bytes: Bytes::from_gib(1),
            reason: "waiting: load of llm in flight".into(),
            waiting_ms: 1200,
        }],
        reservations: vec![ReservationView {
            key: "leak:api".into(),
            bytes: Bytes::from_mib(100),
        }],
    }
}

fn services() -> Vec<ServiceView> {
    vec![
        ServiceView {
            name: "llm".into(),
            kind: ServiceKind::Model,
            state: ServiceState::Loading,
            pid: Some(4100),
            memory_bytes: Some(1 << 30),
            gpu_bytes: Some(800 << 20),
            trend: None,
            restarts: 0,
            restart_in_ms: None,
            reason: None,
            estimate: None,
        },
        ServiceView {
            name: "asr".into(),
            kind: ServiceKind::Model,
            state: ServiceState::Queued,
            pid: None,
            memory_bytes: None,
            gpu_bytes: None,
            trend: None,
            restarts: 0,
            restart_in_ms: None,
            reason: Some("waiting: load of llm in flight".into()),
            estimate: Some(EstimateView {
                format: "gguf".into(),
                total_bytes: 1_395_864_371,
                weights_bytes: 1_100_000_000,
                kv_cache_bytes: 184_549_376,
                compute_bytes: 86_295_552,
                allowance_bytes: 25_019_443,
                basis: "llama, 22 layers, ctx 4096 from -c, 4096 KV cells, 4 slots unified from \
                        llama-server's default (auto), K f16 V f16, ubatch 512, flash attention on"
                    .into(),
                ratio: Some(0.97),
                need_bytes: 1_353_988_440,
            }),
        },
        ServiceView {
            name: "api".into(),
            kind: ServiceKind::Service,
            state: ServiceState::Running,
            pid: Some(4242),
            memory_bytes: Some(734_003_200),
            gpu_bytes: Some(0),
            trend: Some(TrendView {
                verdict: TrendVerdict::Leaking,
                slope_bytes_per_hour: 75_497_472_000,
                quality: 0.98,
                samples: 8,
                window_s: 7.0,
                configured_window_s: 8.0,
                projected_s: Some(12.5),
                limit_bytes: Some(1 << 30),
                limit_from: Some(LimitFrom::Limit),
                reserved_bytes: 171_966_464,
            }),
            restarts: 1,
            restart_in_ms: None,
            reason: None,
            estimate: None,
        },
        ServiceView {
            name: "cam".into(),
            kind: ServiceKind::Service,
            state: ServiceState::BackingOff,
            pid: None,
            memory_bytes: None,
            gpu_bytes: None,
            trend: Some(TrendView {
                verdict: TrendVerdict::WarmingUp,
                slope_bytes_per_hour: 0,
                quality: 0.0,
                samples: 1,
                window_s: 0.0,
                configured_window_s: 600.0,
                projected_s: None,
                limit_bytes: None,
                limit_from: None,
                reserved_bytes: 0,
            }),
            restarts: 3,
            restart_in_ms: Some(4000),
            reason: Some("exited with status 1".into()),
            estimate: None,
        },
    ]
}

fn allocator() -> AllocatorStats {
    AllocatorStats {
        allocated_bytes: 2 << 20,
        active_bytes: 3 << 20,
        resident_bytes: 6 << 20,
        mapped_bytes: 8 << 20,
        retained_bytes: 1 << 20,
        metadata_bytes: 1 << 19,
    }
}

fn tegrastats(running: bool) -> TegrastatsSection {
    let t0 = Instant::now();
    let mut view = crate::agent::tegrastats::TegrastatsView::new("/usr/bin/tegrastats".into());
    if running {
        view.ingest(TEGRASTATS_LINE, t0);
        view.ingest("not tegrastats", t0);
    } else {
        view.unavailable("/usr/bin/tegrastats not found".into());
    }
    view.section(t0 + Duration::from_millis(420))
}

/// The agent's status document, as `Agent::status_document` builds it.
fn agent_document() -> StatusDocument {
    let board = crate::board::detect(&Root::new(FIXTURE)).expect("the fixture's board");
    StatusDocument {
        device: DeviceView {
            id: Some("orin-07".into()),
            board: (&board).into(),
        },
        memory: Some(
            MemoryView::from_sample(&sample(), Some(Duration::from_millis(250)))
                .with_fragmentation(FragmentationView::read(&Root::new(FIXTURE))),
        ),
        gate: Some(gate()),
        services: Some(services()),
        tegrastats: Some(tegrastats(true)),
        agent: Some(AgentView {
            pid: 812,
            version: "0.1.0".into(),
            uptime_ms: 10_920_000,
            socket: "/run/jetgate/control.sock".into(),
            zombies_reaped: 2,
            allocator: Some(allocator()),
        }),
        store: Some(crate::store::StoreHealthView {
            state: crate::store::StoreState::Failing,
            writes_failed: 3,
            failing_since_ms: Some(1_764_000_000_000),
            last_error: Some("store: cannot append an event: database or disk is full".into()),
            last_lost: Some("event note".into()),
        }),
        ..StatusDocument::default()
    }
}

#[test]
fn the_agent_status_document_keeps_its_published_shape() {
    let doc = agent_document();
    golden("status_agent", &doc.to_value());
    let read: StatusDocument = serde_json::from_value(doc.to_value()).expect("reads back");
    assert_eq!(read, doc, "a reader gets every figure back");
}

#[test]
fn the_local_status_document_keeps_its_published_shape() {
    let globals = crate::cli::Globals {
        socket: "/run/jetgate/control.sock".into(),
        socket_override: None,
        root: Root::new(FIXTURE),
    };
    let doc = crate::cli::status::local_document(&globals, 3).expect("the fixture reads");
    golden("status_local", &doc.to_value());
    let read: StatusDocument = serde_json::from_value(doc.to_value()).expect("reads back");
    assert_eq!(read, doc, "a reader gets every figure back");
}

#[test]
fn the_tegrastats_section_without_tegrastats_keeps_its_shape() {
    golden(
        "status_tegrastats_unavailable",
        &serde_json::to_value(tegrastats(false)).expect("serializable"),
    );
}

fn reply(response: Response) -> Value {
    serde_json::from_str(&response.to_line()).expect("a reply is one JSON line")
}

#[test]
fn the_services_and_trend_replies_keep_their_published_shape() {
    let services: ServicesReply = services();
    golden("reply_services", &reply(Response::ok(&services)));
    golden("reply_trend", &reply(Response::ok([&services[2]])));
}

#[test]
fn the_load_replies_keep_their_published_shape() {
    golden("reply_load", &reply(Response::ok(&services()[0])));
    golden(
        "reply_load_wait",
        &reply(Response::ok(LoadOutcome {
            name: "llm".into(),
            state: ServiceState::Ready,
            reason: None,
        })),
    );
}

fn events() -> EventsReply {
    vec![
        NewEvent::untyped(EventKind::LoadAdmitted, Some("llm"))
            .figure("need_bytes", 1u64 << 30)
            .figure("budget_bytes", 3u64 << 30)
            .into_event(41, "2026-11-24T03:06:39.120Z".into()),
        NewEvent::untyped(EventKind::Note, None)
            .message("swapped the fan")
            .into_event(42, "2026-11-24T03:06:40.000Z".into()),
        NewEvent::untyped(EventKind::GaveUp, Some("cam"))
            .figure("attempt", 5)
            .into_event(43, "2026-11-24T03:07:00.001Z".into()),
    ]
}

#[test]
fn the_events_and_note_replies_keep_their_published_shape() {
    golden("reply_events", &reply(Response::ok(events())));
    golden("reply_note", &reply(Response::ok(&events()[1])));
}

#[test]
fn the_mqtt_payloads_keep_their_published_shape() {
    use crate::mqtt::presence;
    let parse = |bytes: Vec<u8>| -> Value { serde_json::from_slice(&bytes).expect("JSON") };
    golden(
        "mqtt_presence",
        &parse(presence::status_payload(
            true,
            7,
            1234,
            "0.1.0",
            "2026-11-24T03:06:39.120Z",
        )),
    );
    let doc = agent_document();
    golden("mqtt_state", &parse(presence::state_payload(&doc)));
    golden(
        "mqtt_telemetry",
        &parse(
            presence::telemetry_payload(&doc, 7, "2026-11-24T03:06:39.120Z")
                .expect("a document with memory"),
        ),
    );
}

#[test]
fn the_fleet_rows_keep_their_published_shape() {
    use crate::cli::fleet::{row, Device, LastEvent};
    let online = Device {
        status: serde_json::from_slice(&crate::mqtt::presence::status_payload(
            true,
            7,
            1234,
            "0.1.0",
            "2026-11-24T03:06:39.120Z",
        ))
        .ok()
        .map(Presence::into),
        state: Some(agent_document().into()),
        last_event: Some(LastEvent {
            seq: 43,
            ts: Some("2026-11-24T03:07:00.001Z".into()),
            kind: "gave_up".into(),
            subject: Some("cam".into()),
        }),
    };
    let gone = Device {
        status: Some(
            Presence {
                online: false,
                session: Some(3),
                ..Presence::default()
            }
            .into(),
        ),
        ..Device::default()
    };
    let rows = [row("orin-07", &online), row("orin-09", &gone)];
    golden(
        "fleet_json",
        &serde_json::to_value(rows).expect("serializable"),
    );
}
