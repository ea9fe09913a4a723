//! The typed contracts of every document the agent publishes, shared by the producers (the
//! agent, `jetgate status --local`, the MQTT link) and the readers (`jetgate status`,
//! `services`, `trend`, `fleet`, `top`): the status document and its sections, the service row,
//! the control replies and the MQTT presence and telemetry payloads. Sizes are `_bytes`
//! integers, ages and waits `_ms`; a figure a source lacks is `null`.
//!
//! The JSON is the contract: keys, names and units never change (fields may be added), and a
//! golden test per document (`tests/golden/*.json`) guards it.
//!
//! | document | type | module |
//! |---|---|---|
//! | `jetgate status --json` (agent and `--local`), MQTT `state` | [`StatusDocument`] | `document` |
//! | its `memory` section | [`MemoryView`] | `memory` |
//! | its `tegrastats` section | [`TegrastatsSection`] | `tegrastats` |
//! | its `gate` section | [`GateView`](crate::gate::GateView) | `gate::view` |
//! | its `device.board` | [`BoardReport`](crate::board::BoardReport) | `board::report` |
//! | its `store` section | [`StoreHealthView`](crate::store::StoreHealthView) | `store::health` |
//! | a service row (`services`, `trend`, load replies) | [`ServiceView`] | `service` |
//! | its `estimate` (`memory = "auto"`) | [`EstimateView`] | `estimate` |
//! | control replies | [`LoadOutcome`], [`ServicesReply`], [`EventsReply`] | `reply` |
//! | MQTT `status` and `telemetry` | [`Presence`], [`Telemetry`] | `mqtt` |
//!
//! Readers take a document tolerantly: sections and figures they do not find read as `None`,
//! 0 or empty, so an older or newer agent never breaks a view.

mod document;
mod estimate;
mod memory;
mod mqtt;
mod reply;
mod service;
mod tegrastats;

#[cfg(test)]
pub(crate) mod golden;
#[cfg(test)]
mod tests;

pub use document::{
    AgentView, DeviceView, GpuLoad, GpuView, NvmlView, Source, StatusDocument, TreeView,
};
pub use estimate::EstimateView;
pub use memory::{CgroupView, FragmentationView, MemoryView, PressureView};
pub use mqtt::{Presence, Telemetry, TelemetryAgent, TelemetryGate, TelemetryMemory};
pub use reply::{EventsReply, LoadOutcome, ServicesReply};
pub use service::{LimitFrom, ServiceKind, ServiceState, ServiceView, TrendVerdict, TrendView};
pub use tegrastats::{
    CpuFigures, EmcFigures, GpuFigures, RailFigures, SampleFigures, TegrastatsSection,
    TegrastatsState, TempFigures,
};
