"""Writes a llama-architecture GGUF model with random f16 weights, for tests and the demo.

The model is nonsense but real to llama.cpp: `llama-server -m OUT` loads it, maps its
weights from the file, runs its warm-up decode over every layer and serves completions. Its
size is chosen by the caller, about 2 * (4 * embd^2 + 3 * embd * ff) bytes a layer
(~101 MB at --embd 2048 --ff 5504), plus a tiny embedding table (--vocab tokens).

Run with the venv and gguf-py of scripts/lib/llama.sh:

    PYTHONPATH=$JETGATE_GGUF_PY $JETGATE_LLAMA_PYTHON scripts/lib/write_gguf.py \
        --layers 10 --embd 2048 --ff 5504 --ctx-train 4096 --seed 1 --out model.gguf

The same arguments give the same bytes. The file is written beside OUT and renamed into
place, so a reader never sees half a model. Prints OUT's size in bytes.
"""

import argparse
import os
import sys

import numpy as np
import gguf

# f16 bit patterns: random sign and mantissa, exponent fixed at 2^-7, so every weight is
# ±[0.0078, 0.0156): finite, and activations stay finite through any number of layers.
F16_KEEP = np.uint16(0x83FF)
F16_EXP = np.uint16(0x2000)


def vocabulary(size):
    """An SPM ("llama") vocabulary: <unk> <s> </s>, the 256 byte tokens, then words."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [c for c in letters] + ["\u2581" + c for c in letters]
    words += ["\u2581" + a + b for a in letters for b in letters]
    for w in words[: max(0, size - len(tokens))]:
        tokens.append(w)
        types.append(gguf.TokenType.NORMAL)
    scores = [0.0] * 3 + [0.0] * 256 + [-float(i) for i in range(len(tokens) - 259)]
    return tokens, scores, types


def tensors(args):
    """(name, numpy shape, dtype) in file order; shapes are (rows, columns) as numpy sees them."""
    embd, ff, kv = args.embd, args.ff, args.embd // args.heads * args.kv_heads
    out = [("token_embd.weight", (args.vocab, embd), np.float16),
           ("output_norm.weight", (embd,), np.float32)]
    for i in range(args.layers):
        b = f"blk.{i}."
        out += [(b + "attn_norm.weight", (embd,), np.float32),
                (b + "attn_q.weight", (embd, embd), np.float16),
                (b + "attn_k.weight", (kv, embd), np.float16),
                (b + "attn_v.weight", (kv, embd), np.float16),
                (b + "attn_output.weight", (embd, embd), np.float16),
                (b + "ffn_norm.weight", (embd,), np.float32),
                (b + "ffn_gate.weight", (ff, embd), np.float16),
                (b + "ffn_up.weight", (ff, embd), np.float16),
                (b + "ffn_down.weight", (embd, ff), np.float16)]
    return out


def values(rng, shape, dtype):
    if dtype == np.float32:  # the RMS norms' scales
        return np.ones(shape, dtype=np.float32)
    bits = rng.integers(0, 1 << 16, size=shape, dtype=np.uint16)
    bits &= F16_KEEP
    bits |= F16_EXP
    return bits.view(np.float16)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=int, required=True)
    p.add_argument("--embd", type=int, default=2048)
    p.add_argument("--ff", type=int, default=5504)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--kv-heads", type=int, default=None, help="default: --heads")
    p.add_argument("--ctx-train", type=int, default=4096)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    args.kv_heads = args.kv_heads or args.heads
    if args.layers < 1 or args.embd % args.heads or args.heads % args.kv_heads:
        p.error("need --layers >= 1, --embd divisible by --heads, --heads by --kv-heads")
    if args.vocab < 260:
        p.error("--vocab must hold the 3 special and 256 byte tokens and one word")

    tmp = f"{args.out}.tmp{os.getpid()}"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name(f"jetgate-test-{args.layers}x{args.embd}-seed{args.seed}")
    w.add_context_length(args.ctx_train)
    w.add_embedding_length(args.embd)
    w.add_block_count(args.layers)
    w.add_feed_forward_length(args.ff)
    w.add_head_count(args.heads)
    w.add_head_count_kv(args.kv_heads)
    w.add_rope_dimension_count(args.embd // args.heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    tokens, scores, types = vocabulary(args.vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    args.vocab = len(tokens)

    # Tensor infos first, then each tensor's data generated and written on its own: memory
    # stays at one tensor, whatever the model's size.
    layout = tensors(args)
    for name, shape, dtype in layout:
        w.add_tensor_info(name, shape, np.dtype(dtype), int(np.prod(shape)) * np.dtype(dtype).itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(args.seed)
    for _, shape, dtype in layout:
        w.write_tensor_data(values(rng, shape, dtype))
    w.close()
    os.replace(tmp, args.out)
    print(os.path.getsize(args.out))


if __name__ == "__main__":
    sys.exit(main())
