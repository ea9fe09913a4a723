//! Integration tests, compiled into one binary: real processes, real files, fixture trees of
//! real Jetsons, and (later) a real Mosquitto broker. Each concern is one module below.

mod control;
mod fixtures;
mod footprint;
mod gate;
mod harness;
mod sim_model;
mod store;
mod yocto;
