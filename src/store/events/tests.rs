//! Tests of the event log: append, seq order, filters, retention, on real SQLite files.
use super::*;
use proptest::prelude::*;

const T0: u64 = 1_795_921_599_120; // 2026-11-29T03:06:39.120Z

fn note(kind: EventKind, sev: Severity, subject: Option<&str>) -> NewEvent {
    NewEvent::untyped(kind, subject)
        .severity(sev)
        .figure("n_bytes", 7u64)
}

fn seqs(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

#[test]
fn appended_events_come_back_numbered_stamped_and_whole() {
    let mut s = Store::open_in_memory().unwrap();
    let a = s
        .append_at(
            note(EventKind::LoadAdmitted, Severity::Info, Some("llm")).message("hi"),
            T0,
        )
        .unwrap();
    assert_eq!(a.seq, 1);
    assert_eq!(a.ts, "2026-11-29T03:06:39.120Z");
    let all = s.query(&EventFilter::default()).unwrap();
    assert_eq!(all, vec![a]);
    assert_eq!(all[0].figures["n_bytes"], 7);
}

#[test]
fn seq_continues_after_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut s = Store::open(&path).unwrap();
    s.append(note(EventKind::Note, Severity::Info, None))
        .unwrap();
    s.append(note(EventKind::Note, Severity::Info, None))
        .unwrap();
    drop(s);
    let mut s = Store::open(&path).unwrap();
    assert_eq!(
        s.append(note(EventKind::Note, Severity::Info, None))
            .unwrap()
            .seq,
        3
    );
    assert_eq!(s.last_seq().unwrap(), 3);
}

#[test]
fn seq_is_never_reused_after_prune_deletes_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut s = Store::open(&path).unwrap();
    for _ in 0..5 {
        s.append_at(note(EventKind::Note, Severity::Info, None), T0)
            .unwrap();
    }
    assert_eq!(s.prune(0, u64::MAX, T0).unwrap(), 5);
    assert!(s.query(&EventFilter::default()).unwrap().is_empty());
    drop(s);
    let mut s = Store::open(&path).unwrap();
    assert_eq!(
        s.append_at(note(EventKind::Note, Severity::Info, None), T0)
            .unwrap()
            .seq,
        6
    );
}

#[test]
fn a_batch_is_numbered_in_order_and_committed_together() {
    let mut s = Store::open_in_memory().unwrap();
    let batch: Vec<_> = (0..10)
        .map(|_| note(EventKind::Note, Severity::Info, None))
        .collect();
    let stored = s.append_batch_at(batch, T0).unwrap();
    assert_eq!(seqs(&stored), (1..=10).collect::<Vec<_>>());
    assert_eq!(s.query(&EventFilter::default()).unwrap(), stored);
}

#[test]
fn prune_keeps_the_newest_events_and_drops_the_old_ones() {
    let mut s = Store::open_in_memory().unwrap();
    for i in 0..10 {
        s.append_at(note(EventKind::Note, Severity::Info, None), T0 + i * 1_000)
            .unwrap();
    }
    // Older than 7 s before T0+9s: seq 1 and 2 (T0, T0+1s) go.
    assert_eq!(s.prune(u64::MAX, 7_000, T0 + 9_000).unwrap(), 2);
    // Then keep the newest 5 of the 8 left.
    assert_eq!(s.prune(5, u64::MAX, T0 + 9_000).unwrap(), 3);
    let left = s.query(&EventFilter::default()).unwrap();
    assert_eq!(seqs(&left), vec![6, 7, 8, 9, 10]);
    assert_eq!(s.prune(5, u64::MAX, T0 + 9_000).unwrap(), 0);
}

#[test]
fn query_filters_by_time_seq_kind_subject_severity_and_limit() {
    let mut s = Store::open_in_memory().unwrap();
    s.append_at(note(EventKind::LoadAdmitted, Severity::Info, Some("a")), T0)
        .unwrap();
    s.append_at(
        note(EventKind::LoadDenied, Severity::Warning, Some("b")),
        T0 + 10,
    )
    .unwrap();
    s.append_at(note(EventKind::GaveUp, Severity::Error, Some("a")), T0 + 20)
        .unwrap();
    s.append_at(
        note(EventKind::LoadDenied, Severity::Warning, None),
        T0 + 30,
    )
    .unwrap();
    let q = |f: EventFilter| seqs(&s.query(&f).unwrap());
    assert_eq!(
        q(EventFilter {
            since_ms: Some(T0 + 10),
            ..Default::default()
        }),
        vec![2, 3, 4]
    );
    assert_eq!(
        q(EventFilter {
            after_seq: Some(3),
            ..Default::default()
        }),
        vec![4]
    );
    assert_eq!(
        q(EventFilter {
            kind: Some(EventKind::LoadDenied),
            ..Default::default()
        }),
        vec![2, 4]
    );
    assert_eq!(
        q(EventFilter {
            subject: Some("a".into()),
            ..Default::default()
        }),
        vec![1, 3]
    );
    assert_eq!(
        q(EventFilter {
            min_severity: Some(Severity::Error),
            ..Default::default()
        }),
        vec![3]
    );
    assert_eq!(
        q(EventFilter {
            limit: Some(2),
            ..Default::default()
        }),
        vec![1, 2]
    );
    assert_eq!(
        q(EventFilter {
            limit: Some(0),
            ..Default::default()
        }),
        Vec::<u64>::new()
    );
}

fn arb_event() -> impl Strategy<Value = (NewEvent, u64)> {
    let kind = prop::sample::select(vec![
        EventKind::Note,
        EventKind::LoadDenied,
        EventKind::GaveUp,
    ]);
    let sev = prop::sample::select(vec![Severity::Info, Severity::Warning, Severity::Error]);
    let subject = prop::option::of(prop::sample::select(vec!["a", "b"]));
    (kind, sev, subject, 0u64..100)
        .prop_map(|(k, sev, sub, dt)| (NewEvent::untyped(k, sub).severity(sev), dt))
}

fn arb_filter() -> impl Strategy<Value = EventFilter> {
    (
        prop::option::of(0u64..100),
        prop::option::of(0u64..40),
        // `nope`: a kind no event has (as one from a newer agent would be).
        prop::option::of(prop::sample::select(vec![
            EventKind::Note,
            EventKind::LoadDenied,
            EventKind::from_stored("nope".into()),
        ])),
        prop::option::of(prop::sample::select(vec!["a", "b"])),
        prop::option::of(prop::sample::select(vec![
            Severity::Info,
            Severity::Warning,
            Severity::Error,
        ])),
        prop::option::of(0u64..10),
    )
        .prop_map(|(since, after, kind, subject, sev, limit)| EventFilter {
            since_ms: since.map(|d| T0 + d),
            after_seq: after,
            kind,
            subject: subject.map(str::to_string),
            min_severity: sev,
            limit,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn query_returns_exactly_what_a_plain_filter_over_all_events_returns(
        events in prop::collection::vec(arb_event(), 0..40),
        filter in arb_filter(),
    ) {
        let mut s = Store::open_in_memory().unwrap();
        let mut all = Vec::new();
        for (ev, dt) in events {
            all.push((s.append_at(ev, T0 + dt).unwrap(), T0 + dt));
        }
        let expected: Vec<u64> = all
            .iter()
            .filter(|(e, ms)| {
                filter.since_ms.is_none_or(|s| *ms >= s)
                    && filter.after_seq.is_none_or(|a| e.seq > a)
                    && filter.kind.as_ref().is_none_or(|k| &e.kind == k)
                    && filter.subject.as_ref().is_none_or(|k| e.subject.as_ref() == Some(k))
                    && filter.min_severity.is_none_or(|m| e.severity >= m)
            })
            .map(|(e, _)| e.seq)
            .take(filter.limit.map_or(usize::MAX, |l| l as usize))
            .collect();
        prop_assert_eq!(seqs(&s.query(&filter).unwrap()), expected);
    }
}

fn plan(s: &Store, filter: &EventFilter) -> String {
    let (sql, args) = query_sql(filter).unwrap();
    let mut stmt = s
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
        .unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
}

#[test]
fn a_since_query_searches_the_time_index_instead_of_scanning_the_table() {
    let s = Store::open_in_memory().unwrap();
    let since = EventFilter {
        since_ms: Some(T0),
        ..Default::default()
    };
    assert!(
        plan(&s, &since).contains("events_ts_ms"),
        "{}",
        plan(&s, &since)
    );
    let after = EventFilter {
        after_seq: Some(5),
        ..Default::default()
    };
    assert!(plan(&s, &after).contains("rowid>?"), "{}", plan(&s, &after));
}

/// A kind this build does not know (written by a newer agent) is read back with its text,
/// by queries and by the outbox, never dropped and never a panic.
#[test]
fn an_unknown_stored_kind_reads_back_as_itself() {
    let mut s = Store::open_in_memory().unwrap();
    s.append_at(note(EventKind::Note, Severity::Info, None), T0)
        .unwrap();
    s.conn
        .execute(
            "UPDATE events SET kind = 'from_the_future' WHERE seq = 1",
            [],
        )
        .unwrap();
    let all = s.query(&EventFilter::default()).unwrap();
    assert_eq!(all.len(), 1);
    assert!(!all[0].kind.is_known());
    assert_eq!(all[0].kind.as_str(), "from_the_future");
    let by_kind = s
        .query(&EventFilter {
            kind: Some(EventKind::from_stored("from_the_future".into())),
            ..EventFilter::default()
        })
        .unwrap();
    assert_eq!(seqs(&by_kind), vec![1]);
    let batch = s.outbox_batch(0, 10).unwrap();
    assert!(batch[0].payload.contains(r#""kind":"from_the_future""#));
}

/// A severity rank this build does not know reads as `error` in queries and the outbox alike
/// (one decoder): the event is shown and published, and the outbox never stalls on it.
#[test]
fn an_unknown_stored_severity_reads_as_error_everywhere() {
    let mut s = Store::open_in_memory().unwrap();
    s.append_at(note(EventKind::Note, Severity::Info, None), T0)
        .unwrap();
    s.conn
        .execute("UPDATE events SET severity = 7 WHERE seq = 1", [])
        .unwrap();
    let all = s.query(&EventFilter::default()).unwrap();
    assert_eq!(all[0].severity, Severity::Error);
    let batch = s.outbox_batch(0, 10).unwrap();
    assert!(batch[0].payload.contains(r#""severity":"error""#));
}
