//! The composition root: builds every part of the agent from the configuration, wires the
//! channels, and runs the core loop, the one owner of the engine.
//!
//! ```text
//! sampling task ──Sampled──┐
//! runner ──ChildExit, ChildOutput──┤
//! probes, hashing ──Feedback──┤   core loop: engine.input/command(now) ─► executor.execute
//! control socket ──ControlRequest──┤                                   (spawn, kill, store, reply)
//! SIGTERM / SIGINT ──────────┘
//! ```
//!
//! Shutdown is designed: the first SIGTERM or SIGINT records `agent_stopping`, stops every
//! child (SIGTERM to each process group, its grace, SIGKILL) within a drain deadline, then
//! exits; a second signal exits at once.
#![allow(clippy::disallowed_methods)] // the core loop reads the monotonic clock for `now`

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::agent::engine::{Action, Engine, Input};
use crate::agent::executor::{Executor, Feedback, ReadingContext};
use crate::agent::launch;
use crate::agent::notify::{self, Systemd};
use crate::agent::sampling::{self, Sampled, SamplingPlan};
use crate::agent::{orphans, retention};
use crate::board::{self, Detected};
use crate::config::Config;
use crate::control::server::{self, ControlRequest};

use crate::event::{EventKind, NewEvent};
use crate::gate::{Gate, SamplingMode};
use crate::runner::{self, Runner};
use crate::sources::proctree::TreeSampler;
use crate::sources::{MemorySample, Root, Sampler};

use crate::store::Store;

/// The core loop's tick: timeouts are checked and views refreshed at this rate.
pub const TICK: Duration = Duration::from_millis(100);
/// How often each running unit's tree memory is refreshed for the views.
pub const MEMORY_REFRESH: Duration = Duration::from_secs(1);
/// Shutdown stops all children within this, whatever their grace.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// How long shutdown lets the MQTT link flush and say `online: false`.
pub const LINK_STOP: Duration = Duration::from_secs(4);
/// The longest operator note accepted.
pub const MAX_NOTE_CHARS: usize = 4096;
/// The most events one `events` request returns.
pub const MAX_EVENTS_PER_REQUEST: u32 = 10_000;
/// Output lines of children waiting for the core loop (for log-regex ready probes); when it
/// is full a line is dropped from the channel and counted, never queued elsewhere.
pub const OUTPUT_CHANNEL: usize = 1024;
/// Child exits waiting for the core loop (one per spawn, far fewer in flight).
pub const EXIT_CHANNEL: usize = 64;
/// Control requests waiting for the core loop; connections beyond it wait their turn (and
/// connections themselves are bounded by `control::server::MAX_CONNECTIONS`).
pub const CONTROL_CHANNEL: usize = 64;
/// Memory samples waiting for the core loop; the sampler waits when it is full.
pub const SAMPLE_CHANNEL: usize = 16;

/// What the command line adds to the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_path: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub root: Root,
}

mod control;
mod link;
mod scopes;
mod watching;

use scopes::{scope_text, scopes};

struct Agent {
    engine: Engine,
    executor: Executor,
    board: Detected,
    device_id: String,
    socket: PathBuf,
    started: Instant,
    latest: Option<(MemorySample, Instant)>,
    plan_tx: watch::Sender<SamplingPlan>,
    idle_interval: Duration,
    load_interval: Duration,
    /// The views' tree reader; `None` while a refresh is running on a blocking thread.
    trees: Option<TreeSampler>,
    feedback: mpsc::UnboundedSender<Feedback>,
    last_refresh: Option<Instant>,
    /// The last reading applied (available, when), for abort timing.
    previous_reading: Option<(crate::units::Bytes, Instant)>,
    /// Limits, fd/thread counts and leak trends of each unit's tree.
    watch: crate::agent::watch::Watch,
    /// READY, watchdog progress and STOPPING for systemd (a no-op outside it).
    systemd: Systemd,
    /// The latest tegrastats figures, for the status document.
    tegrastats: watch::Receiver<crate::agent::tegrastats::TegrastatsView>,
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(config: Config, options: Options) -> anyhow::Result<()> {
    let root = options.root.clone();
    let board = board::detect(&root).context("detecting the board")?;
    let plan = launch::plan(&config, board.default_reserve());
    let mut store = Store::open(&config.store.path)
        .with_context(|| format!("opening the store {}", config.store.path.display()))?;
    let learned: BTreeMap<_, _> = plan
        .units
        .iter()
        .filter(|u| u.declared.is_some())
        .filter_map(|u| {
            let fp = store.footprint(&u.name).ok().flatten()?;
            Some((u.name.clone(), fp.peak_bytes))
        })
        .collect();
    let pruned = store
        .prune(
            config.store.max_events,
            config.store.max_age.0.as_millis() as u64,
            crate::clock::now_unix_ms(),
        )
        .unwrap_or(0);

    let (sampler_scope, runner_scope) = scopes(&root, &config.memory.scope)?;
    let (output_tx, mut output_rx) = mpsc::channel(OUTPUT_CHANNEL);
    let (exit_tx, mut exit_rx) = mpsc::channel(EXIT_CHANNEL);
    let records = orphans::records_dir(&config.store.path);
    let runner = Runner::new(root.clone(), runner_scope.clone(), output_tx, exit_tx)
        .with_records(records.clone());
    if let Err(e) = runner::become_subreaper() {
        tracing::warn!("cannot become a child subreaper (orphans go to init): {e}");
    }
    // Unbounded but not input-driven: each producer has at most one message in flight (the
    // memory refresh hands its reader back through it; one ready probe and one hash per load).
    let (feedback_tx, mut feedback_rx) = mpsc::unbounded_channel();
    let launches: HashMap<_, _> = plan.launches.into_iter().collect();
    let executor = Executor::new(runner, launches, store, feedback_tx.clone());
    let engine = Engine::new(Gate::new(plan.gate.clone()), plan.units, learned);

    let socket = options
        .socket
        .clone()
        .unwrap_or(config.control.socket.clone());
    let listener = server::bind(&socket, config.control.group.as_deref()).await?;
    let cancel = CancellationToken::new();
    let (control_tx, mut control_rx) = mpsc::channel::<ControlRequest>(CONTROL_CHANNEL);
    let mut link = link::Feed::spawn(&config, &control_tx)?;
    tokio::spawn(server::serve(listener, control_tx, cancel.clone()));
    let tegrastats =
        crate::agent::tegrastats::spawn(config.device.tegrastats.clone(), cancel.clone());

    let idle_interval = config.memory.sample_interval.0;
    let (plan_tx, plan_rx) = watch::channel(SamplingPlan {
        interval: idle_interval,
        tree_root: None,
    });
    let (sample_tx, mut sample_rx) = mpsc::channel(SAMPLE_CHANNEL);
    let sampler = Sampler::new(root.clone(), sampler_scope);
    tokio::spawn(sampling::run(
        sampler,
        root.clone(),
        plan_rx,
        sample_tx,
        cancel.clone(),
    ));

    let mut sigterm = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;

    let device_id = config.device.id.clone().unwrap_or_else(hostname);
    let mut agent = Agent {
        engine,
        executor,
        board,
        device_id,
        socket: socket.clone(),
        started: Instant::now(),
        latest: None,
        plan_tx,
        idle_interval,
        load_interval: config.memory.load_sample_interval.0,
        trees: Some(TreeSampler::new(root.clone())),
        feedback: feedback_tx.clone(),
        last_refresh: None,
        previous_reading: None,
        watch: crate::agent::watch::Watch::from_config(&config),
        systemd: Systemd::from_env(Instant::now()),
        tegrastats,
    };
    if let Some(pet) = agent.systemd.watchdog() {
        let limits = notify::Limits::for_periods(TICK, idle_interval, pet);
        agent.systemd.spawn_watchdog(limits, cancel.clone());
    }
    let (pruned_tx, mut pruned_rx) = mpsc::unbounded_channel();
    let policy = retention::Policy {
        max_events: config.store.max_events,
        max_age: config.store.max_age.0,
    };
    let store_path = config.store.path.clone();
    tokio::spawn(retention::run(
        store_path,
        policy,
        pruned_tx,
        cancel.clone(),
    ));
    agent.executor.record(
        NewEvent::new(EventKind::AgentStarted, None)
            .message(format!(
                "jetgate {} started on {} ({}), control socket {}",
                env!("CARGO_PKG_VERSION"),
                agent.device_id,
                agent.board.name(),
                socket.display()
            ))
            .figure("pid", std::process::id())
            .figure("version", env!("CARGO_PKG_VERSION"))
            .figure("board", agent.board.id())
            .figure("reserve_bytes", plan.gate.reserve.get())
            .figure("kill_floor_bytes", plan.gate.kill_floor.get())
            .figure("scope", scope_text(&config.memory.scope))
            .figure("events_pruned", pruned)
            .figure(
                "config",
                options
                    .config_path
                    .as_ref()
                    .map_or("embedded default".to_string(), |p| p.display().to_string()),
            ),
    );
    let traces = orphans::Traces {
        root: &root,
        records: &records,
        scope: runner_scope.as_ref(),
        graces: &orphans::unit_graces(&config),
    };
    for event in orphans::stop_orphans(&traces).await {
        agent.executor.record(event); // before any autostart: never two copies of a model
    }
    let start = agent.engine.start(Instant::now());
    agent.drive(start);

    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let signal_name = loop {
        tokio::select! {
            biased;
            Some(msg) = sample_rx.recv() => agent.sampled(msg),
            Some(exit) = exit_rx.recv() => {
                let input = agent.executor.child_exited(&exit);
                agent.input(input);
            }
            Some(fb) = feedback_rx.recv() => agent.feedback(fb),
            Some(line) = output_rx.recv() => {
                if let Some(input) = agent.executor.child_output(&line) {
                    agent.input(input);
                }
            }
            Some(req) = control_rx.recv() => agent.control(req),
            Some(event) = pruned_rx.recv() => { agent.executor.record(event); }
            _ = tick.tick() => agent.tick(),
            _ = sigterm.recv() => break "SIGTERM",
            _ = sigint.recv() => break "SIGINT",
        }
        agent.update_sampling();
        agent.systemd.loop_advanced(Instant::now());
        agent.feed_link(link.as_mut());
    };
    let children = agent.engine.pids().len();
    agent
        .systemd
        .stopping(format!("{signal_name}: stopping {children} children"));

    agent.executor.record(
        NewEvent::new(EventKind::AgentStopping, None)
            .message(format!("{signal_name}: stopping every child, then exiting"))
            .figure("children", agent.engine.pids().len()),
    );
    let graces: HashMap<String, Duration> = config
        .models
        .iter()
        .map(|m| &m.program)
        .chain(config.services.iter().map(|s| &s.program))
        .map(|p| (p.name.clone(), p.stop_grace.0))
        .collect();
    let grace = |name: &str| graces.get(name).copied().unwrap_or(Duration::from_secs(10));
    tokio::select! {
        _ = agent.executor.stop_all(grace, DRAIN_DEADLINE) => {}
        _ = sigterm.recv() => tracing::warn!("second signal: exiting without waiting for children"),
        _ = sigint.recv() => tracing::warn!("second signal: exiting without waiting for children"),
    }
    agent.feed_link(link.as_mut());
    if let Some(feed) = link {
        feed.handle.stop(LINK_STOP).await;
    }
    cancel.cancel();
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "jetson".to_string())
}

impl Agent {
    /// Executes actions and every input that follows from them at once, until quiet.
    fn drive(&mut self, actions: Vec<Action>) {
        let mut pending = actions;
        while !pending.is_empty() {
            let follow = self.executor.execute(std::mem::take(&mut pending));
            for input in follow {
                pending.extend(self.engine.input(input, Instant::now()));
            }
        }
    }

    fn input(&mut self, input: Input) {
        let actions = self.engine.input(input, Instant::now());
        self.drive(actions);
    }

    fn sampled(&mut self, msg: Sampled) {
        match msg {
            Sampled::Sample { sample, taken_at } => {
                let loading = self.engine.loading().and_then(|(_, pid)| pid);
                let reading = sampling::reading(&sample, taken_at, loading.is_some());
                self.latest = Some((*sample, taken_at));
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
            Sampled::Failed { error } => {
                self.executor
                    .record(
                        NewEvent::new(EventKind::SampleFailed, None).message(format!(
                            "memory sample failed; no load is admitted until it works: {error}"
                        )),
                    );
            }
        }
    }

    fn feedback(&mut self, fb: Feedback) {
        match fb {
            Feedback::Engine(input) => self.input(input),
            Feedback::Memory { figures, reader } => {
                self.trees = Some(*reader);
                self.memory_refreshed(figures);
            }
            Feedback::Hashed {
                name,
                path,
                stamp,
                result,
            } => {
                let input = self.executor.hashed(name, path, stamp, result);
                self.input(input);
            }
            Feedback::Reaped { count } => self.executor.reaped(count),
        }
    }

    fn tick(&mut self) {
        self.input(Input::Tick);
        self.executor.housekeeping();
        let now = Instant::now();
        let due = self
            .last_refresh
            .is_none_or(|t| now.duration_since(t) >= MEMORY_REFRESH);
        if due {
            self.last_refresh = Some(now);
            self.refresh_memory();
        }
    }

    /// Reads every running unit's tree memory on a blocking thread (PSS walks page tables:
    /// the core loop must never wait on it) and feeds the figures back for the views and the
    /// watcher (limits, fds, threads, leak trends).
    fn refresh_memory(&mut self) {
        let Some(mut reader) = self.trees.take() else {
            return; // the previous refresh is still reading
        };
        let pids = self.engine.pids();
        let feedback = self.feedback.clone();
        tokio::task::spawn_blocking(move || {
            let figures = watching::read_trees(&mut reader, pids);
            let _ = feedback.send(Feedback::Memory {
                figures,
                reader: Box::new(reader),
            });
        });
    }

    /// Samples fast while a load is in flight, with its process tree named.
    fn update_sampling(&mut self) {
        let wanted = match self.engine.sampling_mode() {
            SamplingMode::Loading => SamplingPlan {
                interval: self.load_interval,
                tree_root: self.engine.loading().and_then(|(_, pid)| pid),
            },
            SamplingMode::Idle => SamplingPlan {
                interval: self.idle_interval,
                tree_root: None,
            },
        };
        self.plan_tx.send_if_modified(|plan| {
            let changed = *plan != wanted;
            *plan = wanted;
            changed
        });
    }
}
