//! The core loop's handlers: one [`Inbound`] at a time turned into engine inputs, the
//! engine's actions carried out until quiet, GPU allocation failures in children's output
//! recorded, and the tick's work (timeouts, due restarts, the 1 Hz tree refresh,
//! housekeeping). The loop itself and the wiring are in `daemon.rs`.
#![allow(clippy::disallowed_methods)] // the core loop reads the monotonic clock for `now`

use std::path::PathBuf;
use std::time::Instant;

use super::inbox::Inbound;
use super::{watching, Agent, MEMORY_REFRESH, TICK};
use crate::agent::engine::{Action, Input};
use crate::agent::executor::{Feedback, ReadingContext};
use crate::agent::gpu_fail;
use crate::agent::sampling::{self, rate, Sampled, SamplingPlan};
use crate::event::figures::SampleFailed;
use crate::event::NewEvent;
use crate::gate::SamplingMode;
use crate::runner::ChildOutput;

impl Agent {
    /// Handles one message of the inbox (a stop is the caller's).
    pub(super) fn handle(&mut self, inbound: Inbound) {
        match inbound {
            Inbound::Sampled(msg) => self.sampled(msg),
            Inbound::Exited(exit) => {
                for input in self.executor.child_exited(&exit) {
                    self.input(input);
                }
            }
            Inbound::Feedback(fb) => self.feedback(fb),
            Inbound::Output(line) => {
                self.gpu_failure(&line);
                if let Some(input) = self.executor.child_output(&line) {
                    self.input(input);
                }
            }
            Inbound::Control(req) => self.control(req),
            Inbound::Event(event) => {
                self.executor.record(event);
            }
            Inbound::Tick => self.tick(),
            Inbound::Stop(_) => {}
        }
    }

    /// A child's output line that reports a GPU allocation failure, the first of its burst:
    /// the device's memory figures are read on a blocking thread and the event recorded from
    /// there (the unit's figures are taken now, as the engine has them).
    fn gpu_failure(&mut self, line: &ChildOutput) {
        let Some(failure) = gpu_fail::match_line(&line.line) else {
            return;
        };
        let view = self.engine.view(&line.name);
        let pid = view.as_ref().and_then(|v| v.pid);
        let Some(suppressed) = self.gpu_bursts.observe(&line.name, pid, Instant::now()) else {
            return;
        };
        let root = self.pressure_figures.0.clone();
        let store = self.executor.store().clone();
        let (name, text) = (line.name.clone(), line.line.clone());
        self.tasks.spawn_blocking(move || {
            let device = gpu_fail::read_device(&root);
            let event = gpu_fail::event(&name, failure, &text, suppressed, view.as_ref(), &device);
            event.log();
            store.record(event);
        });
    }

    /// Executes actions and every input that follows from them at once, until quiet.
    pub(super) fn drive(&mut self, actions: Vec<Action>) {
        let mut pending = actions;
        while !pending.is_empty() {
            let follow = self.executor.execute(std::mem::take(&mut pending));
            for input in follow {
                pending.extend(self.engine.input(input, Instant::now()));
            }
        }
    }

    pub(super) fn input(&mut self, input: Input) {
        let actions = self.engine.input(input, Instant::now());
        self.drive(actions);
    }

    pub(super) fn sampled(&mut self, msg: Sampled) {
        match msg {
            Sampled::Sample {
                sample,
                taken_at,
                loading_gpu,
            } => {
                let loading = self.engine.loading().and_then(|(_, pid)| pid);
                let reading = sampling::reading(&sample, taken_at, loading.is_some(), loading_gpu);
                self.latest = Some((*sample, taken_at));
                self.sample_failed = false;
                let (socket, units) = (&self.socket, self.engine.views().len());
                self.systemd.sample_applied(taken_at, || {
                    format!("serving on {}, {units} units", socket.display())
                });
                self.executor.set_reading(ReadingContext {
                    available: reading.available,
                    taken_at,
                    previous: self.previous_reading.replace((reading.available, taken_at)),
                });
                self.input(Input::Reading(reading));
            }
            Sampled::Source(event) => self.executor.record(*event),
            Sampled::Failed { error } => {
                self.sample_failed = true;
                self.executor
                    .record(NewEvent::new(SampleFailed {}, None).message(format!(
                        "memory sample failed; no load is admitted until it works: {error}"
                    )));
            }
        }
    }

    pub(super) fn feedback(&mut self, fb: Feedback) {
        match fb {
            Feedback::Engine(input) => self.input(input),
            Feedback::TreesRead { reader } => self.trees = Some(*reader),
            Feedback::Hashed {
                name,
                path,
                stamp,
                result,
            } => {
                let input = self.executor.hashed(name, path, stamp, result);
                self.input(input);
            }
            Feedback::ImageChecked { name, result } => {
                for input in self.executor.image_checked(&name, result) {
                    self.input(input);
                }
            }
            Feedback::Reaped { count } => self.executor.reaped(count),
        }
    }

    /// Three quarters of a tick since the tick's work last ran: close enough to run it now
    /// rather than wake again for the timer.
    pub(super) fn tick_due(&self, now: Instant) -> bool {
        self.last_tick
            .is_none_or(|t| now.duration_since(t) >= TICK * 3 / 4)
    }

    pub(super) fn tick(&mut self) {
        self.last_tick = Some(Instant::now());
        if let Some(step) = self
            .clock
            .observe(Instant::now(), crate::clock::now_unix_ms())
        {
            self.executor.record(step.event());
        }
        self.input(Input::Tick);
        self.executor.housekeeping();
        let now = Instant::now();
        // Half a tick early counts: the idle tick (1 s, riding on idle samples) lands a hair
        // before or after the second, and one a hair early must not skip a whole refresh.
        let due = self
            .last_refresh
            .is_none_or(|t| now.duration_since(t) + TICK / 2 >= MEMORY_REFRESH);
        if due {
            self.last_refresh = Some(now);
            self.refresh_memory();
        }
    }

    /// Reads every running unit's tree memory on a blocking thread (PSS walks page tables:
    /// the core loop must never wait on it) and feeds each tree back as its own
    /// [`Input::Tree`], for the views and the watcher (limits, fds, threads, leak trends): the
    /// inbox takes a memory sample before the next tree, so a sample waits behind at most one
    /// unit's leak-trend refit, never a whole refresh's.
    pub(super) fn refresh_memory(&mut self) {
        let pids: Vec<(String, u32, Option<PathBuf>)> = self
            .engine
            .pids()
            .into_iter()
            .map(|(name, pid)| {
                let cgroup = self.executor.container_cgroup(&name);
                (name, pid, cgroup)
            })
            .collect();
        if pids.is_empty() {
            return; // nothing runs: no thread woken for nothing (exits release what they held)
        }
        let Some(mut reader) = self.trees.take() else {
            return; // the previous refresh is still reading
        };
        let feedback = self.feedback.clone();
        let (root, refaults) = self.pressure_figures.clone();
        let gpu = self.gpu.clone();
        self.tasks.spawn_blocking(move || {
            for (name, reading) in watching::read_trees(&mut reader, &gpu, pids) {
                let _ = feedback.send(Feedback::Engine(Input::Tree { name, reading }));
            }
            let pressure = watching::read_pressure_figures(&root, &refaults);
            let _ = feedback.send(Feedback::Engine(Input::Pressure(pressure)));
            let _ = feedback.send(Feedback::TreesRead {
                reader: Box::new(reader),
            });
        });
    }

    /// The sampling pace ([`rate::decide`]): the load rate with the loading tree named while a
    /// load is in flight, `sample_interval` while anything else is happening or memory is near
    /// the reserve, the idle rate otherwise. Returns whether the tick may run at the idle rate.
    pub(super) fn update_sampling(&mut self) -> bool {
        let pace = rate::decide(&rate::Situation {
            loading: self.engine.sampling_mode() == SamplingMode::Loading,
            busy: self.engine.busy(),
            available: self
                .latest
                .as_ref()
                .filter(|_| !self.sample_failed)
                .map(|(s, _)| s.available),
            reserve: self.reserve,
        });
        let wanted = SamplingPlan {
            interval: self.intervals.of(pace.rate),
            tree_cgroup: match pace.rate {
                rate::Rate::Load => self
                    .engine
                    .loading()
                    .and_then(|(name, _)| self.executor.container_cgroup(name)),
                _ => None,
            },
            tree_root: match pace.rate {
                rate::Rate::Load => self.engine.loading().and_then(|(_, pid)| pid),
                _ => None,
            },
        };
        self.plan_tx.send_if_modified(|plan| {
            let changed = *plan != wanted;
            if changed {
                tracing::debug!(
                    "sampling at the {} rate, every {:?}",
                    pace.rate.as_str(),
                    wanted.interval
                );
            }
            *plan = wanted;
            changed
        });
        pace.tick_idle
    }
}
