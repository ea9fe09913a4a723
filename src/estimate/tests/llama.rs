//! llama.cpp's figures: the KV cache and compute buffer against hand-computed values and
//! against the buffer sizes the vendored llama-server logged for the same shapes and flags.

use std::collections::BTreeMap;

use super::super::args::parse;
use super::super::llama::{estimate, ModelError, RUNTIME_BASE, RUNTIME_PER_TOKEN};
use super::super::{Basis, Format};
use super::{llama, GgufWriter};
use crate::units::Bytes;

fn args(line: &str) -> super::super::ServerArgs {
    let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
    parse(&argv, &BTreeMap::new()).unwrap()
}

fn basis(e: &super::super::Estimate) -> &super::super::LlamaBasis {
    match &e.basis {
        Basis::Gguf(b) => b,
        other => panic!("not a GGUF basis: {other:?}"),
    }
}

#[test]
fn the_kv_cache_follows_the_context_from_the_model_by_default() {
    let h = llama().read().unwrap();
    let e = estimate(&h, &args("")).unwrap();
    let b = basis(&e);
    assert_eq!(
        (b.ctx.value, b.ctx.from.as_str()),
        (1024, "llama.context_length")
    );
    assert_eq!((b.cells, b.slots.value, b.unified), (1024, 4, true));
    // 2 layers × (K 2 heads × 16 + V 2 × 16) × f16 × 1024 cells.
    assert_eq!(e.parts.kv_cache.get(), 2 * (32 * 2 + 32 * 2) * 1024);
    assert_eq!(e.format, Format::Gguf);
    assert_eq!(e.parts.weights, h.tensor_bytes);
    assert_eq!(e.total, e.parts.total());
}

#[test]
fn the_context_is_padded_to_256_and_split_per_slot_without_a_unified_cache() {
    let h = llama().read().unwrap();
    let e = estimate(&h, &args("-c 1000")).unwrap();
    assert_eq!((basis(&e).cells, basis(&e).ctx.from.as_str()), (1024, "-c"));
    // -np 3: each slot pad256(1024 / 3) = 512 cells, 3 streams.
    let e = estimate(&h, &args("--ctx-size 1024 -np 3")).unwrap();
    assert_eq!((basis(&e).cells, basis(&e).unified), (1536, false));
    assert_eq!(e.parts.kv_cache.get(), 2 * 128 * 1536);
    // ... unless it is unified again.
    let e = estimate(&h, &args("-c 1024 -np 3 -kvu")).unwrap();
    assert_eq!(basis(&e).cells, 1024);
    // -np -1 is llama-server's auto: 4 slots, unified.
    let e = estimate(&h, &args("-c 1024 -np -1")).unwrap();
    assert_eq!(
        (basis(&e).cells, basis(&e).slots.value, basis(&e).unified),
        (1024, 4, true)
    );
    // --kv-unified-per-slot sizes the pool when -c is absent.
    let e = estimate(&h, &args("--kv-unified-per-slot 300")).unwrap();
    assert_eq!((basis(&e).ctx.value, basis(&e).cells), (1200, 1280));
}

#[test]
fn quantized_cache_types_shrink_the_cache_and_force_flash_attention() {
    let h = llama().read().unwrap();
    let e = estimate(&h, &args("-ctk q8_0 -ctv q8_0 -fa off")).unwrap();
    assert_eq!(e.parts.kv_cache.get(), 2 * (34 + 34) * 1024);
    assert!(basis(&e).flash_attn);
    assert_eq!(basis(&e).cache_type_k.value.name, "q8_0");
    let e = estimate(&h, &args("-ctk q4_0")).unwrap();
    assert_eq!(e.parts.kv_cache.get(), 2 * (18 + 64) * 1024);
}

#[test]
fn the_compute_buffer_is_the_ffn_peak_plus_the_mask_and_the_output_buffer() {
    let h = llama().read().unwrap();
    let e = estimate(&h, &args("")).unwrap();
    // T = 512: ffn 4·512·(4·64 + 3·128), mask 2·1024·512, output 4·100·4.
    let ffn = 4 * 512 * (4 * 64 + 3 * 128);
    assert_eq!(e.parts.compute.get(), ffn + 2 * 1024 * 512 + 4 * 100 * 4);
    // Without flash attention the f32 scores (n_kv × T × n_head) and an f32 mask.
    let e = estimate(&h, &args("-fa off")).unwrap();
    let attn = 4 * 512 * (5 * 64 + 2 * 32) + 4 * 1024 * 512 * 4;
    assert_eq!(e.parts.compute.get(), attn + 4 * 1024 * 512 + 4 * 100 * 4);
    // A context under the ubatch bounds the batch: T = 300.
    let e = estimate(&h, &args("-c 300")).unwrap();
    assert_eq!(basis(&e).ubatch, 300);
}

#[test]
fn the_allowance_grows_with_the_vocabulary() {
    let h = llama().read().unwrap();
    let e = estimate(&h, &args("")).unwrap();
    assert_eq!(
        e.parts.allowance.get(),
        RUNTIME_BASE.get() + 100 * RUNTIME_PER_TOKEN
    );
}

/// A 2-layer llama of this shape with no tensors (only the figures matter here).
fn shape(embd: u32, ff: u32, heads: u32, kv_heads: u32, vocab: u32) -> GgufWriter {
    GgufWriter::new()
        .str("general.architecture", "llama")
        .u32("llama.context_length", 8192)
        .u32("llama.block_count", 2)
        .u32("llama.embedding_length", embd)
        .u32("llama.feed_forward_length", ff)
        .u32("llama.attention.head_count", heads)
        .u32("llama.attention.head_count_kv", kv_heads)
        .u32("llama.vocab_size", vocab)
}

/// A model's shape (embd, ff, heads, KV heads, vocab), the flags, the logged KV MiB and the
/// logged compute + output MiB.
type Run = ((u32, u32, u32, u32, u32), &'static str, f64, f64);

#[test]
fn kv_and_compute_match_what_the_vendored_llama_server_logged() {
    // (embd, ff, heads, kv heads, vocab), flags, logged KV MiB, logged compute + output MiB.
    #[rustfmt::skip]
    let runs: [Run; 24] = [
        ((256, 704, 4, 4, 8000), "-c 2048", 4.0, 8.14 + 0.12),
        ((256, 704, 4, 4, 8000), "-c 8192", 16.0, 14.14 + 0.12),
        ((256, 704, 4, 4, 8000), "-c 8192 -fa off", 16.0, 83.51 + 0.12),
        ((512, 1408, 8, 8, 32000), "-c 2048", 8.0, 14.26 + 0.49),
        ((512, 1408, 8, 8, 32000), "-c 8192", 32.0, 20.26 + 0.49),
        ((512, 1408, 8, 8, 32000), "-c 4096 -fa off", 16.0, 79.01 + 0.49),
        ((1024, 2816, 16, 4, 32000), "-c 2048", 4.0, 26.51 + 0.49),
        ((1024, 2816, 16, 4, 32000), "-c 8192", 16.0, 32.51 + 0.49),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -np 1", 8.0, 28.51 + 0.12),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -np 3", 9.0, 26.06 + 0.37),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -np 3 -kvu", 8.0, 28.57 + 0.37),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -ub 256", 8.0, 14.26 + 0.49),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -ub 1024 -b 1024", 8.0, 57.02 + 0.49),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -fa off", 8.0, 147.01 + 0.49),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -fa off -np 2", 8.0, 79.01 + 0.24),
        ((1024, 2816, 16, 4, 32000), "-c 300", 1.0, 14.66 + 0.49),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -b 256", 8.0, 14.26 + 0.49),
        ((1024, 2816, 16, 4, 32000), "-c 4096 -ctk q8_0 -ctv q8_0", 4.25, 26.54 + 0.49),
        ((2048, 5632, 16, 16, 32000), "-c 2048", 32.0, 51.01 + 0.49),
        ((2048, 5632, 16, 16, 32000), "-c 8192", 128.0, 57.01 + 0.49),
        ((2048, 5632, 16, 16, 32000), "-c 2048 -fa off", 32.0, 96.01 + 0.49),
        ((1024, 4096, 8, 2, 128000), "-c 2048", 4.0, 34.01 + 1.95),
        ((768, 3072, 12, 12, 50000), "-c 2048", 12.0, 26.01 + 0.76),
        ((768, 3072, 12, 12, 50000), "", 48.0, 32.01 + 0.76),
    ];
    for ((embd, ff, heads, kv_heads, vocab), flags, kv, compute) in runs {
        let h = shape(embd, ff, heads, kv_heads, vocab).read().unwrap();
        let e = estimate(&h, &args(flags)).unwrap();
        let got_kv = e.parts.kv_cache.as_mib_f64();
        let got = e.parts.compute.as_mib_f64();
        assert!(
            (got_kv - kv).abs() < 0.001,
            "{embd}/{ff} {flags}: kv {got_kv} vs {kv}"
        );
        // The q8_0 cache's buffer came out 2 MiB under the f16 one's; the estimate keeps the
        // larger figure.
        let slack = if flags.contains("q8_0") { 2.6 } else { 0.1 };
        assert!(
            (got - compute).abs() <= compute * 0.003 + slack,
            "{embd}/{ff}/{heads}/{kv_heads} {flags:?}: compute {got:.2} MiB, logged {compute:.2} MiB"
        );
    }
}

#[test]
fn a_small_ffn_is_bounded_from_above_by_the_attention_phase() {
    for (kv_heads, logged) in [(4, 14.01 + 0.49), (16, 16.01 + 0.49)] {
        let h = shape(1024, 256, 16, kv_heads, 32000).read().unwrap();
        let got = estimate(&h, &args("-c 4096"))
            .unwrap()
            .parts
            .compute
            .as_mib_f64();
        assert!(
            got >= logged && got <= logged * 1.15,
            "{kv_heads}: {got} vs {logged}"
        );
    }
}

#[test]
fn per_layer_head_counts_are_summed_layer_by_layer() {
    let h = shape(64, 128, 4, 2, 10)
        .i32s("llama.attention.head_count_kv", &[1, 4])
        .read()
        .unwrap();
    let e = estimate(&h, &args("-c 256")).unwrap();
    // Layer 0: 1 KV head of 16, layer 1: 4; K and V f16; 256 cells.
    assert_eq!(e.parts.kv_cache.get(), (16 * 2 * 2 + 64 * 2 * 2) * 256);
    let err = estimate(
        &shape(64, 128, 4, 2, 10)
            .i32s("llama.attention.head_count_kv", &[1, 2, 3])
            .read()
            .unwrap(),
        &args(""),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::PerLayer {
                got: 3,
                layers: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_header_without_the_needed_figures_says_which_is_missing() {
    let err = estimate(&GgufWriter::new().read().unwrap(), &args("")).unwrap_err();
    assert_eq!(err, ModelError::NoArchitecture);
    let h = GgufWriter::new()
        .str("general.architecture", "mamba")
        .u32("mamba.block_count", 2)
        .u32("mamba.embedding_length", 64)
        .u32("mamba.feed_forward_length", 0)
        .read()
        .unwrap();
    let err = estimate(&h, &args("")).unwrap_err();
    assert_eq!(
        err,
        ModelError::Missing("mamba.attention.head_count".into())
    );
    let h = shape(64, 128, 4, 2, 10)
        .u32("llama.context_length", 0)
        .read()
        .unwrap();
    assert!(matches!(
        estimate(&h, &args("")),
        Err(ModelError::NoContext(_))
    ));
    assert!(estimate(&h, &args("-c 512")).is_ok());
    assert_eq!(
        estimate(&h, &args("-c 512 -np 0")),
        Err(ModelError::Slots(0))
    );
}

#[test]
fn hostile_figures_overflow_into_an_error_not_a_panic() {
    let h = shape(u32::MAX, u32::MAX, 1, 1, u32::MAX)
        .raw("llama.attention.key_length", 10, &u64::MAX.to_le_bytes())
        .raw("llama.context_length", 10, &(u64::MAX / 2).to_le_bytes())
        .read()
        .unwrap();
    assert_eq!(estimate(&h, &args("")), Err(ModelError::Overflow));
    assert!(Bytes(u64::MAX).as_mib_f64() > 0.0);
}
