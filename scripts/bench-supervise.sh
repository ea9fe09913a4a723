#!/usr/bin/env bash
# The agent's own cost while it supervises 50 services with liveness probes every second.
#
#   scripts/bench-supervise.sh [SECONDS] [SERVICES]     (defaults 60, 50)
#
# Starts `jetgate agent` on a config with SERVICES `[[service]]` entries, each a
# `jetgate sim-model --alloc 2MiB` (small ballast, touched so it is resident): half probed by
# a heartbeat file (touched every 500 ms, stale after 5 s), half by a TCP connect to the
# sim-model's own HTTP port; every probe runs each second (`interval = "1s"`). Memory is
# sampled at the default 10 Hz. After every service is running and 5 s of settling, it reads
# the agent's CPU time (utime + stime from /proc/PID/stat) over SECONDS and its VmRSS/VmHWM at
# the end, and counts the health failures and restarts during the run (expected: none).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
services=${2:-50}
cargo build --release --quiet
J="$PWD/target/release/jetgate"
work=$(mktemp -d /tmp/jetgate-supervise.XXXXXX)
agent=
cleanup() {
  if [ -n "$agent" ]; then kill -TERM "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

ports=$(python3 - "$services" <<'PY'
import socket, sys
n = int(sys.argv[1]) // 2
socks = []
for _ in range(n):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
)
read -r -a port <<<"$ports"

{
  printf '[store]\npath = "%s/jetgate.db"\n[control]\nsocket = "%s/control.sock"\n\n' "$work" "$work"
  for i in $(seq 0 $((services - 1))); do
    if [ $((i % 2)) -eq 0 ]; then
      hb="$work/svc$i.beat"
      printf '[[service]]\nname = "svc%d"\nautostart = true\n' "$i"
      printf 'command = ["%s", "sim-model", "--alloc", "2MiB", "--heartbeat", "%s", "--heartbeat-interval", "500ms"]\n' "$J" "$hb"
      printf 'health = { heartbeat = "%s", stale_after = "5s", interval = "1s", timeout = "500ms", failures = 3 }\n\n' "$hb"
    else
      p=${port[$((i / 2))]}
      printf '[[service]]\nname = "svc%d"\nautostart = true\n' "$i"
      printf 'command = ["%s", "sim-model", "--alloc", "2MiB", "--ready-http", "127.0.0.1:%s"]\n' "$J" "$p"
      printf 'ready = { tcp = "127.0.0.1:%s" }\n' "$p"
      printf 'health = { tcp = "127.0.0.1:%s", interval = "1s", timeout = "500ms", failures = 3 }\n\n' "$p"
    fi
  done
} > "$work/supervise.toml"

"$J" agent --config "$work/supervise.toml" --log warn &
agent=$!
export JETGATE_SOCKET="$work/control.sock"
for _ in $(seq 1 300); do
  running=$("$J" services --json 2>/dev/null | python3 -c 'import json,sys; print(sum(s["state"] == "running" for s in json.load(sys.stdin)))' 2>/dev/null || echo 0)
  [ "$running" -eq "$services" ] && break
  sleep 0.2
done
echo "running: $running of $services services"
sleep 5
count() { "$J" events --json --kind "$1" | wc -l; }
f0=$(count health_failed); r0=$(count restart_scheduled)
. scripts/lib/agent-cpu.sh # cwd is the repository root
measure_agent "$agent" "$seconds"
echo "during the run: $(( $(count health_failed) - f0 )) health_failed, $(( $(count restart_scheduled) - r0 )) restart_scheduled"
echo "zombies reaped: $("$J" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["agent"]["zombies_reaped"])')"
