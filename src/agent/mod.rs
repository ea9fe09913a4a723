//! The agent (`jetgate agent`): the composition root that wires sources, the engine and the
//! I/O layer together, and the pure engine it drives.

pub mod daemon;
pub mod engine;
pub mod executor;
pub mod launch;
pub mod pending;
pub mod sampling;
