//! The file dispatch: GGUF by its magic, ONNX, TensorRT and anything else by extension, with
//! the stated allowances; and the correction by what earlier loads taught.

use std::collections::BTreeMap;

use super::super::{
    corrected, estimate_file, scaled, Basis, EstimateError, Format, ONNX_ALLOWANCE, OTHER_FACTOR,
    TENSORRT_WORKSPACE,
};
use super::{llama, pb};
use crate::units::Bytes;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8], len: u64) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len)
        .unwrap();
    path
}

fn none() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn a_gguf_file_is_recognised_by_its_magic_whatever_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, len) = llama().build();
    let path = write(&dir, "model.bin", &bytes, len);
    let args = vec!["-c".to_string(), "512".to_string()];
    let e = estimate_file(&path, &args, &none()).unwrap();
    assert_eq!(e.format, Format::Gguf);
    let Basis::Gguf(b) = &e.basis else {
        panic!("{:?}", e.basis)
    };
    assert_eq!(b.ctx.value, 512);
    assert!(e.to_string().starts_with("gguf "), "{e}");
    assert!(
        e.basis.to_string().contains("ctx 512 from -c"),
        "{}",
        e.basis
    );
}

#[test]
fn a_truncated_gguf_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = llama().build();
    let path = write(
        &dir,
        "cut.gguf",
        &bytes[..bytes.len() / 2],
        (bytes.len() / 2) as u64,
    );
    let err = estimate_file(&path, &[], &none()).unwrap_err();
    assert!(matches!(err, EstimateError::Gguf { .. }), "{err}");
    assert!(err.to_string().contains("cut.gguf"), "{err}");
}

#[test]
fn onnx_tensorrt_and_other_files_get_their_stated_allowances() {
    let dir = tempfile::tempdir().unwrap();
    let raw = vec![0u8; 48];
    let graph = pb::bytes(5, &pb::tensor("w", &[3, 4], 1, &pb::bytes(9, &raw)));
    let model = pb::model(&graph);
    let path = write(&dir, "m.onnx", &model, model.len() as u64);
    let e = estimate_file(&path, &[], &none()).unwrap();
    assert_eq!(e.format, Format::Onnx);
    assert_eq!(e.parts.weights, Bytes(48));
    assert_eq!(e.parts.allowance, ONNX_ALLOWANCE + Bytes(12));

    let path = write(&dir, "m.engine", b"", 1 << 20);
    let e = estimate_file(&path, &[], &none()).unwrap();
    assert_eq!(e.format, Format::TensorRt);
    assert_eq!(e.total, Bytes(1 << 20) + TENSORRT_WORKSPACE);
    let path = write(&dir, "m.PLAN", b"", 10);
    assert_eq!(
        estimate_file(&path, &[], &none()).unwrap().format,
        Format::TensorRt
    );

    let path = write(&dir, "weights.safetensors", b"", 1000);
    let e = estimate_file(&path, &[], &none()).unwrap();
    assert_eq!(e.format, Format::Other);
    assert_eq!(e.total, scaled(Bytes(1000), OTHER_FACTOR));
    assert_eq!(e.total, Bytes(1500));

    let missing = dir.path().join("absent.gguf");
    let err = estimate_file(&missing, &[], &none()).unwrap_err();
    assert!(err.to_string().contains("absent.gguf"), "{err}");
}

#[test]
fn a_bad_command_line_is_an_error_for_a_gguf_model() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, len) = llama().build();
    let path = write(&dir, "m.gguf", &bytes, len);
    let err = estimate_file(&path, &["-c".into(), "x".into()], &none()).unwrap_err();
    assert!(matches!(err, EstimateError::Args(_)), "{err}");
}

#[test]
fn the_learned_ratio_scales_the_next_estimate() {
    assert_eq!(corrected(Bytes(1000), None), Bytes(1000));
    assert_eq!(corrected(Bytes(1000), Some(1.25)), Bytes(1250));
    assert_eq!(corrected(Bytes(1000), Some(0.8)), Bytes(800));
    // A ratio that is not a positive number changes nothing.
    for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(corrected(Bytes(1000), Some(r)), Bytes(1000), "{r}");
    }
    assert_eq!(scaled(Bytes(u64::MAX), 2.0), Bytes(u64::MAX));
}
