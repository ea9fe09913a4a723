#!/usr/bin/env bash
# Fleet-link figures for docs/benchmarks.md, against a local Mosquitto on a free port:
#   1. publish latency p50/p99 while connected: event `ts` (stored) → received by a subscriber
#   2. outbox drain rate after an outage: N events made while the broker is down, then
#      the broker is started and the events/s between the first and last received is reported
#   3. agent VmRSS with 100,000 events queued offline (inserted into the store directly)
# Usage: scripts/bench-mqtt.sh [JETGATE_BINARY] (default target/release/jetgate)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/jetgate}
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
W=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done # Mosquitto saves on exit
  rm -rf "$W"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'user %s\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_queued_messages 200000\nlistener %s 127.0.0.1\n' \
  "$(id -un)" "$W" "$PORT" > "$W/m.conf"
broker() { "$MOSQ" -c "$W/m.conf" >/dev/null 2>&1 & BROKER=$!; PIDS+=("$BROKER"); sleep 0.5; }
agent_conf() { # $1 name, $2 extra mqtt lines
  cat > "$W/$1.toml" <<TOML
[device]
id = "$1"
[mqtt]
url = "mqtt://127.0.0.1:$PORT"
connect_spread = "0s"
$2
[store]
path = "$W/$1.db"
[control]
socket = "$W/$1.sock"
TOML
}
start_agent() { "$BIN" agent --config "$W/$1.toml" >"$W/$1.log" 2>&1 & AGENT=$!; PIDS+=("$AGENT");
  for _ in $(seq 100); do [ -S "$W/$1.sock" ] && break; sleep 0.1; done; }
notes() { # $1 socket, $2 count, $3 pause seconds
  python3 - "$1" "$2" "$3" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
for i in range(int(sys.argv[2])):
    f.write(json.dumps({"v": 1, "cmd": "note", "text": f"bench {i}"}) + "\n"); f.flush(); f.readline()
    time.sleep(float(sys.argv[3]))
PY
}
stats() { # $1 latency|drain, $2 file of "recv_unix_s payload" lines
  python3 - "$1" "$2" <<'PY'
import json, sys, datetime
mode = sys.argv[1]; rows = []; reconnected = None
for line in open(sys.argv[2]):
    t, _, p = line.partition(" ")
    try: e = json.loads(p)
    except ValueError: continue
    parse = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    if e.get("kind") == "mqtt_connected" and e["figures"].get("failed_attempts", 0) > 0:
        reconnected = parse(e["ts"])
    if e.get("kind") != "note": continue
    ts = datetime.datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    rows.append((float(t), ts, e["seq"]))
if mode == "latency":
    lat = sorted((r - ts) * 1000 for r, ts, _ in rows)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"publish latency over {len(lat)} events: p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {lat[-1]:.1f} ms")
else:
    # From the agent's reconnection (its mqtt_connected ts) to the last note received.
    seqs = {s for _, _, s in rows}; last = max(r for r, _, _ in rows)
    print(f"drained {len(seqs)} distinct events ({len(rows)} received) in {last-reconnected:.2f} s "
          f"after the reconnect: {len(seqs)/(last-reconnected):.0f} events/s")
PY
}

echo "== 1. publish latency (connected, one note every 20 ms)"
broker
# backlog_rate at its maximum: section 2 measures the link's own drain, not the default cap.
agent_conf lat "backlog_rate = 100000"
start_agent lat
timeout 30 mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'jetgate/lat/events' -F '%U %p' > "$W/lat.out" & SUB=$!; PIDS+=("$SUB"); sleep 1
notes "$W/lat.sock" 500 0.02
sleep 2; kill "$SUB" 2>/dev/null || true
stats latency "$W/lat.out"

N=${DRAIN_EVENTS:-3000}
echo "== 2. outbox drain after an outage ($N events made offline)"
# A persistent subscriber (the broker keeps its session and queue across the restart).
timeout 5 mosquitto_sub -h 127.0.0.1 -p "$PORT" -c -i bench-drain -q 1 -t 'jetgate/lat/events' -W 1 >/dev/null 2>&1 || true
kill "$BROKER"; wait "$BROKER" 2>/dev/null || true; sleep 1
notes "$W/lat.sock" "$N" 0
broker
timeout 120 mosquitto_sub -h 127.0.0.1 -p "$PORT" -c -i bench-drain -q 1 -t 'jetgate/lat/events' -F '%U %p' \
  -C "$((N + 3))" -W 100 > "$W/drain.out" || true
stats drain "$W/drain.out"
kill "$AGENT"; wait "$AGENT" 2>/dev/null || true

echo "== 3. agent VmRSS with 100000 events queued offline"
kill "$BROKER"; sleep 0.5
agent_conf rss ""
start_agent rss; kill "$AGENT"; wait "$AGENT" 2>/dev/null || true
python3 - "$W/rss.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executemany("INSERT INTO events (ts, ts_ms, kind, severity, subject, message, figures) VALUES (?,?,?,?,?,?,?)",
    (("2026-01-01T00:00:00.000Z", 1767225600000, "note", 0, None, f"queued offline {i}", '{"available_bytes":5368709120,"need_bytes":4294967296}') for i in range(100000)))
c.commit()
PY
start_agent rss
rss() { awk '/VmRSS/ {print $2}' "/proc/$AGENT/status"; }
sleep 2; echo "VmRSS 2 s after start, offline, 100000 queued: $(rss) KiB"
sleep 8; echo "VmRSS 10 s after start (outbox measured twice): $(rss) KiB"
broker
for _ in $(seq 60); do sleep 1; done
echo "VmRSS after 60 s connected (draining): $(rss) KiB"
