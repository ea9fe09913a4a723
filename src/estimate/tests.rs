//! Tests of the estimates, by subject: the GGUF header (`tests/gguf.rs`), llama.cpp's figures
//! (`tests/llama.rs`), the server's command line (`tests/args.rs`), ONNX (`tests/onnx.rs`),
//! corrupted headers (`tests/props.rs`) and the file dispatch (`tests/files.rs`). The writers
//! below build files byte by byte as the formats define them.

mod args;
mod files;
mod gguf;
mod llama;
mod onnx;
mod props;

use std::io::Cursor;

use super::gguf::{read_header, GgufError, GgufHeader};

/// A GGUF file written field by field (version 3, alignment 32 unless set).
#[derive(Debug, Clone)]
pub struct GgufWriter {
    pub version: u32,
    kvs: Vec<Vec<u8>>,
    tensors: Vec<(String, Vec<u64>, u32, u64)>,
    alignment: u64,
}

pub fn string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

impl GgufWriter {
    pub fn new() -> GgufWriter {
        GgufWriter {
            version: 3,
            kvs: Vec::new(),
            tensors: Vec::new(),
            alignment: 32,
        }
    }

    /// A key with a raw value of GGUF type `ty`.
    pub fn raw(mut self, key: &str, ty: u32, value: &[u8]) -> GgufWriter {
        let mut kv = string(key);
        kv.extend_from_slice(&ty.to_le_bytes());
        kv.extend_from_slice(value);
        self.kvs.push(kv);
        self
    }

    pub fn u32(self, key: &str, v: u32) -> GgufWriter {
        if key == "general.alignment" {
            let mut s = self.raw(key, 4, &v.to_le_bytes());
            s.alignment = u64::from(v);
            return s;
        }
        self.raw(key, 4, &v.to_le_bytes())
    }

    pub fn str(self, key: &str, v: &str) -> GgufWriter {
        self.raw(key, 8, &string(v))
    }

    pub fn i32s(self, key: &str, values: &[i32]) -> GgufWriter {
        let mut v = 5u32.to_le_bytes().to_vec();
        v.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for x in values {
            v.extend_from_slice(&x.to_le_bytes());
        }
        self.raw(key, 9, &v)
    }

    pub fn strs(self, key: &str, values: &[String]) -> GgufWriter {
        let mut v = 8u32.to_le_bytes().to_vec();
        v.extend_from_slice(&(values.len() as u64).to_le_bytes());
        for s in values {
            v.extend_from_slice(&string(s));
        }
        self.raw(key, 9, &v)
    }

    /// A tensor of ggml type `ty` and `bytes` bytes of data.
    pub fn tensor(mut self, name: &str, dims: &[u64], ty: u32, bytes: u64) -> GgufWriter {
        self.tensors.push((name.into(), dims.to_vec(), ty, bytes));
        self
    }

    /// The header bytes and the length of the whole file (the data is not written: the
    /// parser never reads it).
    pub fn build(&self) -> (Vec<u8>, u64) {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.kvs.len() as u64).to_le_bytes());
        for kv in &self.kvs {
            out.extend_from_slice(kv);
        }
        let mut offset = 0u64;
        for (name, dims, ty, bytes) in &self.tensors {
            out.extend_from_slice(&string(name));
            out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset += bytes.div_ceil(self.alignment) * self.alignment;
        }
        let data_start = (out.len() as u64).div_ceil(self.alignment) * self.alignment;
        (out, data_start + offset)
    }

    pub fn read(&self) -> Result<GgufHeader, GgufError> {
        let (bytes, len) = self.build();
        read_header(Cursor::new(bytes), len)
    }
}

/// A small llama model: 2 layers, n_embd 64, n_ff 128, 4 heads, 2 KV heads, context 1024,
/// a vocabulary of 100 tokens, and f16 weights.
pub fn llama() -> GgufWriter {
    let tokens: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
    let mut w = GgufWriter::new()
        .str("general.architecture", "llama")
        .str("general.name", "tiny")
        .u32("llama.context_length", 1024)
        .u32("llama.block_count", 2)
        .u32("llama.embedding_length", 64)
        .u32("llama.feed_forward_length", 128)
        .u32("llama.attention.head_count", 4)
        .u32("llama.attention.head_count_kv", 2)
        .strs("tokenizer.ggml.tokens", &tokens)
        .tensor("token_embd.weight", &[64, 100], 1, 64 * 100 * 2);
    for l in 0..2 {
        w = w
            .tensor(&format!("blk.{l}.attn_q.weight"), &[64, 64], 1, 64 * 64 * 2)
            .tensor(&format!("blk.{l}.attn_norm.weight"), &[64], 0, 64 * 4);
    }
    w
}

/// Protobuf fields, for ONNX files.
pub mod pb {
    pub fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    pub fn int(field: u64, v: u64) -> Vec<u8> {
        let mut out = varint(field << 3);
        out.extend(varint(v));
        out
    }

    pub fn bytes(field: u64, body: &[u8]) -> Vec<u8> {
        let mut out = varint(field << 3 | 2);
        out.extend(varint(body.len() as u64));
        out.extend_from_slice(body);
        out
    }

    /// A TensorProto: dims (packed), data type, name, then `rest`.
    pub fn tensor(name: &str, dims: &[i64], ty: u64, rest: &[u8]) -> Vec<u8> {
        let packed: Vec<u8> = dims.iter().flat_map(|d| varint(*d as u64)).collect();
        let mut out = bytes(1, &packed);
        out.extend(int(2, ty));
        out.extend(bytes(8, name.as_bytes()));
        out.extend_from_slice(rest);
        out
    }

    /// A ModelProto whose graph holds `graph` (already encoded fields).
    pub fn model(graph: &[u8]) -> Vec<u8> {
        let mut out = int(1, 8); // ir_version
        out.extend(bytes(2, b"jetgate-test")); // producer_name
        out.extend(bytes(7, graph));
        out
    }
}
