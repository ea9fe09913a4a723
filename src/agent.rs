//! The agent (`jetgate agent`): the composition root that wires sources, the engine and the
//! I/O layer together, and the pure engine it drives.

pub mod clock_step;
pub mod daemon;
pub mod engine;
pub mod executor;
pub mod gpu_fail;
pub mod launch;
pub mod notify;
pub mod orphans;
pub mod pressure;
pub mod retention;
pub mod sampling;
pub mod settings;
pub mod source_watch;
pub mod tegrastats;
pub mod watch;

#[cfg(test)]
mod key_walk_tests;
