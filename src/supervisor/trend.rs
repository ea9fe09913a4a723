//! Leak trends (being written).
