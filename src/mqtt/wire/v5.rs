//! MQTT 5 through rumqttc's v5 client: the session expiry and the will's delay in CONNECT,
//! a publish's message expiry, response topic and correlation data, and the broker's reason
//! codes (with their numbers from the specification) in the link's own types.

use std::time::Duration;

use rumqttc::v5::mqttbytes::v5::{
    ConnectProperties, ConnectReturnCode, LastWill, LastWillProperties, Packet, PubAckReason,
    PublishProperties, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, StateError};
use rumqttc::Outgoing;

use super::{snake, Failure, Inbound, Outbound, Qos, Reason, Will, Wire};
use crate::config::MqttConfig;
use crate::mqtt::tls::{self, OptionsError, INFLIGHT, KEEP_ALIVE, MAX_INCOMING_PACKET};

/// Seconds of an MQTT 5 interval (the config caps it at `u32::MAX`).
fn seconds(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn connect_properties(session_expiry: Duration) -> ConnectProperties {
    let mut p = ConnectProperties::new();
    // Also tells the broker not to send more: a larger packet is dropped there (MQTT 5).
    p.max_packet_size = Some(MAX_INCOMING_PACKET as u32);
    p.session_expiry_interval = Some(seconds(session_expiry));
    p
}

fn base(client_id: &str, host: String, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(KEEP_ALIVE)
        .set_outgoing_inflight_upper_limit(INFLIGHT)
        .set_connect_properties(connect_properties(Duration::ZERO));
    o
}

pub(super) fn options(
    cfg: &MqttConfig,
    client_id: &str,
    will: Option<Will>,
    clean: bool,
) -> Result<MqttOptions, OptionsError> {
    let access = tls::access(cfg)?;
    let mut o = base(client_id, cfg.url.host.clone(), cfg.url.port);
    o.set_clean_start(clean)
        .set_connect_properties(connect_properties(cfg.session_expiry()))
        .set_transport(access.transport);
    if let Some((user, password)) = access.credentials {
        o.set_credentials(user, password);
    }
    if let Some(w) = will {
        let properties = LastWillProperties {
            delay_interval: Some(seconds(w.delay)),
            payload_format_indicator: None,
            message_expiry_interval: None,
            content_type: None,
            response_topic: None,
            correlation_data: None,
            user_properties: Vec::new(),
        };
        o.set_last_will(LastWill::new(
            w.topic,
            w.payload,
            QoS::AtLeastOnce,
            true,
            Some(properties),
        ));
    }
    Ok(o)
}

/// The event loop's packet-id table is sized from these options at creation, so the
/// placeholder carries the in-flight limit every attempt uses.
pub(super) fn client(client_id: &str, capacity: usize) -> (AsyncClient, EventLoop) {
    AsyncClient::new(base(client_id, "localhost".to_string(), 1883), capacity)
}

pub(super) fn publish(c: &AsyncClient, out: Outbound) -> Result<(), String> {
    let qos = match out.qos {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
    };
    let result = match out.correlation {
        Some(data) => {
            let properties = PublishProperties {
                correlation_data: Some(data.into()),
                ..PublishProperties::default()
            };
            c.try_publish_with_properties(out.topic, qos, out.retain, out.payload, properties)
        }
        None => c.try_publish(out.topic, qos, out.retain, out.payload),
    };
    result.map_err(|e| e.to_string())
}

pub(super) fn event(e: Event) -> Wire {
    match e {
        Event::Incoming(Packet::ConnAck(a)) => Wire::ConnAck {
            session_present: a.session_present,
            reason_string: a.properties.and_then(|p| p.reason_string),
        },
        Event::Incoming(Packet::Publish(p)) => {
            let props = p.properties.unwrap_or_default();
            Wire::Publish(Inbound {
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                payload: p.payload.to_vec(),
                retain: p.retain,
                expiry: props.message_expiry_interval,
                response_topic: props.response_topic,
                correlation: props.correlation_data.map(|d| d.to_vec()),
            })
        }
        Event::Incoming(Packet::PubAck(a)) => Wire::PubAck { pkid: a.pkid },
        // A refused filter ends the connection in rumqttc (a `Failure`), so a SubAck here
        // granted everything.
        Event::Incoming(Packet::SubAck(_)) => Wire::SubAck {
            refused: Vec::new(),
        },
        Event::Outgoing(Outgoing::Publish(pkid)) => Wire::PublishSent { pkid },
        Event::Outgoing(Outgoing::Disconnect) => Wire::DisconnectSent,
        _ => Wire::Other,
    }
}

/// A CONNACK reason code's number (MQTT 5 §3.2.2.2; the first three are 3.1.1's).
pub fn connack_code(c: ConnectReturnCode) -> u8 {
    use ConnectReturnCode as C;
    match c {
        C::Success => 0x00,
        C::RefusedProtocolVersion => 0x01,
        C::BadClientId => 0x02,
        C::ServiceUnavailable => 0x03,
        C::UnspecifiedError => 0x80,
        C::MalformedPacket => 0x81,
        C::ProtocolError => 0x82,
        C::ImplementationSpecificError => 0x83,
        C::UnsupportedProtocolVersion => 0x84,
        C::ClientIdentifierNotValid => 0x85,
        C::BadUserNamePassword => 0x86,
        C::NotAuthorized => 0x87,
        C::ServerUnavailable => 0x88,
        C::ServerBusy => 0x89,
        C::Banned => 0x8a,
        C::BadAuthenticationMethod => 0x8c,
        C::TopicNameInvalid => 0x90,
        C::PacketTooLarge => 0x95,
        C::QuotaExceeded => 0x97,
        C::PayloadFormatInvalid => 0x99,
        C::RetainNotSupported => 0x9a,
        C::QoSNotSupported => 0x9b,
        C::UseAnotherServer => 0x9c,
        C::ServerMoved => 0x9d,
        C::ConnectionRateExceeded => 0x9f,
    }
}

/// The CONNACK refusals that will not pass by themselves (same names as 3.1.1's): they back
/// off in minutes; a busy or unavailable server, or a rate limit, keeps the normal backoff.
pub fn refusal_code(c: ConnectReturnCode) -> Option<&'static str> {
    use ConnectReturnCode as C;
    match c {
        C::BadUserNamePassword => Some("bad_username_password"),
        C::NotAuthorized => Some("not_authorized"),
        C::BadClientId | C::ClientIdentifierNotValid => Some("bad_client_id"),
        C::RefusedProtocolVersion | C::UnsupportedProtocolVersion => Some("protocol_version"),
        C::Banned => Some("banned"),
        C::BadAuthenticationMethod => Some("bad_authentication_method"),
        _ => None,
    }
}

fn puback_code(r: PubAckReason) -> u8 {
    use PubAckReason as P;
    match r {
        P::Success => 0x00,
        P::NoMatchingSubscribers => 0x10,
        P::UnspecifiedError => 0x80,
        P::ImplementationSpecificError => 0x83,
        P::NotAuthorized => 0x87,
        P::TopicNameInvalid => 0x90,
        P::PacketIdentifierInUse => 0x91,
        P::QuotaExceeded => 0x97,
        P::PayloadFormatInvalid => 0x99,
    }
}

fn suback_code(r: SubscribeReasonCode) -> u8 {
    use SubscribeReasonCode as S;
    match r {
        S::Success(q) => q as u8,
        S::Failure | S::Unspecified => 0x80,
        S::ImplementationSpecific => 0x83,
        S::NotAuthorized => 0x87,
        S::TopicFilterInvalid => 0x8f,
        S::PkidInUse => 0x91,
        S::QuotaExceeded => 0x97,
        S::SharedSubscriptionsNotSupported => 0x9e,
        S::SubscriptionIdNotSupported => 0xa1,
        S::WildcardSubscriptionsNotSupported => 0xa2,
    }
}

fn reason(packet: &'static str, code: u8, debug: String, string: Option<String>) -> Reason {
    Reason {
        packet,
        code,
        name: snake(&debug),
        string,
    }
}

pub(super) fn failure(e: ConnectionError) -> Failure {
    let mut refusal = None;
    let mut too_large = None;
    let found = match &e {
        ConnectionError::ConnectionRefused(c)
        | ConnectionError::MqttState(StateError::ConnFail { reason: c }) => {
            refusal = refusal_code(*c);
            Some(reason("connack", connack_code(*c), format!("{c:?}"), None))
        }
        ConnectionError::MqttState(StateError::PubAckFail { reason: r }) => {
            // An ACL that refuses a publish refuses it again after any reconnect.
            if *r == PubAckReason::NotAuthorized {
                refusal = Some("not_authorized");
            }
            Some(reason("puback", puback_code(*r), format!("{r:?}"), None))
        }
        ConnectionError::MqttState(StateError::SubFail { reason: r }) => {
            if *r == SubscribeReasonCode::NotAuthorized {
                refusal = Some("not_authorized");
            }
            Some(reason("suback", suback_code(*r), format!("{r:?}"), None))
        }
        ConnectionError::MqttState(StateError::ServerDisconnect {
            reason_code,
            reason_string,
        }) => {
            use rumqttc::v5::mqttbytes::v5::DisconnectReasonCode as D;
            if *reason_code == D::NotAuthorized {
                refusal = Some("not_authorized");
            }
            Some(reason(
                "disconnect",
                *reason_code as u8,
                format!("{reason_code:?}"),
                reason_string.clone(),
            ))
        }
        ConnectionError::MqttState(StateError::IncomingPacketTooLarge { pkt_size, .. }) => {
            too_large = Some(*pkt_size);
            None
        }
        _ => None,
    };
    let message = match &found {
        Some(r) => format!("{e} [{r}]"),
        None => e.to_string(),
    };
    Failure {
        message,
        refusal,
        reason: found,
        too_large,
    }
}
