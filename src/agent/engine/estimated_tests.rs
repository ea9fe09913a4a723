//! `memory = "auto"` in the engine: the estimate asked for before the gate, the need it gives
//! (times the learned ratio), its figures on the events and the view, the ratio learned from a
//! completed load, and a load refused when there is no estimate.

use std::collections::BTreeMap;

use super::rig::{event, kinds, spawns, spec, Rig, GIB};
use super::{Action, Input, UnitSpec};
use crate::estimate::{Basis, Estimate, Format, Parts};
use crate::event::EventKind;
use crate::units::Bytes;

fn auto(name: &str) -> UnitSpec {
    UnitSpec {
        estimate: true,
        ..spec(name, Some(0))
    }
}

fn estimate(total_mib: u64) -> Estimate {
    Estimate::new(
        Format::Other,
        Parts {
            weights: Bytes::from_mib(total_mib - 100),
            allowance: Bytes::from_mib(100),
            ..Parts::default()
        },
        Basis::Other {
            file_bytes: Bytes::from_mib(total_mib - 100),
        },
    )
}

fn estimated(rig: &mut Rig, ms: u64, result: Result<Estimate, String>) -> Vec<Action> {
    rig.input(
        ms,
        Input::Estimated {
            name: "llm".into(),
            result,
        },
    )
}

#[test]
fn an_auto_model_is_estimated_then_requested_on_the_estimate() {
    let mut rig = Rig::new(vec![auto("llm")]);
    rig.reading(0, 3 * GIB);
    let out = rig.engine.load("llm", rig.at(1)).unwrap();
    assert_eq!(out, vec![Action::Estimate { name: "llm".into() }]);
    let view = rig.engine.view("llm").unwrap();
    assert_eq!(view.state, "queued");
    assert!(view.reason.unwrap().contains("estimating"));
    let out = estimated(&mut rig, 2, Ok(estimate(1024)));
    let requested = event(&out, EventKind::LoadRequested).unwrap();
    assert_eq!(requested.figures["need_bytes"], GIB);
    assert_eq!(requested.figures["estimate_bytes"], GIB);
    assert_eq!(requested.figures["estimate_allowance_bytes"], 100 << 20);
    assert!(requested.figures.get("estimate_ratio").is_none());
    let admitted = event(&out, EventKind::LoadAdmitted).unwrap();
    assert_eq!(admitted.figures["estimate_weights_bytes"], 924 << 20);
    assert_eq!(spawns(&out), 1);
    let e = rig.engine.view("llm").unwrap().estimate.unwrap();
    assert_eq!((e.total_bytes, e.need_bytes, e.ratio), (GIB, GIB, None));
    assert_eq!(e.format, "other");
}

#[test]
fn the_learned_ratio_scales_the_need_and_a_completed_load_learns_a_new_one() {
    let mut rig = Rig::new(vec![auto("llm")]);
    rig.engine = rig
        .engine
        .with_ratios(BTreeMap::from([("llm".to_string(), 1.5)]));
    rig.reading(0, 3 * GIB);
    rig.engine.load("llm", rig.at(1)).unwrap();
    let out = estimated(&mut rig, 2, Ok(estimate(1024)));
    let requested = event(&out, EventKind::LoadRequested).unwrap();
    assert_eq!(requested.figures["need_bytes"], GIB * 3 / 2);
    assert_eq!(requested.figures["estimate_ratio"], 1.5);
    // Ready and settled 768 MiB below where it started: a peak of 0.75 × the estimate.
    let out = rig.finish_load("llm", 10, 3 * GIB - 768 * (1 << 20));
    let ratio = out.iter().find_map(|a| match a {
        Action::RecordEstimateRatio {
            name,
            estimate,
            ratio,
        } => Some((name.clone(), *estimate, *ratio)),
        _ => None,
    });
    assert_eq!(
        ratio,
        Some(("llm".into(), Bytes(GIB), 0.75)),
        "{:?}",
        kinds(&out)
    );
    let e = rig.engine.view("llm").unwrap().estimate.unwrap();
    assert_eq!(e.ratio, Some(0.75));
}

#[test]
fn no_estimate_refuses_the_load_and_starts_nothing() {
    let mut rig = Rig::new(vec![auto("llm")]);
    rig.reading(0, 3 * GIB);
    rig.engine.load("llm", rig.at(1)).unwrap();
    let out = estimated(&mut rig, 2, Err("tensor \"x\" has ggml type 99".into()));
    assert_eq!(spawns(&out), 0);
    let refused = event(&out, EventKind::LoadRefused).unwrap();
    assert!(
        refused.message.contains("ggml type 99"),
        "{}",
        refused.message
    );
    let view = rig.engine.view("llm").unwrap();
    assert_eq!(view.state, "failed");
    assert!(kinds(&out).contains(&"finished:llm:failed".to_string()));
}

#[test]
fn an_estimate_that_arrives_after_an_unload_changes_nothing() {
    let mut rig = Rig::new(vec![auto("llm")]);
    rig.reading(0, 3 * GIB);
    rig.engine.load("llm", rig.at(1)).unwrap();
    rig.engine.unload("llm", rig.at(2)).unwrap();
    let out = estimated(&mut rig, 3, Ok(estimate(1024)));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(rig.state("llm"), "stopped");
}

#[test]
fn pinned_weights_are_verified_before_they_are_estimated() {
    let mut s = auto("llm");
    s.verify_weights = true;
    let mut rig = Rig::new(vec![s]);
    rig.reading(0, 3 * GIB);
    let out = rig.engine.load("llm", rig.at(1)).unwrap();
    assert_eq!(out, vec![Action::VerifyWeights { name: "llm".into() }]);
    let out = rig.input(
        2,
        Input::WeightsChecked {
            name: "llm".into(),
            result: Ok(()),
        },
    );
    assert_eq!(out, vec![Action::Estimate { name: "llm".into() }]);
}

#[test]
fn a_declared_model_carries_no_estimate_figures() {
    let mut rig = Rig::new(vec![spec("m", Some(GIB))]);
    rig.reading(0, 3 * GIB);
    let out = rig.engine.load("m", rig.at(1)).unwrap();
    let requested = event(&out, EventKind::LoadRequested).unwrap();
    assert!(requested.figures.get("estimate_bytes").is_none());
    assert!(rig.engine.view("m").unwrap().estimate.is_none());
}
