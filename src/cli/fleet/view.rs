//! The live `jetgate fleet` view as a pure model: the fleet, the sort, the filter, the scroll
//! position and the broker link. The loop ([`super::live`]) feeds it messages and keys; the
//! drawing ([`super::render`]) reads it. No I/O, no clock.
//!
//! Sorts: `id`; `available` (least available memory first, unknown last); `state` (worst
//! first: offline, a unit that gave up or failed, memory low, busy, fine). Filters: offline,
//! gave up (a unit in `gave_up`), memory low ([`FleetRow::memory_low`]).

use std::cmp::Ordering;

use super::collect::{self, Change, Device, Fleet, FleetRow};
use crate::status::ServiceState;

/// The order of the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Available,
    State,
}

impl SortKey {
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Available => "available",
            SortKey::State => "state",
        }
    }

    fn next(self) -> SortKey {
        match self {
            SortKey::Id => SortKey::Available,
            SortKey::Available => SortKey::State,
            SortKey::State => SortKey::Id,
        }
    }
}

/// Which rows are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Offline,
    GaveUp,
    MemoryLow,
}

impl Filter {
    pub fn name(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Offline => "offline",
            Filter::GaveUp => "gave up",
            Filter::MemoryLow => "memory low",
        }
    }

    pub fn keeps(self, r: &FleetRow) -> bool {
        match self {
            Filter::All => true,
            Filter::Offline => !r.online,
            Filter::GaveUp => r.gave_up(),
            Filter::MemoryLow => r.memory_low(),
        }
    }
}

/// The broker link as the header shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Up,
    Down(String),
}

/// A key the view understands (the loop maps terminal keys to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Esc,
    Char(char),
}

/// What the loop should do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Nothing,
    Redraw,
    Quit,
}

/// Counts for the header.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub devices: usize,
    pub online: usize,
    pub offline: usize,
    pub gave_up: usize,
    pub memory_low: usize,
}

/// The whole live view.
#[derive(Debug, Clone)]
pub struct FleetView {
    pub broker: String,
    pub prefix: String,
    pub fleet: Fleet,
    pub sort: SortKey,
    pub filter: Filter,
    /// Index of the first row shown, in the sorted and filtered list.
    pub offset: usize,
    pub link: Link,
}

impl FleetView {
    pub fn new(broker: impl Into<String>, prefix: impl Into<String>) -> FleetView {
        FleetView {
            broker: broker.into(),
            prefix: prefix.into(),
            fleet: Fleet::new(),
            sort: SortKey::Id,
            filter: Filter::All,
            offset: 0,
            link: Link::Up,
        }
    }

    /// A message from the broker.
    pub fn message(&mut self, topic: &str, payload: &[u8]) -> Change {
        collect::absorb(&mut self.fleet, &self.prefix, topic, payload)
    }

    /// Connected again: the retained messages come again, so what was known is dropped (a
    /// device forgotten meanwhile does not linger).
    pub fn reconnected(&mut self) {
        self.fleet.clear();
        self.link = Link::Up;
    }

    /// The rows that pass the filter, in the sort's order.
    pub fn rows(&self) -> Vec<FleetRow> {
        let mut rows: Vec<FleetRow> = collect::rows(&self.fleet)
            .into_iter()
            .filter(|r| self.filter.keeps(r))
            .collect();
        match self.sort {
            SortKey::Id => {}
            SortKey::Available => rows.sort_by(|a, b| by_available(a, b).then(a.id.cmp(&b.id))),
            SortKey::State => rows.sort_by_key(|r| (rank(r), r.id.clone())),
        }
        rows
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for (id, d) in self.fleet.iter().filter(|(_, d)| listed(d)) {
            let r = collect::row(id, d);
            c.devices += 1;
            if r.online {
                c.online += 1;
            } else {
                c.offline += 1;
            }
            c.gave_up += usize::from(r.gave_up());
            c.memory_low += usize::from(r.memory_low());
        }
        c
    }

    /// The first row shown when `page` rows fit and `total` pass the filter.
    pub fn first_shown(&self, total: usize, page: usize) -> usize {
        self.offset.min(total.saturating_sub(page.max(1)))
    }

    /// A key, with `page` rows on screen and `total` rows passing the filter.
    pub fn key(&mut self, key: Key, page: usize, total: usize) -> Intent {
        let page = page.max(1);
        let last = total.saturating_sub(page);
        self.offset = self.offset.min(last);
        match key {
            Key::Esc | Key::Char('q') => return Intent::Quit,
            Key::Up | Key::Char('k') => self.offset = self.offset.saturating_sub(1),
            Key::Down | Key::Char('j') => self.offset = (self.offset + 1).min(last),
            Key::PageUp => self.offset = self.offset.saturating_sub(page),
            Key::PageDown | Key::Char(' ') => self.offset = (self.offset + page).min(last),
            Key::Home => self.offset = 0,
            Key::End => self.offset = last,
            Key::Char('s') => self.sort = self.sort.next(),
            Key::Char(c @ ('o' | 'g' | 'm' | 'a')) => {
                let wanted = match c {
                    'o' => Filter::Offline,
                    'g' => Filter::GaveUp,
                    'm' => Filter::MemoryLow,
                    _ => Filter::All,
                };
                // The same key again shows everything again.
                self.filter = if self.filter == wanted {
                    Filter::All
                } else {
                    wanted
                };
                self.offset = 0;
            }
            Key::Char(_) => return Intent::Nothing,
        }
        Intent::Redraw
    }
}

fn listed(d: &Device) -> bool {
    d.status.is_some() || d.state.is_some()
}

/// Least available first; unknown last.
fn by_available(a: &FleetRow, b: &FleetRow) -> Ordering {
    match (a.available_bytes, b.available_bytes) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Worst first: offline 0, a unit gave up or failed 1, memory low 2, busy 3, fine 4.
pub fn rank(r: &FleetRow) -> u8 {
    let has = |s: ServiceState| r.models.iter().any(|m| m.state == s);
    if !r.online {
        0
    } else if has(ServiceState::GaveUp) || has(ServiceState::Failed) {
        1
    } else if r.memory_low() {
        2
    } else if has(ServiceState::BackingOff)
        || has(ServiceState::Loading)
        || has(ServiceState::Queued)
    {
        3
    } else {
        4
    }
}
