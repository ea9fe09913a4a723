#!/usr/bin/env bash
# How close `memory = "auto"` comes: jetgate's estimate of a GGUF model against the peak a real
# llama-server reaches with it.
#
#   scripts/bench-estimate.sh [CTX...]        (default contexts: 2048 16384)
#
# For three random-weight llama models (scripts/lib/write_gguf.py: f16 matrices, tied
# embeddings, a 512-token vocabulary; about 50 MiB, 345 MiB and 1.4 GiB) and each context, it
# writes the model, runs `jetgate estimate MODEL --json -- -c CTX`, starts llama-server
# (scripts/lib/llama.sh, built once) with `-c CTX`, waits for /health to answer 200, sends one
# completion whose prompt
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

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prompt=$(python3 -c "print(' '.join(['a b c d e f g h'] * 80))")

printf '| model | size | ctx | estimate | measured | error | goal |\n|---|---|---|---|---|---|---|\n'
#          name   layers embd  ff    heads kv
for spec in "small 8 512 1408 8 8" "medium 16 1024 2816 16 4" "large 16 2048 5632 16 8"; do
  read -r name layers embd ff heads kv <<<"$spec"
  model="$work/$name.gguf"
  PYTHONPATH=$JETGATE_GGUF_PY "$JETGATE_LLAMA_PYTHON" scripts/lib/write_gguf.py --layers "$layers" \
    --embd "$embd" --ff "$ff" --heads "$heads" --kv-heads "$kv" --ctx-train 32768 --out "$model" >/dev/null
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
