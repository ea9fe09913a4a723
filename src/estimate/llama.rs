//! What llama-server allocates for a GGUF model, from the header and the server's command line,
//! as the vendored llama.cpp (llama-cpp-python 0.3.36) does it on the CPU backend:
//!
//! ```text
//! n_ctx    = -c N, else the model's <arch>.context_length (llama.cpp's n_ctx 0 = "from model");
//!            --kv-unified-per-slot N without -c: slots × N
//! slots    = -np N, else 4 with a unified cache (llama-server's "auto")
//! cells    = pad256(n_ctx)                                    unified (the default without -np)
//!          = slots × pad256(pad256(n_ctx) / slots)            one stream per slot (-np N)
//! kv       = cells × Σ_layers [ row(type_k, key_length × head_count_kv)
//!                             + row(type_v, value_length × head_count_kv) ]    (f16 by default)
//! T        = min(pad256(n_ctx), ubatch, batch, n_ctx)           (the worst-case ubatch: 512)
//! n_kv     = cells / streams                                  (the KV the mask spans)
//! ffn      = 4 T (4 n_embd + 3 n_ff)
//! attn     = 4 T (5 n_embd + 2 n_embd_k_gqa)
//! compute  = max(ffn, attn) + 2 n_kv T                        flash attention (auto = on here)
//!          = max(ffn, attn + 4 n_kv T n_head) + 4 n_kv T      -fa off (f32 scores and mask)
//!          + 4 n_vocab slots                                  the output buffer (logits)
//! runtime  = 16 MiB + 192 B × n_vocab + 144 B × merges         (the allowance)
//! ```
//!
//! The KV cache is `llama_kv_cache`'s tensors (the padding and slot rounding are
//! `llama_context`'s). The compute buffer is what `sched_reserve` reserves for
//! the worst-case graph: ggml-alloc reuses memory across the graph, so its size is the peak of
//! tensors alive at once, here the FFN's gate, up and activation with the residual stream,
//! plus the attention mask (an input, alive for every layer); without flash attention the
//! attention scores `n_kv × T × n_head` f32 dominate. The factors were read from that graph and
//! checked against the `compute buffer size` (plus `output buffer size`) llama-server logs:
//! within 0.3 % for llama-style models, above it when n_ff is under 2 n_embd (the attention
//! phase is then the peak, and `attn` bounds it loosely); see docs/benchmarks.md, "Memory
//! estimates". The runtime allowance is what a CPU llama-server held beyond its buffers in the
//! same runs (binary, heap, vocabulary: 12 MiB more per 100 000 BPE merges).

use super::args::{FlashAttn, Given, ServerArgs};
use super::ggml::{self, GgmlType};
use super::gguf::{GgufHeader, Meta};
use super::{Basis, Estimate, Format, Parts};
use crate::units::Bytes;

/// llama.cpp pads the context (and each slot's share) to 256 cells.
const CTX_PAD: u64 = 256;
/// llama-server's default slots (`-np -1`, "auto"), with a unified cache.
pub const AUTO_SLOTS: u64 = 4;
/// llama.cpp's default `-b` and `-ub`.
const DEFAULT_BATCH: u64 = 2048;
const DEFAULT_UBATCH: u64 = 512;
/// The runtime allowance: a fixed part and one per vocabulary token and per BPE merge.
pub const RUNTIME_BASE: Bytes = Bytes::from_mib(16);
pub const RUNTIME_PER_TOKEN: u64 = 192;
pub const RUNTIME_PER_MERGE: u64 = 144;

/// Why a GGUF header cannot be sized as a llama.cpp model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the header has no `general.architecture`")]
    NoArchitecture,
    #[error("the header has no `{0}` (an unsigned integer): only attention models are estimated")]
    Missing(String),
    #[error("`{key}` has {got} values for {layers} layers")]
    PerLayer { key: String, got: u64, layers: u64 },
    #[error("the context size is 0 (neither -c nor `{0}` gives one)")]
    NoContext(String),
    #[error("-np {0}: llama-server needs at least one slot")]
    Slots(i64),
    #[error("the KV cache's rows of {n} values are not whole {ty} blocks")]
    CacheBlocks { ty: &'static str, n: u64 },
    #[error("the figures overflow")]
    Overflow,
}

/// What an estimate of a GGUF model rests on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LlamaBasis {
    pub arch: String,
    pub tensors: u64,
    pub layers: u64,
    /// The context asked for, and from where (`-c`, `LLAMA_ARG_CTX_SIZE`, `llama.context_length`).
    pub ctx: Given<u64>,
    /// KV cells allocated: the context padded to 256, per slot when the cache is not unified.
    pub cells: u64,
    pub slots: Given<u64>,
    pub unified: bool,
    pub cache_type_k: Given<GgmlType>,
    pub cache_type_v: Given<GgmlType>,
    /// Tokens of the worst-case batch the compute buffer is reserved for.
    pub ubatch: u64,
    pub flash_attn: bool,
    pub vocab: u64,
}

/// The model's shape, from the header.
struct Shape {
    layers: u64,
    n_embd: u64,
    n_ff: u64,
    head_count: Vec<u64>,
    head_count_kv: Vec<u64>,
    key_length: u64,
    value_length: u64,
    vocab: u64,
    merges: u64,
}

fn array_len(h: &GgufHeader, key: &str) -> u64 {
    match h.get(key) {
        Some(Meta::Array { len, .. }) => *len,
        _ => 0,
    }
}

/// A per-layer figure: one value for every layer, or an array of `layers` values.
fn per_layer(h: &GgufHeader, key: &str, layers: u64) -> Result<Option<Vec<u64>>, ModelError> {
    match h.get(key) {
        None => Ok(None),
        Some(Meta::Int(_)) => {
            let v = h.uint(key).ok_or_else(|| ModelError::Missing(key.into()))?;
            Ok(Some(vec![v; layers as usize]))
        }
        Some(Meta::Array {
            len,
            ints: Some(ints),
        }) if *len == layers => ints
            .iter()
            .map(|v| u64::try_from(*v).map_err(|_| ModelError::Missing(key.into())))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(Meta::Array { len, .. }) => Err(ModelError::PerLayer {
            key: key.into(),
            got: *len,
            layers,
        }),
        Some(_) => Err(ModelError::Missing(key.into())),
    }
}

fn shape(h: &GgufHeader, arch: &str) -> Result<Shape, ModelError> {
    let key = |k: &str| format!("{arch}.{k}");
    let need = |k: &str| h.uint(&key(k)).ok_or_else(|| ModelError::Missing(key(k)));
    let layers = need("block_count")?;
    // A layer count past the kept arrays' bound cannot be matched per layer anyway.
    if layers > 65_536 {
        return Err(ModelError::Overflow);
    }
    let n_embd = need("embedding_length")?;
    let n_ff = per_layer(h, &key("feed_forward_length"), layers)?
        .ok_or_else(|| ModelError::Missing(key("feed_forward_length")))?
        .into_iter()
        .max()
        .unwrap_or(0);
    let head_count = per_layer(h, &key("attention.head_count"), layers)?
        .ok_or_else(|| ModelError::Missing(key("attention.head_count")))?;
    let head_count_kv =
        per_layer(h, &key("attention.head_count_kv"), layers)?.unwrap_or(head_count.clone());
    let heads = head_count.first().copied().unwrap_or(0);
    // llama.cpp: n_embd_head_k = n_embd / n_head unless the model says otherwise.
    let default_head = n_embd.checked_div(heads).unwrap_or(0);
    let key_length = h.uint(&key("attention.key_length")).unwrap_or(default_head);
    let value_length = h
        .uint(&key("attention.value_length"))
        .unwrap_or(default_head);
    let vocab = h
        .uint(&key("vocab_size"))
        .unwrap_or_else(|| array_len(h, "tokenizer.ggml.tokens"));
    Ok(Shape {
        layers,
        n_embd,
        n_ff,
        head_count,
        head_count_kv,
        key_length,
        value_length,
        vocab,
        merges: array_len(h, "tokenizer.ggml.merges"),
    })
}

fn pad(n: u64) -> u64 {
    n.div_ceil(CTX_PAD).saturating_mul(CTX_PAD)
}

fn default_type(from: &str) -> Given<GgmlType> {
    Given {
        // f16 is in the table: `by_name` cannot miss it.
        value: ggml::by_name("f16").unwrap_or(ggml::TYPES[1]),
        from: from.to_string(),
    }
}

/// The estimate of llama-server running the model whose header is `h` with `args`.
pub fn estimate(h: &GgufHeader, args: &ServerArgs) -> Result<Estimate, ModelError> {
    let arch = h
        .architecture()
        .ok_or(ModelError::NoArchitecture)?
        .to_string();
    let s = shape(h, &arch)?;
    let ctx_key = format!("{arch}.context_length");
    let (slots, unified) = match &args.parallel {
        None => (given(AUTO_SLOTS, "llama-server's default (auto)"), true),
        Some(g) if g.value < 0 => (given(AUTO_SLOTS, &g.from), true),
        Some(g) if g.value == 0 => return Err(ModelError::Slots(0)),
        Some(g) => (given(g.value as u64, &g.from), false),
    };
    let unified = match (&args.parallel, &args.kv_unified) {
        (Some(p), Some(u)) if p.value > 0 => u.value,
        _ => unified,
    };
    let ctx = match (&args.ctx, &args.per_slot) {
        (Some(c), _) if c.value > 0 => c.clone(),
        (None, Some(p)) if p.value > 0 => Given {
            value: slots.value.saturating_mul(p.value),
            from: p.from.clone(),
        },
        _ => Given {
            value: h.uint(&ctx_key).unwrap_or(0),
            from: ctx_key.clone(),
        },
    };
    if ctx.value == 0 {
        return Err(ModelError::NoContext(ctx_key));
    }
    let n_ctx = pad(ctx.value);
    let streams = if unified { 1 } else { slots.value };
    let per_stream = if unified { n_ctx } else { pad(n_ctx / streams) };
    let cells = per_stream
        .checked_mul(streams)
        .ok_or(ModelError::Overflow)?;
    let type_k = args
        .cache_type_k
        .clone()
        .unwrap_or_else(|| default_type("default"));
    let type_v = args
        .cache_type_v
        .clone()
        .unwrap_or_else(|| default_type("default"));
    let kv = kv_bytes(&s, type_k.value, type_v.value, cells)?;
    let batch = args
        .batch
        .as_ref()
        .map_or(DEFAULT_BATCH, |b| b.value)
        .min(ctx.value);
    let ubatch = args
        .ubatch
        .as_ref()
        .map_or(DEFAULT_UBATCH, |b| b.value)
        .min(batch);
    let t = n_ctx.min(ubatch);
    let flash_attn = args
        .flash_attn
        .as_ref()
        .is_none_or(|f| f.value != FlashAttn::Off)
        || type_v.value.block > 1; // a quantized V cache forces it on
    let compute = compute_bytes(&s, t, per_stream, slots.value, flash_attn)?;
    let runtime = RUNTIME_BASE
        .get()
        .saturating_add(RUNTIME_PER_TOKEN.saturating_mul(s.vocab))
        .saturating_add(RUNTIME_PER_MERGE.saturating_mul(s.merges));
    let parts = Parts {
        weights: h.tensor_bytes,
        kv_cache: Bytes(kv),
        compute: Bytes(compute),
        allowance: Bytes(runtime),
    };
    Ok(Estimate::new(
        Format::Gguf,
        parts,
        Basis::Gguf(Box::new(LlamaBasis {
            arch,
            tensors: h.tensors,
            layers: s.layers,
            ctx,
            cells,
            slots,
            unified,
            cache_type_k: type_k,
            cache_type_v: type_v,
            ubatch: t,
            flash_attn,
            vocab: s.vocab,
        })),
    ))
}

fn given(value: u64, from: &str) -> Given<u64> {
    Given {
        value,
        from: from.to_string(),
    }
}

fn kv_bytes(s: &Shape, k: GgmlType, v: GgmlType, cells: u64) -> Result<u64, ModelError> {
    let mut per_cell: u64 = 0;
    for kv_heads in &s.head_count_kv {
        let row = |ty: GgmlType, len: u64| {
            let n = len.checked_mul(*kv_heads).ok_or(ModelError::Overflow)?;
            if n % ty.block != 0 {
                return Err(ModelError::CacheBlocks { ty: ty.name, n });
            }
            ty.row_bytes(n).ok_or(ModelError::Overflow)
        };
        let layer = row(k, s.key_length)?
            .checked_add(row(v, s.value_length)?)
            .ok_or(ModelError::Overflow)?;
        per_cell = per_cell.checked_add(layer).ok_or(ModelError::Overflow)?;
    }
    per_cell.checked_mul(cells).ok_or(ModelError::Overflow)
}

fn compute_bytes(
    s: &Shape,
    t: u64,
    n_kv: u64,
    slots: u64,
    flash_attn: bool,
) -> Result<u64, ModelError> {
    let n_head = s.head_count.iter().copied().max().unwrap_or(0);
    let kv_heads = s.head_count_kv.iter().copied().max().unwrap_or(0);
    let m = |a: u64, b: u64| a.checked_mul(b).ok_or(ModelError::Overflow);
    let add = |a: u64, b: u64| a.checked_add(b).ok_or(ModelError::Overflow);
    let gqa = m(s.key_length, kv_heads)?;
    let ffn = m(m(4, t)?, add(m(4, s.n_embd)?, m(3, s.n_ff)?)?)?;
    let attn = m(m(4, t)?, add(m(5, s.n_embd)?, m(2, gqa)?)?)?;
    let mask_cells = m(n_kv, t)?;
    let graph = if flash_attn {
        add(ffn.max(attn), m(2, mask_cells)?)?
    } else {
        let scores = m(m(4, mask_cells)?, n_head)?;
        add(ffn.max(add(attn, scores)?), m(4, mask_cells)?)?
    };
    let output = m(m(4, s.vocab)?, slots)?;
    add(graph, output)
}
