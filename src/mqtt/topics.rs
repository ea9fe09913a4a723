//! The topic tree of one device: `<prefix>/<device id>/<leaf>`. Pure: names only.
//!
//! ```text
//! jetgate/orin-07/status        retained presence, also the last will
//! jetgate/orin-07/state         retained status document
//! jetgate/orin-07/telemetry     QoS 0 samples
//! jetgate/orin-07/events        QoS 1 events from the outbox
//! jetgate/orin-07/cmd/request   subscribed
//! jetgate/orin-07/cmd/response  answers to commands
//! ```

/// The topics of one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    base: String,
}

impl Topics {
    pub fn new(prefix: &str, device: &str) -> Topics {
        Topics {
            base: format!("{prefix}/{device}"),
        }
    }

    fn leaf(&self, leaf: &str) -> String {
        format!("{}/{leaf}", self.base)
    }

    pub fn status(&self) -> String {
        self.leaf("status")
    }
    pub fn state(&self) -> String {
        self.leaf("state")
    }
    pub fn telemetry(&self) -> String {
        self.leaf("telemetry")
    }
    pub fn events(&self) -> String {
        self.leaf("events")
    }
    pub fn cmd_request(&self) -> String {
        self.leaf("cmd/request")
    }
    pub fn cmd_response(&self) -> String {
        self.leaf("cmd/response")
    }
}

/// Whether a device id can name a topic level: non-empty, no `/`, `+`, `#` or NUL.
pub fn valid_device_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '+', '#', '\0'])
}

/// `(device, leaf)` of a topic under `prefix`: `jetgate/orin-07/state` → `("orin-07", "state")`.
pub fn split_device_topic<'a>(prefix: &str, topic: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
    let (device, leaf) = rest.split_once('/')?;
    valid_device_id(device).then_some((device, leaf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_hang_off_prefix_and_device() {
        let t = Topics::new("fleet/a", "orin-07");
        assert_eq!(t.status(), "fleet/a/orin-07/status");
        assert_eq!(t.cmd_request(), "fleet/a/orin-07/cmd/request");
    }

    #[test]
    fn splits_device_topics_and_refuses_others() {
        assert_eq!(
            split_device_topic("jetgate", "jetgate/orin-07/state"),
            Some(("orin-07", "state"))
        );
        assert_eq!(split_device_topic("jetgate", "jetgatex/a/state"), None);
        assert_eq!(split_device_topic("jetgate", "jetgate/state"), None);
        assert!(!valid_device_id("a/b"));
        assert!(!valid_device_id(""));
    }
}
