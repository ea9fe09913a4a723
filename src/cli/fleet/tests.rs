//! Unit tests of `jetgate fleet`: filing messages into compact rows, forgetting on an empty
//! payload, the `--once` settle rule, the live view's sorts, filters and scrolling, and its
//! drawing into a ratatui `TestBackend` (rows read back as text).

use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::json;

use super::collect::{absorb, row, rows, Change, Fleet, Settle, ONCE_CAP, QUIET};
use super::render::{page_rows, render};
use super::view::{Filter, FleetView, Intent, Key, SortKey};
use super::{print, FleetRow};

const GIB: u64 = 1 << 30;

fn state(available: u64, budget: u64, unit_state: &str) -> Vec<u8> {
    json!({"device":{"board":{"name":"Orin Nano"}},
           "memory":{"available_bytes":available,"total_bytes":8 * GIB},
           "gate":{"budget_bytes":budget,"reserve_bytes":GIB / 2},
           "services":[{"name":"llm","kind":"model","state":unit_state}]})
    .to_string()
    .into_bytes()
}

#[test]
fn rows_carry_presence_state_and_the_last_event() {
    let mut fleet = Fleet::new();
    let status = br#"{"online":false,"session":3}"#;
    assert_eq!(
        absorb(&mut fleet, "jetgate", "jetgate/a/status", status),
        Change::Updated
    );
    absorb(
        &mut fleet,
        "jetgate",
        "jetgate/a/state",
        &state(5, 4, "ready"),
    );
    absorb(
        &mut fleet,
        "jetgate",
        "jetgate/a/events",
        br#"{"seq":9,"kind":"note"}"#,
    );
    assert_eq!(
        absorb(&mut fleet, "jetgate", "other/b/state", b"{}"),
        Change::Ignored
    );
    assert_eq!(
        absorb(&mut fleet, "jetgate", "jetgate/c/state", b"not json"),
        Change::Ignored
    );
    assert_eq!(fleet.len(), 1);
    let fleet_row = row("a", &fleet["a"]);
    let r = serde_json::to_value(&fleet_row).unwrap();
    assert_eq!(r["online"], false);
    assert_eq!(r["session"], 3);
    assert_eq!(r["board"], "Orin Nano");
    assert_eq!(r["budget_bytes"], 4);
    assert_eq!(r["available_bytes"], 5);
    assert_eq!(r["models"][0]["state"], "ready");
    assert_eq!(r["last_event"]["seq"], 9);
    let table = print::render(&[fleet_row]);
    assert!(
        table.contains("llm:ready") && table.contains("#9 note"),
        "{table}"
    );
}

#[test]
fn an_empty_status_or_state_forgets_the_device() {
    let mut fleet = Fleet::new();
    for id in ["a", "b"] {
        absorb(
            &mut fleet,
            "jetgate",
            &format!("jetgate/{id}/status"),
            br#"{"online":true}"#,
        );
        absorb(
            &mut fleet,
            "jetgate",
            &format!("jetgate/{id}/state"),
            &state(GIB, GIB, "ready"),
        );
    }
    assert_eq!(
        absorb(&mut fleet, "jetgate", "jetgate/a/status", b""),
        Change::Removed
    );
    assert_eq!(
        absorb(&mut fleet, "jetgate", "jetgate/a/state", b""),
        Change::Ignored
    );
    assert_eq!(
        absorb(&mut fleet, "jetgate", "jetgate/b/state", b""),
        Change::Removed
    );
    assert!(fleet.is_empty());
    // An empty event is not a forget.
    absorb(
        &mut fleet,
        "jetgate",
        "jetgate/c/status",
        br#"{"online":true}"#,
    );
    assert_eq!(
        absorb(&mut fleet, "jetgate", "jetgate/c/events", b""),
        Change::Ignored
    );
    assert_eq!(rows(&fleet).len(), 1);
}

#[test]
fn the_json_array_is_written_row_by_row_as_one_array() {
    let mut fleet = Fleet::new();
    for id in ["a", "b", "c"] {
        absorb(
            &mut fleet,
            "jetgate",
            &format!("jetgate/{id}/state"),
            &state(GIB, GIB, "ready"),
        );
    }
    let rows = rows(&fleet);
    let mut out = Vec::new();
    print::write_json(&mut out, &rows).unwrap();
    let whole = format!("{}\n", serde_json::to_value(&rows).unwrap());
    assert_eq!(String::from_utf8(out).unwrap(), whole);
    let mut empty = Vec::new();
    print::write_json(&mut empty, &[]).unwrap();
    assert_eq!(empty, b"[]\n");
}

#[test]
fn once_waits_for_every_suback_then_for_the_retained_burst_to_go_quiet() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut s = Settle::new(t0, 2);
    assert!(!s.done(ms(700)), "a SUBACK is still due");
    s.suback(ms(100));
    s.suback(ms(200));
    assert_eq!(s.deadline(), ms(200) + QUIET);
    s.publish(true, ms(600));
    assert!(!s.done(ms(1000)));
    s.publish(false, ms(1050)); // live: does not hold the end back
    assert!(s.done(ms(1100)));
    assert!(!s.capped(ms(1100)));
    // A burst that never goes quiet ends at the cap.
    let mut busy = Settle::new(t0, 1);
    busy.suback(t0);
    let mut t = 0;
    while !busy.done(ms(t)) {
        busy.publish(true, ms(t));
        t += 100;
    }
    assert!(busy.capped(ms(t)));
    assert_eq!(Duration::from_millis(t), ONCE_CAP);
}

fn view_of(devices: &[(&str, bool, u64, u64, &str)]) -> FleetView {
    let mut v = FleetView::new("mqtt://broker:1883", "jetgate");
    for (id, online, available, budget, unit) in devices {
        let presence = json!({"online": online, "session": 2}).to_string();
        v.message(&format!("jetgate/{id}/status"), presence.as_bytes());
        v.message(
            &format!("jetgate/{id}/state"),
            &state(*available, *budget, unit),
        );
    }
    v
}

fn ids(rows: &[FleetRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn the_view_sorts_and_filters_by_key() {
    let mut v = view_of(&[
        ("a-fine", true, 4 * GIB, GIB, "ready"),
        ("b-off", false, 3 * GIB, GIB, "ready"),
        ("c-gave", true, 2 * GIB, GIB, "gave_up"),
        ("d-low", true, GIB / 4, GIB, "ready"),
        ("e-exhausted", true, 5 * GIB, 0, "loading"),
    ]);
    assert_eq!(
        ids(&v.rows()),
        ["a-fine", "b-off", "c-gave", "d-low", "e-exhausted"]
    );
    assert_eq!(v.key(Key::Char('s'), 10, 5), Intent::Redraw);
    assert_eq!(v.sort, SortKey::Available);
    assert_eq!(
        ids(&v.rows()),
        ["d-low", "c-gave", "b-off", "a-fine", "e-exhausted"]
    );
    v.key(Key::Char('s'), 10, 5);
    assert_eq!(v.sort, SortKey::State);
    assert_eq!(
        ids(&v.rows()),
        ["b-off", "c-gave", "d-low", "e-exhausted", "a-fine"]
    );
    v.key(Key::Char('o'), 10, 5);
    assert_eq!(ids(&v.rows()), ["b-off"]);
    v.key(Key::Char('g'), 10, 5);
    assert_eq!(ids(&v.rows()), ["c-gave"]);
    v.key(Key::Char('m'), 10, 5);
    assert_eq!(v.filter, Filter::MemoryLow);
    assert_eq!(ids(&v.rows()), ["d-low", "e-exhausted"]);
    v.key(Key::Char('m'), 10, 5);
    assert_eq!(v.filter, Filter::All, "the same key again shows all");
    assert_eq!(v.key(Key::Char('x'), 10, 5), Intent::Nothing);
    assert_eq!(v.key(Key::Char('q'), 10, 5), Intent::Quit);
    assert_eq!(v.key(Key::Esc, 10, 5), Intent::Quit);
    let c = v.counts();
    assert_eq!(
        (c.devices, c.online, c.offline, c.gave_up, c.memory_low),
        (5, 4, 1, 1, 2)
    );
}

#[test]
fn scrolling_stays_within_the_rows() {
    let mut v = FleetView::new("b", "jetgate");
    v.key(Key::Down, 10, 25);
    v.key(Key::PageDown, 10, 25);
    assert_eq!(v.offset, 11);
    v.key(Key::PageDown, 10, 25);
    assert_eq!(v.offset, 15, "the last page is full");
    v.key(Key::End, 10, 25);
    assert_eq!(v.offset, 15);
    v.key(Key::PageUp, 10, 25);
    assert_eq!(v.offset, 5);
    v.key(Key::Home, 10, 25);
    v.key(Key::Up, 10, 25);
    assert_eq!(v.offset, 0);
    // Rows that went away: the first row shown follows.
    v.offset = 20;
    assert_eq!(v.first_shown(12, 10), 2);
}

fn draw(v: &FleetView, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let rows = v.rows();
    t.draw(|f| render(v, &rows, f.area(), f.buffer_mut()))
        .unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

#[test]
fn the_view_draws_a_page_of_rows_with_counts_and_keys() {
    let devices: Vec<(String, bool, u64, u64, &str)> = (0..40)
        .map(|i| {
            (
                format!("dev-{i:02}"),
                i % 4 != 0,
                GIB + i,
                GIB,
                if i == 7 { "gave_up" } else { "ready" },
            )
        })
        .collect();
    let refs: Vec<(&str, bool, u64, u64, &str)> = devices
        .iter()
        .map(|(a, b, c, d, e)| (a.as_str(), *b, *c, *d, *e))
        .collect();
    let mut v = view_of(&refs);
    let screen = draw(&v, 100, 24);
    assert!(
        screen[0].contains("40 devices: 30 online, 10 offline, 1 gave up, 0 memory low"),
        "{}",
        screen[0]
    );
    assert!(screen[1].starts_with("DEVICE"), "{}", screen[1]);
    assert!(
        screen[2].starts_with("dev-00") && screen[2].contains("no"),
        "{}",
        screen[2]
    );
    assert_eq!(page_rows(24), 21);
    assert!(screen[22].starts_with("dev-20"), "{}", screen[22]);
    assert!(
        screen[23].contains("rows 1-21 of 40") && screen[23].contains("q quit"),
        "{}",
        screen[23]
    );
    v.key(Key::End, page_rows(24), 40);
    let screen = draw(&v, 100, 24);
    assert!(screen[22].starts_with("dev-39"), "{}", screen[22]);
    assert!(screen[23].contains("rows 20-40 of 40"), "{}", screen[23]);
    v.key(Key::Char('g'), page_rows(24), 40);
    let screen = draw(&v, 100, 24);
    assert!(
        screen[2].starts_with("dev-07") && screen[2].contains("llm:gave_up"),
        "{}",
        screen[2]
    );
    assert!(screen[3].trim().is_empty());
    assert!(screen[23].contains("rows 1-1 of 1") && screen[23].contains("filter o/g/m/a: gave up"));
    // A device that leaves (an empty retained state) leaves the view.
    v.message("jetgate/dev-07/state", b"");
    let screen = draw(&v, 100, 24);
    assert!(screen[23].contains("no rows"), "{}", screen[23]);
    assert!(screen[0].contains("39 devices"), "{}", screen[0]);
    assert!(draw(&v, 30, 5)[0].starts_with("terminal too small"));
}

#[test]
fn hostile_text_is_drawn_escaped_on_one_row() {
    let mut v = FleetView::new("b", "jetgate");
    v.message("jetgate/evil\u{1b}[2J/status", br#"{"online":true}"#);
    v.message("jetgate/x/status", br#"{"online":true}"#);
    v.message(
        "jetgate/x/events",
        "{\"seq\":1,\"kind\":\"a\\nFAKE\"}".as_bytes(),
    );
    let screen = draw(&v, 80, 10);
    assert!(
        screen.iter().any(|l| l.starts_with("evil\\e[2J")),
        "{screen:?}"
    );
    assert!(
        screen.iter().any(|l| l.contains("#1 a\\nFAKE")),
        "{screen:?}"
    );
}
