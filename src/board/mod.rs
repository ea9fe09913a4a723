//! Jetson board profiles and their detection (work in progress).
