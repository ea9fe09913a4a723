//! The `data` of the control socket's replies (`{"v": 1, "ok": true, "data": ...}`), one type
//! per request:
//!
//! | request | `data` |
//! |---|---|
//! | `status` | [`StatusDocument`](super::StatusDocument) |
//! | `services`, `trend` | [`ServicesReply`]: every unit's [`ServiceView`] (`trend NAME`: one) |
//! | `load`, `unload`, `restart` | the unit's [`ServiceView`] after the request |
//! | `load` with `wait` | [`LoadOutcome`]: the state the load ended in |
//! | `events` | [`EventsReply`]: stored events, oldest first |
//! | `note` | the stored note [`Event`] |
//!
//! ```json
//! {"name": "llm", "state": "ready", "reason": null}
//! ```

use serde::{Deserialize, Serialize};

use super::service::{ServiceState, ServiceView};
use crate::event::Event;

/// Units, in configuration order.
pub type ServicesReply = Vec<ServiceView>;

/// Events, oldest first.
pub type EventsReply = Vec<Event>;

/// How a waited-for load ended: `ready` (or `running`), or the state it fell into and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadOutcome {
    pub name: String,
    pub state: ServiceState,
    pub reason: Option<String>,
}
