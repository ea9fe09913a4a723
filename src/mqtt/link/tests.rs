//! The link's events in their published form: each kind's typed figures write the map the
//! link has always published (keys, number types, `null` against absent), and that map reads
//! back as the kind's struct.

use serde_json::Value;

use crate::event::figures::{
    CommandAccepted, CommandDuplicate, CommandFailed, CommandRejected, MqttConnectFailed,
    MqttConnected, MqttDisconnected, MqttPayloadDropped, OutboxDropped,
};
use crate::event::{EventKind, NewEvent, Severity};

/// The event's figures as published (serde_json's map: keys sorted), after checking that
/// they read back as its kind's struct unchanged.
fn published(e: &NewEvent) -> String {
    let round_trip = e.kind.figures_round_trip(&e.figures);
    assert_eq!(round_trip, Some(Ok(())), "{}", e.kind);
    serde_json::to_string(&Value::Object(e.figures.clone())).unwrap()
}

#[test]
fn connection_events_keep_their_published_maps() {
    let connected = NewEvent::new(
        MqttConnected {
            broker: "mqtt://broker:1883".into(),
            session: 3,
            session_present: true,
            failed_attempts: 2,
            outage_ms: 4100,
            outbox_cursor: 77,
            start_delay_ms: 0,
        },
        None,
    );
    assert_eq!(connected.severity, Severity::Info);
    assert_eq!(
        published(&connected),
        r#"{"broker":"mqtt://broker:1883","failed_attempts":2,"outage_ms":4100,"outbox_cursor":77,"session":3,"session_present":true,"start_delay_ms":0}"#
    );
    // A network failure has no reason code: both figures are there, as null.
    let lost = NewEvent::new(
        MqttDisconnected {
            error: "connection reset".into(),
            up_ms: 90_000,
            retry_in_ms: 1000,
            next_session: 4,
            rate_wait_ms: 0,
            reason_code: None,
            reason: None,
        },
        None,
    );
    assert_eq!(
        published(&lost),
        r#"{"error":"connection reset","next_session":4,"rate_wait_ms":0,"reason":null,"reason_code":null,"retry_in_ms":1000,"up_ms":90000}"#
    );
    let refused = NewEvent::new(
        MqttConnectFailed {
            error: "refused: not_authorized".into(),
            attempt: 1,
            retry_in_ms: 60_000,
            session: 4,
            refusal: Some("not_authorized".into()),
            backoff: "refused".into(),
            rate_wait_ms: 0,
            attempts_last_minute: 1,
            start_delay_ms: 250,
            reason_code: Some(0x87),
            reason: Some("connack not_authorized (0x87)".into()),
        },
        None,
    );
    assert_eq!(refused.severity, Severity::Error);
    assert_eq!(
        published(&refused),
        r#"{"attempt":1,"attempts_last_minute":1,"backoff":"refused","error":"refused: not_authorized","rate_wait_ms":0,"reason":"connack not_authorized (0x87)","reason_code":135,"refusal":"not_authorized","retry_in_ms":60000,"session":4,"start_delay_ms":250}"#
    );
    let other = NewEvent::new(
        MqttConnectFailed {
            backoff: "normal".into(),
            ..MqttConnectFailed::default()
        },
        None,
    );
    let f = &other.figures;
    assert!(f["refusal"].is_null() && f["reason_code"].is_null() && f["reason"].is_null());
    published(&other);
}

#[test]
fn a_refusal_and_the_minute_aggregate_are_two_shapes_of_command_rejected() {
    let one = NewEvent::new(
        CommandRejected {
            id: None,
            reason: Some("not JSON".into()),
            payload_bytes: Some(12),
            ..CommandRejected::default()
        },
        None,
    );
    assert_eq!(
        published(&one),
        r#"{"id":null,"payload_bytes":12,"reason":"not JSON"}"#
    );
    let aggregate = NewEvent::new(
        CommandRejected {
            id: None,
            suppressed: Some(40),
            busy: Some(3),
            duplicates: Some(5),
            max_payload_bytes: Some(900),
            last_reason: Some("busy".into()),
            replies_dropped: Some(0),
            window_s: Some(60),
            ..CommandRejected::default()
        },
        None,
    );
    assert_eq!(aggregate.kind, EventKind::CommandRejected);
    assert_eq!(
        published(&aggregate),
        r#"{"busy":3,"duplicates":5,"id":null,"last_reason":"busy","max_payload_bytes":900,"replies_dropped":0,"suppressed":40,"window_s":60}"#
    );
}

#[test]
fn command_outcomes_keep_their_published_maps() {
    let accepted = NewEvent::new(
        CommandAccepted {
            id: "c1".into(),
            action: "load".into(),
        },
        Some("llm"),
    );
    assert_eq!(published(&accepted), r#"{"action":"load","id":"c1"}"#);
    let duplicate = NewEvent::new(
        CommandDuplicate {
            id: "c1".into(),
            action: "load".into(),
            status: "succeeded".into(),
            first_seen_ms: 1_780_000_000_123,
        },
        Some("llm"),
    );
    assert_eq!(
        published(&duplicate),
        r#"{"action":"load","first_seen_ms":1780000000123,"id":"c1","status":"succeeded"}"#
    );
    let failed = NewEvent::new(
        CommandFailed {
            id: "c2".into(),
            action: "unload".into(),
            reason: "not loaded".into(),
        },
        Some("llm"),
    );
    assert_eq!(failed.severity, Severity::Warning);
    assert_eq!(
        published(&failed),
        r#"{"action":"unload","id":"c2","reason":"not loaded"}"#
    );
}

#[test]
fn outbox_drops_keep_their_maps_and_an_unreadable_kind_is_null() {
    let dropped = NewEvent::new(
        OutboxDropped {
            dropped_events: 10,
            dropped_bytes: 5000,
            first_seq: 1,
            last_seq: 10,
            dropped_info: 10,
            dropped_warning: 0,
            dropped_error: 0,
            outbox_events: 90,
            outbox_bytes: 45_000,
            limit_bytes: 50_000,
            dropped_total: 10,
        },
        None,
    );
    assert_eq!(
        published(&dropped),
        r#"{"dropped_bytes":5000,"dropped_error":0,"dropped_events":10,"dropped_info":10,"dropped_total":10,"dropped_warning":0,"first_seq":1,"last_seq":10,"limit_bytes":50000,"outbox_bytes":45000,"outbox_events":90}"#
    );
    let payload = |event_kind: Option<&str>| {
        NewEvent::new(
            MqttPayloadDropped {
                seq: 42,
                event_kind: event_kind.map(str::to_string),
                payload_bytes: 300_000,
                max_payload_bytes: 262_144,
                dropped_total: 1,
            },
            None,
        )
    };
    assert_eq!(
        published(&payload(Some("note"))),
        r#"{"dropped_total":1,"event_kind":"note","max_payload_bytes":262144,"payload_bytes":300000,"seq":42}"#
    );
    // A payload with no readable kind: the figure is there, as null (as the link always
    // published it), and reads back.
    assert_eq!(
        published(&payload(None)),
        r#"{"dropped_total":1,"event_kind":null,"max_payload_bytes":262144,"payload_bytes":300000,"seq":42}"#
    );
}
