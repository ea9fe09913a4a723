#!/usr/bin/env bash
# How close `memory = "auto"` comes: jetgate's estimate of a GGUF model against the peak a real
# llama-server reaches with it.
#
#   scripts/bench-estimate.sh [CTX...]        (default contexts: 2048 16384)
#
# For three random-weight llama models (f16 matrices, 32 000-token vocabulary: about 115 MiB,
# 490 MiB and 1.8 GiB) and each context, it writes the model with the vendored gguf-py, runs
# `jetgate estimate MODEL --json -- -c CTX`, starts llama-server (scripts/lib/llama.sh, built
# once) with `-c CTX`, waits for /health to answer 200, sends one completion whose prompt
# (641 tokens) fills a whole ubatch of 512, so the compute buffer is used as far as its
# reservation, and reads the server's VmHWM (peak RSS: anonymous memory plus the mmap'd
# weights' resident pages) from /proc/PID/status. It prints one row per run: size, ctx,
# estimate, measured, error = (estimate − measured) / measured, and whether it is within the
# goal (±10 % or 256 MiB). JETGATE_BIN names a jetgate binary to use instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
contexts=("$@")
[ ${#contexts[@]} -gt 0 ] || contexts=(2048 16384)
# shellcheck source=lib/llama.sh
source scripts/lib/llama.sh
ensure_llama
if [ -z "${JETGATE_BIN:-}" ]; then
  cargo build --release --quiet
  JETGATE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/jetgate"
fi
work=$(mktemp -d /tmp/jetgate-estimate.XXXXXX)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A llama GGUF with random f16 matrices and an SPM vocabulary, written with gguf-py's
# GGUFWriter: layers, n_embd, n_ff, heads, KV heads, vocabulary, training context.
write_model() {
  "$JETGATE_LLAMA_PYTHON" - "$JETGATE_GGUF_PY" "$@" <<'PY'
import sys
gguf_py, out, layers, embd, ff, heads, kv_heads, vocab, ctx = sys.argv[1:]
sys.path.insert(0, gguf_py)
import numpy as np, gguf
layers, embd, ff, heads, kv_heads, vocab, ctx = map(int, (layers, embd, ff, heads, kv_heads, vocab, ctx))
rng = np.random.default_rng(0)
w = gguf.GGUFWriter(out, "llama")
head = embd // heads
w.add_context_length(ctx); w.add_embedding_length(embd); w.add_block_count(layers)
w.add_feed_forward_length(ff); w.add_rope_dimension_count(head); w.add_head_count(heads)
w.add_head_count_kv(kv_heads); w.add_layer_norm_rms_eps(1e-5); w.add_file_type(1)
tokens = [b"<unk>", b"<s>", b"</s>"] + [b"<0x%02X>" % i for i in range(256)]
types = [2, 3, 3] + [6] * 256
for t in ["\u2581" + chr(c) for c in range(97, 123)] + [chr(c) for c in range(97, 123)] + ["\u2581"]:
    tokens.append(t.encode()); types.append(1)
while len(tokens) < vocab:
    tokens.append(("\u2581w%d" % len(tokens)).encode()); types.append(1)
w.add_tokenizer_model("llama"); w.add_token_list(tokens[:vocab])
w.add_token_scores([-float(i) for i in range(vocab)]); w.add_token_types(types[:vocab])
w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)
def mat(rows, cols):
    return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)
norm = lambda: np.ones(embd, dtype=np.float32)
kv = head * kv_heads
w.add_tensor("token_embd.weight", mat(vocab, embd))
w.add_tensor("output_norm.weight", norm())
w.add_tensor("output.weight", mat(vocab, embd))
for l in range(layers):
    for name, t in [("attn_norm", norm()), ("attn_q", mat(embd, embd)), ("attn_k", mat(kv, embd)),
                    ("attn_v", mat(kv, embd)), ("attn_output", mat(embd, embd)), ("ffn_norm", norm()),
                    ("ffn_gate", mat(ff, embd)), ("ffn_up", mat(ff, embd)), ("ffn_down", mat(embd, ff))]:
        w.add_tensor("blk.%d.%s.weight" % (l, name), t)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
PY
}

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prompt=$(python3 -c "print(' '.join(['a b c d e f g h'] * 80))")
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

printf '| model | size | ctx | estimate | measured | error | goal |\n|---|---|---|---|---|---|---|\n'
#          name   layers embd  ff    heads kv vocab
for spec in "small 8 512 1408 8 8 32000" "medium 16 1024 2816 16 4 32000" "large 16 2048 5632 16 8 32000"; do
  read -r name layers embd ff heads kv vocab <<<"$spec"
  model="$work/$name.gguf"
  write_model "$model" "$layers" "$embd" "$ff" "$heads" "$kv" "$vocab" 32768
  size=$(stat -c %s "$model")
  for ctx in "${contexts[@]}"; do
    estimate=$("$JETGATE_BIN" estimate "$model" --json -- -c "$ctx" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["total_bytes"])')
    "$JETGATE_LLAMA_SERVER" -m "$model" -c "$ctx" --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 600); do
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" || true)" = 200 ] && break
      kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
      sleep 0.2
    done
    curl -sf "http://127.0.0.1:$port/completion" -o /dev/null \
      -d "{\"prompt\": \"$prompt\", \"n_predict\": 4}"
    measured=$(( $(awk '/^VmHWM:/ { print $2 }' "/proc/$server/status") * 1024 ))
    kill "$server"; wait "$server" 2>/dev/null || true; server=
    python3 - "$name" "$size" "$ctx" "$estimate" "$measured" <<'PY'
import sys
name, size, ctx, est, meas = sys.argv[1], *map(int, sys.argv[2:])
mib = lambda b: "%.1f MiB" % (b / 2**20)
err = (est - meas) / meas
ok = abs(err) <= 0.10 or abs(est - meas) <= 256 * 2**20
print("| %s | %s | %d | %s | %s | %+.1f %% | %s |" % (name, mib(size), ctx, mib(est), mib(meas), 100 * err, "yes" if ok else "NO"))
PY
  done
  rm -f "$model"
done
