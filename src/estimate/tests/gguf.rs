//! The GGUF header: tensor bytes for every ggml type, the metadata kept, and each kind of
//! broken header refused with what is wrong.

use std::io::Cursor;

use super::super::ggml::{self, TYPES};
use super::super::gguf::{read_header, GgufError, Meta};
use super::{llama, string, GgufWriter};

#[test]
fn tensor_bytes_are_the_sum_of_each_tensors_blocks() {
    let h = llama().read().unwrap();
    assert_eq!(h.version, 3);
    assert_eq!(h.tensors, 5);
    let expected = 64 * 100 * 2 + 2 * (64 * 64 * 2 + 64 * 4);
    assert_eq!(h.tensor_bytes.get(), expected);
    assert_eq!(h.architecture(), Some("llama"));
    assert_eq!(h.uint("llama.block_count"), Some(2));
    assert_eq!(h.data_offset % 32, 0);
}

#[test]
fn every_ggml_type_is_sized_by_its_blocks() {
    // 256 values per row (a whole block of every type), 3 rows.
    for t in TYPES {
        let w = GgufWriter::new().tensor("x", &[256, 3], t.id, 256 / t.block * t.size * 3);
        let h = w.read().unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(
            h.tensor_bytes.get(),
            256 / t.block * t.size * 3,
            "{}",
            t.name
        );
    }
    // Spot checks against ggml's block structs.
    let q4_k = ggml::by_name("q4_K").unwrap();
    assert_eq!((q4_k.block, q4_k.size), (256, 144));
    let q8_0 = ggml::by_name("q8_0").unwrap();
    assert_eq!(q8_0.row_bytes(4096), Some(4096 / 32 * 34));
    assert_eq!(ggml::by_name("iq4_xs").unwrap().size, 136);
    assert_eq!(ggml::by_name("q6_K").unwrap().size, 210);
}

#[test]
fn an_unknown_tensor_type_is_an_error_not_a_guess() {
    for id in [4, 5, 31, 36, 43, 1000] {
        let err = GgufWriter::new()
            .tensor("blk.0.ffn_up.weight", &[32], id, 64)
            .read()
            .unwrap_err();
        assert!(
            matches!(&err, GgufError::TensorType { tensor, id: got } if tensor == "blk.0.ffn_up.weight" && *got == id),
            "{err}"
        );
        assert!(err.to_string().contains("no estimate"), "{err}");
    }
}

#[test]
fn every_metadata_value_type_is_read_or_skipped() {
    let w = GgufWriter::new()
        .raw("a.u8", 0, &[7])
        .raw("a.i8", 1, &[0xff])
        .raw("a.u16", 2, &[1, 0])
        .raw("a.i16", 3, &[0xfe, 0xff])
        .raw("a.i32", 5, &(-3i32).to_le_bytes())
        .raw("a.f32", 6, &1.5f32.to_le_bytes())
        .raw("a.bool", 7, &[1])
        .raw("a.u64", 10, &u64::MAX.to_le_bytes())
        .raw("a.i64", 11, &(-9i64).to_le_bytes())
        .raw("a.f64", 12, &2.5f64.to_le_bytes())
        .raw("x.block_count", 10, &40u64.to_le_bytes())
        .raw("x.context_length", 1, &[5])
        .raw("x.attention.head_count", 12, &2.0f64.to_le_bytes())
        .i32s("x.attention.head_count_kv", &[1, 2, 3])
        .raw("general.alignment", 4, &32u32.to_le_bytes())
        .strs("tokenizer.ggml.merges", &["a b".into(), "c d".into()])
        .raw(
            "f32s",
            9,
            &[6, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
    let h = w.read().unwrap();
    assert_eq!(h.uint("x.block_count"), Some(40));
    assert_eq!(h.get("x.context_length"), Some(&Meta::Int(5)));
    assert_eq!(h.get("x.attention.head_count"), Some(&Meta::Float(2.0)));
    assert_eq!(
        h.get("x.attention.head_count_kv"),
        Some(&Meta::Array {
            len: 3,
            ints: Some(vec![1, 2, 3])
        })
    );
    assert_eq!(
        h.get("tokenizer.ggml.merges"),
        Some(&Meta::Array { len: 2, ints: None })
    );
    // Keys nobody needs are not kept.
    assert_eq!(h.get("a.u8"), None);
    assert_eq!(h.get("f32s"), None);
}

#[test]
fn a_long_tokenizer_array_is_skipped_not_kept() {
    let tokens: Vec<String> = (0..20_000).map(|i| format!("token-{i}")).collect();
    let h = llama()
        .strs("tokenizer.ggml.scores", &tokens)
        .read()
        .unwrap();
    assert_eq!(
        h.get("tokenizer.ggml.tokens"),
        Some(&Meta::Array {
            len: 100,
            ints: None
        })
    );
}

#[test]
fn versions_other_than_2_and_3_and_other_magics_are_refused() {
    for v in [0, 1, 4] {
        let mut w = llama();
        w.version = v;
        assert!(matches!(w.read(), Err(GgufError::Version(got)) if got == v));
    }
    let mut w = llama();
    w.version = 2;
    assert!(w.read().is_ok());
    let (mut bytes, len) = llama().build();
    bytes[0] = b'X';
    let err = read_header(Cursor::new(bytes), len).unwrap_err();
    assert!(matches!(err, GgufError::Magic(_)), "{err}");
}

/// A header with `tensors` and `kvs` as its counts and nothing after them.
fn counts(tensors: u64, kvs: u64, len: u64) -> Result<(), GgufError> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&tensors.to_le_bytes());
    b.extend_from_slice(&kvs.to_le_bytes());
    read_header(Cursor::new(b), len).map(drop)
}

#[test]
fn counts_that_cannot_fit_in_the_file_are_refused_before_reading() {
    let err = counts(0, u64::MAX, 1 << 40).unwrap_err();
    assert!(
        matches!(
            err,
            GgufError::Count {
                what: "metadata entries",
                ..
            }
        ),
        "{err}"
    );
    let err = counts(u64::MAX / 2, 0, 1 << 40).unwrap_err();
    assert!(
        matches!(
            err,
            GgufError::Count {
                what: "tensors",
                ..
            }
        ),
        "{err}"
    );
    let err = counts(1000, 0, 100).unwrap_err();
    assert!(err.to_string().contains("cannot fit"), "{err}");
}

#[test]
fn lengths_past_the_end_of_the_file_are_refused() {
    // A string claiming 2^60 bytes.
    let err = GgufWriter::new()
        .raw("general.name", 8, &(1u64 << 60).to_le_bytes())
        .read()
        .unwrap_err();
    assert!(
        err.to_string().contains("past the end") || err.to_string().contains("ends at byte"),
        "{err}"
    );
    // An array of u64 whose byte count overflows.
    let mut v = 10u32.to_le_bytes().to_vec();
    v.extend_from_slice(&(u64::MAX / 4).to_le_bytes());
    let err = GgufWriter::new().raw("x", 9, &v).read().unwrap_err();
    assert!(
        matches!(err, GgufError::Count { .. } | GgufError::Read(_)),
        "{err}"
    );
    // A key longer than any real one.
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    bytes.extend_from_slice(&(1u64 << 20).to_le_bytes());
    let err = read_header(Cursor::new(bytes), 1 << 30).unwrap_err();
    assert!(matches!(err, GgufError::KeyLength(_)), "{err}");
}

#[test]
fn tensor_data_past_the_end_of_the_file_is_refused() {
    let (bytes, len) = llama().build();
    let err = read_header(Cursor::new(bytes), len - 1).unwrap_err();
    assert!(matches!(err, GgufError::DataPastEnd { .. }), "{err}");
    // The tensor whose data ends last names the problem.
    assert!(err.to_string().contains("blk.1.attn_norm.weight"), "{err}");
}

#[test]
fn overflowing_and_malformed_shapes_are_refused() {
    let big = 1u64 << 62;
    let err = GgufWriter::new()
        .tensor("huge", &[big, big], 0, 0)
        .read()
        .unwrap_err();
    assert!(matches!(err, GgufError::Shape { .. }), "{err}");
    let err = GgufWriter::new()
        .tensor("neg", &[u64::MAX], 0, 0)
        .read()
        .unwrap_err();
    assert!(matches!(err, GgufError::Shape { .. }), "{err}");
    let err = GgufWriter::new()
        .tensor("five", &[1, 1, 1, 1, 1], 0, 4)
        .read()
        .unwrap_err();
    assert!(matches!(err, GgufError::Dims { n: 5, .. }), "{err}");
    let err = GgufWriter::new()
        .tensor("q", &[33], 8, 34)
        .read()
        .unwrap_err();
    assert!(
        matches!(
            err,
            GgufError::Blocks {
                ne0: 33,
                block: 32,
                ..
            }
        ),
        "{err}"
    );
    // A name longer than ggml's 63 bytes.
    let err = GgufWriter::new()
        .tensor(&"n".repeat(64), &[1], 0, 4)
        .read()
        .unwrap_err();
    assert!(matches!(err, GgufError::NameLength(64)), "{err}");
}

#[test]
fn nested_arrays_and_unknown_value_types_are_refused() {
    let mut v = 9u32.to_le_bytes().to_vec();
    v.extend_from_slice(&1u64.to_le_bytes());
    let err = GgufWriter::new().raw("nest", 9, &v).read().unwrap_err();
    assert!(matches!(err, GgufError::NestedArray(_)), "{err}");
    let err = GgufWriter::new()
        .raw("odd", 13, &[0; 8])
        .read()
        .unwrap_err();
    assert!(matches!(err, GgufError::ValueType { ty: 13, .. }), "{err}");
}

#[test]
fn alignment_must_be_a_power_of_two_and_offsets_aligned() {
    let err = llama().u32("general.alignment", 48).read().unwrap_err();
    assert!(matches!(err, GgufError::Alignment(48)), "{err}");
    let h = GgufWriter::new()
        .u32("general.alignment", 64)
        .tensor("a", &[3], 0, 12)
        .tensor("b", &[3], 0, 12)
        .read()
        .unwrap();
    assert_eq!((h.alignment, h.data_offset % 64), (64, 0));
    // An offset off the alignment: hand-patch the second tensor's offset to 8.
    let (mut bytes, len) = GgufWriter::new()
        .tensor("a", &[3], 0, 12)
        .tensor("b", &[3], 0, 12)
        .build();
    let at = bytes.len() - 8;
    bytes[at..].copy_from_slice(&8u64.to_le_bytes());
    let err = read_header(Cursor::new(bytes), len).unwrap_err();
    assert!(
        matches!(err, GgufError::Misaligned { offset: 8, .. }),
        "{err}"
    );
}

#[test]
fn the_string_writer_matches_the_format() {
    assert_eq!(string("ab"), vec![2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
}
