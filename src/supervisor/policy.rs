//! Restart policy (being written).
