#!/usr/bin/env bash
# Soak: the agent's own footprint over time, with three models misbehaving around it.
#
#   scripts/soak.sh [MINUTES]        (default 60; CI runs 3 from scripts/test.sh)
#
# Runs the built agent (`cargo build --release`, copied aside so a rebuild during a long soak
# cannot swap it) on a private config with three `jetgate sim-model` models, all autostarted
# through the gate:
#   stable   64 MiB, does nothing else
#   leaky    32 MiB, then grows at 16 KiB/s (--leak; its leak trend is watched)
#   crashy   16 MiB, exits with code 3 after 20 s (--exit-after), restart policy 1 s .. 5 s
# (each declares its allocation plus 24 MiB for the sim-model process itself)
# and a Mosquitto broker on a free local port, named in the agent's [mqtt] section, with
# `mosquitto_sub` counting what arrives on `<prefix>/<id>/events`.
#
# Every SOAK_SAMPLE_SECS (default 5) it records the agent's VmRSS and open fd count
# (/proc/PID/status, /proc/PID/fd; the children are not counted). At the end it prints, over
# the samples after a warm-up (SOAK_WARMUP_SECS, default 30: arenas, SQLite cache), the
# Theil–Sen slope (median of pairwise slopes) and the least-squares slope of each, in
# bytes/hour and fds/hour, and the events seen by `jetgate events --json` and by the broker.
#
# It exits 1 when
#   - the RSS Theil–Sen slope is above SOAK_MAX_RSS_SLOPE (bytes/hour, default 8 MiB/h)
#     AND RSS grew more than SOAK_MIN_RSS_GROWTH (bytes, default 2 MiB) over the fit window
#     (both: a leak must be steady and material; a 3-minute run catches only gross leaks),
#   - the fd count grew by more than SOAK_MAX_FD_GROWTH (default 4) from the first sample
#     after warm-up to the last,
#   - events are missing: agent_started, a load_ready for each model, a service_exited for
#     crashy, or fewer than SOAK_MIN_RESTARTS (default: one per full minute of the run; about
#     two a minute are expected: 20 s up, 1-5 s backoff, the load) further load_ready of crashy,
#   - an event in the store never reached the broker: every seq `jetgate events --json`
#     lists at the end must arrive on `<prefix>/<id>/events` (deduplicated on seq; the
#     script waits up to 20 s for the last ones), unless SOAK_REQUIRE_BROKER=0,
#   - the agent died.
#
# Environment: JETGATE_BIN (use this binary instead of building), SOAK_KEEP=1 (keep the work
# directory: samples.tsv, events.jsonl, broker.txt, agent.log, jetgate.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-60}
sample_secs=${SOAK_SAMPLE_SECS:-5}
warmup_secs=${SOAK_WARMUP_SECS:-30}
max_rss_slope=${SOAK_MAX_RSS_SLOPE:-$((8 * 1024 * 1024))}
min_rss_growth=${SOAK_MIN_RSS_GROWTH:-$((2 * 1024 * 1024))}
max_fd_growth=${SOAK_MAX_FD_GROWTH:-4}
min_restarts=${SOAK_MIN_RESTARTS:-$(( ${1:-60} ))}
duration=$((minutes * 60))
[ "$duration" -gt "$warmup_secs" ] || { echo "error: $minutes min is not past the ${warmup_secs}s warm-up" >&2; exit 2; }

work=$(mktemp -d /tmp/jetgate-soak.XXXXXX)
agent="" broker="" sub=""
cleanup() {
  for p in $agent $sub $broker; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $agent $sub $broker; do wait "$p" 2>/dev/null || true; done
  if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [ -n "${JETGATE_BIN:-}" ]; then
  cp "$JETGATE_BIN" "$work/jetgate"
else
  cargo build --release --locked --quiet
  cp target/release/jetgate "$work/jetgate"
fi
J="$work/jetgate"

# A free local port: one nothing answers on.
port=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "error: no free port found" >&2; exit 1; }

prefix=soak
id="soak-$$"
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/mosquitto.conf"
"$mosquitto_bin" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
broker=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t "$prefix/$id/events" >"$work/broker.txt" 2>"$work/sub.err" &
sub=$!

model() { # name memory args...
  local name=$1 memory=$2; shift 2
  local argv="\"$J\", \"sim-model\""
  for a in "$@"; do argv="$argv, \"$a\""; done
  cat <<TOML
[[model]]
name = "$name"
command = [$argv]
memory = "$memory"
ready = { log = "READY", timeout = "60s" }
autostart = true
stop_grace = "2s"
restart = { initial = "1s", max = "5s", max_restarts = 1000, window = "10m", reset_after = "10m" }
TOML
}

{
  cat <<TOML
[device]
id = "$id"

[memory]
reserve = "256MiB"
sample_interval = "100ms"

[gate]
settle_window = "1s"
settle_timeout = "30s"

[store]
path = "$work/jetgate.db"

[control]
socket = "$work/control.sock"

[mqtt]
url = "mqtt://127.0.0.1:$port"
prefix = "$prefix"
connect_spread = "0s"

TOML
  model stable 88MiB --alloc 64MiB
  echo
  model leaky 56MiB --alloc 32MiB --leak 16KiB/s
  echo 'leak = { window = "10m", warmup = "1m" }'
  echo
  model crashy 40MiB --alloc 16MiB --exit-after 20s --exit-code 3
} >"$work/jetgate.toml"
"$J" config check "$work/jetgate.toml" >/dev/null

"$J" agent --config "$work/jetgate.toml" >"$work/agent.log" 2>&1 &
agent=$!
export JETGATE_SOCKET="$work/control.sock"
for _ in $(seq 200); do [ -S "$JETGATE_SOCKET" ] && break; sleep 0.1; done

echo "soak: $minutes min, agent pid $agent, broker 127.0.0.1:$port, topic $prefix/$id/events, sampling every ${sample_secs}s"
start=$(date +%s)
printf 't_s\trss_bytes\tfds\n' >"$work/samples.tsv"
while :; do
  now=$(date +%s)
  t=$((now - start))
  [ -d "/proc/$agent" ] || { echo "error: the agent died after ${t}s; its log:" >&2; tail -20 "$work/agent.log" >&2; exit 1; }
  rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$agent/status")
  fds=$(find "/proc/$agent/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  printf '%s\t%s\t%s\n' "$t" "$((rss_kb * 1024))" "$fds" >>"$work/samples.tsv"
  [ "$t" -lt "$duration" ] || break
  sleep "$sample_secs"
done

heap=$("$J" status --json | jq -c '.agent.allocator // {} | {allocated_bytes, resident_bytes}')
"$J" events --json >"$work/events.jsonl"
# seqs in the store that the broker has not delivered (yet): the outbox drains in
# milliseconds, but give the last ones time before judging.
undelivered() {
  jq -r '.seq' "$work/events.jsonl" | sort -n >"$work/store-seqs.txt"
  (jq -r '.seq' "$work/broker.txt" 2>/dev/null || true) | sort -nu >"$work/broker-seqs.txt"
  comm -23 "$work/store-seqs.txt" "$work/broker-seqs.txt" | wc -l
}
for _ in $(seq 40); do [ "$(undelivered)" -eq 0 ] && break; sleep 0.5; done
missing=$(undelivered)
kill -TERM "$agent"; wait "$agent" 2>/dev/null || true; agent=""
sleep 1
kill -TERM "$sub" 2>/dev/null || true; wait "$sub" 2>/dev/null || true; sub=""

# slope FIELD: "theil_sen least_squares first last n" over the samples after warm-up, per hour.
slope() {
  awk -F'\t' -v col="$1" -v warm="$warmup_secs" 'NR > 1 && $1 >= warm { n++; t[n] = $1; y[n] = $col }
    END {
      if (n < 3) { print "0 0 0 0 " n; exit }
      for (i = 1; i <= n; i++) { st += t[i]; sy += y[i] }
      mt = st / n; my = sy / n
      for (i = 1; i <= n; i++) { sxy += (t[i] - mt) * (y[i] - my); sxx += (t[i] - mt) ^ 2 }
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] != t[i]) print (y[j] - y[i]) / (t[j] - t[i]) > "/dev/stderr"
      printf "LS %.6f %s %s %d\n", (sxx > 0 ? sxy / sxx : 0) * 3600, y[1], y[n], n
    }' "$work/samples.tsv" 2>"$work/pairs.txt" >"$work/ls.txt"
  local median
  median=$(sort -g "$work/pairs.txt" | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  read -r _ ls first last n <"$work/ls.txt"
  awk -v m="$median" -v ls="$ls" -v f="$first" -v l="$last" -v n="$n" 'BEGIN { printf "%.0f %.0f %.0f %.0f %d\n", m * 3600, ls, f, l, n }'
}
read -r rss_ts rss_ls rss_first rss_last n <<<"$(slope 2)"
read -r fd_ts fd_ls fd_first fd_last _ <<<"$(slope 3)"
rss_growth=$((rss_last - rss_first))
fd_growth=$((fd_last - fd_first))

count() { jq -s --arg k "$1" --arg s "${2:-}" '[.[] | select(.kind == $k and ($s == "" or .subject == $s))] | length' "$work/events.jsonl"; }
local_events=$(jq -s 'length' "$work/events.jsonl")
broker_events=$(grep -c . "$work/broker.txt" || true)
broker_unique=$(wc -l <"$work/broker-seqs.txt")
crashy_ready=$(count load_ready crashy)
crashy_restarts=$((crashy_ready > 0 ? crashy_ready - 1 : 0))

mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
echo
echo "samples after ${warmup_secs}s warm-up: $n"
echo "agent VmRSS: $(mib "$rss_first") -> $(mib "$rss_last") (growth $(mib "$rss_growth"))"
echo "  slope: Theil-Sen $(mib "$rss_ts")/h, least squares $(mib "$rss_ls")/h (limit $(mib "$max_rss_slope")/h with growth > $(mib "$min_rss_growth"))"
echo "agent fds:   $fd_first -> $fd_last (growth $fd_growth, limit $max_fd_growth); slope Theil-Sen $fd_ts/h, least squares $fd_ls/h"
echo "agent heap (jemalloc) at the end: $heap"
echo "events: $local_events from jetgate events --json, $broker_events from the broker ($prefix/$id/events; $broker_unique distinct seqs), $missing of the store's never delivered"
jq -r -s 'group_by(.kind) | map("  \(.[0].kind): \(length)") | .[]' "$work/events.jsonl"
echo "crashy: $(count service_exited crashy) exits, $crashy_restarts restarts (load_ready after the first)"

fail=0
if [ "$rss_ts" -gt "$max_rss_slope" ] && [ "$rss_growth" -gt "$min_rss_growth" ]; then
  echo "FAIL: agent RSS grows $(mib "$rss_ts")/h (Theil-Sen) and by $(mib "$rss_growth")" >&2; fail=1
fi
if [ "$fd_growth" -gt "$max_fd_growth" ]; then
  echo "FAIL: agent fds grew by $fd_growth (limit $max_fd_growth)" >&2; fail=1
fi
for check in "agent_started:" "load_ready:stable" "load_ready:leaky" "load_ready:crashy" "service_exited:crashy"; do
  kind=${check%%:*} subject=${check#*:}
  if [ "$(count "$kind" "$subject")" -lt 1 ]; then
    echo "FAIL: no $kind event${subject:+ for $subject}" >&2; fail=1
  fi
done
if [ "$crashy_restarts" -lt "$min_restarts" ]; then
  echo "FAIL: crashy restarted $crashy_restarts times, expected at least $min_restarts" >&2; fail=1
fi
if [ "${SOAK_REQUIRE_BROKER:-1}" = 1 ] && { [ "$broker_events" -lt 1 ] || [ "$missing" -gt 0 ]; }; then
  echo "FAIL: $missing of the store's $local_events events never reached the broker ($broker_events received)" >&2; fail=1
fi
[ "$fail" = 0 ] && echo "soak passed"
exit "$fail"
