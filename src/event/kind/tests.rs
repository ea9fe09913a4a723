use super::*;

#[test]
fn every_kind_round_trips_through_serde_and_from_str() {
    for kind in EventKind::ALL {
        let json = serde_json::to_string(kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        let back: EventKind = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, kind);
        assert_eq!(&kind.as_str().parse::<EventKind>().unwrap(), kind);
        assert_eq!(&EventKind::from_stored(kind.to_string()), kind);
        assert!(kind.is_known());
    }
}

#[test]
fn names_are_unique_snake_case() {
    let mut names: Vec<&str> = EventKind::ALL.iter().map(EventKind::as_str).collect();
    for name in &names {
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{name}"
        );
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), EventKind::ALL.len());
}

#[test]
fn wire_names_are_the_published_ones() {
    // The wire form is the contract: a few names spelled out, as consumers match them.
    for (kind, text) in [
        (EventKind::LoadAdmitted, "load_admitted"),
        (EventKind::LoadAborted, "load_aborted"),
        (EventKind::GaveUp, "gave_up"),
        (EventKind::Note, "note"),
        (EventKind::MqttConnectFailed, "mqtt_connect_failed"),
        (EventKind::OrphanRecordStale, "orphan_record_stale"),
    ] {
        assert_eq!(serde_json::to_value(&kind).unwrap(), text);
    }
}

#[test]
fn a_typo_is_refused_with_the_list_of_kinds() {
    let err = "load_abortd".parse::<EventKind>().unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("unknown event kind \"load_abortd\""),
        "{text}"
    );
    for kind in EventKind::ALL {
        assert!(text.contains(kind.as_str()), "{kind} missing from {text}");
    }
}

#[test]
fn an_unknown_stored_kind_is_kept_not_dropped() {
    let kind: EventKind = serde_json::from_str("\"from_the_future\"").unwrap();
    assert!(!kind.is_known());
    assert_eq!(kind.as_str(), "from_the_future");
    assert_eq!(serde_json::to_string(&kind).unwrap(), "\"from_the_future\"");
    assert_eq!(kind.severity(), Severity::Info);
    assert!("from_the_future".parse::<EventKind>().is_err());
}

#[test]
fn a_request_filter_accepts_only_known_kinds() {
    #[derive(Debug, serde::Deserialize)]
    struct Filter {
        #[serde(default, deserialize_with = "deserialize_known")]
        kind: Option<EventKind>,
    }
    let ok: Filter = serde_json::from_str(r#"{"kind":"gave_up"}"#).unwrap();
    assert_eq!(ok.kind, Some(EventKind::GaveUp));
    let none: Filter = serde_json::from_str("{}").unwrap();
    assert_eq!(none.kind, None);
    let err = serde_json::from_str::<Filter>(r#"{"kind":"nope"}"#).unwrap_err();
    assert!(
        err.to_string().contains("unknown event kind \"nope\""),
        "{err}"
    );
}

/// `docs/agent.md`'s events table: every kind, in the enum's order, with its default severity
/// first in its severity cell, and no kind the code does not have.
#[test]
fn the_docs_table_lists_every_kind_with_its_severity() {
    let doc = include_str!("../../../docs/agent.md");
    let section = doc
        .split("\n## Events\n")
        .nth(1)
        .expect("docs/agent.md has an Events section");
    let section = section.split("\n## ").next().unwrap();
    let mut documented = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        let severity = cells[2]
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap();
        documented.push((name, severity));
    }
    for kind in EventKind::ALL {
        let (_, severity) = documented
            .iter()
            .find(|(name, _)| *name == kind.as_str())
            .unwrap_or_else(|| panic!("docs/agent.md's events table lacks `{kind}`"));
        assert_eq!(
            *severity,
            kind.severity().as_str(),
            "docs/agent.md gives `{kind}` another default severity"
        );
    }
    for (name, _) in &documented {
        assert!(
            name.parse::<EventKind>().is_ok(),
            "docs/agent.md lists `{name}`, which no code emits"
        );
    }
    let names: Vec<&str> = documented.iter().map(|(name, _)| *name).collect();
    let all: Vec<&str> = EventKind::ALL.iter().map(EventKind::as_str).collect();
    assert_eq!(names, all, "docs/agent.md lists the kinds in another order");
}
