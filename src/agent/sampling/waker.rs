//! The idle sampler's kernel notifications: armed for the sampler's scope, re-armed when the
//! scope's limit changes, and awaited beside the sampling timer (`sources::wake`).
//!
//! ```text
//! scope cgroup v1 with a limit  usage threshold at limit − reserve × NEAR_FACTOR
//! scope cgroup v2               PSI trigger on the cgroup's memory.pressure
//! scope system                  PSI trigger on /proc/pressure/memory
//! ```
//!
//! Where none can be armed (no PSI, no write access, a v1 cgroup without a limit) the sampler
//! still samples at the idle rate; it says so once in the log.

use std::io;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::rate::near_level;
use crate::sources::pressure::PRESSURE_MEMORY_PATH;
use crate::sources::wake::{PsiTrigger, UsageThreshold};
use crate::sources::{Cgroup, CgroupVersion, MemorySample, Root, Scope};
use crate::units::Bytes;

/// The notifications armed for one sampler.
#[derive(Debug)]
pub struct Waker {
    root: Root,
    /// The scope's cgroup where it is v1 (thresholds follow its limit).
    v1: Option<Cgroup>,
    near: Bytes,
    threshold: Option<AsyncFd<UsageThreshold>>,
    /// The limit the threshold was armed (or found unarmable) for.
    armed_for: Option<Option<Bytes>>,
    psi: Option<AsyncFd<PsiTrigger>>,
}

impl Waker {
    /// Notifications for `scope`, near the reserve at `reserve × NEAR_FACTOR`. A PSI trigger is
    /// armed here; a v1 threshold on the first sample that shows the limit.
    pub fn new(root: &Root, scope: &Scope, reserve: Bytes) -> Waker {
        let (v1, psi_path) = match scope {
            Scope::Cgroup(cg) if cg.version == CgroupVersion::V1 => (Some(cg.clone()), None),
            Scope::Cgroup(cg) => (None, Some(root.path(cg.dir.join("memory.pressure")))),
            Scope::System => (None, Some(root.path(PRESSURE_MEMORY_PATH))),
        };
        let psi = psi_path.and_then(|path| {
            let armed = PsiTrigger::arm(&path).and_then(|t| register(t, Interest::PRIORITY));
            armed
                .map_err(|e| {
                    tracing::info!(
                        "no PSI trigger on {} ({e}): the idle sampler wakes on its timer only",
                        path.display()
                    )
                })
                .ok()
        });
        Waker {
            root: root.clone(),
            v1,
            near: near_level(reserve),
            threshold: None,
            armed_for: None,
            psi,
        }
    }

    /// True while a notification is armed.
    pub fn armed(&self) -> bool {
        self.threshold.is_some() || self.psi.is_some()
    }

    /// After a sample: a v1 scope's threshold follows its limit (armed at `limit − near`, none
    /// without a limit or where the limit is not above `near`: then memory is always near).
    pub fn follow(&mut self, sample: &MemorySample) {
        let Some(cg) = &self.v1 else { return };
        let limit = sample.cgroup.and_then(|c| c.limit);
        if self.armed_for == Some(limit) {
            return;
        }
        self.armed_for = Some(limit);
        self.threshold = None; // closing the eventfd unregisters the old threshold
        let Some(level) = limit.and_then(|l| l.get().checked_sub(self.near.get())) else {
            return;
        };
        let armed = UsageThreshold::arm(&self.root, cg, Bytes(level))
            .and_then(|t| register(t, Interest::READABLE));
        match armed {
            Ok(fd) => {
                tracing::debug!(
                    "idle sampler woken when {}'s usage crosses {}",
                    cg.dir.display(),
                    Bytes(level)
                );
                self.threshold = Some(fd);
            }
            Err(e) => tracing::info!(
                "no usage threshold on {} ({e}): the idle sampler wakes on its timer only",
                cg.dir.display()
            ),
        }
    }

    /// Resolves when the kernel notifies (a threshold crossed, a PSI trigger fired); never
    /// while nothing is armed.
    pub async fn notified(&self) {
        let threshold = async {
            match &self.threshold {
                Some(fd) => drain(fd.readable().await, |t| t.take().map(|_| ())).await,
                None => std::future::pending().await,
            }
        };
        let psi = async {
            match &self.psi {
                Some(fd) => drain(fd.ready(Interest::PRIORITY).await, |_| Ok(())).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = threshold => {}
            _ = psi => {}
        }
    }
}

/// Registers a descriptor with the runtime. tokio deprecates this constructor for types
/// whose descriptor may be closed or swapped while registered; each type here owns its
/// descriptor (`EventFd`, `File`) for its whole life inside the `AsyncFd`, which deregisters it
/// before dropping it: the case the constructor is sound for. Its replacement is `unsafe`.
#[allow(deprecated)]
fn register<T: std::os::fd::AsRawFd>(value: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    AsyncFd::with_interest(value, interest)
}

/// Clears a readiness after `consume`; an error (the runtime going down) parks for good rather
/// than spin.
async fn drain<T: std::os::fd::AsRawFd>(
    guard: io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, T>>,
    consume: impl FnOnce(&T) -> io::Result<()>,
) {
    match guard {
        Ok(mut g) => {
            let _ = consume(g.get_inner());
            g.clear_ready();
        }
        Err(_) => std::future::pending().await,
    }
}
