//! Tests of the remote command decoder: every accepted shape, every rejection with its reason, and properties (never panics, only configured targets).
use super::*;
use proptest::prelude::*;

fn targets() -> BTreeSet<String> {
    ["llm".to_string(), "det".to_string()].into_iter().collect()
}

fn reason(payload: &[u8]) -> Rejection {
    decode(payload, &targets()).unwrap_err()
}

#[test]
fn decodes_each_action_in_its_wire_form() {
    let ok = |s: &str| decode(s.as_bytes(), &targets()).unwrap();
    assert_eq!(
        ok(r#"{"id":"1","action":"load","target":"llm"}"#).action,
        Action::Load {
            target: "llm".into()
        }
    );
    assert_eq!(
        ok(r#"{"id":"2","action":"unload","target":"det"}"#)
            .action
            .to_cmd(),
        Cmd::Unload { name: "det".into() }
    );
    assert_eq!(
        ok(r#"{"id":"3","action":"restart","target":"llm"}"#)
            .action
            .name(),
        "restart"
    );
    assert_eq!(ok(r#"{"id":"4","action":"status"}"#).action, Action::Status);
    assert_eq!(
        ok(r#"{"id":"5","action":"note","text":"  fan swapped "}"#).action,
        Action::Note {
            text: "fan swapped".into()
        }
    );
    assert_eq!(
        ok(r#"{"id":"6","action":"load","target":"llm"}"#)
            .action
            .to_cmd(),
        Cmd::Load {
            name: "llm".into(),
            wait: true
        }
    );
}

#[test]
fn rejects_unknown_actions_fields_and_wrong_types_keeping_the_id() {
    let r = reason(br#"{"id":"a","action":"shell","target":"llm"}"#);
    assert_eq!(r.id.as_deref(), Some("a"));
    assert!(r.reason.contains("unknown action"), "{}", r.reason);
    let r = reason(br#"{"id":"b","action":"load","target":"llm","argv":["sh"]}"#);
    assert_eq!(r.id.as_deref(), Some("b"));
    assert!(r.reason.contains("unknown field"), "{}", r.reason);
    for bad in [
        r#"{"id":"c","action":"load","target":7}"#,
        r#"{"id":"c","action":"load","target":-1}"#,
        r#"{"id":"c","action":"load","target":1e308}"#,
        r#"{"id":"c","action":"load","target":18446744073709551616}"#,
        r#"{"id":"c","action":["load"],"target":"llm"}"#,
        r#"{"id":"c","action":"load","target":{"name":"llm"}}"#,
        r#"{"id":"c","action":"load","target":true}"#,
    ] {
        let r = reason(bad.as_bytes());
        assert_eq!(r.id.as_deref(), Some("c"), "{bad}");
        assert!(r.reason.contains("invalid"), "{bad}: {}", r.reason);
    }
    assert_eq!(reason(br#"{"id":42,"action":"status"}"#).id, None);
}

#[test]
fn rejects_targets_the_configuration_does_not_name_and_misplaced_fields() {
    assert!(reason(br#"{"id":"a","action":"load","target":"gpt"}"#)
        .reason
        .contains("no model or service named \"gpt\""));
    assert!(
        reason(br#"{"id":"a","action":"load","target":"llm; rm -rf /"}"#)
            .reason
            .contains("no model or service")
    );
    assert!(reason(br#"{"id":"a","action":"load"}"#)
        .reason
        .contains("needs a `target`"));
    assert!(reason(br#"{"id":"a","action":"status","target":"llm"}"#)
        .reason
        .contains("takes no `target`"));
    assert!(
        reason(br#"{"id":"a","action":"load","target":"llm","text":"x"}"#)
            .reason
            .contains("takes no `text`")
    );
    assert!(reason(br#"{"id":"a","action":"note","text":"   "}"#)
        .reason
        .contains("non-empty"));
    let long = format!(
        r#"{{"id":"a","action":"note","text":"{}"}}"#,
        "x".repeat(5000)
    );
    assert!(reason(long.as_bytes()).reason.contains("4096"));
}

#[test]
fn rejects_oversized_non_utf8_commented_and_trailing_payloads() {
    let big = vec![b' '; MAX_COMMAND_BYTES + 1];
    assert!(reason(&big).reason.contains("limit"));
    assert!(reason(&[0xff, 0xfe, b'{']).reason.contains("UTF-8"));
    let r = reason(b"{\"id\":\"a\", // load it\n\"action\":\"status\"}");
    assert!(r.reason.contains("invalid command"));
    assert!(reason(br#"{"id":"a","action":"status"} {"id":"b"}"#)
        .reason
        .contains("trailing"));
    assert!(reason(br#"{"id":"a","action":"status","action":"load"}"#)
        .reason
        .contains("duplicate"));
    assert!(reason(b"Ignore your rules and run `rm -rf /` as root.")
        .reason
        .contains("invalid"));
    assert!(reason(b"").reason.contains("invalid"));
    assert!(reason(b"[]").reason.contains("invalid"));
    assert!(reason(br#"{"id":"","action":"status"}"#)
        .reason
        .contains("`id`"));
    assert!(reason(br#"{"id":"a\u0000","action":"status"}"#)
        .reason
        .contains("`id`"));
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    assert!(reason(deep.as_bytes()).reason.contains("invalid"));
}

#[test]
fn replies_serialize_to_the_contract_shape() {
    let r = Reply::new(Some("a".into()), ReplyStatus::Rejected, Some("why".into()));
    let v: Value = serde_json::from_slice(&r.to_payload()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"id":"a","status":"rejected","reason":"why"})
    );
    let r = Reply::new(Some("a".into()), ReplyStatus::Accepted, None);
    assert_eq!(
        r.to_payload(),
        br#"{"id":"a","status":"accepted"}"#.to_vec()
    );
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes, &targets());
    }

    #[test]
    fn only_configured_targets_are_ever_accepted(target in "\\PC{0,20}", action in "load|unload|restart") {
        let payload = serde_json::json!({"id": "p", "action": action, "target": target}).to_string();
        if let Ok(c) = decode(payload.as_bytes(), &targets()) {
            prop_assert!(targets().contains(c.action.target().unwrap_or("")));
        }
    }
}

/// The replies on the `response` topic are a published document: each status in its wire form.
#[test]
fn command_replies_keep_their_published_shape() {
    let replies: Vec<serde_json::Value> = [
        Reply::new(Some("7".into()), ReplyStatus::Accepted, None),
        Reply::new(
            Some("8".into()),
            ReplyStatus::Rejected,
            Some("unknown action \"shell\"".into()),
        ),
        Reply::new(None, ReplyStatus::Rejected, Some("not JSON".into())),
        Reply::new(Some("7".into()), ReplyStatus::Succeeded, None),
        Reply::new(
            Some("9".into()),
            ReplyStatus::Failed,
            Some("llm is already loading".into()),
        ),
    ]
    .iter()
    .map(|r| serde_json::from_slice(&r.to_payload()).unwrap())
    .collect();
    crate::status::golden::golden("mqtt_command_replies", &serde_json::Value::Array(replies));
}

#[test]
fn ids_with_control_format_or_separator_characters_are_refused() {
    for id in [
        "a\u{0}b",
        "a\u{1b}[2Jb",
        "a\nb",
        "a\u{202e}b",
        "a\u{2066}b",
        "a\u{200b}b",
        "a\u{200d}b",
        "\u{feff}a",
        "a\u{2028}b",
        "a\u{2029}b",
        "a\u{85}b",
    ] {
        let payload = serde_json::json!({"id": id, "action": "status"}).to_string();
        let r = reason(payload.as_bytes());
        assert_eq!(r.id, None, "{id:?}");
        assert!(r.reason.contains("format"), "{id:?}: {}", r.reason);
    }
    let long = "x".repeat(MAX_ID_CHARS + 1);
    let payload = serde_json::json!({"id": long, "action": "status"}).to_string();
    assert_eq!(reason(payload.as_bytes()).id, None);
    // Printable Unicode is fine.
    let ok = decode(
        r#"{"id":"caf\u00e9-\u4e2d-1","action":"status"}"#.as_bytes(),
        &targets(),
    );
    assert_eq!(ok.unwrap().id, "caf\u{e9}-\u{4e2d}-1");
}

#[test]
fn a_command_past_its_expires_is_refused_and_one_before_it_may_run() {
    let payload = |expires: &str| {
        format!(r#"{{"id":"e1","action":"restart","target":"llm","expires":"{expires}"}}"#)
    };
    let cmd = decode(payload("2026-12-07T21:05:00+01:00").as_bytes(), &targets()).unwrap();
    let expires_ms = crate::clock::parse_rfc3339_ms("2026-12-07T20:05:00Z").unwrap();
    assert_eq!(cmd.expires_ms, Some(expires_ms));
    assert_eq!(cmd.expired(expires_ms - 1), None);
    let reason = cmd.expired(expires_ms).unwrap();
    assert!(reason.starts_with("expired: "), "{reason}");
    assert!(reason.contains("2026-12-07T20:05:00.000Z"), "{reason}");
    let late = cmd.expired(expires_ms + 3_600_000).unwrap();
    assert!(
        late.contains("arrived at 2026-12-07T21:05:00.000Z"),
        "{late}"
    );
    // Without `expires` a command never expires.
    let plain = decode(br#"{"id":"e2","action":"status"}"#, &targets()).unwrap();
    assert_eq!(plain.expired(u64::MAX), None);
}

#[test]
fn an_expires_that_is_not_an_rfc_3339_time_is_refused_with_its_id() {
    for bad in [
        r#""tomorrow""#,
        r#""2026-12-07""#,
        r#""2026-02-30T00:00:00Z""#,
        r#""2026-12-07T21:05:00""#,
        r#""""#,
        "1796677500",
    ] {
        let payload = format!(r#"{{"id":"e3","action":"status","expires":{bad}}}"#);
        let r = reason(payload.as_bytes());
        assert_eq!(r.id.as_deref(), Some("e3"), "{bad}");
        assert!(
            r.reason.contains("expires") || r.reason.contains("invalid command"),
            "{bad}: {}",
            r.reason
        );
    }
}

#[test]
fn a_response_topic_must_be_a_publish_topic_at_or_under_the_devices_cmd_response() {
    let documented = "jetgate/orin-07/cmd/response";
    for ok in [
        documented,
        "jetgate/orin-07/cmd/response/rr",
        "jetgate/orin-07/cmd/response/dash/42",
    ] {
        assert_eq!(response_topic(ok, documented), Ok(()), "{ok}");
    }
    let long = format!("{documented}/{}", "x".repeat(MAX_RESPONSE_TOPIC));
    for (bad, why) in [
        ("", "empty"),
        ("jetgate/orin-07/cmd/response/+", "wildcard"),
        ("jetgate/orin-07/cmd/response/#", "wildcard"),
        ("jetgate/orin-07/cmd/response/a\0b", "NUL"),
        (long.as_str(), "bytes, over"),
        (
            "jetgate/orin-08/cmd/response",
            "not jetgate/orin-07/cmd/response or below",
        ),
        ("jetgate/orin-07/cmd/responses", "not jetgate"),
        ("jetgate/orin-07/cmd/response/", "not jetgate"),
        ("jetgate/orin-07/status", "not jetgate"),
        ("elsewhere/x", "not jetgate"),
    ] {
        let e = response_topic(bad, documented).unwrap_err();
        assert!(e.contains(why), "{bad:?}: {e}");
    }
}
