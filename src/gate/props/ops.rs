//! The random inputs of the gate's property tests: which models and keys they name, the
//! operations a case is made of, and the configurations it runs under.

use std::time::Duration;

use proptest::prelude::*;

use crate::gate::GateConfig;
use crate::units::Bytes;

pub(super) const MODELS: [&str; 5] = ["m0", "m1", "m2", "m3", "m4"];
pub(super) const KEYS: [&str; 3] = ["k0", "k1", "k2"];
pub(super) const GIB: u64 = Bytes::GIB;

/// Which model an input names: one of [`MODELS`], or whichever is in flight.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    Named(usize),
    InFlight,
}

#[derive(Debug, Clone)]
pub(super) enum Op {
    Request {
        model: usize,
        declared: u64,
        learned: Option<u64>,
    },
    Cancel(Target),
    /// `repeat` readings of the same figures, 100 ms apart, each `age_ms` old when fed.
    Readings {
        available: u64,
        total: u64,
        age_ms: u64,
        tree_pss: Option<u64>,
        repeat: u32,
    },
    Ready(Target),
    Exited(Target),
    Unloaded(Target),
    Reserve {
        key: usize,
        bytes: u64,
    },
    Release {
        key: usize,
    },
    Tick,
    /// A tree reading of a model (counted in the ledger only when it is loaded).
    Usage {
        target: Target,
        pss: u64,
        file: Option<u64>,
        gpu: Option<u64>,
    },
}

pub(super) fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0..4 * GIB,
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

pub(super) fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (0..MODELS.len()).prop_map(Target::Named),
        Just(Target::InFlight)
    ]
}

pub(super) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..MODELS.len(), size(), prop::option::of(size())).prop_map(|(model, declared, learned)| {
            Op::Request { model, declared, learned }
        }),
        2 => (target(), size(), prop::option::of(size()), prop::option::of(size()))
            .prop_map(|(target, pss, file, gpu)| Op::Usage { target, pss, file, gpu }),
        1 => target().prop_map(Op::Cancel),
        6 => (
            prop_oneof![8 => 0..10 * GIB, 1 => any::<u64>()],
            prop_oneof![8 => Just(8 * GIB), 1 => any::<u64>()],
            prop_oneof![4 => 0u64..200, 1 => 0u64..5000],
            prop::option::of(size()),
            prop_oneof![2 => Just(1u32), 1 => 1u32..40],
        )
            .prop_map(|(available, total, age_ms, tree_pss, repeat)| Op::Readings {
                available, total, age_ms, tree_pss, repeat
            }),
        3 => target().prop_map(Op::Ready),
        1 => target().prop_map(Op::Exited),
        1 => target().prop_map(Op::Unloaded),
        1 => (0..KEYS.len(), size()).prop_map(|(key, bytes)| Op::Reserve { key, bytes }),
        1 => (0..KEYS.len()).prop_map(|key| Op::Release { key }),
        1 => Just(Op::Tick),
    ]
}

pub(super) fn config() -> impl Strategy<Value = GateConfig> {
    (
        0..2 * GIB,
        prop_oneof![Just(0.0), 0.0f64..0.5],
        0u64..=100,
        0u64..1000,
        0u64..3000,
        0..64 * Bytes::MIB,
        1u64..10_000,
        1u64..60_000,
    )
        .prop_map(
            |(reserve, headroom, floor_pct, fresh, window, tol, settle, load)| GateConfig {
                reserve: Bytes(reserve),
                headroom,
                kill_floor: Bytes(reserve / 100 * floor_pct),
                fresh_within: Duration::from_millis(fresh),
                settle_window: Duration::from_millis(window),
                settle_tolerance: Bytes(tol),
                settle_timeout: Duration::from_millis(settle),
                load_timeout: Duration::from_millis(load),
                overshoot_tolerance: Bytes::ZERO,
                overshoot_tolerance_percent: 0.0,
            },
        )
}
