//! jetgate: the agent that keeps AI models from taking a Jetson down.
//!
//! One library, one thin `main`. Data flows one way (see `docs/architecture.md`):
//!
//! ```text
//!  sources (io)                     core (pure)                               actions (io)
//!  procfs, cgroup, nvmap ─┐                                                  ┌─ process runner
//!  tegrastats, nvml      ─┼─ Reading ─► inbox ─► State::apply ─► Engine::step ┼─ event store
//!  process runner  ChildEvent ─────────┤         (gate, policy, trend)        ├─ MQTT publisher
//!  control socket, MQTT cmd, signals ──┘   Command                           └─ replies
//!         ▲                                                                        │
//!         └──────── results of actions come back only as new inputs ◄──────────────┘
//! ```
//!
//! - [`sources`]: readers of `/proc`, `/sys`, cgroups, nvmap, devfreq and NVML, each a pure
//!   parser plus a thin reader under an injectable [`sources::Root`].
//! - [`gate`]: the load gate, pure decision code: one load at a time, only when memory covers it.
//! - [`board`]: Jetson module profiles (`board/*.toml`) and their detection.
//! - [`units`]: [`units::Bytes`] and human sizes and durations.
//! - [`cli`]: the command-line front end.
//! - [`runner`]: spawns and stops children (own process group, own cgroup, piped output).
//! - [`probe`]: readiness and liveness probes and the failure counter behind restarts.
//! - [`store`]: the durable SQLite store (event log, learned footprints, weights hashes).
//! - [`mqtt`]: the fleet link: presence, state, telemetry, the durable event outbox, commands.
//! - [`simmodel`]: `jetgate sim-model`, a stand-in model server for tests and demos.

pub mod agent;
pub mod allocator;
pub mod board;
pub mod buildinfo;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod event;
pub mod exit;
pub mod gate;
pub mod mqtt;
pub mod probe;
pub mod runner;
pub mod simmodel;
pub mod sources;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod tasks;
pub mod units;
