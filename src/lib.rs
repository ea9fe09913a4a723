//! jetgate: the agent that keeps AI models from taking a Jetson down.
//!
//! One library, one thin `main`. Data flows one way; `docs/architecture.md` draws it whole and
//! says where each input enters, is decided and acts:
//!
//! ```text
//!  inputs (tasks)                 core loop (one task)                        actions (io)
//!  sampling::run ─ Sampled ───┐
//!  runner ChildExit, output ──┼─► Engine::input(Input, now) -> Vec<Action> ─► Executor::execute
//!  probes, trees ─ Feedback ──┤     (pure: Gate::step, Watch::observe,         spawn, kill, stop,
//!  control, MQTT ─ Cmd ───────┘      restart policy, health)                   store, replies
//!         ▲                                                                        │
//!         └──────── results of actions come back only as new inputs ◄──────────────┘
//! ```
//!
//! - [`agent`]: the daemon (composition root and core loop), the pure [`agent::engine`] and
//!   [`agent::watch`], the executor, the sampling task, systemd notification, orphans.
//! - [`allocator`]: jemalloc statistics of the agent's own heap.
//! - [`board`]: Jetson module profiles (`board/*.toml`) and their detection.
//! - [`buildinfo`]: what `--version` says: commit, target, glibc floor.
//! - [`cli`]: the command-line front end, one file per command.
//! - [`clock`]: wall-clock stamps (decision code takes `now` as an argument).
//! - [`config`]: the strict TOML configuration, each problem with its line.
//! - [`control`]: the control socket: protocol, server, client.
//! - [`estimate`]: a model's memory predicted from its file before its first load (GGUF, ONNX,
//!   TensorRT), for `memory = "auto"` and `jetgate estimate`.
//! - [`event`]: the event, the domain log of every decision; each kind's figures are a typed
//!   struct ([`event::figures`]).
//! - [`exit`]: exit codes by kind, error chains said once.
//! - [`gate`]: the load gate, pure decision code: one load at a time, only when memory covers it.
//! - [`metrics`]: the OpenMetrics endpoint and node_exporter textfile, rendered from the core
//!   loop's published snapshot.
//! - [`mqtt`]: the fleet link: presence, state, telemetry, the durable event outbox, commands.
//! - [`prerequisite`]: tests only: a missing test prerequisite skips here and fails under CI.
//! - [`probe`]: readiness and liveness probes and the failure counter behind restarts.
//! - [`runner`]: spawns and stops children (own process group, own cgroup, piped output).
//! - [`simmodel`]: `jetgate sim-model`, a stand-in model server for tests and demos.
//! - [`sources`]: readers of `/proc`, `/sys`, cgroups, nvmap, devfreq and NVML, each a pure
//!   parser plus a thin reader under an injectable [`sources::Root`].
//! - [`status`]: the status document and service rows.
//! - [`store`]: the durable SQLite store (event log, learned footprints, weights hashes).
//! - [`supervisor`]: the restart policy and the leak trend.
//! - [`tasks`]: the owner of every spawned task.
//! - [`text`]: untrusted text: the characters refused in ids and escaped when printed.
//! - [`units`]: [`units::Bytes`] and human sizes and durations.

pub mod agent;
pub mod allocator;
pub mod board;
pub mod buildinfo;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod estimate;
pub mod event;
pub mod exit;
pub mod gate;
pub mod metrics;
pub mod mqtt;
#[doc(hidden)]
pub mod prerequisite;
pub mod probe;
pub mod runner;
pub mod simmodel;
pub mod sources;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod tasks;
pub mod text;
pub mod units;
