#!/usr/bin/env bash
# Reconnect rate of the fleet link, for docs/benchmarks.md: one agent per scenario, all run at
# once for SECONDS (default 180), each against a broker that will not keep it:
#   refused   Mosquitto with a password file and the agent's password wrong (CONNACK refusal);
#             attempts counted from the broker's log ("not authorised" lines)
#   down      nothing listens on the port; attempts counted from the agent's debug log
#   drop      a listener that accepts TCP and closes at once (a broker that drops the client)
#   flap      a listener that answers CONNECT with CONNACK 0 and closes at once (a flapping
#             broker: every connection succeeds and dies)
# For each: attempts, attempts a minute, and the most in any 60 s window (the cap is 15).
# Usage: scripts/bench-reconnect.sh [JETGATE_BINARY] (default target/release/jetgate)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/jetgate}
SECONDS_RUN=${SECONDS_RUN:-180}
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
W=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

agent() { # $1 name, $2 port, $3 extra [mqtt] lines; stderr lines stamped with unix time
  cat > "$W/$1.toml" <<TOML
[device]
id = "$1"
[mqtt]
url = "mqtt://127.0.0.1:$2"
connect_spread = "0s"
$3
[store]
path = "$W/$1.db"
[control]
socket = "$W/$1.sock"
TOML
  "$BIN" agent --config "$W/$1.toml" --log jetgate=debug >/dev/null \
    2> >(python3 -u -c 'import sys, time
for l in sys.stdin: sys.stdout.write(f"{time.time():.3f} {l}")' > "$W/$1.log") &
  PIDS+=($!)
}

listener() { # $1 mode (drop|flap), $2 port, $3 file of accept times
  python3 -u - "$1" "$2" "$3" <<'PY' &
import socket, sys, time
mode, port, out = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "w")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
while True:
    c, _ = s.accept()
    out.write(f"{time.time():.3f}\n"); out.flush()
    if mode == "flap":
        c.settimeout(2)
        try:
            c.recv(4096)                      # the CONNECT
            c.sendall(b"\x20\x02\x00\x00")    # CONNACK, accepted, no session
        except OSError:
            pass
    c.close()
PY
  PIDS+=($!)
}

report() { # $1 scenario, $2 file of unix times (one attempt a line)
  python3 - "$1" "$2" "$START" "$SECONDS_RUN" <<'PY'
import sys
name, path, start, run = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
ts = sorted(float(l.split()[0]) for l in open(path) if l.strip())
ts = [t for t in ts if start <= t <= start + run]
most = max((sum(1 for u in ts if t <= u < t + 60) for t in ts), default=0)
first = " ".join(f"{t - start:.1f}" for t in ts[:16])
print(f"{name:8} {len(ts):3} attempts in {run:.0f} s = {len(ts) * 60 / run:5.1f}/min, "
      f"most in any 60 s: {most:2}; first at s: {first}")
PY
}

START=$(date +%s.%N)

# refused: Mosquitto with a password file; the agent's password is wrong.
P_REFUSED=$(port)
mosquitto_passwd -c -b "$W/passwd" bench s3cret >/dev/null 2>&1
printf 'user %s\nallow_anonymous false\npassword_file %s\nlog_dest file %s\nlistener %s 127.0.0.1\n' \
  "$(id -un)" "$W/passwd" "$W/mosquitto.log" "$P_REFUSED" > "$W/m.conf"
"$MOSQ" -c "$W/m.conf" >/dev/null 2>&1 & PIDS+=($!)
printf 'wrong\n' > "$W/bad.pw"
sleep 0.5
agent refused "$P_REFUSED" "username = \"bench\"
password_file = \"$W/bad.pw\""

P_DOWN=$(port)
agent down "$P_DOWN" ""

P_DROP=$(port); listener drop "$P_DROP" "$W/drop.times"; sleep 0.3
agent drop "$P_DROP" ""

P_FLAP=$(port); listener flap "$P_FLAP" "$W/flap.times"; sleep 0.3
agent flap "$P_FLAP" ""

sleep "$SECONDS_RUN"

# Broker log lines start with the unix time: "1765146000: Client ... not authorised."
grep 'not authorised' "$W/mosquitto.log" | sed 's/:.*//' > "$W/refused.times" || true
# The first failure is a warning, each repeat a debug line; both name the attempt.
grep -E 'mqtt connect to .* failed|mqtt connect failed again' "$W/down.log" | cut -d' ' -f1 > "$W/down.times" || true
echo "scenario attempts (${SECONDS_RUN} s each, all four at once, $(basename "$BIN"))"
report refused "$W/refused.times"
report down "$W/down.times"
report drop "$W/drop.times"
report flap "$W/flap.times"
grep -h 'mqtt connect to' "$W/refused.log" | head -1 | cut -c1-220 || true
