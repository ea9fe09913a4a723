//! Restart policy: when a supervised service exits, how long to wait before starting it again,
//! and when to stop trying (docs/agent.md, "Supervision").
//!
//! Pure code: no clock reads, no I/O. Time comes in as [`Instant`] arguments, randomness as a
//! draw in `[0, 1)` from a closure the caller owns, so every decision is reproducible in tests.
//! The supervisor's I/O half executes the returned [`Decision`] (sleep, then start; or emit
//! `gave_up` and wait for an operator).
//!
//! - **Backoff**: the ceiling for attempt `n` is `initial × 2^n`, capped at `max`; the wait is
//!   drawn uniformly from `[0, ceiling]` ("full jitter", so a fleet that crashed together does
//!   not restart together). `n` counts restarts since the last proven uptime, from 0.
//! - **Proven uptime**: a process that ran at least `reset_after` before exiting resets `n`.
//! - **Crash-loop cap**: more than `max_restarts` exits within the sliding `window` give up;
//!   after that every exit gives up until [`RestartTracker::revive`] (`jetgate restart NAME`).
//!   The tracker keeps at most `max_restarts + 1` exit times.
//!
//! Timeline with the defaults (1 s, 5 min, 5 restarts, 10 min window, 10 min reset), a model
//! that dies at once on every start (times in seconds, waits are ceilings before jitter):
//!
//! ```text
//! t=0    exit 1  Restart { attempt: 0 }  wait ≤ 1 s
//! t=1    exit 2  Restart { attempt: 1 }  wait ≤ 2 s
//! t=3    exit 3  Restart { attempt: 2 }  wait ≤ 4 s
//! t=7    exit 4  Restart { attempt: 3 }  wait ≤ 8 s
//! t=15   exit 5  Restart { attempt: 4 }  wait ≤ 16 s
//! t=31   exit 6  GiveUp { restarts_in_window: 6, window: 600 s }   6 > max_restarts (5)
//! later  exit    GiveUp ...                   until revive()
//! ```
//!
//! Had the process instead stayed up 10 minutes before exit 3, that exit would be
//! `Restart { attempt: 0 }` again, and exits 1 and 2 would have left the window.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// How a service is restarted; one per service, from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Backoff ceiling of the first restart (attempt 0).
    pub initial: Duration,
    /// Upper bound of every backoff ceiling.
    pub max: Duration,
    /// Restarts allowed within `window`; one more exit gives up.
    pub max_restarts: u32,
    /// Sliding window over which exits are counted.
    pub window: Duration,
    /// Uptime after which a process has proven itself and the attempt counter resets.
    pub reset_after: Duration,
}

impl Default for RestartPolicy {
    /// The documented defaults (docs/configuration.md, `service.restart`): 1 s … 5 min backoff,
    /// 5 restarts in 10 min, reset after 10 min up.
    fn default() -> Self {
        RestartPolicy {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5 * 60),
            max_restarts: 5,
            window: Duration::from_secs(10 * 60),
            reset_after: Duration::from_secs(10 * 60),
        }
    }
}

impl RestartPolicy {
    /// Backoff cap for `attempt` without jitter: `min(initial × 2^attempt, max)`.
    /// Exact and overflow-free for every `attempt`; non-decreasing in `attempt`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let mut cap = self.initial.min(self.max);
        // At most ~94 doublings reach any `max` (Duration holds < 2^94 ns), so this loop is short.
        for _ in 0..attempt {
            if cap >= self.max || cap.is_zero() {
                break;
            }
            cap = cap.checked_mul(2).map_or(self.max, |d| d.min(self.max));
        }
        cap
    }

    /// Full-jitter backoff: `draw` in `[0, 1)` scales [`ceiling`](Self::ceiling) linearly.
    /// A draw outside `[0, 1]` is clamped, NaN counts as 0; the result is always in
    /// `[0, ceiling(attempt)]`.
    pub fn backoff(&self, attempt: u32, draw: f64) -> Duration {
        let cap = self.ceiling(attempt);
        let unit = if draw.is_nan() {
            0.0
        } else {
            draw.clamp(0.0, 1.0)
        };
        Duration::try_from_secs_f64(cap.as_secs_f64() * unit).map_or(cap, |d| d.min(cap))
    }
}

/// What the supervisor does about one exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start again after waiting `after`. `attempt` counts restarts since the last proven
    /// uptime, from 0; `ceiling(attempt)` is the cap `after` was drawn under.
    Restart { after: Duration, attempt: u32 },
    /// Crash loop: no restart until an operator revives the service. `restarts_in_window` is
    /// the number of exits counted in `window` when the tracker gave up, that exit included.
    GiveUp {
        restarts_in_window: u32,
        window: Duration,
    },
}

/// Restart bookkeeping for one service. `D` yields jitter draws in `[0, 1)`.
pub struct RestartTracker<D> {
    policy: RestartPolicy,
    draw: D,
    attempt: u32,
    /// Exit times inside the window, oldest first; at most `max_restarts + 1`.
    exits: VecDeque<Instant>,
    /// `Some(restarts_in_window)` once given up, until `revive`.
    gave_up: Option<u32>,
}

impl<D: FnMut() -> f64> RestartTracker<D> {
    /// A fresh tracker; `draw` is called once per restart decision for the jitter.
    pub fn new(policy: RestartPolicy, draw: D) -> Self {
        RestartTracker {
            policy,
            draw,
            attempt: 0,
            exits: VecDeque::new(),
            gave_up: None,
        }
    }

    /// The process that started at `started_at` exited at `now`: restart it, or give up.
    pub fn on_exit(&mut self, now: Instant, started_at: Instant) -> Decision {
        let window = self.policy.window;
        if let Some(restarts_in_window) = self.gave_up {
            return Decision::GiveUp {
                restarts_in_window,
                window,
            };
        }
        if now.saturating_duration_since(started_at) >= self.policy.reset_after {
            self.attempt = 0;
        }
        while self
            .exits
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            self.exits.pop_front();
        }
        self.exits.push_back(now);
        let bound =
            usize::try_from(self.policy.max_restarts).map_or(usize::MAX, |n| n.saturating_add(1));
        while self.exits.len() > bound {
            self.exits.pop_front();
        }
        let in_window = u32::try_from(self.exits.len()).unwrap_or(u32::MAX);
        if in_window > self.policy.max_restarts {
            self.gave_up = Some(in_window);
            return Decision::GiveUp {
                restarts_in_window: in_window,
                window,
            };
        }
        let attempt = self.attempt;
        self.attempt = self.attempt.saturating_add(1);
        Decision::Restart {
            after: self.policy.backoff(attempt, (self.draw)()),
            attempt,
        }
    }

    /// An operator asked for the service again: forget the crash loop and start from attempt 0.
    pub fn revive(&mut self) {
        self.gave_up = None;
        self.attempt = 0;
        self.exits.clear();
    }

    /// Whether the tracker has given up (the service state `gave_up`).
    pub fn has_given_up(&self) -> bool {
        self.gave_up.is_some()
    }

    /// The attempt the next restart will have.
    pub fn next_attempt(&self) -> u32 {
        self.attempt
    }

    /// The policy this tracker applies.
    pub fn policy(&self) -> &RestartPolicy {
        &self.policy
    }
}

impl<D> fmt::Debug for RestartTracker<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestartTracker")
            .field("policy", &self.policy)
            .field("attempt", &self.attempt)
            .field("exits", &self.exits.len())
            .field("gave_up", &self.gave_up)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
