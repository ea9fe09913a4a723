#!/usr/bin/env bash
# The gate demo (README's main command): three models whose sum does not fit, loaded through
# jetgate's gate inside a 3 GiB memory cgroup that stands for a small Jetson.
#
#   scripts/demo.sh           stand-in models: `jetgate sim-model`, which allocates anonymous
#                             memory (examples/demo.toml)
#   scripts/demo.sh --real    real model servers: llama.cpp's `llama-server` on three ~1 GiB
#                             GGUF models that it maps from their files (examples/demo-real.toml);
#                             builds llama-server once (scripts/lib/llama.sh, about 6 minutes on
#                             2 cores, cached in target/llama) and writes the models (seconds)
#
# Needs root (or a delegated, writable memory cgroup) to create the cgroup. Builds the release
# binary first. Leaves nothing behind: the agent, the models and the cgroup are removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

real=0
case "${1:-}" in
  "") ;;
  --real) real=1 ;;
  -h | --help) sed -n '2,13p' "$0" | cut -c3-; exit 0 ;;
  *) echo "usage: $0 [--real]" >&2; exit 2 ;;
esac

# The memory cgroup to stand for the board, a child of our own, needs root: say so before
# spending minutes on a build.
. scripts/lib/scope.sh
require_scope "the demo"
if [ "$real" = 1 ]; then
  . scripts/lib/llama.sh
  missing=()
  if [ ! -x "$LLAMA_DIR/bin/llama-server" ]; then
    command -v cmake >/dev/null || missing+=(cmake)
    command -v c++ >/dev/null || missing+=(g++)
  fi
  python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "the demo with real servers needs ${missing[*]} to build llama-server; run: sudo apt install ${missing[*]} (scripts/test.sh installs them too)" >&2
    exit 1
  fi
fi

cargo build --release --quiet
export PATH="${CARGO_TARGET_DIR:-$PWD/target}/release:$PATH"
work=$(mktemp -d /tmp/jetgate-demo.XXXXXX)
export JETGATE_SOCKET="$work/control.sock"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$real" = 1 ]; then
  ensure_llama
  PATH="$(dirname "$JETGATE_LLAMA_SERVER"):$PATH"
  models=(chat code summary)
  say "writing three GGUF models with random weights (10 layers of a 2048-wide llama each)"
  mkdir "$work/models"
  seed=0
  for m in "${models[@]}"; do
    seed=$((seed + 1))
    size=$(PYTHONPATH="$JETGATE_GGUF_PY" "$JETGATE_LLAMA_PYTHON" scripts/lib/write_gguf.py \
      --layers 10 --seed "$seed" --out "$work/models/$m.gguf")
    echo "$work/models/$m.gguf: $((size >> 20)) MiB"
  done
  # Three free local ports for the three servers (held together, so they differ).
  read -r p1 p2 p3 < <("$JETGATE_LLAMA_PYTHON" -c 'import socket
s = [socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
  example=examples/demo-real.toml
  rewrite=(-e "s|/var/lib/models/|$work/models/|g" -e "s|\\b8081\\b|$p1|g" -e "s|\\b8082\\b|$p2|g"
    -e "s|\\b8083\\b|$p3|g")
else
  models=(detector tracker llm)
  example=examples/demo.toml
  rewrite=()
fi

make_scope jetgate-demo $((3 << 30))

agent=""
cleanup() {
  [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  remove_scope
  rm -rf "$work"
}
trap cleanup EXIT

sed "${rewrite[@]}" -e "s|^scope = \"system\".*|scope = \"cgroup:$scope\"|" "$example" > "$work/demo.toml"
cat >> "$work/demo.toml" <<TOML

[store]
path = "$work/jetgate.db"

[control]
socket = "$work/control.sock"
TOML

# NAME's flat fields in `jetgate services --json` (from its name to its first nested object).
service() { jetgate services --json | grep -o "\"name\":\"$1\"[^}]*"; }
wait_state() { # NAME STATE
  for _ in $(seq 1 3000); do
    service "$1" | grep -q "\"state\":\"$2\"" && return 0
    sleep 0.1
  done
  echo "demo: $1 never became $2" >&2; return 1
}
# Waits for the gate's decision on NAME: held for budget (0), or admitted (1).
wait_held() {
  for _ in $(seq 1 3000); do
    local s; s=$(service "$1") || true
    grep -q '"state":"queued"' <<<"$s" && grep -q '"reason":"[^"]*budget' <<<"$s" && return 0
    grep -qE '"state":"(loading|ready|failed)"' <<<"$s" && return 1
    sleep 0.1
  done
  echo "demo: no decision on $1" >&2; return 1
}

jetgate config check "$work/demo.toml"
jetgate agent --config "$work/demo.toml" --log warn &
agent=$!
for _ in $(seq 1 100); do [ -S "$JETGATE_SOCKET" ] && break; sleep 0.1; done

read -r m1 m2 m3 <<<"${models[*]}"
if [ "$real" = 1 ]; then
  say "a 3 GiB board, 512 MiB reserve: ask for three llama-servers with 1 GiB models at once"
else
  say "a 3 GiB board, 512 MiB reserve: ask for three 1 GiB models at once"
fi
jetgate load "$m1"
jetgate load "$m2"
jetgate load "$m3"
wait_state "$m1" ready
wait_state "$m2" ready
if ! wait_held "$m3"; then
  jetgate status
  echo "demo: $m3 was admitted although it does not fit: $(service "$m3")" >&2
  exit 1
fi
say "two admitted one after another; the third is held, with its reason"
jetgate status

if [ "$real" = 1 ]; then
  say "$m1 really serves (random weights: the words are nonsense)"
  "$JETGATE_LLAMA_PYTHON" -c 'import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], json.dumps({"prompt": "The gate", "n_predict": 8}).encode())
print("completion:", json.dumps(json.load(urllib.request.urlopen(req, timeout=60))["content"]))' \
    "http://127.0.0.1:$p1/completion" || true
fi

say "unload $m1: its memory comes back and the gate admits $m3"
jetgate unload "$m1"
wait_state "$m3" ready
jetgate services

say "every decision, with the figures behind it"
jetgate events
