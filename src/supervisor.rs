//! Supervision decisions as pure code (issue 4 builds the I/O around them): the restart policy
//! (backoff with full jitter, crash-loop cap) and leak trends (Theil–Sen slope and verdict).

pub mod policy;
pub mod trend;
