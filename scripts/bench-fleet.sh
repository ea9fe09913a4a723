#!/usr/bin/env bash
# `jetgate fleet --once --json` over a large simulated fleet, for docs/benchmarks.md: a local
# Mosquitto on a free loopback port with max_queued_messages QUEUE (0: no limit, as
# docs/mqtt.md asks for a fleet view; 1000 is Mosquitto's default), N devices published
# retained by examples/fleet_gen.rs (status + a ~9 KB state each), then RUNS runs of the
# viewer under /usr/bin/time -v: wall time, max RSS, devices listed and those with a state.
# Usage: scripts/bench-fleet.sh [N=10000] [RUNS=5] [QUEUE=0]  (builds the release binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
RUNS=${2:-5}
QUEUE=${3:-0}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --locked --bin jetgate --example fleet_gen
BIN=$TARGET/release/jetgate
GEN=$TARGET/release/examples/fleet_gen
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
W=$(mktemp -d)
BROKER=
cleanup() {
  if [ -n "$BROKER" ]; then kill "$BROKER" 2>/dev/null || true; wait "$BROKER" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'user %s\nallow_anonymous true\npersistence false\nmax_queued_messages %s\nlistener %s 127.0.0.1\n' \
  "$(id -un)" "$QUEUE" "$PORT" > "$W/m.conf"
"$MOSQ" -c "$W/m.conf" >/dev/null 2>&1 & BROKER=$!
sleep 0.5
start=$(date +%s.%N)
"$GEN" --port "$PORT" "$N"
echo "generator: $N devices in $(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')") s"
echo "broker: max_queued_messages $QUEUE; machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  /usr/bin/time -v "$BIN" fleet --broker "mqtt://127.0.0.1:$PORT" --once --json > "$W/out.json" 2> "$W/time.txt"
  wall=$(grep 'Elapsed (wall clock)' "$W/time.txt" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$W/time.txt" | awk '{print $NF}')
  listed=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d), 'devices listed,', sum(1 for x in d if x['board'] is not None), 'with a state')" "$W/out.json")
  printf 'run %s: wall %s, max RSS %.1f MiB, %s, %s bytes of JSON\n' \
    "$run" "$wall" "$(echo "$rss / 1024" | bc -l)" "$listed" "$(stat -c %s "$W/out.json")"
  grep '^warning' "$W/time.txt" | cut -c1-120 || true
done
"$GEN" --port "$PORT" --clear "$N"
