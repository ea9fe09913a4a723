//! The load gate: admits model loads one at a time, only when measured memory covers them.
//!
//! Pure decision code (STYLE.md 3, 4): [`Gate::step`] takes one [`GateInput`] and `now`, and
//! returns [`GateAction`]s. No clock reads, no I/O, no tokio. The agent's I/O layer executes
//! the actions (spawn, kill, stop, store events) and feeds their outcomes back as inputs.
//!
//! It owns the queue of requests, the load in flight, the set of loaded models, the learned
//! peaks it has seen, and external reservations. All sizes are [`Bytes`]. The memory model is
//! DESIGN.md's, computed in [`budget`]:
//!
//! ```text
//! available = the latest reading's figure (the sampler applies min(MemAvailable, cgroup room))
//! budget    = available − reserve − Σ(outstanding reservations)
//! admit     ⇔ no load in flight ∧ reading age ≤ fresh_within ∧ budget ≥ need × (1 + headroom)
//! need      = max(declared, learned peak of earlier loads)
//! ```
//!
//! A load's life, with what the I/O layer does in brackets:
//!
//! ```text
//! Request ─► Requested, then Admit [spawn, sample fast] | Queued{reason} | Deny | Duplicate
//! Reading during the load: available < kill_floor ─► Abort [kill group] + RaiseLearnedPeak
//!                          consumed > need         ─► ExceededNeed + RaiseLearnedPeak (no kill)
//! ReadyProbePassed ─► settling; a reading that completes a settled window ─► LoadReady{footprint}
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

mod action;
pub mod budget;
pub mod settle;
mod view;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

pub use action::{Abort, Admission, FailReason, Footprint, GateAction, Presence};
pub use settle::SettleWindow;
pub use view::{GateView, InFlightView, Phase, QueuedView, ReservationView};

use crate::units::Bytes;

/// The gate's policy, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// Memory never handed to a load.
    pub reserve: Bytes,
    /// Extra fraction on top of need: 0.10 gates a 4 GiB model on 4.4 GiB.
    pub headroom: f64,
    /// A reading under this during a load aborts it (DESIGN: half the reserve by default).
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
}

impl GateConfig {
    /// Defaults around a reserve: 10 % headroom, floor at half the reserve, readings fresh
    /// within 1 s, settled when moving < 32 MiB over 2 s, 60 s to settle, 5 min to load.
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
    /// GPU memory of the loading model, where the board reports it per process.
    pub loading_gpu: Option<Bytes>,
}

/// Everything the gate reacts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateInput {
    /// Load `model`; `learned_peak` is the stored peak of its earlier loads, if any.
    Request {
        model: String,
        declared: Bytes,
        learned_peak: Option<Bytes>,
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

#[derive(Debug, Clone)]
struct Waiting {
    model: String,
    declared: Bytes,
    need: Bytes,
    requested_at: Instant,
    reason: String,
}

#[derive(Debug, Clone)]
enum LoadPhase {
    Loading,
    Settling {
        ready_at: Instant,
        window: SettleWindow,
    },
}

#[derive(Debug, Clone)]
struct Load {
    model: String,
    declared: Bytes,
    need: Bytes,
    admitted_at: Instant,
    available_before: Bytes,
    consumed: Bytes,
    peak: Bytes,
    /// The largest learned peak already recorded for this model (starts at `need`).
    recorded_peak: Bytes,
    tree_pss: Option<Bytes>,
    gpu: Option<Bytes>,
    exceeded: bool,
    phase: LoadPhase,
}

impl Load {
    /// Takes in one reading: consumption so far, the peak seen, the latest PSS and GPU figures.
    fn observe(&mut self, r: &MemReading) {
        self.consumed = budget::consumed(self.available_before, r.available);
        self.tree_pss = r.loading_tree_pss.or(self.tree_pss);
        self.gpu = r.loading_gpu.or(self.gpu);
        let seen = self.consumed.max(r.loading_tree_pss.unwrap_or(Bytes::ZERO));
        self.peak = self.peak.max(seen);
    }

    fn reservation(&self) -> Bytes {
        budget::load_reservation(self.need, self.consumed)
    }
}

/// The load gate's state. Build with [`Gate::new`], drive with [`Gate::step`].
#[derive(Debug, Clone)]
pub struct Gate {
    config: GateConfig,
    reading: Option<MemReading>,
    queue: VecDeque<Waiting>,
    load: Option<Load>,
    loaded: BTreeSet<String>,
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
            loaded: BTreeSet::new(),
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

    /// Σ reservations not yet reflected in `available`: the load in flight plus external ones.
    pub fn outstanding(&self) -> Bytes {
        let load = self.load.as_ref().map_or(Bytes::ZERO, Load::reservation);
        load + self.reservations.values().copied().sum()
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
            } => self.request(model, declared, learned_peak, now, &mut out),
            GateInput::Cancel { model } => {
                self.withdraw(&model, FailReason::Cancelled, now, &mut out)
            }
            GateInput::Unloaded { model } => {
                self.loaded.remove(&model);
                self.withdraw(&model, FailReason::Stopped, now, &mut out);
            }
            GateInput::Exited { model } => {
                self.loaded.remove(&model);
                if self.in_flight() == Some(model.as_str()) {
                    self.fail(FailReason::Exited, now, &mut out);
                }
            }
            GateInput::Reading(r) => self.reading(r, now, &mut out),
            GateInput::ReadyProbePassed { model } => {
                if let Some(load) = self.load.as_mut().filter(|l| l.model == model) {
                    if matches!(load.phase, LoadPhase::Loading) {
                        load.phase = LoadPhase::Settling {
                            ready_at: now,
                            window: SettleWindow::new(self.config.settle_window),
                        };
                    }
                }
            }
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

    fn request(
        &mut self,
        model: String,
        declared: Bytes,
        learned_peak: Option<Bytes>,
        now: Instant,
        out: &mut Vec<GateAction>,
    ) {
        if let Some(p) = learned_peak {
            let known = self.learned.entry(model.clone()).or_default();
            *known = (*known).max(p);
        }
        let need = budget::need(declared, self.learned.get(&model).copied());
        out.push(GateAction::Requested {
            model: model.clone(),
            declared,
            learned_peak,
            need,
        });
        if let Some(presence) = self.presence(&model) {
            out.push(GateAction::Duplicate { model, presence });
            return;
        }
        let required = budget::required(need, self.config.headroom);
        if let Some(r) = &self.reading {
            if budget::never_fits(required, r.total, self.config.reserve) {
                out.push(self.deny(model, need, r.total));
                return;
            }
        }
        self.queue.push_back(Waiting {
            model: model.clone(),
            declared,
            need,
            requested_at: now,
            reason: String::new(),
        });
        self.pump(now, out);
        if let Some(i) = self.queue.iter().position(|w| w.model == model) {
            let w = &self.queue[i];
            out.push(GateAction::Queued {
                model,
                position: i + 1,
                need,
                reason: w.reason.clone(),
            });
        }
    }

    fn presence(&self, model: &str) -> Option<Presence> {
        if let Some(i) = self.queue.iter().position(|w| w.model == model) {
            Some(Presence::Queued { position: i + 1 })
        } else if self.in_flight() == Some(model) {
            Some(Presence::Loading)
        } else if self.loaded.contains(model) {
            Some(Presence::Loaded)
        } else {
            None
        }
    }

    fn deny(&self, model: String, need: Bytes, total: Bytes) -> GateAction {
        GateAction::Deny {
            model,
            need,
            required: budget::required(need, self.config.headroom),
            total,
            reserve: self.config.reserve,
        }
    }

    /// Removes a queued request, or fails the load in flight with `reason`.
    fn withdraw(
        &mut self,
        model: &str,
        reason: FailReason,
        now: Instant,
        out: &mut Vec<GateAction>,
    ) {
        if let Some(i) = self.queue.iter().position(|w| w.model == model) {
            if let Some(w) = self.queue.remove(i) {
                out.push(GateAction::Withdrawn {
                    model: w.model,
                    waited: now.saturating_duration_since(w.requested_at),
                });
            }
        } else if self.in_flight() == Some(model) {
            self.fail(reason, now, out);
        }
    }

    /// The watch: a reading under the kill floor during a load aborts it at once, before
    /// anything else (a timeout due at the same moment would only stop it with a grace period).
    fn watch_floor(&mut self, r: &MemReading, now: Instant, out: &mut Vec<GateAction>) {
        let floor = self.config.kill_floor;
        let Some(load) = self.load.as_mut().filter(|_| r.available < floor) else {
            return;
        };
        load.observe(r);
        out.push(GateAction::Abort(Abort {
            model: load.model.clone(),
            available: r.available,
            floor,
            elapsed: now.saturating_duration_since(load.admitted_at),
            tree_pss: r.loading_tree_pss,
            available_before: load.available_before,
            consumed: load.consumed,
            need: load.need,
        }));
        self.end_load(out);
    }

    /// Records a reading; during a load, tracks consumption and settling.
    fn reading(&mut self, r: MemReading, now: Instant, out: &mut Vec<GateAction>) {
        let tolerance = self.config.settle_tolerance;
        if let Some(load) = self.load.as_mut() {
            load.observe(&r);
            let elapsed = now.saturating_duration_since(load.admitted_at);
            if !load.exceeded && load.peak > load.need {
                load.exceeded = true;
                out.push(GateAction::ExceededNeed {
                    model: load.model.clone(),
                    declared: load.declared,
                    need: load.need,
                    consumed: load.peak,
                    tree_pss: r.loading_tree_pss,
                    elapsed,
                });
                out.push(GateAction::RaiseLearnedPeak {
                    model: load.model.clone(),
                    previous: load.recorded_peak,
                    peak: load.peak,
                });
                load.recorded_peak = load.peak;
                self.learned.insert(load.model.clone(), load.peak);
            }
            if let LoadPhase::Settling { ready_at, window } = &mut load.phase {
                window.push(r.taken_at, r.available);
                if window.is_settled(tolerance) {
                    let ready = GateAction::LoadReady {
                        model: load.model.clone(),
                        footprint: Footprint {
                            available_drop_bytes: load.consumed,
                            peak_bytes: load.peak,
                            tree_pss_bytes: load.tree_pss,
                            gpu_bytes: load.gpu,
                        },
                        elapsed,
                        settled_in: now.saturating_duration_since(*ready_at),
                    };
                    self.loaded.insert(load.model.clone());
                    out.push(ready);
                    self.reading = Some(r);
                    self.end_load(out);
                    return;
                }
            }
        }
        self.reading = Some(r);
    }

    fn check_timeouts(&mut self, now: Instant, out: &mut Vec<GateAction>) {
        let Some(load) = &self.load else { return };
        let since_admit = now.saturating_duration_since(load.admitted_at);
        let reason = match &load.phase {
            LoadPhase::Loading if since_admit > self.config.load_timeout => {
                FailReason::LoadTimeout {
                    limit: self.config.load_timeout,
                    probe_passed: false,
                }
            }
            LoadPhase::Settling { .. } if since_admit > self.config.load_timeout => {
                FailReason::LoadTimeout {
                    limit: self.config.load_timeout,
                    probe_passed: true,
                }
            }
            LoadPhase::Settling { ready_at, .. }
                if now.saturating_duration_since(*ready_at) > self.config.settle_timeout =>
            {
                FailReason::SettleTimeout {
                    limit: self.config.settle_timeout,
                }
            }
            _ => return,
        };
        self.fail(reason, now, out);
    }

    fn fail(&mut self, reason: FailReason, now: Instant, out: &mut Vec<GateAction>) {
        if let Some(load) = &self.load {
            out.push(GateAction::LoadFailed {
                model: load.model.clone(),
                reason,
                elapsed: now.saturating_duration_since(load.admitted_at),
                consumed: load.consumed,
                peak: load.peak,
            });
            self.end_load(out);
        }
    }

    /// Ends the load in flight on any path: its reservation goes with it, and a peak above
    /// what was recorded is learned.
    fn end_load(&mut self, out: &mut Vec<GateAction>) {
        if let Some(load) = self.load.take() {
            if load.peak > load.recorded_peak {
                out.push(GateAction::RaiseLearnedPeak {
                    model: load.model.clone(),
                    previous: load.recorded_peak,
                    peak: load.peak,
                });
                self.learned.insert(load.model, load.peak);
            }
        }
    }

    /// Denies queued requests that can no longer ever fit, admits the head if it fits, and
    /// brings every waiting reason up to date.
    fn pump(&mut self, now: Instant, out: &mut Vec<GateAction>) {
        if let Some(total) = self.reading.as_ref().map(|r| r.total) {
            let (reserve, headroom) = (self.config.reserve, self.config.headroom);
            let mut i = 0;
            while i < self.queue.len() {
                let w = &self.queue[i];
                if budget::never_fits(budget::required(w.need, headroom), total, reserve) {
                    if let Some(w) = self.queue.remove(i) {
                        out.push(self.deny(w.model, w.need, total));
                    }
                } else {
                    i += 1;
                }
            }
        }
        if self.load.is_none() {
            if let Some(admission) = self.try_admit_head(now) {
                out.push(GateAction::Admit(admission));
            }
        }
        let head_reason = self
            .queue
            .front()
            .map(|w| self.blocking_reason(w.need, now));
        let head_model = self.queue.front().map(|w| w.model.clone());
        for (i, w) in self.queue.iter_mut().enumerate() {
            w.reason = match (&self.load, i, &head_reason, &head_model) {
                (Some(l), _, _, _) => format!("waiting: load of {} in flight", l.model),
                (None, 0, Some(r), _) => r.clone(),
                (None, _, _, Some(h)) => format!("waiting: behind {h} in the queue"),
                _ => String::new(),
            };
        }
    }

    fn try_admit_head(&mut self, now: Instant) -> Option<Admission> {
        let r = self.reading.as_ref()?;
        let head = self.queue.front()?;
        if !budget::is_fresh(r.taken_at, now, self.config.fresh_within) {
            return None;
        }
        let outstanding = self.outstanding();
        let budget = budget::budget(r.available, self.config.reserve, outstanding);
        let required = budget::required(head.need, self.config.headroom);
        if budget < required {
            return None;
        }
        let w = self.queue.pop_front()?;
        let admission = Admission {
            model: w.model.clone(),
            need: w.need,
            required,
            available: r.available,
            reserve: self.config.reserve,
            outstanding,
            budget,
            reading_age: now.saturating_duration_since(r.taken_at),
            waited: now.saturating_duration_since(w.requested_at),
        };
        self.load = Some(Load {
            model: w.model,
            declared: w.declared,
            need: w.need,
            admitted_at: now,
            available_before: r.available,
            consumed: Bytes::ZERO,
            peak: Bytes::ZERO,
            recorded_peak: w.need,
            tree_pss: None,
            gpu: None,
            exceeded: false,
            phase: LoadPhase::Loading,
        });
        Some(admission)
    }

    /// Why a request needing `need` cannot be admitted now, as shown to the operator.
    fn blocking_reason(&self, need: Bytes, now: Instant) -> String {
        if let Some(l) = &self.load {
            return format!("waiting: load of {} in flight", l.model);
        }
        let fresh = self
            .reading
            .as_ref()
            .filter(|r| budget::is_fresh(r.taken_at, now, self.config.fresh_within));
        let Some(r) = fresh else {
            return "waiting: no fresh memory reading".to_string();
        };
        let budget = budget::budget(r.available, self.config.reserve, self.outstanding());
        format!(
            "waiting: budget {budget} < need {need} × {:.2}",
            1.0 + self.config.headroom.max(0.0)
        )
    }
}
