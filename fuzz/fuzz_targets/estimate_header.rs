//! Fuzz target: the model-header parsers behind `memory = "auto"` on arbitrary bytes never
//! panic or allocate past the input: a GGUF header (and, when it reads, the llama.cpp figures
//! from it) and an ONNX model's weights, each read from the same bytes.
#![no_main]

use std::collections::BTreeMap;
use std::io::Cursor;

use jetgate::estimate::{args, gguf, llama, onnx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    if let Ok(header) = gguf::read_header(Cursor::new(data), len) {
        if let Ok(server) = args::parse(&[], &BTreeMap::new()) {
            let _ = llama::estimate(&header, &server);
        }
    }
    let _ = onnx::read_weights(Cursor::new(data), len);
});
