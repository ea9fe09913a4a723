//! Fuzz target: the MQTT command decoder (`cmd/request` payloads) and the control-socket
//! request decoder never panic on arbitrary bytes; a command the MQTT decoder accepts names
//! only a configured target, and decoding is deterministic.
#![no_main]

use std::collections::BTreeSet;

use jetgate::control::protocol::decode_request;
use jetgate::mqtt::command::{decode, Action};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let targets: BTreeSet<String> = ["llm", "det"].iter().map(|s| s.to_string()).collect();
    let first = decode(data, &targets);
    if let Ok(command) = &first {
        match &command.action {
            Action::Load { target } | Action::Unload { target } | Action::Restart { target } => {
                assert!(targets.contains(target), "accepted an unconfigured target");
            }
            Action::Status | Action::Note { .. } => {}
        }
    }
    assert_eq!(first, decode(data, &targets), "decoding must be deterministic");
    let _ = decode_request(data);
});
