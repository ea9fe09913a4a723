//! ONNX weights: initializers sized by dims and type, raw data, external data, sparse
//! initializers, constants and subgraphs; broken protobuf refused with where it broke.

use std::io::Cursor;

use super::super::onnx::{read_weights, OnnxError, Weights, MAX_DEPTH};
use super::pb;

fn read(bytes: &[u8]) -> Result<Weights, OnnxError> {
    read_weights(Cursor::new(bytes.to_vec()), bytes.len() as u64)
}

#[test]
fn initializers_are_sized_by_their_dims_and_type() {
    let mut graph = Vec::new();
    // float [3, 4] with raw_data: 48 bytes.
    graph.extend(pb::bytes(
        5,
        &pb::tensor("a", &[3, 4], 1, &pb::bytes(9, &[0; 48])),
    ));
    // int64 [10] as int64_data (packed varints): 80 bytes.
    graph.extend(pb::bytes(
        5,
        &pb::tensor("b", &[10], 7, &pb::bytes(7, &[1; 10])),
    ));
    // float16 [1000, 1000] stored externally: 2 000 000 bytes.
    let mut ext = pb::bytes(
        13,
        &[pb::bytes(1, b"location"), pb::bytes(2, b"w.bin")].concat(),
    );
    ext.extend(pb::bytes(
        13,
        &[pb::bytes(1, b"length"), pb::bytes(2, b"2000000")].concat(),
    ));
    ext.extend(pb::int(14, 1));
    graph.extend(pb::bytes(5, &pb::tensor("c", &[1000, 1000], 10, &ext)));
    // int4 [5]: 3 bytes; a scalar bool: 1 byte; a string tensor: its strings' bytes.
    graph.extend(pb::bytes(5, &pb::tensor("d", &[5], 22, &[])));
    graph.extend(pb::bytes(5, &pb::tensor("e", &[], 9, &[])));
    let strings = [pb::bytes(6, b"hello"), pb::bytes(6, b"jetson")].concat();
    graph.extend(pb::bytes(5, &pb::tensor("f", &[2], 8, &strings)));
    // Fields the parser skips: a name, an input, doc strings, a fixed32 and a fixed64.
    graph.extend(pb::bytes(2, b"main"));
    graph.extend(pb::bytes(11, b"\x0a\x01x"));
    graph.extend([0x1d, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0, 0]);
    let w = read(&pb::model(&graph)).unwrap();
    assert_eq!(w.tensors, 6);
    assert_eq!(w.bytes, 48 + 80 + 2_000_000 + 3 + 1 + 11);
    assert_eq!(w.external_bytes, 2_000_000);
}

#[test]
fn raw_data_or_an_external_length_larger_than_the_shape_counts() {
    let graph = pb::bytes(5, &pb::tensor("a", &[2], 1, &pb::bytes(9, &[0; 100])));
    assert_eq!(read(&pb::model(&graph)).unwrap().bytes, 100);
}

#[test]
fn sparse_initializers_constants_and_subgraphs_are_counted() {
    let values = pb::tensor("v", &[4], 1, &[]);
    let indices = pb::tensor("i", &[4], 7, &[]);
    let sparse = [pb::bytes(1, &values), pb::bytes(2, &indices)].concat();
    let mut graph = pb::bytes(15, &sparse);
    // A Constant node's value, and an If node whose branch holds an initializer.
    let constant = pb::bytes(
        5,
        &[
            pb::bytes(1, b"value"),
            pb::bytes(5, &pb::tensor("k", &[8], 1, &[])),
        ]
        .concat(),
    );
    graph.extend(pb::bytes(
        1,
        &[pb::bytes(4, b"Constant"), constant].concat(),
    ));
    let branch = pb::bytes(5, &pb::tensor("b", &[16], 2, &[]));
    let attr = pb::bytes(
        5,
        &[pb::bytes(1, b"then_branch"), pb::bytes(6, &branch)].concat(),
    );
    graph.extend(pb::bytes(1, &[pb::bytes(4, b"If"), attr].concat()));
    let w = read(&pb::model(&graph)).unwrap();
    assert_eq!(w.tensors, 4);
    assert_eq!(w.bytes, 16 + 32 + 32 + 16);
}

#[test]
fn graphs_nested_too_deep_are_refused() {
    let mut g = pb::bytes(5, &pb::tensor("x", &[1], 1, &[]));
    for _ in 0..=MAX_DEPTH + 1 {
        let attr = pb::bytes(5, &[pb::bytes(1, b"body"), pb::bytes(6, &g)].concat());
        g = pb::bytes(1, &attr);
    }
    assert!(matches!(read(&pb::model(&g)), Err(OnnxError::Depth)));
}

#[test]
fn unknown_types_bad_shapes_and_broken_framing_are_refused() {
    let graph = pb::bytes(5, &pb::tensor("odd", &[2], 99, &[]));
    let err = read(&pb::model(&graph)).unwrap_err();
    assert!(
        matches!(&err, OnnxError::DataType { tensor, ty: 99 } if tensor == "odd"),
        "{err}"
    );
    let graph = pb::bytes(5, &pb::tensor("neg", &[-1, 4], 1, &[]));
    assert!(matches!(
        read(&pb::model(&graph)),
        Err(OnnxError::Shape { .. })
    ));
    let big = i64::MAX;
    let graph = pb::bytes(5, &pb::tensor("huge", &[big, big], 1, &[]));
    assert!(matches!(
        read(&pb::model(&graph)),
        Err(OnnxError::Shape { .. })
    ));
    // A tensor whose length runs past the end of its graph.
    let tensor = pb::tensor("a", &[1], 1, &[]);
    let mut graph = pb::varint(5 << 3 | 2);
    graph.extend(pb::varint(tensor.len() as u64 + 5));
    graph.extend(tensor);
    let err = read(&pb::model(&graph)).unwrap_err();
    assert!(matches!(err, OnnxError::PastMessage { .. }), "{err}");
    let mut cut = pb::model(&pb::bytes(
        5,
        &pb::tensor("a", &[1], 1, &pb::bytes(9, &[0; 64])),
    ));
    cut.truncate(cut.len() - 10);
    let err = read(&cut).unwrap_err();
    assert!(
        matches!(err, OnnxError::PastMessage { .. } | OnnxError::Read(_)),
        "{err}"
    );
    // A group wire type, and an endless varint.
    assert!(matches!(
        read(&[0x0b]),
        Err(OnnxError::WireType { wire: 3, .. })
    ));
    let endless = [[0x08].as_slice(), &[0xff; 11]].concat();
    assert!(matches!(read(&endless), Err(OnnxError::Varint(1))));
    // No graph at all.
    assert!(matches!(read(&pb::int(1, 8)), Err(OnnxError::NoGraph)));
}
