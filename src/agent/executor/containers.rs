//! Container units in the executor: the event for a container jetgate had to remove after its
//! tree ended, and the digest pin of an image checked before the gate sees the load (its
//! mismatch is refused like pinned weights: `Input::WeightsChecked` with the reason).

use crate::event::{EventKind, NewEvent, Severity};
use crate::runner::engine_cli::Removed;

/// The removal of a container its client's `--rm` had not removed (the tree was killed).
pub(super) fn removed_event(unit: &str, container: &str, removed: &Removed) -> NewEvent {
    let event = NewEvent::new(EventKind::ContainerRemoved, Some(unit))
        .figure("container", container)
        .figure("attempts", removed.attempts)
        .figure("error", removed.error.clone());
    match &removed.error {
        None => event.message(format!(
            "container {container} removed after its tree ended ({} attempt(s))",
            removed.attempts
        )),
        Some(e) => event.severity(Severity::Error).message(format!(
            "container {container} could not be removed after {} attempt(s): {e}",
            removed.attempts
        )),
    }
}
