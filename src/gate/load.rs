//! The load half of the gate: the load in flight, watched reading by reading until it ends.
//!
//! Owns [`Load`]: what was available before admission, what the load has consumed since, the
//! peak seen, and its phase (loading, then settling after the ready probe). Every way a load
//! ends (abort, ready, failure) goes through `end_load`, which drops its reservation and
//! learns a peak above the recorded one:
//!
//! ```text
//! admit at available 6.0GiB ─ reading 5.2GiB: consumed 0.8GiB, reservation need − 0.8GiB
//!                           ─ reading 0.2GiB < floor 0.25GiB: Abort, learned peak 5.8GiB
//! ```
//!
//! Sizes are [`Bytes`]; `now` and reading times are [`Instant`]s given by the caller.

use std::time::Instant;

use super::{budget, Abort, FailReason, Footprint, Gate, GateAction, MemReading, SettleWindow};
use crate::units::Bytes;

#[derive(Debug, Clone)]
pub(super) enum LoadPhase {
    Loading,
    Settling {
        ready_at: Instant,
        window: SettleWindow,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Load {
    pub(super) model: String,
    pub(super) declared: Bytes,
    pub(super) need: Bytes,
    pub(super) admitted_at: Instant,
    pub(super) available_before: Bytes,
    pub(super) consumed: Bytes,
    pub(super) peak: Bytes,
    /// The largest learned peak already recorded for this model (starts at `need`).
    pub(super) recorded_peak: Bytes,
    pub(super) tree_pss: Option<Bytes>,
    pub(super) gpu: Option<Bytes>,
    pub(super) exceeded: bool,
    pub(super) phase: LoadPhase,
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

    pub(super) fn reservation(&self) -> Bytes {
        budget::load_reservation(self.need, self.consumed)
    }
}

impl Gate {
    /// The ready probe passed: the load starts settling (a probe for another model, or a
    /// second one, changes nothing).
    pub(super) fn probe_passed(&mut self, model: &str, now: Instant) {
        let span = self.config.settle_window;
        if let Some(load) = self.load.as_mut().filter(|l| l.model == model) {
            if matches!(load.phase, LoadPhase::Loading) {
                load.phase = LoadPhase::Settling {
                    ready_at: now,
                    window: SettleWindow::new(span),
                };
            }
        }
    }

    /// The watch: a reading under the kill floor during a load aborts it at once, before
    /// anything else (a timeout due at the same moment would only stop it with a grace period).
    pub(super) fn watch_floor(&mut self, r: &MemReading, now: Instant, out: &mut Vec<GateAction>) {
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
    pub(super) fn reading(&mut self, r: MemReading, now: Instant, out: &mut Vec<GateAction>) {
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

    pub(super) fn check_timeouts(&mut self, now: Instant, out: &mut Vec<GateAction>) {
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

    pub(super) fn fail(&mut self, reason: FailReason, now: Instant, out: &mut Vec<GateAction>) {
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
    pub(super) fn end_load(&mut self, out: &mut Vec<GateAction>) {
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
}
