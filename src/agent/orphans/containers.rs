//! Containers left by a previous agent instance: after the recorded trees and the units'
//! cgroups are stopped (which kills a container's processes but leaves the engine's record of
//! it), every container with this instance's label is removed, so the name is free and a model
//! never runs twice. Each removal is an `orphan_stopped` event found by `container`.

use std::collections::BTreeSet;

use crate::config::container::Engine;
use crate::event::figures::OrphanStopped;
use crate::event::NewEvent;
use crate::runner::engine_cli::{leftovers, remove};

/// Removes every container of `instance` on each engine in `engines`; the events, in order.
pub async fn remove_leftovers(engines: &BTreeSet<Engine>, instance: &str) -> Vec<NewEvent> {
    let mut events = Vec::new();
    for &engine in engines {
        let names = match leftovers(engine, instance).await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(
                    "listing the {} containers of a previous agent: {e}",
                    engine.program()
                );
                continue;
            }
        };
        for name in names {
            let removed = remove(engine, &name).await;
            let unit = name.strip_prefix(crate::runner::container::NAME_PREFIX);
            let ended = if removed.error.is_none() {
                "removed"
            } else {
                "still_there"
            };
            let figures = OrphanStopped {
                pid: None,
                grace_ms: 0,
                found: "container".into(),
                ended: ended.into(),
                container: Some(name.clone()),
                engine: Some(engine.program().into()),
                attempts: Some(removed.attempts),
                ..OrphanStopped::default()
            };
            events.push(NewEvent::new(figures, unit).message(format!(
                        "container {name} of a previous agent ({}): {ended}{}",
                        engine.program(),
                        removed
                            .error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )));
        }
    }
    events
}
