//! [`LinkStats`]: the link's state as the metrics endpoint shows it. The link task is its one
//! owner and publishes it on a watch channel after each turn of its loop (only when a figure
//! changed); readers take the latest copy and never wait on the link.

/// The link's figures since the agent started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// A connection is up (ConnAck received, not yet lost).
    pub connected: bool,
    /// The current session number (raised at every connection attempt after a loss).
    pub session: u64,
    /// Events stored after the acknowledged cursor, by seq: what still waits to be
    /// acknowledged by the broker (an upper bound where drops or retention left gaps).
    pub outbox_events: u64,
    /// Events published and not yet acknowledged.
    pub in_flight: u64,
    /// Unsent events dropped by the outbox limit since start.
    pub dropped_events: u64,
    /// Connections made since start.
    pub connections: u64,
    /// Connection attempts that failed since start.
    pub failed_attempts: u64,
}
