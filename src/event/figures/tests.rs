use serde_json::json;

use super::*;
use crate::event::Severity;

/// The figure names of `docs/agent.md`'s events table, kind by kind: the figures cell with
/// its explanations in parentheses dropped, split at `,` `;` and ` or `, a `label:` before a
/// name dropped (`aggregate: suppressed`).
fn documented() -> Vec<(String, Vec<String>)> {
    let doc = include_str!("../../../docs/agent.md");
    let section = doc.split("\n## Events\n").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let mut kinds = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").map(str::trim).collect();
        let kind = cells[0]
            .trim_start_matches("| ")
            .trim_matches('`')
            .to_string();
        let cell = cells.last().unwrap().trim_end_matches('|').trim();
        let mut plain = String::new();
        let mut depth = 0;
        for c in cell.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => plain.push(c),
                _ => {}
            }
        }
        let names = plain
            .replace(" or ", ",")
            .split([',', ';'])
            .map(|item| item.rsplit(':').next().unwrap().trim().to_string())
            .filter(|item| !item.is_empty())
            .collect();
        kinds.push((kind, names));
    }
    kinds
}

#[test]
fn the_docs_table_lists_exactly_the_figures_of_each_kind() {
    let documented = documented();
    assert_eq!(documented.len(), EventKind::ALL.len());
    let mut differ = Vec::new();
    for kind in EventKind::ALL {
        let (_, names) = documented
            .iter()
            .find(|(k, _)| k == kind.as_str())
            .unwrap_or_else(|| panic!("docs/agent.md lacks `{kind}`"));
        let mut doc: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut code: Vec<&str> = kind.figure_names().unwrap().to_vec();
        doc.sort_unstable();
        code.sort_unstable();
        if doc != code {
            let only_doc: Vec<_> = doc.iter().filter(|n| !code.contains(n)).collect();
            let only_code: Vec<_> = code.iter().filter(|n| !doc.contains(n)).collect();
            differ.push(format!(
                "`{kind}`: only in the doc {only_doc:?}, only in the code {only_code:?}"
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "docs/agent.md's figures cells differ from the figures structs:\n{}",
        differ.join("\n")
    );
}

#[test]
fn every_kind_has_a_figures_struct_that_round_trips() {
    for kind in EventKind::ALL {
        let names = kind.figure_names().unwrap();
        let mut sorted = names.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "{kind}: a figure named twice");
        let map = kind.default_figures().unwrap();
        assert!(
            map.keys().all(|k| names.contains(&k.as_str())),
            "{kind}: {map:?}"
        );
        assert_eq!(kind.figures_round_trip(&map), Some(Ok(())), "{kind}");
    }
    let unknown = EventKind::from_stored("from_the_future".into());
    assert_eq!(unknown.figure_names(), None);
    assert_eq!(unknown.figures_round_trip(&Map::new()), None);
}

#[test]
fn typed_figures_make_the_event_of_their_kind_with_the_published_map() {
    let e = NewEvent::new(
        LoadAborted {
            available_bytes: 398_458_880,
            floor_bytes: 536_870_912,
            elapsed_ms: 2140,
            available_before_bytes: 4_000_000_000,
            consumed_bytes: 5_100_273_664,
            need_bytes: 4_294_967_296,
            tree_pss_bytes: Some(5_368_709_120),
            ..LoadAborted::default()
        },
        Some("llm"),
    );
    assert_eq!(e.kind, EventKind::LoadAborted);
    assert_eq!(e.severity, Severity::Error);
    assert_eq!(
        serde_json::to_string(&e.figures).unwrap(),
        r#"{"available_before_bytes":4000000000,"available_bytes":398458880,"consumed_bytes":5100273664,"elapsed_ms":2140,"floor_bytes":536870912,"need_bytes":4294967296,"tree_pss_bytes":5368709120}"#
    );
    let back: LoadAborted = e.figures_as().unwrap();
    assert_eq!(back.tree_pss_bytes, Some(5_368_709_120));
    assert_eq!(back.sample_to_kill_us, None);
}

#[test]
fn reading_is_lenient_to_extra_keys_and_strict_on_kind_and_required_figures() {
    let mut e = NewEvent::new(
        LearnedPeakRaised {
            previous_bytes: 1,
            peak_bytes: 2,
        },
        None,
    );
    e.figures.insert("from_a_newer_agent".into(), json!([1, 2]));
    let f: LearnedPeakRaised = e.figures_as().unwrap();
    assert_eq!((f.previous_bytes, f.peak_bytes), (1, 2));
    assert!(matches!(
        e.figures_as::<LoadDenied>(),
        Err(FiguresError::Kind { .. })
    ));
    e.figures.remove("peak_bytes");
    let err = e.figures_as::<LearnedPeakRaised>().unwrap_err();
    assert!(err.to_string().contains("peak_bytes"), "{err}");
}

#[test]
fn amend_changes_only_an_event_of_its_kind() {
    let e = NewEvent::new(LoadAborted::default(), None)
        .amend(|f: &mut LoadAborted| f.sample_to_kill_us = Some(812))
        .amend(|f: &mut LoadDenied| f.capacity_bytes = 9);
    assert_eq!(e.figures["sample_to_kill_us"], 812);
    assert!(!e.figures.contains_key("capacity_bytes"));
}

#[test]
fn null_and_absent_stay_apart_and_events_lost_is_a_count_or_unreadable() {
    for map in [
        json!({"found": "pid_record", "grace_ms": 1, "ended": "killed", "pid": 4, "cgroup_error": null}),
        json!({"found": "pid_record", "grace_ms": 1, "ended": "killed", "pid": 4, "cgroup_error": "busy"}),
        json!({"found": "cgroup", "grace_ms": 1, "ended": "killed", "pid": null, "pids": 2, "cgroup": "/x"}),
    ] {
        let Value::Object(map) = map else {
            unreachable!()
        };
        assert_eq!(
            EventKind::OrphanStopped.figures_round_trip(&map),
            Some(Ok(()))
        );
    }
    for lost in [json!(3), json!("unreadable")] {
        let mut map = EventKind::StoreReplaced.default_figures().unwrap();
        map.insert("events_lost".into(), lost);
        assert_eq!(
            EventKind::StoreReplaced.figures_round_trip(&map),
            Some(Ok(()))
        );
    }
}
