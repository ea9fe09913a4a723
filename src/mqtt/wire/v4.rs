//! MQTT 3.1.1 through rumqttc's v4 client: options, publishes, events and failures in the
//! link's own types.

use rumqttc::mqttbytes::Error as BytesError;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, Incoming, LastWill,
    MqttOptions, Outgoing, QoS, StateError, SubscribeReasonCode,
};

use super::{snake, Failure, Inbound, Outbound, Qos, Reason, Will, Wire};
use crate::config::MqttConfig;
use crate::mqtt::tls::{self, OptionsError};

pub(super) fn options(
    cfg: &MqttConfig,
    client_id: &str,
    will: Option<Will>,
    clean: bool,
) -> Result<MqttOptions, OptionsError> {
    let will = will.map(|w| LastWill::new(w.topic, w.payload, QoS::AtLeastOnce, true));
    let mut o = tls::options(cfg, client_id, will)?;
    if clean {
        o.set_clean_session(true);
    }
    Ok(o)
}

pub(super) fn client(client_id: &str, capacity: usize) -> (AsyncClient, EventLoop) {
    let placeholder = MqttOptions::new(client_id, "localhost", 1883);
    AsyncClient::new(placeholder, capacity)
}

fn qos(q: Qos) -> QoS {
    match q {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
    }
}

/// 3.1.1 has no properties: a reply's correlation data has nowhere to go (no 3.1.1 request
/// carries a response topic, so none is ever asked for).
pub(super) fn publish(c: &AsyncClient, out: Outbound) -> Result<(), String> {
    c.try_publish(out.topic, qos(out.qos), out.retain, out.payload)
        .map_err(|e| e.to_string())
}

pub(super) fn event(e: Event) -> Wire {
    match e {
        Event::Incoming(Incoming::ConnAck(a)) => Wire::ConnAck {
            session_present: a.session_present,
            reason_string: None,
        },
        Event::Incoming(Incoming::Publish(p)) => Wire::Publish(Inbound {
            topic: p.topic,
            payload: p.payload.to_vec(),
            retain: p.retain,
            expiry: None,
            response_topic: None,
            correlation: None,
        }),
        Event::Incoming(Incoming::PubAck(a)) => Wire::PubAck { pkid: a.pkid },
        Event::Incoming(Incoming::SubAck(s)) => Wire::SubAck {
            refused: s
                .return_codes
                .iter()
                .filter(|c| matches!(c, SubscribeReasonCode::Failure))
                .map(|_| Reason {
                    packet: "suback",
                    code: 0x80,
                    name: "failure".to_string(),
                    string: None,
                })
                .collect(),
        },
        Event::Outgoing(Outgoing::Publish(pkid)) => Wire::PublishSent { pkid },
        Event::Outgoing(Outgoing::Disconnect) => Wire::DisconnectSent,
        _ => Wire::Other,
    }
}

/// The name of a CONNACK refusal that means "not until someone changes something";
/// `None` for any other code (`ServiceUnavailable` passes by itself: the normal backoff).
pub fn refusal_code(code: ConnectReturnCode) -> Option<&'static str> {
    match code {
        ConnectReturnCode::BadUserNamePassword => Some("bad_username_password"),
        ConnectReturnCode::NotAuthorized => Some("not_authorized"),
        ConnectReturnCode::BadClientId => Some("bad_client_id"),
        ConnectReturnCode::RefusedProtocolVersion => Some("protocol_version"),
        ConnectReturnCode::ServiceUnavailable | ConnectReturnCode::Success => None,
    }
}

pub(super) fn failure(e: ConnectionError) -> Failure {
    let (refusal, reason) = match &e {
        ConnectionError::ConnectionRefused(code) => (
            refusal_code(*code),
            Some(Reason {
                packet: "connack",
                code: *code as u8,
                name: snake(&format!("{code:?}")),
                string: None,
            }),
        ),
        _ => (None, None),
    };
    let too_large = match &e {
        ConnectionError::MqttState(StateError::Deserialization(
            BytesError::PayloadSizeLimitExceeded(n),
        )) => Some(*n),
        _ => None,
    };
    Failure {
        message: e.to_string(),
        refusal,
        reason,
        too_large,
    }
}
