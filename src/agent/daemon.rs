//! The composition root: builds every part of the agent from the configuration, and runs the
//! core loop, the one owner of the engine and the executor.
//!
//! ```text
//! sampling task ── Sampled ───────────┐
//! runner ── ChildExit, ChildOutput ───┤
//! probes, hashes, trees ── Feedback ──┤  Inbox::next ─► Agent::handle ─► Engine::input(now)
//! control socket, MQTT ── Control ────┤                                  ─► Executor::execute
//! retention ── Event, tick, signals ──┘                                     (spawn, kill, store, reply)
//! ```
//!
//! Shutdown is designed: the first SIGTERM or SIGINT records `agent_stopping`, stops every
//! child (SIGTERM to each process group, its grace, SIGKILL) within a drain deadline, then
//! exits; a second signal exits at once.
#![allow(clippy::disallowed_methods)] // the core loop reads the monotonic clock for `now`

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use tokio::sync::{mpsc, watch};

use crate::agent::clock_step::ClockWatch;
use crate::agent::engine::Engine;
use crate::agent::executor::{Executor, Feedback};
use crate::agent::gpu_fail;
use crate::agent::launch;
use crate::agent::notify::{self, Systemd};
use crate::agent::sampling::rate::{Intervals, IDLE_INTERVAL};
use crate::agent::sampling::{self, SamplingPlan};
use crate::agent::settings::Settings;
use crate::agent::watch::Watch;
use crate::agent::{orphans, retention};
use crate::board::{self, Detected};
use crate::config::Config;
use crate::control::server;

use crate::event::figures::{AgentStarted, AgentStopping, ContainmentDegraded};
use crate::event::NewEvent;
use crate::gate::Gate;
use crate::runner::{self, Runner};
use crate::sources::nvml::NvmlSource;
use crate::sources::process::page_size;
use crate::sources::proctree::TreeSampler;
use crate::sources::refaults::RefaultSource;
use crate::sources::{MemorySample, ProcessGpuReader, Root, Sampler, Scope};

use crate::store::lock::StoreLock;
use crate::store::recover;
use crate::store::writer::StoreWriter;
use crate::tasks::Tasks;

/// The core loop's tick while anything has a deadline: timeouts are checked and views
/// refreshed at this rate (at `rate::IDLE_INTERVAL` while nothing has).
pub const TICK: Duration = Duration::from_millis(100);
/// How often each running unit's tree memory is refreshed for the views.
pub const MEMORY_REFRESH: Duration = Duration::from_secs(1);
/// Shutdown stops all children within this, whatever their grace.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// How long shutdown lets the MQTT link flush and say `online: false`.
pub const LINK_STOP: Duration = Duration::from_secs(4);
/// How long shutdown waits, after the children and the link, for every other task to end.
pub const TASKS_DEADLINE: Duration = Duration::from_secs(5);
/// The longest operator note accepted.
pub const MAX_NOTE_CHARS: usize = 4096;
/// The most events one `events` request returns (a protocol limit).
pub use crate::control::protocol::MAX_EVENTS_PER_REQUEST;

/// What the command line adds to the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_path: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub root: Root,
}

mod control;
mod core;
mod export;
mod inbox;
mod link;
mod scopes;
mod watching;

use inbox::{Inbound, Inbox};
pub use inbox::{CONTROL_CHANNEL, EXIT_CHANNEL, OUTPUT_CHANNEL, SAMPLE_CHANNEL};
use scopes::{scope_text, scopes, Containment};

struct Agent {
    engine: Engine,
    executor: Executor,
    board: Detected,
    device_id: String,
    socket: PathBuf,
    started: Instant,
    latest: Option<(MemorySample, Instant)>,
    /// The last sample failed (no success since): the pace goes back to full rate.
    sample_failed: bool,
    plan_tx: watch::Sender<SamplingPlan>,
    /// `sample_interval` (full rate) and `load_sample_interval`; the idle rate follows them.
    intervals: Intervals,
    /// The gate's reserve: memory below twice it samples at full rate.
    reserve: crate::units::Bytes,
    /// The views' tree reader; `None` while a refresh is running on a blocking thread.
    trees: Option<TreeSampler>,
    /// Per-process GPU memory (nvmap, else NVML), for the trees the refresh reads.
    gpu: ProcessGpuReader,
    /// Where the refresh reads PSI and the scope's file refaults.
    pressure_figures: (Root, RefaultSource),
    feedback: mpsc::UnboundedSender<Feedback>,
    last_refresh: Option<Instant>,
    /// When the tick's work last ran (from the timer or after a sample).
    last_tick: Option<Instant>,
    /// Wall-clock steps against the monotonic clock, looked for at each tick.
    clock: ClockWatch,
    /// The last reading applied (available, when), for abort timing.
    previous_reading: Option<(crate::units::Bytes, Instant)>,
    /// READY, watchdog progress and STOPPING for systemd (a no-op outside it).
    systemd: Systemd,
    /// The latest tegrastats figures, for the status document.
    tegrastats: watch::Receiver<crate::agent::tegrastats::TegrastatsView>,
    /// Every spawned task; shutdown ends them all.
    tasks: Tasks,
    /// Which GPU allocation failures in children's output become events.
    gpu_bursts: gpu_fail::Bursts,
}

/// Runs the agent until SIGTERM or SIGINT.
pub async fn run(config: Config, options: Options) -> anyhow::Result<()> {
    let clock = ClockWatch::starting(Instant::now(), crate::clock::now_unix_ms());
    let root = options.root.clone();
    // Every figure the daemon takes from the file beyond the launch plan and the watcher.
    let settings = Settings::from_config(&config, hostname, options.socket.clone());
    let board = board::detect_or_configured(&root, settings.board.as_deref())
        .context("detecting the board")?;
    let plan = launch::plan(&config, board.default_reserve());
    if let Some(dir) = settings
        .store
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the store's directory {}", dir.display()))?;
    }
    // Held until this function returns: one agent per store.
    let _store_lock = StoreLock::acquire(&settings.store)?;
    let (mut store, moved_aside) =
        recover::open_or_move_aside(&settings.store, crate::clock::now_unix_ms())
            .with_context(|| format!("opening the store {}", settings.store.display()))?;
    let learned: BTreeMap<_, _> = plan
        .units
        .iter()
        .filter(|u| u.declared.is_some())
        .filter_map(|u| {
            let fp = store.footprint(&u.name).ok().flatten()?;
            // Zero: footprints recorded, no peak learned past the declared need yet.
            (fp.peak_bytes > crate::units::Bytes::ZERO).then(|| (u.name.clone(), fp.peak_bytes))
        })
        .collect();
    let ratios: BTreeMap<_, _> = plan
        .units
        .iter()
        .filter(|u| u.estimate)
        .filter_map(|u| {
            Some((
                u.name.clone(),
                store.estimate_ratio(&u.name).ok().flatten()?,
            ))
        })
        .collect();
    let pruned = store
        .prune(
            settings.retention.max_events,
            settings.retention.max_age.as_millis() as u64,
            crate::clock::now_unix_ms(),
        )
        .unwrap_or(0);
    // Everything after this seq is this run's: retention's age limit spares it while young.
    let last_seq_before_start = store.last_seq().unwrap_or(0);

    let (sampler_scope, containment) = scopes(&root, &settings.scope, &settings.store)?;
    if let Containment::ProcessTree(reason) = &containment {
        tracing::warn!(
            "no cgroup for the units ({reason}): each unit's tree is followed by parent pid"
        );
    }
    let tasks = Tasks::new();
    let store = StoreWriter::spawn(store, &tasks).context("starting the store's writer")?;
    store.watch_file(&tasks);
    let (mut inbox, senders) = Inbox::new(TICK)?;
    let records = orphans::records_dir(&settings.store);
    let mut runner = Runner::new(
        root.clone(),
        containment.cgroups().cloned(),
        senders.output.clone(),
        senders.exits.clone(),
    )
    .with_records(records.clone())
    .with_tasks(tasks.clone());
    if !matches!(containment, Containment::Scope(_)) {
        runner = runner.without_limits(); // the system scope: limits stay the agent's check
    }
    if let Err(e) = runner::become_subreaper() {
        tracing::warn!("cannot become a child subreaper (orphans go to init): {e}");
    }
    let launches: HashMap<_, _> = plan.launches.into_iter().collect();
    let executor = Executor::new(
        runner,
        launches,
        store.clone(),
        senders.feedback.clone(),
        tasks.clone(),
    );
    let engine = Engine::new(Gate::new(plan.gate.clone()), plan.units, learned)
        .with_watch(Watch::from_config(&config))
        .with_pressure_high(settings.pressure_high)
        .with_gpu_shares_dram(board.gpu_shares_dram())
        .with_ratios(ratios);

    let socket = settings.socket.clone();
    let started_unix_ms = crate::clock::now_unix_ms();
    let mut export = export::Export::start(&settings.metrics, &tasks, started_unix_ms).await?;
    let listener = server::bind(&socket, settings.group.as_deref()).await?;
    let mut link = link::Feed::spawn(settings.link.clone(), &senders.control, &store, &tasks)?;
    let server_events: server::Report = {
        let store = store.clone();
        std::sync::Arc::new(move |event: NewEvent| store.record(event))
    };
    tasks.spawn(server::serve(
        listener,
        senders.control.clone(),
        tasks.clone(),
        server_events,
    ));
    let tegrastats_events = {
        let store = store.clone();
        Box::new(move |event: NewEvent| {
            event.log();
            store.record(event);
        })
    };
    let tegrastats =
        crate::agent::tegrastats::spawn(settings.tegrastats.clone(), &tasks, tegrastats_events);

    let idle_interval = settings.idle_interval;
    let (plan_tx, plan_rx) = watch::channel(SamplingPlan {
        interval: idle_interval,
        tree_root: None,
        tree_cgroup: None,
    });
    let refaults = match &sampler_scope {
        Scope::Cgroup(group) => RefaultSource::cgroup(group, page_size()),
        Scope::System => RefaultSource::system(page_size()),
    };
    let waker = sampling::Waker::new(&root, &sampler_scope, plan.gate.reserve);
    let sampler = Sampler::new(root.clone(), sampler_scope);
    let gpu = ProcessGpuReader::new(Arc::new(NvmlSource::new()), board.gpu_shares_dram());
    tasks.spawn(sampling::run(
        sampler,
        waker,
        root.clone(),
        gpu.clone(),
        plan_rx,
        senders.samples.clone(),
        tasks.clone(),
    ));

    let device_id = settings.device_id.clone();
    let mut agent = Agent {
        engine,
        executor,
        board,
        device_id,
        socket: socket.clone(),
        started: Instant::now(),
        latest: None,
        sample_failed: false,
        plan_tx,
        intervals: Intervals {
            load: settings.load_interval,
            full: idle_interval,
            fresh: plan.gate.fresh_within,
        },
        reserve: plan.gate.reserve,
        trees: Some(TreeSampler::new(root.clone())),
        gpu,
        pressure_figures: (root.clone(), refaults),
        feedback: senders.feedback.clone(),
        last_refresh: None,
        last_tick: None,
        clock,
        previous_reading: None,
        systemd: Systemd::from_env(Instant::now()),
        tegrastats,
        tasks: tasks.clone(),
        gpu_bursts: gpu_fail::Bursts::default(),
    };
    if let Some(pet) = agent.systemd.watchdog() {
        // The slowest the loop and the sampler run: the idle tick and the idle rate.
        let limits = notify::Limits::for_periods(IDLE_INTERVAL, agent.intervals.idle(), pet);
        agent.systemd.spawn_watchdog(limits, &tasks);
    }
    let policy = settings.retention;
    tasks.spawn(retention::run(
        store.clone(),
        policy,
        last_seq_before_start,
        senders.events.clone(),
        tasks.clone(),
    ));
    agent.executor.record(
        NewEvent::new(
            AgentStarted {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                board: agent.board.id().to_string(),
                reserve_bytes: plan.gate.reserve.get(),
                kill_floor_bytes: plan.gate.kill_floor.get(),
                scope: scope_text(&settings.scope),
                containment: containment.text(),
                events_pruned: pruned as u64,
                metrics: settings.metrics.summary(),
                config: options
                    .config_path
                    .as_ref()
                    .map_or("embedded default".to_string(), |p| p.display().to_string()),
            },
            None,
        )
        .message(format!(
            "jetgate {} started on {} ({}), control socket {}",
            env!("CARGO_PKG_VERSION"),
            agent.device_id,
            agent.board.name(),
            socket.display()
        )),
    );
    let kernel_limits = matches!(containment, Containment::Scope(_));
    if let Containment::ProcessTree(reason) = &containment {
        agent.executor.record(
            NewEvent::new(
                ContainmentDegraded {
                    reason: reason.as_str().to_string(),
                    walk_ms: runner::descendants::TRACK_EVERY.as_millis() as u64,
                },
                None,
            )
            .message(format!(
                "no cgroup for the units ({reason}): each unit's tree is followed by \
                 parent pid, and a process that leaves it between two walks can outlive \
                 an unload"
            )),
        );
    }
    if let Some(event) = moved_aside {
        agent.executor.record(event);
    }
    for event in launch::unbacked_limits(&config, kernel_limits) {
        agent.executor.record(event);
    }
    let traces = orphans::Traces {
        root: &root,
        records: &records,
        scope: containment.cgroups(),
        graces: &orphans::unit_graces(&config),
        engines: &orphans::unit_engines(&config),
        instance: &runner::container::instance_of(&records),
    };
    for event in orphans::stop_orphans(&traces).await {
        agent.executor.record(event); // before any autostart: never two copies of a model
    }
    let start = agent.engine.start(Instant::now());
    agent.drive(start);

    drop(senders); // each task holds its own; the inbox's channels close with the last of them
    let signal_name = loop {
        match inbox.next().await {
            Inbound::Stop(signal_name) => break signal_name,
            inbound => agent.handle(inbound),
        }
        // The tick's work rides on the wake-up a sample already caused, so idle the core wakes
        // once per sample, not once per sample and once per tick.
        if agent.tick_due(Instant::now()) {
            agent.tick();
            inbox.tick_ran();
        }
        let tick_idle = agent.update_sampling();
        inbox.set_tick(if tick_idle { IDLE_INTERVAL } else { TICK });
        agent.systemd.loop_advanced(Instant::now());
        agent.feed_link(link.as_mut());
        agent.publish_metrics(export.as_mut(), link.as_ref());
    };
    let children = agent.engine.pids().len();
    agent
        .systemd
        .stopping(format!("{signal_name}: stopping {children} children"));

    agent.executor.record(
        NewEvent::new(
            AgentStopping {
                children: agent.engine.pids().len(),
            },
            None,
        )
        .message(format!("{signal_name}: stopping every child, then exiting")),
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
        _ = inbox.second_signal() => {
            tracing::warn!("second signal: exiting without waiting for children")
        }
    }
    agent.feed_link(link.as_mut());
    if let Some(feed) = link {
        feed.handle.stop(LINK_STOP).await;
    }
    store.close(); // after everything sent before it is on disk
    let still_running = tasks.shutdown(TASKS_DEADLINE).await;
    if still_running > 0 {
        tracing::warn!("{still_running} tasks still running {TASKS_DEADLINE:?} after shutdown");
    }
    match &containment {
        Containment::ProcessTree(_) => {
            let killed = runner::descendants::sweep_adopted(&Root::host(), &[]);
            if !killed.is_empty() {
                tracing::warn!("killed {killed:?}: left of the units' trees, adopted by the agent");
            }
        }
        Containment::UnitCgroups(parent) => {
            if let Err(e) = runner::system_scope::remove_parent(parent) {
                tracing::warn!("removing {}: {e}", parent.path.display());
            }
        }
        Containment::Scope(_) => {}
    }
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "jetson".to_string())
}
