//! `memory = "auto"`: a model's need estimated from its weights before each load, and corrected
//! by what its loads taught.
//!
//! ```text
//! load ─► [verify weights] ─► Estimate ─► Input::Estimated ─► gate Request(need)
//! need  = estimate × ratio                  (the estimate itself before any load)
//! ratio = peak of the latest load ÷ the estimate it was admitted on   (LoadReady)
//!       = max(ratio, peak ÷ estimate)                                   (a raised peak)
//! ```
//!
//! The gate still judges the load on `max(need, learned peak)`. The estimate, its parts and the
//! ratio ride on the `load_requested` and `load_admitted` events and on the unit's view.

use std::time::Instant;

use super::{Action, Engine, Phase, ServiceState};
use crate::estimate::{corrected, Estimate};
use crate::event::figures::{EstimateFigures, LoadAdmitted, LoadRequested};
use crate::event::NewEvent;
use crate::status::EstimateView;
use crate::units::Bytes;

/// The estimate a model's current load was requested on.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Estimated {
    pub estimate: Estimate,
    /// The need the gate was given: the estimate times the ratio known at the time.
    pub need: Bytes,
}

impl Engine {
    /// Asks the I/O layer for an estimate; the model waits as queued meanwhile.
    pub(super) fn ask_estimate(&mut self, name: &str) -> Vec<Action> {
        self.set(
            name,
            Phase::Queued,
            Some("estimating its memory from the weights".into()),
        );
        vec![Action::Estimate { name: name.into() }]
    }

    /// An estimate arrived: request the load on it, or refuse the load when there is none.
    pub(super) fn estimated(
        &mut self,
        name: &str,
        result: Result<Estimate, String>,
        now: Instant,
    ) -> Vec<Action> {
        if self.state(name) != Some(ServiceState::Queued) {
            return Vec::new(); // unloaded while estimating
        }
        match result {
            Ok(estimate) => {
                let need = corrected(estimate.total, self.ratios.get(name).copied());
                self.estimates
                    .insert(name.to_string(), Estimated { estimate, need });
                self.request(name, need, now)
            }
            Err(reason) => self.refuse_load(
                name,
                format!("memory = \"auto\", but no estimate: {reason}"),
            ),
        }
    }

    /// A load of an estimated model measured `peak`: the ratio the next estimate is scaled by.
    /// `at_least` keeps a larger ratio (a raised peak during a load); a completed load
    /// replaces it.
    pub(super) fn learn_ratio(&mut self, name: &str, peak: Bytes, at_least: bool) -> Vec<Action> {
        let Some(e) = self.estimates.get(name) else {
            return Vec::new();
        };
        let estimate = e.estimate.total;
        if estimate.get() == 0 {
            return Vec::new();
        }
        let mut ratio = peak.get() as f64 / estimate.get() as f64;
        if at_least {
            if let Some(old) = self.ratios.get(name) {
                ratio = ratio.max(*old);
            }
        }
        self.ratios.insert(name.to_string(), ratio);
        vec![Action::RecordEstimateRatio {
            name: name.into(),
            estimate,
            ratio,
        }]
    }

    /// The estimate's figures on a `load_requested` or `load_admitted` event.
    pub(super) fn estimate_figures(&self, name: &str, event: NewEvent) -> NewEvent {
        let Some(e) = self.estimates.get(name) else {
            return event;
        };
        let p = &e.estimate.parts;
        let estimate = EstimateFigures {
            bytes: e.estimate.total.get(),
            weights_bytes: p.weights.get(),
            kv_cache_bytes: p.kv_cache.get(),
            compute_bytes: p.compute.get(),
            allowance_bytes: p.allowance.get(),
            basis: e.estimate.basis.to_string(),
            ratio: self.ratios.get(name).copied(),
        };
        event
            .amend(|f: &mut LoadRequested| f.set_estimate(&estimate))
            .amend(|f: &mut LoadAdmitted| f.set_estimate(&estimate))
    }

    /// What the unit's view shows of its estimate.
    pub(super) fn estimate_view(&self, name: &str) -> Option<EstimateView> {
        let e = self.estimates.get(name)?;
        Some(EstimateView::new(
            &e.estimate,
            e.need,
            self.ratios.get(name).copied(),
        ))
    }
}
