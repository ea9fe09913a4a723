//! The agent's side of the MQTT fleet link: hands the link the newest status document (at
//! most once per core tick), without ever awaiting the broker. The newest event seq reaches
//! the link from the store's writer.
#![allow(clippy::disallowed_methods)] // reads the monotonic clock to pace status documents

use std::time::Instant;

use tokio::sync::mpsc;

use super::{Agent, TICK};
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
    /// Starts the link when `[mqtt]` is configured (`setup`, from the daemon's settings); its
    /// commands come back as control requests, so they pass the same checks as the control
    /// socket's.
    pub fn spawn(
        setup: Option<crate::mqtt::LinkSetup>,
        control: &mpsc::Sender<ControlRequest>,
        store: &StoreWriter,
        tasks: &Tasks,
    ) -> anyhow::Result<Option<Feed>> {
        let Some(setup) = setup else {
            return Ok(None);
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
