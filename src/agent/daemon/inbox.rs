//! The core loop's one inbox: every producer's channel, the tick and the stop signals, read in
//! one place and in one order of priority, as one [`Inbound`] at a time.
//!
//! Each producer keeps its own channel because their bounds mean different things: the sampler
//! waits when the core is behind (a sample is never dropped), children's output lines are
//! dropped and counted when their channel is full (a chatty model must not stall the core),
//! feedback holds at most one message per producer in flight. The order of [`Inbox::next`] is
//! the order of urgency: a memory sample (the kill path) first, then exits, feedback, output,
//! requests, housekeeping, the tick, signals.

use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Interval;

use crate::agent::executor::Feedback;
use crate::agent::sampling::Sampled;
use crate::control::server::ControlRequest;
use crate::event::NewEvent;
use crate::runner::{ChildExit, ChildOutput};

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

/// One thing for the core loop to handle.
#[derive(Debug)]
pub(super) enum Inbound {
    Sampled(Sampled),
    Exited(ChildExit),
    Feedback(Feedback),
    Output(ChildOutput),
    Control(ControlRequest),
    /// An event from a task that does not own the store (retention).
    Event(NewEvent),
    Tick,
    /// SIGTERM or SIGINT: stop.
    Stop(&'static str),
}

/// The producers' ends, handed to each task as it is built.
pub(super) struct Senders {
    pub samples: mpsc::Sender<Sampled>,
    pub exits: mpsc::Sender<ChildExit>,
    /// Unbounded but not input-driven: each producer has at most one message in flight (the
    /// memory refresh hands its reader back through it; one ready probe and one hash per load).
    pub feedback: mpsc::UnboundedSender<Feedback>,
    pub output: mpsc::Sender<ChildOutput>,
    pub control: mpsc::Sender<ControlRequest>,
    pub events: mpsc::UnboundedSender<NewEvent>,
}

pub(super) struct Inbox {
    samples: mpsc::Receiver<Sampled>,
    exits: mpsc::Receiver<ChildExit>,
    feedback: mpsc::UnboundedReceiver<Feedback>,
    output: mpsc::Receiver<ChildOutput>,
    control: mpsc::Receiver<ControlRequest>,
    events: mpsc::UnboundedReceiver<NewEvent>,
    tick: Interval,
    sigterm: Signal,
    sigint: Signal,
}

impl Inbox {
    /// The inbox and its senders; the tick fires every `tick`.
    pub fn new(tick: Duration) -> anyhow::Result<(Inbox, Senders)> {
        let (samples_tx, samples) = mpsc::channel(SAMPLE_CHANNEL);
        let (exits_tx, exits) = mpsc::channel(EXIT_CHANNEL);
        let (feedback_tx, feedback) = mpsc::unbounded_channel();
        let (output_tx, output) = mpsc::channel(OUTPUT_CHANNEL);
        let (control_tx, control) = mpsc::channel(CONTROL_CHANNEL);
        let (events_tx, events) = mpsc::unbounded_channel();
        let mut tick = tokio::time::interval(tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let inbox = Inbox {
            samples,
            exits,
            feedback,
            output,
            control,
            events,
            tick,
            sigterm: signal(SignalKind::terminate()).context("installing SIGTERM handler")?,
            sigint: signal(SignalKind::interrupt()).context("installing SIGINT handler")?,
        };
        let senders = Senders {
            samples: samples_tx,
            exits: exits_tx,
            feedback: feedback_tx,
            output: output_tx,
            control: control_tx,
            events: events_tx,
        };
        Ok((inbox, senders))
    }

    /// The most urgent thing waiting (see the module doc for the order).
    pub async fn next(&mut self) -> Inbound {
        tokio::select! {
            biased;
            Some(msg) = self.samples.recv() => Inbound::Sampled(msg),
            Some(exit) = self.exits.recv() => Inbound::Exited(exit),
            Some(fb) = self.feedback.recv() => Inbound::Feedback(fb),
            Some(line) = self.output.recv() => Inbound::Output(line),
            Some(req) = self.control.recv() => Inbound::Control(req),
            Some(event) = self.events.recv() => Inbound::Event(event),
            _ = self.tick.tick() => Inbound::Tick,
            _ = self.sigterm.recv() => Inbound::Stop("SIGTERM"),
            _ = self.sigint.recv() => Inbound::Stop("SIGINT"),
        }
    }

    /// The core ran its tick's work on its own (after a sample): the timer is pushed two
    /// periods out, so while samples come at the tick's rate or faster it never fires (nor
    /// wakes the runtime to move it between the timer wheel's levels); if samples stop, it
    /// takes over within two periods.
    pub fn tick_ran(&mut self) {
        let period = self.tick.period();
        self.tick.reset_at(tokio::time::Instant::now() + 2 * period);
    }

    /// Runs the tick every `period` from now on (the core's pace: 100 ms while anything has a
    /// deadline, the idle rate otherwise); a period already in force changes nothing.
    pub fn set_tick(&mut self, period: Duration) {
        if self.tick.period() == period {
            return;
        }
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.tick = tick;
    }

    /// Waits for a second stop signal (during shutdown: exit at once).
    pub async fn second_signal(&mut self) {
        tokio::select! {
            _ = self.sigterm.recv() => {}
            _ = self.sigint.recv() => {}
        }
    }
}
