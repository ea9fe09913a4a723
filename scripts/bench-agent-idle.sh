#!/usr/bin/env bash
# The agent's own cost while it monitors with no load in flight.
#
#   scripts/bench-agent-idle.sh [SECONDS] [BINARY]     (default 60; BINARY: a jetgate to measure
#                                                     instead of this tree's release build,
#                                                     e.g. an older one for a before/after)
#
# Starts `jetgate agent` on a config with no models and `sample_interval = "100ms"` (10 Hz),
# lets it settle for 5 s, then reads its CPU time (utime + stime from /proc/PID/stat) over
# SECONDS and its resident memory (VmRSS, VmHWM) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
if [ -n "${2:-}" ]; then
  J=$(realpath "$2")
else
  cargo build --release --quiet
  J="$PWD/target/release/jetgate"
fi
work=$(mktemp -d /tmp/jetgate-idle.XXXXXX)
trap 'kill -TERM "$agent" 2>/dev/null; wait "$agent" 2>/dev/null; rm -rf "$work"' EXIT
cat > "$work/idle.toml" <<TOML
[memory]
sample_interval = "100ms"
[store]
path = "$work/jetgate.db"
[control]
socket = "$work/control.sock"
TOML
"$J" agent --config "$work/idle.toml" --log warn &
agent=$!
sleep 5
. scripts/lib/agent-cpu.sh # cwd is the repository root
measure_agent "$agent" "$seconds"
