//! Integration tests, compiled into one binary: real processes, real files, fixture trees of
//! real Jetsons, and (later) a real Mosquitto broker. Each concern is one module below.

mod sim_model;
mod store;
