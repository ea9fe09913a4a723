//! A stop or kill that failed, as the event that says so (pure: the runner's error in, the
//! event out). The executor records it from wherever the stop ran: an unload or restart, an
//! abort's immediate kill, the agent's shutdown.
//!
//! ```text
//! RunnerError::Signal { SIGTERM, EPERM }        → stop_failed   {step, signal, errno, error, pgid}
//! RunnerError::StillAlive { survivors: [D] }    → survived_kill {pid, after_kill_ms, pids, states}
//! ```

use crate::event::figures::{StopFailed, SurvivedKill};
use crate::event::NewEvent;
use crate::runner::RunnerError;

/// Which stop failed: the polite one (SIGTERM, grace, SIGKILL) or the abort's immediate kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Stop,
    Kill,
    Shutdown,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Stop => "stop",
            Step::Kill => "kill",
            Step::Shutdown => "shutdown",
        }
    }
}

/// The event for a stop of `name` that ended in `error`.
pub fn stop_failure_event(name: &str, step: Step, error: &RunnerError) -> NewEvent {
    match error {
        RunnerError::StillAlive {
            pid,
            waited,
            survivors,
            ..
        } => {
            let what = match survivors.first() {
                Some(s) => format!("pid {} is {} ({})", s.pid, s.state, s.why()),
                None => format!("pid {pid} was not reaped"),
            };
            NewEvent::new(
                SurvivedKill {
                    step: step.as_str().to_string(),
                    pid: *pid,
                    after_kill_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                    pids: survivors.iter().map(|s| s.pid).collect(),
                    states: survivors.iter().map(|s| s.state.to_string()).collect(),
                },
                Some(name),
            )
            .message(format!(
                "{} of {name}: still there {waited:?} after SIGKILL: {what}",
                step.as_str()
            ))
        }
        RunnerError::Signal {
            pgid,
            signal,
            source,
            ..
        } => NewEvent::new(
            StopFailed {
                step: step.as_str().to_string(),
                signal: Some(signal.as_str().to_string()),
                errno: Some(*source as i32),
                error: source.desc().to_string(),
                pgid: Some(*pgid),
            },
            Some(name),
        )
        .message(format!("{} of {name} failed: {error}", step.as_str())),
        other => NewEvent::new(
            StopFailed {
                step: step.as_str().to_string(),
                error: other.to_string(),
                ..StopFailed::default()
            },
            Some(name),
        )
        .message(format!("{} of {name} failed: {other}", step.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nix::errno::Errno;
    use nix::sys::signal::Signal;

    use serde_json::json;

    use super::*;
    use crate::event::{EventKind, Severity};
    use crate::runner::Survivor;

    #[test]
    fn a_tree_left_after_sigkill_is_survived_kill_with_each_pid_and_state() {
        let error = RunnerError::StillAlive {
            name: "llm".into(),
            pid: 4242,
            waited: Duration::from_secs(10),
            survivors: vec![
                Survivor {
                    pid: 4242,
                    state: 'D',
                },
                Survivor {
                    pid: 4250,
                    state: 'Z',
                },
            ],
        };
        let e = stop_failure_event("llm", Step::Stop, &error);
        assert_eq!(e.kind, EventKind::SurvivedKill);
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.subject.as_deref(), Some("llm"));
        assert_eq!(e.figures["pid"], 4242);
        assert_eq!(e.figures["after_kill_ms"], 10_000);
        assert_eq!(e.figures["pids"], json!([4242, 4250]));
        assert_eq!(e.figures["states"], json!(["D", "Z"]));
        assert!(e.message.contains("uninterruptible sleep"), "{}", e.message);
    }

    #[test]
    fn a_signal_that_could_not_be_sent_is_stop_failed_with_the_errno() {
        let error = RunnerError::Signal {
            name: "llm".into(),
            pgid: 77,
            signal: Signal::SIGTERM,
            source: Errno::EPERM,
        };
        let e = stop_failure_event("llm", Step::Kill, &error);
        assert_eq!(e.kind, EventKind::StopFailed);
        assert_eq!(e.figures["step"], "kill");
        assert_eq!(e.figures["signal"], "SIGTERM");
        assert_eq!(e.figures["errno"], libc::EPERM);
        assert_eq!(e.figures["pgid"], 77);
        assert!(
            e.message.contains("Operation not permitted"),
            "{}",
            e.message
        );
    }
}
