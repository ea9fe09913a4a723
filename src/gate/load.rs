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

use super::{
    budget, Abort, Commitment, FailReason, Footprint, Gate, GateAction, MemReading, SettleWindow,
    Usage,
};
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
    /// Its weights are copied to GPU memory: mapped file pages count once.
    pub(super) gpu_offload: bool,
    pub(super) admitted_at: Instant,
    pub(super) available_before: Bytes,
    pub(super) consumed: Bytes,
    pub(super) peak: Bytes,
    /// The largest learned peak already recorded for this model (starts at `need`).
    pub(super) recorded_peak: Bytes,
    /// The latest tree figures that came with a reading.
    pub(super) usage: Option<Usage>,
    pub(super) exceeded: bool,
    pub(super) phase: LoadPhase,
}

impl Load {
    /// Takes in one reading: consumption so far, the peak seen, the latest PSS and GPU figures.
    /// The peak is the larger of the drop in `available` and the tree's counted memory (its
    /// PSS, mapped weights included unless they live on the GPU, plus GPU memory).
    fn observe(&mut self, r: &MemReading) {
        self.consumed = budget::consumed(self.available_before, r.available);
        if let Some(pss) = r.loading_tree_pss {
            let previous = self.usage.unwrap_or_default();
            self.usage = Some(Usage {
                pss,
                pss_file: r.loading_tree_pss_file,
                gpu: r.loading_gpu.or(previous.gpu),
            });
        } else if let (Some(u), Some(gpu)) = (self.usage.as_mut(), r.loading_gpu) {
            u.gpu = Some(gpu);
        }
        let counted = self
            .usage
            .map_or(Bytes::ZERO, |u| u.counted(self.gpu_offload));
        self.peak = self.peak.max(self.consumed.max(counted));
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
        let over = self.overshoot_tolerance(self.load.as_ref().map_or(Bytes::ZERO, |l| l.need));
        if let Some(load) = self.load.as_mut() {
            load.observe(&r);
            let elapsed = now.saturating_duration_since(load.admitted_at);
            if !load.exceeded && budget::over_need(load.peak, load.need, over) {
                load.exceeded = true;
                out.push(GateAction::ExceededNeed {
                    model: load.model.clone(),
                    declared: load.declared,
                    need: load.need,
                    consumed: load.peak,
                    tolerance: over,
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
                    let learned = self.learned.get(&load.model).copied();
                    let next_peak = if budget::over_need(load.peak, load.recorded_peak, over) {
                        load.peak
                    } else {
                        load.recorded_peak
                    };
                    let commitment = Commitment {
                        peak: load.peak.max(learned.unwrap_or(Bytes::ZERO)),
                        usage: load.usage,
                        gpu_offload: load.gpu_offload,
                    };
                    let usage = load.usage.unwrap_or_default();
                    let file = usage.pss_file;
                    let ready = GateAction::LoadReady {
                        model: load.model.clone(),
                        footprint: Footprint {
                            available_drop_bytes: load.consumed,
                            peak_bytes: load.peak,
                            tree_pss_bytes: load.usage.map(|u| u.pss),
                            anon_bytes: load.usage.and(file).map(|f| usage.pss.saturating_sub(f)),
                            file_bytes: file,
                            gpu_bytes: usage.gpu,
                            gpu_offload: load.gpu_offload,
                            committed_bytes: commitment.committed(),
                            next_need_bytes: budget::need(load.declared, Some(next_peak)),
                        },
                        elapsed,
                        settled_in: now.saturating_duration_since(*ready_at),
                    };
                    self.ledger.commit(load.model.clone(), commitment);
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

    /// How far past `need` a load may go before it counts as over it.
    pub(super) fn overshoot_tolerance(&self, need: Bytes) -> Bytes {
        budget::tolerance(
            need,
            self.config.overshoot_tolerance,
            self.config.overshoot_tolerance_percent,
        )
    }

    /// Ends the load in flight on any path: its reservation goes with it, and a peak past
    /// what was recorded (by more than the tolerance) is learned.
    pub(super) fn end_load(&mut self, out: &mut Vec<GateAction>) {
        if let Some(load) = self.load.take() {
            let over = self.overshoot_tolerance(load.recorded_peak);
            if budget::over_need(load.peak, load.recorded_peak, over) {
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
