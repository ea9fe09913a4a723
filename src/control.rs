//! The local control socket: the protocol, the agent's server and the CLI's client.
//!
//! Newline-delimited JSON over a Unix stream socket (default `/run/jetgate/control.sock`, mode
//! 0600, or 0660 with `control.group`). See [`protocol`] for the wire format.

pub mod client;
pub mod protocol;
pub mod server;
mod unique_keys;

pub use protocol::{Cmd, ErrorCode, Request, Response};
pub use server::ControlRequest;
