//! The leak half of the watcher: trend samples, the verdict, `leak_suspected` once per
//! episode, the gate reservation of the projected growth (`slope × leak.window`, at most what
//! is left to the limit), `leak_restart` ahead of the limit and `leak_cleared`.

use std::time::Instant;

use super::{
    reservation_key, restart, round3, Observation, WatchAction, WatchSpec, Watched,
    LEAK_RESTART_LEAD,
};
use crate::event::figures::{LeakCleared, LeakRestart, LeakSuspected};
use crate::event::{EventKind, NewEvent};
use crate::status::LimitFrom;
use crate::supervisor::trend::{Assessment, Verdict};
use crate::units::Bytes;

/// The leak trend: sample, assess, raise `leak_suspected` once per episode, reserve the
/// projected growth, restart ahead of the limit when configured.
pub(super) fn leak(
    name: &str,
    spec: &WatchSpec,
    w: &mut Watched,
    obs: &Observation,
    now: Instant,
    out: &mut Vec<WatchAction>,
) {
    if !obs.serving {
        w.serving_since = None;
        return;
    }
    let since = *w.serving_since.get_or_insert(now);
    let memory = obs.memory();
    if now.saturating_duration_since(since) >= spec.leak_warmup {
        w.trend
            .push(now.saturating_duration_since(w.origin), memory);
    }
    let limit = match (spec.limit, obs.room) {
        (Some(l), _) => Some((l, LimitFrom::Limit)),
        (None, Some(room)) => Some((memory + room, LimitFrom::Reserve)),
        (None, None) => None,
    };
    let a = w.trend.verdict(limit.map(|(l, _)| l), memory);
    let was_leaking = w
        .last
        .as_ref()
        .is_some_and(|(l, _)| l.verdict == Verdict::Leaking);
    w.last = Some((a, limit));
    let key = reservation_key(name);
    if a.verdict != Verdict::Leaking {
        w.trend.leak_episode(&a);
        if was_leaking {
            out.push(WatchAction::Event(
                NewEvent::new(
                    LeakCleared {
                        slope_bytes_per_hour: a.slope_bytes_per_hour.round() as i64,
                        samples: a.samples,
                        released_bytes: w.reserved.get(),
                        pid: obs.pid,
                    },
                    Some(name),
                )
                .message(format!(
                    "no longer leaking: the trend is {}",
                    a.verdict.as_str()
                )),
            ));
        }
        if std::mem::take(&mut w.reserved) > Bytes::ZERO {
            out.push(WatchAction::Release { key });
        }
        return;
    }
    // Projected growth over one window, no more than what is left to the limit.
    let growth = a.slope_bytes_per_hour.max(0.0) / 3600.0 * spec.leak_window.as_secs_f64();
    let mut reserve = Bytes(growth as u64);
    if let Some((l, _)) = limit {
        reserve = reserve.min(l.saturating_sub(memory));
    }
    let event = |kind| {
        WatchAction::Event(leak_event(
            kind, name, &a, limit, memory, obs, spec, reserve,
        ))
    };
    if w.trend.leak_episode(&a) {
        out.push(event(EventKind::LeakSuspected));
    }
    if reserve != w.reserved && !w.restart_asked {
        w.reserved = reserve;
        out.push(WatchAction::Reserve {
            key,
            bytes: reserve,
        });
    }
    let due = a.time_to_limit.is_some_and(|t| t <= LEAK_RESTART_LEAD);
    if spec.leak_restart && due && !w.restart_asked {
        out.push(event(EventKind::LeakRestart));
        restart(name, EventKind::LeakRestart.as_str(), w, out);
    }
}

#[allow(clippy::too_many_arguments)]
fn leak_event(
    kind: EventKind,
    name: &str,
    a: &Assessment,
    limit: Option<(Bytes, LimitFrom)>,
    memory: Bytes,
    obs: &Observation,
    spec: &WatchSpec,
    reserve: Bytes,
) -> NewEvent {
    let per_hour = Bytes(a.slope_bytes_per_hour.max(0.0) as u64);
    let projected = a
        .time_to_limit
        .map_or("no limit to project against".to_string(), |t| {
            format!(
                "{} to {}",
                crate::units::format_duration(t),
                limit.map_or(Bytes::ZERO, |l| l.0)
            )
        });
    let message = if kind == EventKind::LeakRestart {
        format!("leaking {per_hour}/h, {projected}: restarting before the limit")
    } else {
        format!(
            "leaking {per_hour}/h over {:.0}s, {projected}",
            a.window_secs
        )
    };
    let figures = LeakSuspected {
        slope_bytes_per_hour: a.slope_bytes_per_hour.round() as i64,
        window_s: round3(a.window_secs),
        samples: a.samples,
        quality: round3(a.quality),
        projected_s: a.time_to_limit.map(|d| round3(d.as_secs_f64())),
        limit_bytes: limit.map(|(l, _)| l.get()),
        limit_from: limit.map(|(_, from)| from.as_str().to_string()),
        tree_pss_bytes: obs.tree_pss.get(),
        gpu_bytes: obs.gpu.map(Bytes::get),
        memory_bytes: memory.get(),
        reserved_bytes: reserve.get(),
        horizon_s: spec.leak_window.as_secs_f64(),
        pid: obs.pid,
    };
    let event = if kind == EventKind::LeakRestart {
        NewEvent::new(LeakRestart::from(figures), Some(name))
    } else {
        NewEvent::new(figures, Some(name))
    };
    event.message(message)
}
