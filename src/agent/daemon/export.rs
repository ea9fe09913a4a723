//! The agent's side of the metrics export (`[metrics]`): binds the endpoint at start (an
//! address it cannot listen on stops the start, named), starts the textfile writer, and
//! publishes a [`Snapshot`] of the core loop's figures at most once per [`EXPORT_EVERY`]. The
//! server and the writer only ever read the latest snapshot: a scrape never reaches the loop.
#![allow(clippy::disallowed_methods)] // reads the monotonic clock to pace snapshots

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::link::Feed;
use super::Agent;
use crate::config::MetricsConfig;
use crate::metrics::{server, textfile, Snapshot};
use crate::tasks::Tasks;

/// How often the core loop publishes a snapshot for the metrics.
pub const EXPORT_EVERY: Duration = Duration::from_secs(1);

/// A running export and when it last got a snapshot.
pub(super) struct Export {
    snapshots: watch::Sender<Option<Arc<Snapshot>>>,
    last: Option<Instant>,
    started_unix_ms: u64,
}

impl Export {
    /// Binds `metrics.listen` and starts its server and the textfile writer under `tasks`;
    /// `None` when `[metrics]` names neither.
    pub async fn start(
        config: &MetricsConfig,
        tasks: &Tasks,
        started_unix_ms: u64,
    ) -> anyhow::Result<Option<Export>> {
        if !config.enabled() {
            return Ok(None);
        }
        let (snapshots, rx) = watch::channel(None);
        if let Some(addr) = config.listen {
            let listener = server::bind(addr.0).await?;
            tasks.spawn(server::serve(listener, rx.clone(), tasks.clone()));
        }
        if let Some(path) = &config.textfile {
            let run = textfile::run(path.clone(), textfile::INTERVAL, rx, tasks.clone());
            tasks.spawn(run);
        }
        Ok(Some(Export {
            snapshots,
            last: None,
            started_unix_ms,
        }))
    }
}

impl Agent {
    /// Publishes the figures for the metrics, at most once per [`EXPORT_EVERY`].
    pub(super) fn publish_metrics(&mut self, export: Option<&mut Export>, link: Option<&Feed>) {
        let Some(export) = export else {
            return;
        };
        let now = Instant::now();
        if export
            .last
            .is_some_and(|t| now.duration_since(t) < EXPORT_EVERY)
        {
            return;
        }
        export.last = Some(now);
        let snapshot = Snapshot {
            status: self.status_document(),
            decisions: self.engine.decisions().clone(),
            events: self.executor.store().event_counts(),
            link: link.map(|feed| *feed.handle.stats.borrow()),
            started_unix_ms: export.started_unix_ms,
        };
        export.snapshots.send_replace(Some(Arc::new(snapshot)));
    }
}
