//! Which sources are readable, and the one event when one stops or starts being so (pure: each
//! read's outcome and its instant in, at most one event per source out). [`SourceWatch`] holds
//! the sampled sources (meminfo, PSI, the cgroup); the tegrastats task keeps its own
//! [`Availability`].
//!
//! A source that was read and then fails is `source_unavailable` (with the error), once, however
//! many samples fail after it and whatever they say; the first read that works again is
//! `source_recovered` (with how long it was out). A source that never worked (no PSI on this
//! kernel, no cgroup of our own) is a capability of the machine, not an event; a sample that
//! fails as a whole is still `sample_failed` beside these.
//!
//! ```text
//! never ─ok─► readable ─err─► unavailable {since, error} ─ok─► readable
//!                      (source_unavailable)            (source_recovered)
//! ```

use std::time::{Duration, Instant};

use crate::event::figures::{SourceRecovered, SourceUnavailable};
use crate::event::NewEvent;
use crate::sources::{SourceId, SourceReads};

#[derive(Debug, Clone, Default, PartialEq)]
enum State {
    #[default]
    Never,
    Readable,
    Unavailable {
        since: Instant,
        error: String,
    },
}

/// One source's readability across reads.
#[derive(Debug, Clone, Default)]
pub struct Availability {
    state: State,
}

impl Availability {
    /// The event one read of `source` at `now` calls for, if any.
    pub fn observe(
        &mut self,
        source: &str,
        read: Result<(), &str>,
        now: Instant,
    ) -> Option<NewEvent> {
        match (&self.state, read) {
            (State::Never | State::Readable, Ok(())) => {
                self.state = State::Readable;
                None
            }
            (State::Never, Err(_)) | (State::Unavailable { .. }, Err(_)) => None,
            (State::Readable, Err(error)) => {
                self.state = State::Unavailable {
                    since: now,
                    error: error.to_string(),
                };
                Some(
                    NewEvent::new(
                        SourceUnavailable {
                            source: source.to_string(),
                            error: error.to_string(),
                        },
                        None,
                    )
                    .message(format!("{source} can no longer be read: {error}")),
                )
            }
            (State::Unavailable { since, error }, Ok(())) => {
                let out_for = now.saturating_duration_since(*since);
                let event = NewEvent::new(
                    SourceRecovered {
                        source: source.to_string(),
                        unavailable_ms: millis(out_for),
                        error: error.clone(),
                    },
                    None,
                )
                .message(format!(
                    "{source} is readable again after {}",
                    crate::units::format_duration(out_for)
                ));
                self.state = State::Readable;
                Some(event)
            }
        }
    }
}

/// Each sampled source's readability across samples.
#[derive(Debug, Clone, Default)]
pub struct SourceWatch {
    sources: [Availability; 3],
}

impl SourceWatch {
    /// The events the reads of one sample, taken at `now`, call for.
    pub fn observe(&mut self, reads: &SourceReads, now: Instant) -> Vec<NewEvent> {
        let mut out = Vec::new();
        for (source, availability) in SourceId::ALL.into_iter().zip(&mut self.sources) {
            if let Some(read) = reads.get(source) {
                out.extend(availability.observe(source.as_str(), read, now));
            }
        }
        out
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // instants built from one base taken here
mod tests {
    use super::*;

    fn reads(meminfo: Option<Result<(), &str>>, cgroup: Option<Result<(), &str>>) -> SourceReads {
        SourceReads::from_results([
            meminfo.map(|r| r.map_err(str::to_string)),
            None,
            cgroup.map(|r| r.map_err(str::to_string)),
        ])
    }

    fn kinds(events: &[NewEvent]) -> Vec<(String, String)> {
        events
            .iter()
            .map(|e| {
                (
                    e.kind.to_string(),
                    e.figures["source"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn a_readable_source_that_fails_is_one_event_and_its_return_another() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut w = SourceWatch::default();
        assert!(w
            .observe(&reads(Some(Ok(())), Some(Ok(()))), at(0))
            .is_empty());
        let down = w.observe(&reads(Some(Ok(())), Some(Err("ENODEV"))), at(100));
        assert_eq!(
            kinds(&down),
            [("source_unavailable".into(), "cgroup".into())]
        );
        assert_eq!(down[0].figures["error"], "ENODEV");
        // Failing on, even with another error, and a sample that never got to it: silence.
        assert!(w
            .observe(&reads(Some(Ok(())), Some(Err("ENOENT"))), at(200))
            .is_empty());
        let meminfo = w.observe(&reads(Some(Err("bad")), None), at(300));
        assert_eq!(
            kinds(&meminfo),
            [("source_unavailable".into(), "meminfo".into())]
        );
        let back = w.observe(&reads(Some(Ok(())), Some(Ok(()))), at(1_600));
        assert_eq!(
            kinds(&back),
            [
                ("source_recovered".into(), "meminfo".into()),
                ("source_recovered".into(), "cgroup".into())
            ]
        );
        assert_eq!(back[1].figures["unavailable_ms"], 1_500);
        assert_eq!(back[1].figures["error"], "ENODEV");
        assert!(w
            .observe(&reads(Some(Ok(())), Some(Ok(()))), at(1_700))
            .is_empty());
    }

    #[test]
    fn a_source_that_never_worked_is_no_event() {
        let mut w = SourceWatch::default();
        let now = Instant::now();
        for _ in 0..3 {
            assert!(w
                .observe(&reads(Some(Ok(())), Some(Err("ENOENT"))), now)
                .is_empty());
        }
    }

    /// The real chain on a real cgroup v1 memory group: the sampler reads it as the scope,
    /// the group is removed (its open files answer ENODEV, a fresh open ENOENT) and made again.
    /// One `source_unavailable` for all the failing samples, one `source_recovered` after.
    #[test]
    fn a_scope_cgroup_removed_and_made_again_is_one_event_each_way() {
        use crate::sources::cgroup::{named_cgroup, own_cgroup};
        use crate::sources::{CgroupVersion, Root, Sampler, Scope};

        let host = Root::host();
        let own = match own_cgroup(&host) {
            Ok(own) if own.version == CgroupVersion::V1 => own,
            other => {
                crate::prerequisite::missing::<()>(
                    &format!("no own cgroup v1 memory group: {other:?}"),
                    "run on a writable cgroup v1 memory hierarchy",
                );
                return;
            }
        };
        let dir = own
            .dir
            .join(format!("jetgate-test-{}-source", std::process::id()));
        if let Err(e) = std::fs::create_dir(&dir) {
            crate::prerequisite::missing::<()>(
                &format!("cannot create {}: {e}", dir.display()),
                "run as root on a writable cgroup v1 memory hierarchy",
            );
            return;
        }
        struct RmDir(std::path::PathBuf);
        impl Drop for RmDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir(&self.0);
            }
        }
        let guard = RmDir(dir.clone());
        let scope = named_cgroup(&host, dir.to_str().unwrap()).unwrap();
        let mut sampler = Sampler::new(host, Scope::Cgroup(scope));
        let mut watch = SourceWatch::default();
        let t0 = Instant::now();
        let mut events = Vec::new();
        let mut sample = |sampler: &mut Sampler, ms: u64, events: &mut Vec<NewEvent>| {
            let ok = sampler.sample(None).is_ok();
            events.extend(watch.observe(sampler.reads(), t0 + Duration::from_millis(ms)));
            ok
        };
        assert!(sample(&mut sampler, 0, &mut events));
        assert!(events.is_empty(), "{events:?}");

        std::fs::remove_dir(&dir).unwrap();
        for ms in 1..=5 {
            assert!(
                !sample(&mut sampler, ms * 100, &mut events),
                "a removed scope read"
            );
        }
        assert_eq!(
            kinds(&events),
            [("source_unavailable".into(), "cgroup".into())]
        );
        assert!(events[0].figures["error"]
            .as_str()
            .unwrap()
            .contains("jetgate-test-"));

        std::fs::create_dir(&dir).unwrap();
        assert!(sample(&mut sampler, 2_000, &mut events));
        assert_eq!(
            kinds(&events[1..]),
            [("source_recovered".into(), "cgroup".into())]
        );
        assert_eq!(events[1].figures["unavailable_ms"], 1_900);
        drop(guard);
    }
}
