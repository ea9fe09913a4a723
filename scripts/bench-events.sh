#!/usr/bin/env bash
# Events end to end on a store of 1 000 000 events: a real agent on it, then
#   1. `jetgate events --since 1h --json` latency (CLI + control socket + agent + SQLite), p50
#      and max over RUNS runs;
#   2. note inserts per second through the control socket: one connection sending notes one
#      after another (each is committed, fsynced, before its reply), then 4 connections at once,
#      then `jetgate note` processes (CLI start-up included).
# Usage: scripts/bench-events.sh [RUNS=11] [NOTES=500]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-11}
NOTES=${2:-500}

cargo build --release --quiet --bin jetgate --example fill_store
JG=target/release/jetgate
dir=$(mktemp -d)
agent=
cleanup() { [ -n "$agent" ] && kill "$agent" 2>/dev/null && wait "$agent" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

t0=$(date +%s.%N)
target/release/examples/fill_store "$dir/jetgate.db" 1000000 10000
echo "fill: $(echo "$(date +%s.%N) - $t0" | bc) s, $(du -m "$dir/jetgate.db" | cut -f1) MiB"

cat > "$dir/jetgate.toml" <<TOML
[store]
path = "$dir/jetgate.db"
max_events = 2000000
max_age = "365d"

[control]
socket = "$dir/control.sock"
TOML
$JG agent --config "$dir/jetgate.toml" 2>"$dir/agent.log" &
agent=$!
for _ in $(seq 200); do [ -S "$dir/control.sock" ] && break; sleep 0.1; done
export JETGATE_SOCKET="$dir/control.sock"

times=()
for _ in $(seq "$RUNS"); do
  s=$(date +%s%N)
  rows=$($JG events --since 1h --json | wc -l)
  e=$(date +%s%N)
  times+=($(( (e - s) / 1000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
p50=${sorted[$(( RUNS / 2 ))]}
max=${sorted[$(( RUNS - 1 ))]}
echo "events --since 1h --json: $rows rows, p50 $((p50 / 1000)).$(( (p50 % 1000) / 100 )) ms, max $((max / 1000)).$(( (max % 1000) / 100 )) ms over $RUNS runs"

python3 - "$dir/control.sock" "$NOTES" <<'PY'
import socket, sys, threading, time
path, n = sys.argv[1], int(sys.argv[2])
def writer(count, out):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(path); f = s.makefile("rwb")
    for i in range(count):
        f.write(b'{"v":1,"cmd":"note","text":"bench note %d"}\n' % i); f.flush()
        line = f.readline()
        assert b'"ok":true' in line, line
    out.append(count); s.close()
for conns in (1, 4):
    done = []; t = time.monotonic()
    th = [threading.Thread(target=writer, args=(n // conns, done)) for _ in range(conns)]
    [x.start() for x in th]; [x.join() for x in th]
    el = time.monotonic() - t
    print(f"notes through the socket, {conns} connection(s): {sum(done)} in {el:.2f} s = {sum(done)/el:.0f}/s")
PY

n=$(( NOTES / 5 ))
s=$(date +%s%N)
seq "$n" | xargs -P 4 -I{} $JG note "bench cli note {}" >/dev/null
e=$(date +%s%N)
echo "jetgate note, 4 processes at a time: $n in $(( (e - s) / 1000000 )) ms = $(( n * 1000000000 / (e - s) ))/s"
