//! Integration tests, compiled into one binary: real processes, real files, fixture trees of
//! real Jetsons, and a real Mosquitto broker. Each concern is one module below.

/// A missing prerequisite: a skip here, a failure under `CI` (`crate::prerequisite::missing`).
use jetgate::prerequisite;

mod architecture;
mod backstop;
mod broker;
mod clock;
mod containers;
mod control;
mod control_flood;
mod control_reach;
mod escape;
mod estimate;
mod figures_fit;
mod first_hour;
mod fixtures;
mod fleet;
mod footprint;
mod gate;
mod gpu;
mod gpu_fail;
mod harness;
mod homeassistant;
mod idle_wake;
mod llama;
mod metrics;
mod mqtt;
mod mqtt5;
mod mqtt_acl;
mod mqtt_auth;
mod mqtt_command_limits;
mod mqtt_commands;
mod mqtt_reconnect;
mod ready_timeout;
mod real_servers;
mod restart_after_crash;
mod sim_model;
mod start_checks;
mod store;
mod store_faults;
mod store_full;
mod supervise;
mod systemd;
mod top;
mod untrusted_text;
mod watch;
mod yocto;
