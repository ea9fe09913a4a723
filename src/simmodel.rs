//! `jetgate sim-model`: a stand-in model server for demos, tests and field checks.
//!
//! It makes memory really resident (allocated and every page written), optionally over a ramp,
//! then signals ready the way a model server would, and can misbehave on demand: overshoot its
//! declared size, leak, crash with a chosen exit code, ignore SIGTERM, turn unhealthy, stop its
//! heartbeat, or run as a process tree. Sizes are [`Bytes`], rates [`plan::ByteRate`], and
//! every duration is measured from process start.
//!
//! One line per phase goes to stderr:
//!
//! ```text
//! sim-model: allocating 1.0GiB over 500ms
//! sim-model: allocated 1.0GiB in 502ms
//! sim-model: ready (http://127.0.0.1:8080/health)
//! sim-model: leaking 10.0MiB/s
//! ```
//!
//! The pure planning lives in [`plan`]; [`ballast`] holds the memory; [`http`] serves health;
//! [`process`] owns signals, timers, children and exit.
#![allow(clippy::disallowed_methods)] // an I/O module: reads the clock to pace growth and timers

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::units::{format_duration, Bytes};

pub mod ballast;
pub mod http;
pub mod plan;
pub mod process;

use ballast::Ballast;
use plan::{ByteRate, Growth, Pace};

/// What the stand-in does, as parsed from the command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// Memory to make resident before ready.
    pub alloc: Bytes,
    /// Spread `alloc` evenly over this long (zero: at once).
    pub ramp: Duration,
    /// Serve `GET /health` on this address once ready.
    pub ready_http: Option<String>,
    /// Write this file (atomically) once ready.
    pub ready_file: Option<PathBuf>,
    /// Extra memory beyond `alloc`, added at the rate.
    pub overshoot: Option<(Bytes, ByteRate)>,
    /// Add the overshoot while loading (before ready) instead of after ready.
    pub overshoot_during_ramp: bool,
    /// Grow forever at this rate after ready.
    pub leak: Option<ByteRate>,
    /// Exit with `exit_code` this long after start.
    pub exit_after: Option<Duration>,
    pub exit_code: u8,
    /// Ignore SIGTERM (a supervisor must SIGKILL).
    pub ignore_term: bool,
    /// `/health` answers 503 from this long after start.
    pub unhealthy_after: Option<Duration>,
    /// Touch this file every `heartbeat_interval`, until `heartbeat_stop_after` if given.
    pub heartbeat: Option<PathBuf>,
    pub heartbeat_interval: Duration,
    pub heartbeat_stop_after: Option<Duration>,
    /// Child copies of this program to spawn, each holding `child_alloc`.
    pub children: u32,
    pub child_alloc: Bytes,
}

/// Why the stand-in could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Http(#[from] http::HttpError),
    #[error(transparent)]
    Process(#[from] process::ProcessError),
}

/// Whether `/health` should answer 200: healthy until `unhealthy_after` past start.
#[derive(Debug)]
pub struct Health {
    start: Instant,
    unhealthy_after: Option<Duration>,
}

impl Health {
    pub fn new(start: Instant, unhealthy_after: Option<Duration>) -> Health {
        Health {
            start,
            unhealthy_after,
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.unhealthy_after
            .is_none_or(|d| self.start.elapsed() < d)
    }
}

/// Logs one phase line to stderr.
pub fn log(line: impl std::fmt::Display) {
    eprintln!("sim-model: {line}");
}

/// Runs the stand-in. It only ever ends by exiting the process (a signal, `--exit-after`), so
/// success never returns.
pub fn run(opts: Options) -> Result<Infallible, SimError> {
    let start = Instant::now();
    let control = process::Control::install(opts.ignore_term)?;
    process::spawn_timers(&opts, start, &control);
    if opts.children > 0 {
        control.spawn_children(opts.children, opts.child_alloc, opts.ignore_term)?;
    }

    let mut ballast = Ballast::new();
    let mut loading = vec![Growth::new(opts.alloc, Pace::Over(opts.ramp))];
    let mut after_ready = Vec::new();
    if let Some((size, rate)) = opts.overshoot {
        let g = Growth::new(size, Pace::Rate(rate));
        if opts.overshoot_during_ramp {
            loading.push(g);
        } else {
            after_ready.push(g);
        }
    }
    if opts.ramp.is_zero() {
        log(format_args!("allocating {}", opts.alloc));
    } else {
        log(format_args!(
            "allocating {} over {}",
            opts.alloc,
            format_duration(opts.ramp)
        ));
    }
    let load_start = Instant::now();
    grow_phase(&mut ballast, &loading, load_start);
    log(format_args!(
        "allocated {} in {}",
        Bytes(ballast.held()),
        format_duration(load_start.elapsed())
    ));

    signal_ready(&opts, start)?;

    if let Some(rate) = opts.leak {
        after_ready.push(Growth::new(Bytes::ZERO, Pace::Forever(rate)));
        log(format_args!("leaking {rate}"));
    }
    if !opts.overshoot_during_ramp {
        if let Some((size, rate)) = opts.overshoot {
            log(format_args!("overshooting by {size} at {rate}"));
        }
    }
    if !after_ready.is_empty() {
        let base = ballast.held();
        let phase_start = Instant::now();
        grow_phase_from(&mut ballast, base, &after_ready, phase_start);
        log(format_args!(
            "holding {} after overshoot",
            Bytes(ballast.held())
        ));
    }
    loop {
        std::thread::park();
    }
}

fn signal_ready(opts: &Options, start: Instant) -> Result<(), SimError> {
    let mut shown = Vec::new();
    if let Some(addr) = &opts.ready_http {
        let health = Arc::new(Health::new(start, opts.unhealthy_after));
        let bound = http::serve(addr, health)?;
        shown.push(format!("http://{bound}/health"));
    }
    if let Some(path) = &opts.ready_file {
        process::write_ready_file(path)?;
        shown.push(path.display().to_string());
    }
    if shown.is_empty() {
        process::print_ready()?;
        shown.push("READY on stdout".to_string());
    }
    log(format_args!("ready ({})", shown.join(", ")));
    Ok(())
}

fn grow_phase(ballast: &mut Ballast, growths: &[Growth], phase_start: Instant) {
    let base = ballast.held();
    grow_phase_from(ballast, base, growths, phase_start);
}

/// Paces `growths` on top of `base` bytes until all are done (forever for a leak).
fn grow_phase_from(ballast: &mut Ballast, base: u64, growths: &[Growth], phase_start: Instant) {
    let tick = plan::tick(growths);
    loop {
        let elapsed = phase_start.elapsed();
        ballast.grow_to(base.saturating_add(plan::phase_target(growths, elapsed)));
        if plan::phase_done(growths, elapsed) {
            return;
        }
        std::thread::sleep(tick);
    }
}
