//! The ledger in the gate: models on mmap'd weights, whose pages `available` calls reclaimable,
//! are held by their commitments; GPU offload counts the weights once; a load is over its need
//! only past the tolerance.

use super::tests::{admitted, config, Harness, GIB, MIB};
use super::*;

/// A reading during a load of a model whose tree holds `pss` of which `file` is mapped files.
fn read_tree(h: &mut Harness, available: Bytes, pss: u64, file: u64, gpu: Option<u64>) {
    let r = MemReading {
        available,
        total: h.total,
        taken_at: h.now(),
        loading_tree_pss: Some(Bytes(pss)),
        loading_tree_pss_file: Some(Bytes(file)),
        loading_gpu: gpu.map(Bytes),
    };
    h.step(GateInput::Reading(r));
}

/// Loads `model` like llama.cpp on a 1 GiB GGUF file: the tree's PSS reaches 1 GiB of mapped
/// weights plus 100 MiB anonymous, while `available` falls by the anonymous part only.
fn load_mmap_model(h: &mut Harness, model: &str, available: Bytes) -> Vec<GateAction> {
    let anon = 100 * MIB;
    let available = available.saturating_sub(Bytes(anon));
    h.advance(100);
    read_tree(h, available, GIB + anon, GIB, None);
    h.ready(model);
    let mut all = Vec::new();
    for _ in 0..=20 {
        h.advance(100);
        let r = MemReading {
            available,
            total: h.total,
            taken_at: h.now(),
            loading_tree_pss: Some(Bytes(GIB + anon)),
            loading_tree_pss_file: Some(Bytes(GIB)),
            loading_gpu: None,
        };
        all.extend(h.step(GateInput::Reading(r)));
    }
    all
}

#[test]
fn mapped_weights_that_look_free_are_held_by_the_ledger() {
    // The reported scenario: a 3 GiB scope, 512 MiB reserve, three 1 GiB models on mmap'd
    // weights. `available` barely moves as each loads; only two fit.
    let mut h = Harness::new();
    h.total = Bytes::from_gib(3);
    let available = Bytes::from_mib(2900);
    h.read(available);
    for m in ["a", "b", "c"] {
        h.request(m, Bytes::from_gib(1));
    }
    let after_a = load_mmap_model(&mut h, "a", available);
    assert_eq!(admitted(&after_a), vec!["b"]);
    let after_b = load_mmap_model(&mut h, "b", Bytes::from_mib(2800));
    assert_eq!(
        admitted(&after_b),
        Vec::<&str>::new(),
        "c would thrash a and b"
    );

    let view = h.gate.snapshot(h.now());
    assert_eq!(view.committed_bytes, Bytes(2 * (GIB + 100 * MIB)));
    assert_eq!(view.budget_from, Some(BudgetFrom::Ledger));
    assert_eq!(
        view.ledger_budget_bytes,
        Some(Bytes(3 * GIB - 2 * (GIB + 100 * MIB) - 512 * MIB))
    );
    assert_eq!(
        view.available_budget_bytes,
        Some(Bytes::from_mib(2700 - 512))
    );
    assert_eq!(
        view.queue[0].reason,
        "waiting: budget 312.0MiB < need 1.0GiB × 1.10 (committed 2.2GiB to a, b of total \
         3.0GiB; available shows 2.1GiB)"
    );
    let ready_b = after_b
        .iter()
        .find_map(|a| match a {
            GateAction::LoadReady {
                model, footprint, ..
            } if model == "b" => Some(*footprint),
            _ => None,
        })
        .expect("b became ready");
    assert_eq!(ready_b.available_drop_bytes, Bytes(100 * MIB));
    assert_eq!(ready_b.anon_bytes, Some(Bytes(100 * MIB)));
    assert_eq!(ready_b.file_bytes, Some(Bytes(GIB)));
    assert_eq!(ready_b.committed_bytes, Bytes(GIB + 100 * MIB));
    // 1.1 GiB over a 1 GiB need is past the tolerance (32 MiB here): the next load needs it.
    assert_eq!(ready_b.next_need_bytes, Bytes(GIB + 100 * MIB));

    // An unload releases a's commitment and admits c at once.
    let actions = h.step(GateInput::Unloaded { model: "a".into() });
    assert_eq!(admitted(&actions), vec!["c"]);
}

#[test]
fn weights_copied_to_the_gpu_count_once() {
    let mut h = Harness::new();
    h.total = Bytes::from_gib(3);
    h.read(Bytes::from_mib(2900));
    h.step(GateInput::Request {
        model: "llm".into(),
        declared: Bytes::from_gib(1),
        learned_peak: None,
        gpu_offload: true,
    });
    // 1 GiB mapped, 100 MiB anonymous, 1 GiB in GPU memory (which `available` does show).
    let available = Bytes::from_mib(2900 - 1024 - 100);
    h.advance(100);
    read_tree(&mut h, available, GIB + 100 * MIB, GIB, Some(GIB));
    h.ready("llm");
    for _ in 0..=20 {
        h.advance(100);
        read_tree(&mut h, available, GIB + 100 * MIB, GIB, Some(GIB));
    }
    let view = h.gate.snapshot(h.now());
    assert_eq!(view.committed.len(), 1);
    assert!(view.committed[0].gpu_offload);
    assert_eq!(view.committed_bytes, Bytes(GIB + 100 * MIB), "not 2.1 GiB");

    // The same model on the CPU, with a GPU figure, counts both: nothing is a copy.
    let mut cpu = Harness::new();
    cpu.total = Bytes::from_gib(3);
    cpu.read(Bytes::from_mib(2900));
    cpu.request("llm", Bytes::from_gib(1));
    cpu.advance(100);
    read_tree(&mut cpu, available, GIB + 100 * MIB, GIB, Some(GIB));
    cpu.ready("llm");
    for _ in 0..=20 {
        cpu.advance(100);
        read_tree(&mut cpu, available, GIB + 100 * MIB, GIB, Some(GIB));
    }
    assert_eq!(
        cpu.gate.snapshot(cpu.now()).committed_bytes,
        Bytes(2 * GIB + 100 * MIB)
    );
}

#[test]
fn a_loaded_model_that_grows_commits_its_live_figure_and_releases_it_on_exit() {
    let mut h = Harness::new();
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(1));
    h.advance(100);
    h.read(Bytes::from_gib(5));
    h.ready("llm");
    h.settle(Bytes::from_gib(5));
    assert_eq!(h.gate.ledger().total(), Bytes::from_gib(1));
    let grown = Usage {
        pss: Bytes::from_mib(1500),
        pss_file: Some(Bytes::ZERO),
        gpu: None,
    };
    h.step(GateInput::Usage {
        model: "llm".into(),
        usage: grown,
    });
    let view = h.gate.snapshot(h.now());
    assert_eq!(view.committed_bytes, Bytes::from_mib(1500));
    assert_eq!(view.committed[0].from, CommittedFrom::Live);
    // A reading of a model that is not loaded changes nothing.
    h.step(GateInput::Usage {
        model: "other".into(),
        usage: grown,
    });
    assert_eq!(h.gate.ledger().total(), Bytes::from_mib(1500));
    h.step(GateInput::Exited {
        model: "llm".into(),
    });
    assert_eq!(h.gate.ledger().total(), Bytes::ZERO);
    assert!(h.gate.snapshot(h.now()).committed.is_empty());
}

#[test]
fn a_load_a_few_kib_over_its_need_is_not_over_it() {
    // Reported: 24 KiB over a 1 GiB need raised `load_exceeded_declared` and a learned peak.
    let mut h = Harness::new();
    h.gate = Gate::new(GateConfig {
        overshoot_tolerance: Bytes::from_mib(32),
        overshoot_tolerance_percent: 2.0,
        ..config()
    });
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(1));
    h.advance(100);
    let over_by_24k = Bytes::from_gib(6).saturating_sub(Bytes(GIB + 24 * 1024));
    let mut all = h.read(over_by_24k);
    h.ready("llm");
    all.extend(h.settle(over_by_24k));
    let kinds: Vec<_> = all.iter().map(|a| a.event().kind).collect();
    assert!(
        !kinds.contains(&crate::event::EventKind::LoadExceededDeclared),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&crate::event::EventKind::LearnedPeakRaised),
        "{kinds:?}"
    );
    assert_eq!(h.gate.learned_peak("llm"), None);

    // 40 MiB over is past max(32 MiB, 2 % of 1 GiB = 20.5 MiB): logged and learned.
    h.step(GateInput::Unloaded {
        model: "llm".into(),
    });
    h.advance(100);
    h.read(Bytes::from_gib(6));
    h.request("llm", Bytes::from_gib(1));
    h.advance(100);
    let over = h.read(Bytes::from_gib(6).saturating_sub(Bytes(GIB + 40 * MIB)));
    let e = over
        .iter()
        .find(|a| matches!(a, GateAction::ExceededNeed { .. }))
        .expect("over its need")
        .event();
    assert_eq!(e.figures["tolerance_bytes"], serde_json::json!(32 * MIB));
    assert_eq!(h.gate.learned_peak("llm"), Some(Bytes(GIB + 40 * MIB)));
}
