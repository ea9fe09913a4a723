//! Container units in the executor: the event for a container jetgate had to remove after its
//! tree ended, and the digest pin of an image checked before the gate sees the load (its
//! mismatch is refused like pinned weights: `Input::WeightsChecked` with the reason).

use super::{Executor, Feedback};
use crate::agent::engine::Input;
use crate::event::figures::ContainerRemoved;
use crate::event::{NewEvent, Severity};
use crate::runner::container::{check_pin, digests_argv, split_pin};
use crate::runner::engine_cli::{run_engine, Removed};

impl Executor {
    /// Before the gate sees a load: the image's digest pin, then the weights' sha256. Each is
    /// skipped where nothing is pinned.
    pub(super) fn verify_pins(&mut self, name: &str) -> Vec<Input> {
        let Some(pin) = self.launches.get(name).and_then(|l| l.image_pin.clone()) else {
            return self.verify_weights(name);
        };
        let feedback = self.feedback.clone();
        let name = name.to_string();
        self.tasks.spawn(async move {
            let result = image_matches(pin.engine, &pin.image).await;
            let _ = feedback.send(Feedback::ImageChecked { name, result });
        });
        Vec::new()
    }

    /// The image check came back: a mismatch refuses the load like a weights mismatch; a
    /// match goes on to the weights.
    pub fn image_checked(&mut self, name: &str, result: Result<(), String>) -> Vec<Input> {
        match result {
            Ok(()) => self.verify_weights(name),
            Err(reason) => vec![Input::WeightsChecked {
                name: name.to_string(),
                result: Err(reason),
            }],
        }
    }
}

/// Whether the local image `name` (the pin taken off) carries the pinned digest. An image not
/// there locally passes: the engine then pulls `name@sha256:...`, which the registry's content
/// addressing verifies.
async fn image_matches(
    engine: crate::config::container::Engine,
    image: &str,
) -> Result<(), String> {
    let Some((name, pinned)) = split_pin(image) else {
        return Ok(());
    };
    let out = run_engine(&digests_argv(engine, name)).await?;
    if !out.success {
        tracing::info!(
            "image {name} is not local ({}): pulled by its pin",
            out.stderr
        );
        return Ok(());
    }
    check_pin(name, &pinned, &out.stdout)
}

/// The removal of a container its client's `--rm` had not removed (the tree was killed).
pub(super) fn removed_event(unit: &str, container: &str, removed: &Removed) -> NewEvent {
    let figures = ContainerRemoved {
        container: container.to_string(),
        attempts: removed.attempts,
        error: removed.error.clone(),
        zombies_reaped: removed.zombies_reaped,
    };
    let event = NewEvent::new(figures, Some(unit));
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
