//! The kernel's backstop through the engine: an OOM kill the runner found in a unit's cgroup
//! ([`Input::OomKilled`], fed just before that tree's [`Input::Exited`]) becomes one
//! `oom_killed` event naming the victim, with the kernel's figures beside the agent's own
//! last measurement of the tree. The exit that follows is judged as any unasked exit (the
//! restart policy), so the event always precedes `service_exited` and `restart_scheduled` or
//! `gave_up`.
//!
//! [`Input::OomKilled`]: super::Input::OomKilled
//! [`Input::Exited`]: super::Input::Exited

use super::supervise::Ended;
use super::{Action, Engine};
use crate::agent::launch::kernel_margin;
use crate::event::figures::OomKilled;
use crate::event::NewEvent;
use crate::runner::OomKill;
use crate::units::Bytes;

fn shown(b: Option<Bytes>) -> String {
    b.map_or_else(|| "unknown".to_string(), |b| b.to_string())
}

impl Engine {
    /// The kernel OOM-killed in the cgroup of `name`'s tree led by `pid`, which has ended.
    pub(super) fn oom_killed(
        &mut self,
        name: &str,
        pid: u32,
        ended: Ended,
        oom: &OomKill,
    ) -> Vec<Action> {
        let Some(unit) = self.units.get(name) else {
            return Vec::new();
        };
        // The agent's last figures are about this process only (none before its first refresh).
        let current = unit.pid() == Some(pid);
        let pss = unit.memory.filter(|_| current);
        let gpu = unit.gpu.filter(|_| current);
        let measured = pss.map(|p| p + gpu.unwrap_or(Bytes::ZERO));
        let limit = self.watch.limit(name);
        let victim = match (ended.code, ended.signal) {
            (_, Some(libc::SIGKILL)) => format!("killed pid {pid} (signal {})", libc::SIGKILL),
            _ => format!(
                "killed {} process(es) of the tree of pid {pid}, which then {}",
                oom.kills,
                super::inputs::describe_exit(ended.code, ended.signal)
            ),
        };
        let against = match limit {
            Some(l) => format!(
                "{} (limit {l} + margin {})",
                shown(oom.limit),
                kernel_margin(l)
            ),
            None => shown(oom.limit),
        };
        let figures = OomKilled {
            pid,
            oom_kills: oom.kills,
            kernel_limit_bytes: oom.limit.map(Bytes::get),
            limit_bytes: limit.map(Bytes::get),
            margin_bytes: limit.map(|l| kernel_margin(l).get()),
            peak_bytes: oom.peak.map(Bytes::get),
            usage_bytes: oom.usage.map(Bytes::get),
            limit_hits: oom.limit_hits,
            tree_pss_bytes: pss.map(Bytes::get),
            gpu_bytes: gpu.map(Bytes::get),
            memory_bytes: measured.map(Bytes::get),
            exit_code: ended.code,
            signal: ended.signal,
        };
        let event = NewEvent::new(figures, Some(name)).message(format!(
            "the kernel's OOM killer {victim} at the cgroup limit {against}: peak charged \
                 {}, last measured PSS + GPU {}",
            shown(oom.peak),
            shown(measured)
        ));
        vec![Action::Event(event)]
    }
}
