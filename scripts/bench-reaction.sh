#!/usr/bin/env bash
# Reaction benchmark: how fast jetgate kills a load that eats the reserve.
#
#   scripts/bench-reaction.sh [RUNS] [SERVICES]
#         RUNS default 20; needs root for the memory cgroup. With SERVICES > 0, one agent also
#         supervises that many leaking services (12 KiB/s each, leak window 10 min, warm-up
#         10 s) and the runs start only once every service's trend window is full (it spans
#         the 10 min window: about 570 samples at the agent's 1 Hz refresh, ~10.5 min): the worst case of the once-a-second leak-trend refits on
#         the core loop while a load is in flight. Each run then loads its own model
#         (liar1..liarRUNS) so no learned peak carries over.
#
# Each run starts a fresh agent (fresh store, so no learned peak) scoped to a 2 GiB memory
# cgroup with a 512 MiB reserve (kill floor 256 MiB), and loads a sim-model that declares
# 256 MiB, then grows at 2 GiB/s toward 2 GiB. From each `load_aborted` event it takes:
#   crossing_to_kill_us  kill sent − the moment available crossed the floor, interpolated
#                        linearly between the last reading above it and the first below it
#   sample_to_kill_us    kill sent − the reading that showed the crossing
#   growth MiB/s         (previous available − available) / sample interval, at the abort
# and checks the kernel never acted (the cgroup's failcnt and oom_kill stay 0).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
services=${2:-0}
cargo build --release --quiet
J="$PWD/target/release/jetgate"
work=$(mktemp -d /tmp/jetgate-reaction.XXXXXX)
. scripts/lib/scope.sh
make_scope jetgate-reaction $((2 << 30))
agent=""
cleanup() {
  [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  remove_scope
  rm -rf "$work"
}
trap cleanup EXIT
export JETGATE_SOCKET="$work/control.sock"
cat > "$work/reaction.toml" <<TOML
[memory]
scope = "cgroup:$scope"
reserve = "512MiB"
load_sample_interval = "5ms"
[store]
path = "$work/jetgate.db"
[control]
socket = "$work/control.sock"
TOML
liar() { # the model of run $1 (one per run with services: no learned peak carries over)
  cat <<TOML
[[model]]
name = "liar$1"
command = ["$J", "sim-model", "--alloc", "256MiB", "--overshoot", "1792MiB", "--rate", "2GiB/s", "--overshoot-during-ramp", "--ramp", "100ms"]
memory = "256MiB"
ready = { log = "READY" }
autostart = false   # each run asks for it with load --wait
TOML
}
if [ "$services" -gt 0 ]; then
  for i in $(seq 1 "$runs"); do liar "$i" >> "$work/reaction.toml"; done
  for i in $(seq 1 "$services"); do
    cat >> "$work/reaction.toml" <<TOML
[[service]]
name = "leaky$i"
command = ["$J", "sim-model", "--alloc", "4MiB", "--leak", "12KiB/s"]
leak = { window = "10m", warmup = "10s" }
TOML
  done
else
  liar "" >> "$work/reaction.toml"
fi
start_agent() {
  "$J" agent --config "$work/reaction.toml" --log error &
  agent=$!
  for _ in $(seq 1 100); do [ -S "$JETGATE_SOCKET" ] && break; sleep 0.05; done
}
if [ "$services" -gt 0 ]; then
  start_agent
  echo "waiting for $services services' trend windows to fill (10 min of samples each, ~10.5 min)"
  while :; do
    full=$("$J" trend --json | python3 -c '
import json, sys
views = json.load(sys.stdin)
full = lambda t: t.get("window_s", 0) >= 0.98 * t.get("configured_window_s", 1)
print(sum(1 for v in views if v["kind"] == "service" and full(v.get("trend") or {})))')
    [ "$full" -ge "$services" ] && break
    sleep 10
  done
  echo "all $services windows full; load average $(cut -d' ' -f1-3 /proc/loadavg)"
fi
results="$work/results"
: > "$results"
for i in $(seq 1 "$runs"); do
  model=liar
  if [ "$services" -gt 0 ]; then model="liar$i"; else rm -f "$work"/jetgate.db*; start_agent; fi
  "$J" load "$model" --wait >/dev/null 2>&1 || true
  "$J" events --kind load_aborted --service "$model" --json | tail -1 | python3 -c '
import json, sys
f = json.loads(sys.stdin.read())["figures"]
rate = (f["previous_available_bytes"] - f["available_bytes"]) / (f["sample_interval_us"] / 1e6) / 2**20
print(f["crossing_to_kill_us"], f["sample_to_kill_us"], round(rate), f["available_bytes"] >> 20)' >> "$results"
  if [ "$services" -eq 0 ]; then kill -TERM "$agent"; wait "$agent" 2>/dev/null || true; agent=""; fi
  fail=$(cat "$scope_dir/memory.failcnt"); oom=$(awk '/^oom_kill /{print $2}' "$scope_dir/memory.oom_control")
  [ "$fail" = 0 ] && [ "${oom:-0}" = 0 ] || { echo "run $i: the kernel acted (failcnt $fail, oom_kill $oom)" >&2; exit 1; }
done
python3 - "$results" "$runs" "$services" <<'PY'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
def pct(xs, p):
    xs = sorted(xs); k = max(0, min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))); return xs[k]
cross = [r[0] for r in rows]; sample = [r[1] for r in rows]; rate = [r[2] for r in rows]
print(f"runs: {len(rows)} of {sys.argv[2]} aborted; kernel never acted (failcnt 0, oom_kill 0); services in full leak windows: {sys.argv[3]}")
print(f"crossing -> kill: p50 {pct(cross,50)/1000:.2f} ms  p99 {pct(cross,99)/1000:.2f} ms  max {max(cross)/1000:.2f} ms")
print(f"sample   -> kill: p50 {pct(sample,50)/1000:.3f} ms  p99 {pct(sample,99)/1000:.3f} ms")
print(f"growth at abort:  p50 {pct(rate,50)} MiB/s  min {min(rate)} MiB/s")
print(f"available at abort (MiB, floor 256): min {min(r[3] for r in rows)}  max {max(r[3] for r in rows)}")
PY
