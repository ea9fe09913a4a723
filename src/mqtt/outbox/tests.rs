//! Tests of the outbox window and drop policy: the cursor never passes an unacknowledged event; the oldest info events go first.
use super::*;
use proptest::prelude::*;

fn entries(seqs: &[u64]) -> Vec<OutboxEntry> {
    seqs.iter()
        .map(|&seq| OutboxEntry {
            seq,
            payload: format!("{{\"seq\":{seq}}}"),
        })
        .collect()
}

#[test]
fn the_cursor_stops_below_the_oldest_unacknowledged_event() {
    let mut o = Outbox::new(40, 47);
    assert_eq!(o.pending(), 7);
    assert_eq!(o.want_read(), Some((40, BATCH)));
    o.fill(entries(&[41, 42, 44, 47]), BATCH, 47);
    assert_eq!(o.want_read(), None);
    let sent: Vec<u64> = std::iter::from_fn(|| o.next_to_send())
        .map(|e| e.seq)
        .collect();
    assert_eq!(sent, vec![41, 42, 44, 47]);
    o.acked(42);
    o.acked(44);
    assert_eq!(o.cursor(), 40);
    o.acked(41);
    assert_eq!(o.cursor(), 46);
    assert_eq!(o.pending(), 1, "only 47 waits for its PubAck");
    assert_eq!(o.cursor_to_persist(), Some(46));
    o.persisted(46);
    assert_eq!(o.cursor_to_persist(), None);
    o.acked(47);
    assert_eq!(o.cursor(), 47);
    assert_eq!(o.pending(), 0);
    assert!(o.drained());
}

#[test]
fn a_reconnect_resends_everything_after_the_cursor_in_order() {
    let mut o = Outbox::new(0, 5);
    o.fill(entries(&[1, 2, 3, 4, 5]), BATCH, 5);
    for _ in 0..5 {
        o.next_to_send();
    }
    o.acked(1);
    o.acked(3);
    o.reset();
    assert_eq!(o.cursor(), 1);
    assert_eq!(o.want_read(), Some((1, BATCH)));
    assert_eq!(o.in_flight(), 0);
}

#[test]
fn the_window_bounds_what_is_in_flight() {
    let mut o = Outbox::new(0, 1000);
    let seqs: Vec<u64> = (1..=BATCH).collect();
    o.fill(entries(&seqs), BATCH, 1000);
    let mut n = 0;
    while o.next_to_send().is_some() {
        n += 1;
    }
    assert_eq!(n, WINDOW);
    assert_eq!(
        o.want_read(),
        None,
        "no read while the queue still holds events"
    );
}

#[test]
fn an_empty_read_marks_everything_known_as_read() {
    let mut o = Outbox::new(10, 12);
    o.fill(Vec::new(), BATCH, 12);
    assert_eq!(o.want_read(), None);
    o.stored(13);
    assert_eq!(o.want_read(), Some((12, BATCH)));
}

#[test]
fn the_drop_policy_frees_down_to_the_low_water_mark() {
    assert_eq!(bytes_to_free(100, 100), None);
    assert_eq!(bytes_to_free(101, 100), Some(11));
    assert_eq!(
        bytes_to_free(64 << 20, 32 << 20),
        Some((64 << 20) - (32 << 20) / 100 * 90)
    );
}

proptest! {
    #[test]
    fn the_cursor_never_passes_an_unacknowledged_event(acks in proptest::collection::vec(any::<bool>(), 1..200)) {
        let n = acks.len() as u64;
        let mut o = Outbox::new(0, n);
        let seqs: Vec<u64> = (1..=n).collect();
        for chunk in seqs.chunks(BATCH as usize) {
            o.fill(entries(chunk), BATCH, n);
            while let Some(e) = o.next_to_send() {
                if acks[(e.seq - 1) as usize] {
                    o.acked(e.seq);
                }
            }
        }
        let first_unacked = acks.iter().position(|a| !a).map(|i| i as u64 + 1);
        match first_unacked {
            Some(s) => prop_assert!(o.cursor() < s),
            None => prop_assert_eq!(o.cursor(), n),
        }
    }
}
