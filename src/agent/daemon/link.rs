//! The agent's side of the MQTT fleet link: hands the link the newest status document (at
//! most once per core tick), without ever awaiting the broker. The newest event seq reaches
//! the link from the store's writer.
#![allow(clippy::disallowed_methods)] // reads the monotonic clock to pace status documents

use std::time::Instant;

use tokio::sync::mpsc;

use super::{Agent, TICK};
use crate::config::Config;
use crate::control::server::ControlRequest;
use crate::mqtt::LinkHandle;
use crate::store::writer::StoreWriter;
use crate::tasks::Tasks;

/// A running link and when it last got a status document.
pub(super) struct Feed {
    pub handle: LinkHandle,
    last_status: Option<Instant>,
}

impl Feed {
    /// Starts the link when `[mqtt]` is configured; its commands come back as control
    /// requests, so they pass the same checks as the control socket's.
    pub fn spawn(
        config: &Config,
        control: &mpsc::Sender<ControlRequest>,
        store: &StoreWriter,
        tasks: &Tasks,
    ) -> anyhow::Result<Option<Feed>> {
        let Some(mqtt) = &config.mqtt else {
            return Ok(None);
        };
        let setup = crate::mqtt::LinkSetup {
            mqtt: mqtt.clone(),
            device_id: config.device.id.clone().unwrap_or_else(super::hostname),
            targets: (config.models.iter().map(|m| m.program.name.clone()))
                .chain(config.services.iter().map(|s| s.program.name.clone()))
                .collect(),
        };
        Ok(Some(Feed {
            handle: crate::mqtt::spawn(setup, control.clone(), store.clone(), tasks)?,
            last_status: None,
        }))
    }
}

impl Agent {
    /// Passes the status document to the link, at most once per tick (new events reach it
    /// from the store's writer).
    pub(super) fn feed_link(&mut self, feed: Option<&mut Feed>) {
        let Some(feed) = feed else {
            return;
        };
        let now = Instant::now();
        if feed
            .last_status
            .is_none_or(|t| now.duration_since(t) >= TICK)
        {
            feed.last_status = Some(now);
            feed.handle
                .status
                .send_replace(Some(self.status_document()));
        }
    }
}
