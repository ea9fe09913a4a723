//! Readiness and liveness probes.
