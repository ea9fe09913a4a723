//! The load gate: admits model loads one at a time, only when measured memory covers them.
//!
//! Pure decision code (docs/architecture.md, "Conventions"): [`Gate::step`] takes one [`GateInput`] and `now`, and
//! returns [`GateAction`]s. No clock reads, no I/O, no tokio. The agent's I/O layer executes
//! the actions (spawn, kill, stop, store events) and feeds their outcomes back as inputs.
//!
//! It owns the queue of requests, the load in flight, the set of loaded models, the learned
//! peaks it has seen, and external reservations. All sizes are [`Bytes`]. The memory model is
//! docs/agent.md's ("Memory model"), computed in [`budget`]:
//!
//! ```text
//! available = the latest reading's figure (the sampler applies min(MemAvailable, cgroup room))
//! committed = Σ over loaded models of max(peak, live PSS + GPU)           (the [`ledger`])
//! budget    = min(available, total − committed) − reserve − Σ(outstanding reservations)
//! admit     ⇔ no load in flight ∧ reading age ≤ fresh_within ∧ budget ≥ need × (1 + headroom)
//! need      = max(declared, learned peak of earlier loads)
//! ```
//!
//! Both figures are kept and shown, with the one that decided ([`BudgetFrom`]): `available`
//! sees everything on the device but calls a model's mmap'd weights reclaimable; the ledger
//! sees the loaded models whatever the kernel calls their pages.
//!
//! A load's life, with what the I/O layer does in brackets:
//!
//! ```text
//! Request ─► Requested, then Admit [spawn, sample fast] | Queued{reason} | Deny | Duplicate
//! Reading during the load: available < kill_floor ─► Abort [kill group] + RaiseLearnedPeak
//!                          peak > need + tolerance ─► ExceededNeed + RaiseLearnedPeak (no kill)
//! ReadyProbePassed ─► settling; a reading that completes a settled window ─► LoadReady{footprint}
//!                                                   (its figures become its commitment)
//! Usage{model} of a loaded model ─► its commitment follows its live figures
//! Exited | Cancel | Unloaded | load_timeout | settle_timeout ─► LoadFailed{reason} [stop model]
//! ```
//!
//! Reservations: the load in flight holds `need − consumed` (never below zero) until it ends
//! on any path; external ones are held by key ([`GateInput::Reserve`] / [`GateInput::Release`],
//! e.g. a leaking service's projected growth). FIFO: the head of the queue blocks the rest, so
//! a big model is never starved by small ones.
//!
//! Restarts: a restart of a gated model is an ordinary `Request` (after `Exited` or
//! `Unloaded` took it out of the loaded set); it waits in the queue like any other.
//!
//! Inputs name models, not processes: the I/O layer must send `Exited` / `ReadyProbePassed`
//! only for the process it started on the latest `Admit` of that model (a late exit of a
//! process stopped after `LoadFailed` must not be forwarded once the model is admitted again).
//!
//! Layout: this file holds the types and [`Gate::step`]; `queue.rs` requests and admission,
//! `load.rs` the load in flight, [`budget`] the arithmetic, [`ledger`] the loaded models' commitments, [`settle`] the settle window,
//! `view.rs` the snapshot for `jetgate status`, `action.rs` the actions and their events,
//! [`decision`] the actions counted as decisions for the metrics.

mod action;
pub mod budget;
pub mod decision;
pub mod ledger;
mod load;
mod queue;
pub mod settle;
mod view;

#[cfg(test)]
mod ledger_tests;
#[cfg(test)]
mod load_tests;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

pub use action::{Abort, Admission, FailReason, Footprint, GateAction, Presence};
pub use budget::{Budget, BudgetFrom};
pub use decision::DecisionCounts;
pub use ledger::{Commitment, CommittedFrom, Ledger, Usage};
pub use settle::SettleWindow;
pub use view::{CommitmentView, GateView, InFlightView, Phase, QueuedView, ReservationView};

use load::Load;
use queue::Waiting;

use crate::units::Bytes;

/// The gate's policy, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// Memory never handed to a load.
    pub reserve: Bytes,
    /// Extra fraction on top of need: 0.10 gates a 4 GiB model on 4.4 GiB.
    pub headroom: f64,
    /// A reading under this during a load aborts it (half the reserve by default:
    /// docs/configuration.md, `memory.kill_floor`).
    pub kill_floor: Bytes,
    /// The oldest reading that may admit a load.
    pub fresh_within: Duration,
    /// How long `available` must hold still after the ready probe.
    pub settle_window: Duration,
    /// "Holds still": moves by less than this over the window.
    pub settle_tolerance: Bytes,
    /// From the ready probe to settled, at most.
    pub settle_timeout: Duration,
    /// From admission to settled, at most.
    pub load_timeout: Duration,
    /// A load is over its need only past `max(overshoot_tolerance, need × percent / 100)`.
    pub overshoot_tolerance: Bytes,
    pub overshoot_tolerance_percent: f64,
}

impl GateConfig {
    /// Defaults around a reserve: 10 % headroom, floor at half the reserve, readings fresh
    /// within 1 s, settled when moving < 32 MiB over 2 s, 60 s to settle, 5 min to load, over
    /// need past max(32 MiB, 2 %).
    pub fn with_reserve(reserve: Bytes) -> GateConfig {
        GateConfig {
            reserve,
            headroom: 0.10,
            kill_floor: Bytes(reserve.get() / 2),
            fresh_within: Duration::from_secs(1),
            settle_window: Duration::from_secs(2),
            settle_tolerance: Bytes::from_mib(32),
            settle_timeout: Duration::from_secs(60),
            load_timeout: Duration::from_secs(300),
            overshoot_tolerance: Bytes::from_mib(32),
            overshoot_tolerance_percent: 2.0,
        }
    }
}

/// One memory reading from the sampler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemReading {
    /// Already `min(MemAvailable, cgroup room)` where the agent is scoped to a cgroup.
    pub available: Bytes,
    /// Physical memory, or the cgroup limit where scoped; decides "can never fit".
    pub total: Bytes,
    pub taken_at: Instant,
    /// PSS of the loading model's process tree, when a load is in flight and it was read.
    pub loading_tree_pss: Option<Bytes>,
    /// The file-backed share of `loading_tree_pss` (mmap'd weights), where the kernel splits it.
    pub loading_tree_pss_file: Option<Bytes>,
    /// GPU memory of the loading model, where the board reports it per process.
    pub loading_gpu: Option<Bytes>,
}

/// Everything the gate reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateInput {
    /// Load `model`; `learned_peak` is the stored peak of its earlier loads, if any;
    /// `gpu_offload`: its weights are copied to GPU memory (mapped file pages count once).
    Request {
        model: String,
        declared: Bytes,
        learned_peak: Option<Bytes>,
        gpu_offload: bool,
    },
    /// A loaded model's latest tree reading: its commitment follows it (others are ignored:
    /// a model not loaded holds nothing in the ledger).
    Usage {
        model: String,
        usage: Usage,
    },
    /// An unload of a model that is queued (removed) or loading (failed, to be stopped).
    Cancel {
        model: String,
    },
    Reading(MemReading),
    /// The model's ready probe passed; settling starts.
    ReadyProbePassed {
        model: String,
    },
    /// The model's process exited (during its load: the load failed).
    Exited {
        model: String,
    },
    /// The model was stopped by the I/O layer; it is no longer loaded.
    Unloaded {
        model: String,
    },
    /// Hold `bytes` out of every budget under `key` (replaces an earlier one).
    Reserve {
        key: String,
        bytes: Bytes,
    },
    Release {
        key: String,
    },
    /// Time passed; timeouts are checked.
    Tick,
}

/// How fast the I/O layer should sample memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingMode {
    Idle,
    /// A load is in flight: sample at the high rate.
    Loading,
}

/// The load gate's state. Build with [`Gate::new`], drive with [`Gate::step`].
#[derive(Debug, Clone)]
pub struct Gate {
    config: GateConfig,
    reading: Option<MemReading>,
    queue: VecDeque<Waiting>,
    load: Option<Load>,
    ledger: Ledger,
    learned: BTreeMap<String, Bytes>,
    reservations: BTreeMap<String, Bytes>,
}

impl Gate {
    pub fn new(config: GateConfig) -> Gate {
        Gate {
            config,
            reading: None,
            queue: VecDeque::new(),
            load: None,
            ledger: Ledger::default(),
            learned: BTreeMap::new(),
            reservations: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// Sample fast while a load is in flight.
    pub fn sampling_mode(&self) -> SamplingMode {
        match self.load {
            Some(_) => SamplingMode::Loading,
            None => SamplingMode::Idle,
        }
    }

    /// The model whose load is in flight.
    pub fn in_flight(&self) -> Option<&str> {
        self.load.as_ref().map(|l| l.model.as_str())
    }

    /// Queued models, head first.
    pub fn queued(&self) -> impl Iterator<Item = &str> {
        self.queue.iter().map(|w| w.model.as_str())
    }

    /// Why `model` is still waiting, as of the last step (None when it is not queued).
    pub fn queue_reason(&self, model: &str) -> Option<&str> {
        self.queue
            .iter()
            .find(|w| w.model == model)
            .map(|w| w.reason.as_str())
    }

    /// Σ reservations not yet reflected in `available`: the load in flight plus external ones.
    pub fn outstanding(&self) -> Bytes {
        let load = self.load.as_ref().map_or(Bytes::ZERO, Load::reservation);
        load + self.reservations.values().copied().sum()
    }

    /// Every loaded model's commitment.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The largest peak the gate knows for `model` (from requests and its own loads).
    pub fn learned_peak(&self, model: &str) -> Option<Bytes> {
        self.learned.get(model).copied()
    }

    /// Applies one input at `now` and returns what to do, in order.
    pub fn step(&mut self, input: GateInput, now: Instant) -> Vec<GateAction> {
        let mut out = Vec::new();
        if let GateInput::Reading(r) = &input {
            self.watch_floor(r, now, &mut out);
        }
        // Timeouts next, so the input meets the state as it stands at `now`.
        self.check_timeouts(now, &mut out);
        match input {
            GateInput::Request {
                model,
                declared,
                learned_peak,
                gpu_offload,
            } => self.request(model, declared, learned_peak, gpu_offload, now, &mut out),
            GateInput::Usage { model, usage } => self.ledger.observe(&model, usage),
            GateInput::Cancel { model } => {
                self.withdraw(&model, FailReason::Cancelled, now, &mut out)
            }
            GateInput::Unloaded { model } => {
                self.ledger.release(&model);
                self.withdraw(&model, FailReason::Stopped, now, &mut out);
            }
            GateInput::Exited { model } => {
                self.ledger.release(&model);
                if self.in_flight() == Some(model.as_str()) {
                    self.fail(FailReason::Exited, now, &mut out);
                }
            }
            GateInput::Reading(r) => self.reading(r, now, &mut out),
            GateInput::ReadyProbePassed { model } => self.probe_passed(&model, now),
            GateInput::Reserve { key, bytes } => {
                self.reservations.insert(key, bytes);
            }
            GateInput::Release { key } => {
                self.reservations.remove(&key);
            }
            GateInput::Tick => {}
        }
        self.pump(now, &mut out);
        out
    }
}
