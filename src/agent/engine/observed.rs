//! What the daemon's watcher ([`crate::agent::watch`]) feeds back into the engine: each
//! unit's leak trend for the views, and reservations of a leaking unit's projected growth,
//! which go through the gate (a release may admit the head of the queue).

use std::time::Instant;

use super::{Action, Engine};
use crate::gate::GateInput;
use crate::status::TrendView;
use crate::units::Bytes;

impl Engine {
    /// Sets the trend the views show for `name` (`None`: no process, no trend).
    pub fn set_trend(&mut self, name: &str, trend: Option<TrendView>) {
        if let Some(u) = self.units.get_mut(name) {
            u.trend = trend;
        }
    }

    /// Holds `bytes` out of every new load's budget under `key`, or releases it (`None`).
    pub fn reserve(&mut self, key: &str, bytes: Option<Bytes>, now: Instant) -> Vec<Action> {
        let input = match bytes {
            Some(bytes) => GateInput::Reserve {
                key: key.to_string(),
                bytes,
            },
            None => GateInput::Release {
                key: key.to_string(),
            },
        };
        self.gate_step(input, now)
    }
}
