//! Tests of the adapter's pure parts: refusals named alike in both protocols (so both back off
//! in minutes on bad credentials), reason codes with their numbers and names, and failures
//! that carry them.
use super::*;

#[test]
fn connack_refusals_are_named_alike_in_both_protocols_and_a_busy_broker_is_not_one() {
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as C5;
    use rumqttc::ConnectReturnCode as C4;
    let v4 = |c| v4::failure(rumqttc::ConnectionError::ConnectionRefused(c)).refusal;
    let v5 = |c| v5::failure(rumqttc::v5::ConnectionError::ConnectionRefused(c)).refusal;
    assert_eq!(v4(C4::BadUserNamePassword), Some("bad_username_password"));
    assert_eq!(v5(C5::BadUserNamePassword), Some("bad_username_password"));
    assert_eq!(v4(C4::NotAuthorized), Some("not_authorized"));
    assert_eq!(v5(C5::NotAuthorized), Some("not_authorized"));
    assert_eq!(v4(C4::BadClientId), Some("bad_client_id"));
    assert_eq!(v5(C5::ClientIdentifierNotValid), Some("bad_client_id"));
    assert_eq!(v4(C4::RefusedProtocolVersion), Some("protocol_version"));
    assert_eq!(v5(C5::UnsupportedProtocolVersion), Some("protocol_version"));
    assert_eq!(v5(C5::Banned), Some("banned"));
    assert_eq!(v4(C4::ServiceUnavailable), None);
    for passing in [C5::ServerUnavailable, C5::ServerBusy, C5::QuotaExceeded] {
        assert_eq!(v5(passing), None, "{passing:?}");
    }
    assert_eq!(
        v4::failure(rumqttc::ConnectionError::RequestsDone).refusal,
        None
    );
}

#[test]
fn a_refusal_carries_its_packet_code_and_name() {
    use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, PubAckReason, SubscribeReasonCode};
    use rumqttc::v5::{ConnectionError, StateError};
    let f = v5::failure(ConnectionError::ConnectionRefused(
        ConnectReturnCode::NotAuthorized,
    ));
    let r = f.reason.unwrap();
    assert_eq!(
        (r.packet, r.code, r.name.as_str()),
        ("connack", 0x87, "not_authorized")
    );
    assert!(
        f.message.contains("connack not_authorized (0x87)"),
        "{}",
        f.message
    );
    let f = v5::failure(ConnectionError::MqttState(StateError::PubAckFail {
        reason: PubAckReason::QuotaExceeded,
    }));
    let r = f.reason.unwrap();
    assert_eq!(
        (r.packet, r.code, r.name.as_str()),
        ("puback", 0x97, "quota_exceeded")
    );
    assert_eq!(
        f.refusal, None,
        "a refused publish is not a refused connection"
    );
    let f = v5::failure(ConnectionError::MqttState(StateError::SubFail {
        reason: SubscribeReasonCode::NotAuthorized,
    }));
    assert_eq!(f.reason.unwrap().code, 0x87);
    let f = v5::failure(ConnectionError::MqttState(StateError::ServerDisconnect {
        reason_code: rumqttc::v5::mqttbytes::v5::DisconnectReasonCode::AdministrativeAction,
        reason_string: Some("kicked by the operator".to_string()),
    }));
    let r = f.reason.unwrap();
    assert_eq!((r.packet, r.code), ("disconnect", 0x98));
    assert_eq!(r.string.as_deref(), Some("kicked by the operator"));
    assert!(
        f.message.contains("kicked by the operator"),
        "{}",
        f.message
    );
    let f = v4::failure(rumqttc::ConnectionError::ConnectionRefused(
        rumqttc::ConnectReturnCode::BadUserNamePassword,
    ));
    let r = f.reason.unwrap();
    assert_eq!((r.code, r.name.as_str()), (4, "bad_user_name_password"));
}

#[test]
fn reason_names_are_snake_case() {
    assert_eq!(snake("NotAuthorized"), "not_authorized");
    assert_eq!(snake("Success(AtLeastOnce)"), "success");
    assert_eq!(snake("Banned"), "banned");
}

#[test]
fn a_3_1_1_suback_failure_is_a_refused_filter_and_a_grant_is_none() {
    use rumqttc::{Event, Incoming, QoS, SubAck, SubscribeReasonCode};
    let suback = |codes| v4::event(Event::Incoming(Incoming::SubAck(SubAck::new(1, codes))));
    let refused = match suback(vec![SubscribeReasonCode::Failure]) {
        Wire::SubAck { refused } => refused,
        other => panic!("{other:?}"),
    };
    assert_eq!(refused.len(), 1);
    assert_eq!((refused[0].packet, refused[0].code), ("suback", 0x80));
    assert_eq!(
        suback(vec![SubscribeReasonCode::Success(QoS::AtLeastOnce)]),
        Wire::SubAck { refused: vec![] }
    );
}

#[test]
fn an_mqtt5_publish_keeps_its_expiry_response_topic_and_correlation_data() {
    use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
    use rumqttc::v5::mqttbytes::QoS;
    let properties = PublishProperties {
        message_expiry_interval: Some(41),
        response_topic: Some("jetgate/d/cmd/response/rr".to_string()),
        correlation_data: Some(b"corr".to_vec().into()),
        ..PublishProperties::default()
    };
    let p = Publish::new(
        "jetgate/d/cmd/request",
        QoS::AtLeastOnce,
        b"{}".to_vec(),
        Some(properties),
    );
    let got = v5::event(rumqttc::v5::Event::Incoming(Packet::Publish(p)));
    assert_eq!(
        got,
        Wire::Publish(Inbound {
            topic: "jetgate/d/cmd/request".to_string(),
            payload: b"{}".to_vec(),
            retain: false,
            expiry: Some(41),
            response_topic: Some("jetgate/d/cmd/response/rr".to_string()),
            correlation: Some(b"corr".to_vec()),
        })
    );
}
