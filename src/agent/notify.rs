//! systemd's notify protocol (`Type=notify`), spoken directly: no libsystemd.
//!
//! Owns the datagram socket to the service manager named by `NOTIFY_SOCKET` (a path, or an
//! abstract name written `@name`) and the watchdog task. Each message is one datagram of
//! `KEY=value` lines:
//!
//! ```text
//! READY=1\nSTATUS=serving on /run/jetgate/control.sock, 3 units    (first sample applied)
//! WATCHDOG=1                                                        (every WATCHDOG_USEC / 2)
//! STATUS=watchdog withheld: the sampler has not advanced for 4.1s   (and no WATCHDOG=1)
//! STOPPING=1\nSTATUS=SIGTERM: stopping 2 children
//! ```
//!
//! `READY=1` goes out once the control socket is bound and the first memory sample has been
//! applied by the core loop: before that a `jetgate status` would have nothing to say.
//!
//! The watchdog is petted only while the agent makes progress: the core loop marks each turn
//! ([`Systemd::loop_advanced`]) and each applied sample ([`Systemd::sample_applied`]); the
//! watchdog task pets only when [`decide`] finds both recent. A wedged loop or a stuck sampler
//! therefore stops the petting and systemd restarts the agent (`Restart=on-failure`). The
//! decision is a pure function of `now`, the two instants and the limits. `WATCHDOG_PID`, when
//! set, must name this process, else the watchdog is not ours to pet.
//!
//! Children never see these variables: the runner strips them (`runner::STRIPPED_ENV`).
#![allow(clippy::disallowed_methods)] // the watchdog task reads the monotonic clock to judge progress

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tasks::Tasks;

#[cfg(test)]
mod tests;

/// Where the service manager listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Path(PathBuf),
    /// Linux abstract namespace (`@name` in the variable), without the leading `@`.
    Abstract(Vec<u8>),
}

/// Parses `NOTIFY_SOCKET`: an absolute path or `@abstract`; anything else is ignored.
pub fn parse_address(value: &OsStr) -> Option<Address> {
    let bytes = value.as_bytes();
    match bytes.first()? {
        b'@' if bytes.len() > 1 => Some(Address::Abstract(bytes[1..].to_vec())),
        b'/' => Some(Address::Path(PathBuf::from(value))),
        _ => None,
    }
}

/// One notification; several can share a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Ready,
    Watchdog,
    Stopping,
    /// Free text shown by `systemctl status`; newlines become spaces.
    Status(String),
}

/// The datagram for `messages`: one `KEY=value` line each.
pub fn build(messages: &[Message]) -> String {
    let mut out = String::new();
    for m in messages {
        match m {
            Message::Ready => out.push_str("READY=1\n"),
            Message::Watchdog => out.push_str("WATCHDOG=1\n"),
            Message::Stopping => out.push_str("STOPPING=1\n"),
            Message::Status(text) => {
                out.push_str("STATUS=");
                out.push_str(&text.replace(['\n', '\r'], " "));
                out.push('\n');
            }
        }
    }
    out
}

/// How often to pet: half of `WATCHDOG_USEC`, if it is set, positive, and `WATCHDOG_PID` (when
/// set) names `me`.
pub fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != me {
            return None;
        }
    }
    let usec = usec?.trim().parse::<u64>().ok().filter(|u| *u > 0)?;
    Some(Duration::from_micros(usec) / 2)
}

/// When the core loop and the sampler last advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub loop_at: Instant,
    /// The last sample applied; until the first, the instant the agent started.
    pub sample_at: Instant,
}

/// How long each may stay silent before the watchdog is withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub loop_silence: Duration,
    pub sampler_silence: Duration,
}

impl Limits {
    /// Ten times each one's own period, and never less than the pet interval (a pet must be
    /// possible between two expected advances).
    pub fn for_periods(tick: Duration, sample_interval: Duration, pet: Duration) -> Limits {
        Limits {
            loop_silence: (tick * 10).max(pet),
            sampler_silence: (sample_interval * 10).max(pet),
        }
    }
}

/// Which part stopped advancing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stalled {
    CoreLoop,
    Sampler,
}

impl Stalled {
    pub fn name(self) -> &'static str {
        match self {
            Stalled::CoreLoop => "the core loop",
            Stalled::Sampler => "the sampler",
        }
    }
}

/// The watchdog decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PetDecision {
    Pet,
    Withhold {
        stalled: Stalled,
        silent_for: Duration,
    },
}

/// Pet only while both the core loop and the sampler have advanced within their limits. The
/// loop is judged first: a wedged loop also stops applying samples.
pub fn decide(now: Instant, progress: &Progress, limits: &Limits) -> PetDecision {
    let loop_silent = now.saturating_duration_since(progress.loop_at);
    if loop_silent > limits.loop_silence {
        return PetDecision::Withhold {
            stalled: Stalled::CoreLoop,
            silent_for: loop_silent,
        };
    }
    let sampler_silent = now.saturating_duration_since(progress.sample_at);
    if sampler_silent > limits.sampler_silence {
        return PetDecision::Withhold {
            stalled: Stalled::Sampler,
            silent_for: sampler_silent,
        };
    }
    PetDecision::Pet
}

/// A connected sender to the service manager.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notifier {
    pub fn new(address: &Address) -> io::Result<Notifier> {
        let addr = match address {
            Address::Path(p) => SocketAddr::from_pathname(p)?,
            Address::Abstract(name) => SocketAddr::from_abstract_name(name)?,
        };
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?; // never let a full manager queue stall the agent
        Ok(Notifier { socket, addr })
    }

    pub fn send(&self, messages: &[Message]) -> io::Result<()> {
        let text = build(messages);
        self.socket.send_to_addr(text.as_bytes(), &self.addr)?;
        Ok(())
    }
}

/// The agent's link to systemd: a no-op when not started by a service manager.
#[derive(Debug, Clone)]
pub struct Systemd {
    notifier: Option<Arc<Notifier>>,
    watchdog: Option<Duration>,
    progress: Arc<Mutex<Progress>>,
    ready_sent: bool,
}

impl Systemd {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`; `now` starts the progress.
    pub fn from_env(now: Instant) -> Systemd {
        let notifier = std::env::var_os("NOTIFY_SOCKET")
            .and_then(|v| parse_address(&v))
            .and_then(|a| match Notifier::new(&a) {
                Ok(n) => Some(Arc::new(n)),
                Err(e) => {
                    tracing::error!("NOTIFY_SOCKET {a:?} unusable, not notifying systemd: {e}");
                    None
                }
            });
        let var = |k: &str| std::env::var(k).ok();
        let watchdog = watchdog_interval(
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
            std::process::id(),
        )
        .filter(|_| notifier.is_some());
        Systemd {
            notifier,
            watchdog,
            progress: Arc::new(Mutex::new(Progress {
                loop_at: now,
                sample_at: now,
            })),
            ready_sent: false,
        }
    }

    /// The pet interval, when systemd asked for a watchdog.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, messages: &[Message]) {
        if let Some(n) = &self.notifier {
            if let Err(e) = n.send(messages) {
                tracing::warn!("notifying systemd: {e}");
            }
        }
    }

    fn with_progress(&self, f: impl FnOnce(&mut Progress)) {
        let mut p = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut p);
    }

    /// The core loop finished one turn.
    pub fn loop_advanced(&self, now: Instant) {
        self.with_progress(|p| p.loop_at = now);
    }

    /// A memory sample was applied; the first one sends `READY=1` with `status`.
    pub fn sample_applied(&mut self, taken_at: Instant, status: impl FnOnce() -> String) {
        self.with_progress(|p| p.sample_at = p.sample_at.max(taken_at));
        if !self.ready_sent {
            self.ready_sent = true;
            self.send(&[Message::Ready, Message::Status(status())]);
        }
    }

    pub fn status(&self, text: String) {
        self.send(&[Message::Status(text)]);
    }

    /// `STOPPING=1` with the reason.
    pub fn stopping(&self, text: String) {
        self.send(&[Message::Stopping, Message::Status(text)]);
    }

    /// Pets the watchdog every interval while [`decide`] says so, until `tasks` shuts down.
    pub fn spawn_watchdog(&self, limits: Limits, tasks: &Tasks) {
        let cancel = tasks.token();
        let (Some(interval), Some(notifier)) = (self.watchdog, self.notifier.clone()) else {
            return;
        };
        let progress = self.progress.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(interval);
            let mut withheld = false;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let now_progress = *progress.lock().unwrap_or_else(|p| p.into_inner());
                let result = match decide(Instant::now(), &now_progress, &limits) {
                    PetDecision::Pet if withheld => {
                        withheld = false;
                        tracing::warn!("watchdog resumed: the core loop and sampler advance");
                        notifier.send(&[
                            Message::Watchdog,
                            Message::Status("watchdog resumed".into()),
                        ])
                    }
                    PetDecision::Pet => notifier.send(&[Message::Watchdog]),
                    PetDecision::Withhold { .. } if withheld => Ok(()),
                    PetDecision::Withhold {
                        stalled,
                        silent_for,
                    } => {
                        withheld = true;
                        let text = format!(
                            "watchdog withheld: {} has not advanced for {:.1}s",
                            stalled.name(),
                            silent_for.as_secs_f64()
                        );
                        tracing::error!("{text}; systemd will restart the agent");
                        notifier.send(&[Message::Status(text)])
                    }
                };
                if let Err(e) = result {
                    tracing::warn!("notifying systemd: {e}");
                }
            }
        });
    }
}
