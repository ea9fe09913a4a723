//! The fleet link: presence, retained state, telemetry, the durable event outbox and remote
//! commands over MQTT (rumqttc, rustls). See `docs/mqtt.md` for topics and payloads.
//!
//! ```text
//!  core loop ── watch<status document> ──┐
//!            ── watch<newest event seq> ──┤   link task (this module)          poller task
//!  store (events after the cursor) ──────┤   presence, state, telemetry,  ◄──  owns rumqttc's
//!  core loop ◄── ControlRequest ─────────┘   outbox window, commands      ──►  EventLoop, polls
//!                                                  │ try_publish                it without pause
//!                                                  └──────────────► AsyncClient ─┘
//! ```
//!
//! The core loop never awaits the broker: it replaces a watch value and moves on. The poller
//! is the one task that polls rumqttc's event loop, and never inside a `select!` (rumqttc's
//! flush is not cancel-safe); it forwards every event on a channel. The link decides
//! everything else: polite reconnects (a start-up slot, backoff by cause with full jitter,
//! at most 15 attempts a minute: [`reconnect`], [`backoff`]), the backlog's pace ([`pace`]), the session
//! number (raised in the store at every connection), and what to publish next.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::MqttConfig;
use crate::control::ControlRequest;
use crate::status::StatusDocument;
use crate::store::writer::StoreWriter;
use crate::store::StoreError;
use crate::tasks::Tasks;

pub mod backoff;
pub mod command;
pub mod homeassistant;
mod link;
pub mod outbox;
pub mod pace;
mod poller;
pub mod presence;
pub mod reconnect;
pub mod refusals;
pub mod stats;
pub mod tls;
pub mod topics;
pub mod wire;

/// What the link needs from the agent.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSetup {
    pub mqtt: MqttConfig,
    pub device_id: String,
    /// Every configured model and service name: the only targets a command may name.
    pub targets: BTreeSet<String>,
}

impl LinkSetup {
    /// `mqtt.client_id`, or `<prefix>-<device id>`.
    pub fn client_id(&self) -> String {
        self.mqtt
            .client_id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.mqtt.prefix, self.device_id))
    }
}

/// Why the link could not start.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("mqtt: device id {0:?} cannot be a topic level (no '/', '+', '#')")]
    DeviceId(String),
    #[error("mqtt: {0}")]
    Store(#[from] StoreError),
}

/// The agent's side of a running link.
#[derive(Debug)]
pub struct LinkHandle {
    /// The newest status document (the retained `state`, and telemetry's source).
    pub status: watch::Sender<Option<StatusDocument>>,
    /// The link's state, outbox depth and drops (for the metrics).
    pub stats: watch::Receiver<stats::LinkStats>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// How long a clean shutdown waits for the outbox to drain before saying goodbye.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(2);

impl LinkHandle {
    /// Stops the link: it flushes what it can, publishes `online: false` and disconnects,
    /// within `limit`.
    pub async fn stop(self, limit: Duration) {
        self.cancel.cancel();
        let mut task = self.task;
        if tokio::time::timeout(limit, &mut task).await.is_err() {
            tracing::warn!("mqtt link did not stop within {limit:?}");
            task.abort();
        }
    }
}

/// Starts the link task under `tasks`; commands it accepts go to `control`, the core loop's
/// channel. [`LinkHandle::stop`] ends it first (a flush and `online: false`); the agent's
/// shutdown of `tasks` ends it too.
pub fn spawn(
    setup: LinkSetup,
    control: mpsc::Sender<ControlRequest>,
    store: StoreWriter,
    tasks: &Tasks,
) -> Result<LinkHandle, MqttError> {
    if !topics::valid_device_id(&setup.device_id) {
        return Err(MqttError::DeviceId(setup.device_id));
    }
    let (status_tx, status_rx) = watch::channel(None);
    let (stats_tx, stats_rx) = watch::channel(stats::LinkStats::default());
    let cancel = tasks.token().child_token();
    let link = link::Link::new(setup, store, control, status_rx, tasks.clone(), stats_tx);
    let task = tasks.spawn(link.run(cancel.clone()));
    Ok(LinkHandle {
        status: status_tx,
        stats: stats_rx,
        cancel,
        task,
    })
}
