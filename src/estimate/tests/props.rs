//! Corrupted headers: whatever bytes a file holds, reading its header ends in an estimate or a
//! clear error, never a panic, a hang or an allocation the file cannot account for.

use std::collections::BTreeMap;
use std::io::Cursor;

use proptest::prelude::*;

use super::super::args::parse;
use super::super::gguf::read_header;
use super::super::llama::estimate;
use super::super::onnx::read_weights;
use super::{llama, pb};

fn gguf(bytes: &[u8], len: u64) {
    if let Ok(h) = read_header(Cursor::new(bytes.to_vec()), len) {
        let args = parse(&[], &BTreeMap::new()).unwrap();
        let _ = estimate(&h, &args);
    }
}

fn onnx_model() -> Vec<u8> {
    let mut graph = pb::bytes(5, &pb::tensor("a", &[3, 4], 1, &pb::bytes(9, &[0; 48])));
    let attr = pb::bytes(
        5,
        &[
            pb::bytes(1, b"value"),
            pb::bytes(5, &pb::tensor("k", &[8], 1, &[])),
        ]
        .concat(),
    );
    graph.extend(pb::bytes(1, &[pb::bytes(4, b"Constant"), attr].concat()));
    pb::model(&graph)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn corrupted_gguf_headers_are_read_or_refused(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (mut bytes, len) = llama().build();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            let n = cut.index(bytes.len());
            bytes.truncate(n);
            gguf(&bytes, n as u64);
        } else {
            gguf(&bytes, len);
        }
    }

    #[test]
    fn counts_and_lengths_set_to_extremes_are_refused(
        at in any::<prop::sample::Index>(),
        value in prop_oneof![Just(u64::MAX), Just(u64::MAX / 2), Just(1u64 << 40), Just(0u64), any::<u64>()],
    ) {
        let (mut bytes, len) = llama().build();
        // Overwrite an 8-byte-aligned word: counts, lengths, dims and offsets are u64s.
        let i = at.index(bytes.len() / 8) * 8;
        let end = (i + 8).min(bytes.len());
        bytes[i..end].copy_from_slice(&value.to_le_bytes()[..end - i]);
        gguf(&bytes, len);
    }

    #[test]
    fn arbitrary_bytes_after_the_magic_never_panic(tail in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = b"GGUF\x03\0\0\0".to_vec();
        bytes.extend(tail);
        let len = bytes.len() as u64;
        gguf(&bytes, len);
    }

    #[test]
    fn corrupted_onnx_models_are_read_or_refused(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = onnx_model();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1).max(1));
        let len = bytes.len() as u64;
        let _ = read_weights(Cursor::new(bytes), len);
    }
}

#[test]
fn the_corruption_tests_can_tell_a_broken_header() {
    // The properties above only promise no panic; this checks that corruption is noticed at
    // all, so they are not passing over a parser that accepts anything.
    let (mut bytes, len) = llama().build();
    bytes[9] = 0xff; // the tensor count's second byte: 5 + 65280 tensors
    assert!(read_header(Cursor::new(bytes), len).is_err());
}
