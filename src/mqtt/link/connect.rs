//! The link's attempt policy in action: the start-up slot before the first CONNECT, and after
//! every failure the delay [`Reconnect`](crate::mqtt::reconnect::Reconnect) plans (backoff by
//! cause, at most 15 attempts a minute), reported with the figures behind it.
#![allow(clippy::disallowed_methods)] // an I/O task: reads the clock for intervals

use std::time::{Duration, Instant};

use super::{Conn, Link};
use crate::event::figures::{MqttConnectFailed, MqttDisconnected, MqttSubscriptionRefused};
use crate::event::{NewEvent, Severity};
use crate::mqtt::reconnect::Plan;
use crate::mqtt::wire::Reason;

impl Link {
    /// The delay before the first CONNECT: this device's start-up slot.
    pub(super) fn first_delay(&mut self) -> Duration {
        let plan = self.reconnect.plan(Instant::now(), self.start_delay);
        if !plan.delay.is_zero() {
            tracing::info!(
                "mqtt: first connection in {:?} (this device's slot in connect_spread {})",
                plan.delay,
                self.setup.mqtt.connect_spread
            );
        }
        plan.delay
    }

    /// Plans the next attempt after a failure (`refused`: the CONNACK's refusal).
    fn next_plan(&mut self, refused: Option<&'static str>) -> Plan {
        let plan = self
            .reconnect
            .failed(Instant::now(), refused.is_some(), rand::random::<f64>());
        if !plan.rate_wait.is_zero() {
            tracing::warn!(
                "mqtt: {} attempts in the last minute; the next waits {:?} more",
                plan.recent_attempts,
                plan.rate_wait
            );
        }
        plan
    }

    /// The connection ended (or never came up): report, pick the delay, raise the session.
    /// `reason`: the broker's reason code (and string) behind it, when it gave one.
    pub(super) async fn disconnected(
        &mut self,
        error: String,
        refused: Option<&'static str>,
        reason: Option<Reason>,
        delay: &mut Duration,
    ) {
        let up = self.conn.connected_at.map(|t| t.elapsed());
        self.outbox.reset();
        self.conn = Conn::default();
        if let Some(up) = up {
            self.down_since = Instant::now();
            self.reconnect.disconnected_after(up);
            if let Some(s) = self.db(|s| s.next_session()).await {
                self.session = s;
            }
            let plan = self.next_plan(refused);
            *delay = plan.delay;
            let event = NewEvent::new(
                MqttDisconnected {
                    error: error.clone(),
                    up_ms: up.as_millis() as u64,
                    retry_in_ms: delay.as_millis() as u64,
                    next_session: self.session,
                    rate_wait_ms: plan.rate_wait.as_millis() as u64,
                    reason_code: reason.as_ref().map(|r| u64::from(r.code)),
                    reason: reason.map(|r| r.to_string()),
                },
                None,
            )
            .message(format!("lost the broker {}: {error}", self.setup.mqtt.url));
            self.reported = Some(error);
            self.record(event).await;
        } else {
            self.failed(error, refused, reason, delay).await;
        }
    }

    /// A connection attempt failed: the first failure of an outage, and every change of
    /// error, is an event; repeats are traced. Refused credentials and TLS failures are errors;
    /// a CONNACK refusal backs off in minutes.
    pub(super) async fn failed(
        &mut self,
        error: String,
        refused: Option<&'static str>,
        reason: Option<Reason>,
        delay: &mut Duration,
    ) {
        self.failed_attempts += 1;
        self.stats.send_modify(|s| s.failed_attempts += 1);
        let plan = self.next_plan(refused);
        *delay = plan.delay;
        if self.reported.as_deref() == Some(error.as_str()) {
            tracing::debug!("mqtt connect failed again: {error}; retry in {delay:?}");
            return;
        }
        let serious = refused.is_some()
            || ["TLS", "refused", "mqtt.", "CA", "certificate"]
                .iter()
                .any(|w| error.contains(w));
        let backoff = if refused.is_some() {
            "refused"
        } else {
            "normal"
        };
        let figures = MqttConnectFailed {
            error: error.clone(),
            attempt: self.failed_attempts,
            retry_in_ms: delay.as_millis() as u64,
            session: self.session,
            refusal: refused.map(str::to_string),
            backoff: backoff.to_string(),
            rate_wait_ms: plan.rate_wait.as_millis() as u64,
            attempts_last_minute: plan.recent_attempts as u64,
            start_delay_ms: self.start_delay.as_millis() as u64,
            reason_code: reason.as_ref().map(|r| u64::from(r.code)),
            reason: reason.map(|r| r.to_string()),
        };
        let event = NewEvent::new(figures, None).message(format!(
            "cannot connect to {}: {error}; retrying in {:.1} s",
            self.setup.mqtt.url,
            delay.as_secs_f64()
        ));
        let event = if serious {
            event
        } else {
            event.severity(Severity::Warning)
        };
        tracing::warn!(
            "mqtt connect to {} failed: {error}; retry in {delay:?}",
            self.setup.mqtt.url
        );
        self.reported = Some(error);
        self.record(event).await;
    }

    /// The broker refused the command subscription on a connection it accepted (MQTT 3.1.1:
    /// a SUBACK failure; MQTT 5 ends the connection instead, reported with its reason code):
    /// remote commands cannot arrive until the broker's ACL changes.
    pub(super) async fn subscription_refused(&mut self, refused: Vec<Reason>) {
        let Some(reason) = refused.into_iter().next() else {
            return;
        };
        let topic = self.topics.cmd_request();
        let event = NewEvent::new(
            MqttSubscriptionRefused {
                topic: topic.clone(),
                session: self.session,
                reason_code: u64::from(reason.code),
                reason: reason.to_string(),
            },
            None,
        )
        .message(format!(
            "the broker {} refused the subscription to {topic} ({reason}): remote commands \
             cannot arrive; the link stays up for events, state and telemetry",
            self.setup.mqtt.url
        ));
        self.record(event).await;
    }
}
