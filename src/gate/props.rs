//! Property tests: random sequences of inputs against the gate's invariants.
//!
//! Each case builds a random [`GateConfig`], then feeds a random sequence of requests,
//! cancels, readings (fresh, stale, huge, under the floor), probes, exits, unloads and
//! reservations, with time moving forward between them. A shadow model beside the gate
//! checks after every step:
//!
//! - the budget never goes below zero or wraps (`budget = available − reserve − outstanding`,
//!   saturating, and no arithmetic panics on figures up to `u64::MAX`);
//! - at most one load is in flight, and each load ends exactly once;
//! - every request gets one answer (the first Admit, Queued, Deny or Duplicate naming it after
//!   its `Requested`); only Admit and Queued accept it, and a Duplicate's presence is where
//!   the shadow holds the model;
//! - admissions happen in the FIFO order of accepted requests, and the gate's queue is exactly
//!   the accepted requests not yet admitted, denied or withdrawn;
//! - a stale (or missing) reading never admits, and every admission's budget covers need ×
//!   (1 + headroom) on the latest reading;
//! - with no load in flight the outstanding reservations are exactly the external ones, and
//!   once the sequence is drained (exits, cancels, releases) they are zero; the view's
//!   `reserved_bytes` is always their sum, and a head held by the budget names each one;
//! - a reading under the kill floor during a load always aborts that load.
#![allow(clippy::disallowed_methods)] // one base `Instant::now()` per case; all else is base + d

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

mod ops;

use ops::{config, op, Op, Target, GIB, KEYS, MODELS};

/// What the gate should look like from the outside, rebuilt from its actions.
struct Shadow {
    config: GateConfig,
    in_flight: Option<String>,
    /// Accepted requests not yet admitted, denied or withdrawn, in arrival order.
    pending: Vec<String>,
    reservations: BTreeMap<String, Bytes>,
    last: Option<MemReading>,
    admissions: usize,
    endings: usize,
}

impl Shadow {
    fn target(&self, t: Target) -> String {
        match (t, &self.in_flight) {
            (Target::InFlight, Some(m)) => m.clone(),
            (Target::Named(i), _) => MODELS[i].to_string(),
            (Target::InFlight, None) => MODELS[0].to_string(),
        }
    }

    /// Feeds one input to the gate and checks every invariant on what comes back.
    fn feed(
        &mut self,
        gate: &mut Gate,
        input: GateInput,
        now: Instant,
    ) -> Result<(), TestCaseError> {
        let was_in_flight = gate.in_flight().map(str::to_string);
        prop_assert_eq!(&was_in_flight, &self.in_flight);
        let mut must_abort = None;
        let mut requested = None;
        match &input {
            GateInput::Reading(r) => {
                if r.available < self.config.kill_floor {
                    must_abort = was_in_flight.clone();
                }
                self.last = Some(r.clone());
            }
            GateInput::Reserve { key, bytes } => {
                self.reservations.insert(key.clone(), *bytes);
            }
            GateInput::Release { key } => {
                self.reservations.remove(key);
            }
            GateInput::Request { model, .. } => requested = Some(model.clone()),
            _ => {}
        }
        let actions = gate.step(input, now);
        if let Some(m) = requested {
            // The request's own answer is the first one naming it after its `Requested`: a
            // later `Admit` in the same step may be of an earlier request of the same model
            // (answered `Duplicate`, then admitted once a timeout freed the slot).
            let answer = actions
                .iter()
                .skip_while(|a| !matches!(a, GateAction::Requested { model, .. } if *model == m))
                .find(|a| {
                    matches!(
                        a,
                        GateAction::Admit(_)
                            | GateAction::Queued { .. }
                            | GateAction::Deny { .. }
                            | GateAction::Duplicate { .. }
                    ) && a.model() == m
                });
            match answer {
                Some(GateAction::Admit(_) | GateAction::Queued { .. }) => self.pending.push(m),
                Some(GateAction::Duplicate { presence, .. }) => match presence {
                    Presence::Queued { position } => prop_assert_eq!(
                        self.pending.iter().position(|p| *p == m).map(|i| i + 1),
                        Some(*position),
                        "a duplicate answered at a queue position the request does not hold"
                    ),
                    Presence::Loading => prop_assert_eq!(
                        self.in_flight.as_deref(),
                        Some(m.as_str()),
                        "a duplicate answered as loading for a model not in flight"
                    ),
                    Presence::Loaded => prop_assert!(
                        !self.pending.contains(&m) && self.in_flight.as_deref() != Some(&m),
                        "a duplicate answered as loaded for a model queued or in flight"
                    ),
                },
                Some(_) => {}
                None => prop_assert!(false, "request of {} got no answer: {:?}", m, actions),
            }
        }
        if let Some(m) = &must_abort {
            prop_assert!(
                actions
                    .iter()
                    .any(|a| matches!(a, GateAction::Abort(x) if &x.model == m)),
                "a reading under the floor during the load of {} did not abort it: {:?}",
                m,
                actions
            );
        }
        for a in &actions {
            match a {
                GateAction::Admit(x) => {
                    prop_assert!(self.in_flight.is_none(), "second load admitted: {:?}", x);
                    prop_assert_eq!(
                        self.pending.first(),
                        Some(&x.model),
                        "admitted out of FIFO order"
                    );
                    self.pending.remove(0);
                    let r = self.last.as_ref();
                    prop_assert!(r.is_some(), "admitted without any reading");
                    let r = r.expect("checked");
                    prop_assert!(
                        budget::is_fresh(r.taken_at, now, self.config.fresh_within),
                        "admitted on a stale reading"
                    );
                    prop_assert_eq!(x.available, r.available);
                    prop_assert!(x.budget.value() >= x.required);
                    prop_assert_eq!(x.required, budget::required(x.need, self.config.headroom));
                    self.in_flight = Some(x.model.clone());
                    self.admissions += 1;
                }
                GateAction::Abort(_)
                | GateAction::LoadReady { .. }
                | GateAction::LoadFailed { .. } => {
                    prop_assert_eq!(
                        self.in_flight.as_deref(),
                        Some(a.model()),
                        "ended a load not in flight"
                    );
                    self.in_flight = None;
                    self.endings += 1;
                }
                GateAction::Deny { model, .. } | GateAction::Withdrawn { model, .. } => {
                    self.pending.retain(|p| p != model);
                }
                _ => {}
            }
        }
        self.check_state(gate, now)
    }

    fn check_state(&self, gate: &Gate, now: Instant) -> Result<(), TestCaseError> {
        prop_assert_eq!(gate.in_flight(), self.in_flight.as_deref());
        prop_assert_eq!(
            gate.queued().collect::<Vec<_>>(),
            self.pending.iter().map(String::as_str).collect::<Vec<_>>()
        );
        let external: Bytes = self.reservations.values().copied().sum();
        if self.in_flight.is_none() {
            prop_assert_eq!(
                gate.outstanding(),
                external,
                "a load's reservation outlived it"
            );
            prop_assert_eq!(gate.sampling_mode(), SamplingMode::Idle);
        } else {
            prop_assert_eq!(gate.sampling_mode(), SamplingMode::Loading);
        }
        let view = gate.snapshot(now);
        if let (Some(b), Some(a), Some(t)) =
            (view.budget_bytes, view.available_bytes, view.total_bytes)
        {
            let held = view.reserve_bytes.saturating_add(view.outstanding_bytes);
            let by_available = a.saturating_sub(held);
            let by_ledger = t.saturating_sub(view.committed_bytes).saturating_sub(held);
            prop_assert_eq!(view.available_budget_bytes, Some(by_available));
            prop_assert_eq!(view.ledger_budget_bytes, Some(by_ledger));
            prop_assert_eq!(b, by_available.min(by_ledger));
        }
        // The ledger holds loaded models only: never one that is queued or in flight.
        let committed: Bytes = view.committed.iter().map(|c| c.committed_bytes).sum();
        prop_assert_eq!(committed, view.committed_bytes);
        for c in &view.committed {
            prop_assert!(self.in_flight.as_deref() != Some(c.model.as_str()));
            prop_assert!(
                !self.pending.contains(&c.model),
                "{} queued and committed",
                c.model
            );
        }
        prop_assert_eq!(view.queue.len(), self.pending.len());
        prop_assert_eq!(view.reserved_bytes, external);
        // A head held by the budget names every reservation that shrinks it.
        if let Some(head) = view.queue.first().filter(|q| q.reason.contains("budget")) {
            for (key, bytes) in &self.reservations {
                prop_assert!(
                    head.reason.contains(key.as_str()),
                    "reason {:?} does not name the reservation {} ({})",
                    head.reason,
                    key,
                    bytes
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_input_sequences_keep_every_gate_invariant(
        config in config(),
        ops in prop::collection::vec((op(), 0u64..1500), 1..80),
    ) {
        let base = Instant::now() + Duration::from_secs(3600);
        let mut now = base;
        let mut gate = Gate::new(config.clone());
        let mut shadow = Shadow {
            config,
            in_flight: None,
            pending: Vec::new(),
            reservations: BTreeMap::new(),
            last: None,
            admissions: 0,
            endings: 0,
        };
        for (op, dt) in ops {
            now += Duration::from_millis(dt);
            let inputs = match op {
                Op::Request { model, declared, learned } => vec![GateInput::Request {
                    model: MODELS[model].into(),
                    declared: Bytes(declared),
                    learned_peak: learned.map(Bytes),
                    gpu_offload: model % 2 == 1,
                }],
                Op::Usage { target, pss, file, gpu } => vec![GateInput::Usage {
                    model: shadow.target(target),
                    usage: crate::gate::Usage {
                        pss: Bytes(pss),
                        pss_file: file.map(Bytes),
                        gpu: gpu.map(Bytes),
                    },
                }],
                Op::Cancel(t) => vec![GateInput::Cancel { model: shadow.target(t) }],
                Op::Ready(t) => vec![GateInput::ReadyProbePassed { model: shadow.target(t) }],
                Op::Exited(t) => vec![GateInput::Exited { model: shadow.target(t) }],
                Op::Unloaded(t) => vec![GateInput::Unloaded { model: shadow.target(t) }],
                Op::Reserve { key, bytes } => vec![GateInput::Reserve { key: KEYS[key].into(), bytes: Bytes(bytes) }],
                Op::Release { key } => vec![GateInput::Release { key: KEYS[key].into() }],
                Op::Tick => vec![GateInput::Tick],
                Op::Readings { available, total, age_ms, tree_pss, repeat } => {
                    for i in 0..repeat {
                        let at = now + Duration::from_millis(100 * u64::from(i));
                        let r = MemReading {
                            available: Bytes(available),
                            total: Bytes(total),
                            taken_at: at - Duration::from_millis(age_ms),
                            loading_tree_pss: tree_pss.map(Bytes),
                            loading_tree_pss_file: None,
                            loading_gpu: None,
                        };
                        shadow.feed(&mut gate, GateInput::Reading(r), at)?;
                    }
                    now += Duration::from_millis(100 * u64::from(repeat));
                    Vec::new()
                }
            };
            for input in inputs {
                shadow.feed(&mut gate, input, now)?;
            }
        }
        // Drain: end the load in flight and withdraw every queued request, until none is left.
        for _ in 0..=2 * MODELS.len() {
            if let Some(m) = shadow.in_flight.clone() {
                shadow.feed(&mut gate, GateInput::Exited { model: m }, now)?;
            } else if let Some(m) = shadow.pending.first().cloned() {
                shadow.feed(&mut gate, GateInput::Cancel { model: m }, now)?;
            }
        }
        for key in KEYS {
            shadow.feed(&mut gate, GateInput::Release { key: key.into() }, now)?;
        }
        prop_assert_eq!(gate.in_flight(), None);
        prop_assert_eq!(gate.queued().count(), 0);
        prop_assert_eq!(gate.outstanding(), Bytes::ZERO, "reservations left after draining");
        prop_assert_eq!(shadow.admissions, shadow.endings, "a load never ended");
    }

    #[test]
    fn a_reading_under_the_floor_during_any_load_aborts_it(
        available_before in 0..16 * GIB,
        need in 0..8 * GIB,
        settling in any::<bool>(),
        under in 1..GIB,
    ) {
        let mut config = GateConfig::with_reserve(Bytes::from_gib(1));
        config.headroom = 0.0;
        let floor = config.kill_floor;
        prop_assume!(available_before >= need + GIB);
        let base = Instant::now();
        let mut gate = Gate::new(config);
        let reading = |available: u64, at: Instant| GateInput::Reading(MemReading {
            available: Bytes(available),
            total: Bytes(32 * GIB),
            taken_at: at,
            loading_tree_pss: None,
            loading_tree_pss_file: None,
            loading_gpu: None,
        });
        gate.step(reading(available_before, base), base);
        let actions = gate.step(GateInput::Request { model: "m".into(), declared: Bytes(need), learned_peak: None, gpu_offload: false }, base);
        prop_assert!(matches!(&actions[1], GateAction::Admit(_)));
        if settling {
            gate.step(GateInput::ReadyProbePassed { model: "m".into() }, base);
        }
        let at = base + Duration::from_millis(10);
        let actions = gate.step(reading(floor.get().saturating_sub(under), at), at);
        prop_assert!(matches!(&actions[0], GateAction::Abort(a) if a.floor == floor), "{:?}", actions);
        prop_assert_eq!(gate.in_flight(), None);
        prop_assert_eq!(gate.outstanding(), Bytes::ZERO);
    }
}
