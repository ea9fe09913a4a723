#!/usr/bin/env bash
# Compares `jetgate tegrastats --json` end to end with the tegrastats parser of jetson-stats
# 3.x (PyPI jetson-stats==3.1.4, jtop/core/tegra_parse.py) on the same file of lines.
#
#   scripts/bench-tegrastats.sh [LINES]      (default 200000 lines per input file)
#
# Builds the release binary, writes two inputs under $WORK (default /tmp/jetgate-bench):
#   orin.txt  the JetPack 6 AGX Orin line repeated,
#   mix.txt   all fixture lines in turn,
# times jetgate on each (hyperfine when installed, else bash `time`), installs jetson-stats
# into a throwaway venv under $WORK and times its parser over the same lines with a small
# driver that imports only jtop/core/tegra_parse.py (no Jetson needed), and prints lines/s
# for both and their ratio.
set -euo pipefail

LINES=${1:-200000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-/tmp/jetgate-bench}
FIXTURE="$ROOT/crates/tegrastats-parser/tests/data/lines.txt"
mkdir -p "$WORK"

echo "== building jetgate (release)"
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin jetgate
JETGATE="$ROOT/target/release/jetgate"

echo "== writing $LINES-line inputs under $WORK"
grep -v '^#' "$FIXTURE" | grep -v '^$' > "$WORK/fixture.txt"
grep '^10-26-2025 ' "$WORK/fixture.txt" > "$WORK/orin-line.txt"
python3 - "$LINES" "$WORK" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
orin = open(f"{work}/orin-line.txt").read().strip()
mix = [l.strip() for l in open(f"{work}/fixture.txt") if l.strip()]
with open(f"{work}/orin.txt", "w") as f:
    f.write((orin + "\n") * n)
with open(f"{work}/mix.txt", "w") as f:
    f.write("".join(mix[i % len(mix)] + "\n" for i in range(n)))
PY

time_jetgate() {
    local input=$1
    if command -v hyperfine > /dev/null; then
        hyperfine --warmup 2 --runs 10 --export-json "$WORK/hf.json" \
            "$JETGATE tegrastats --json $input > /dev/null" >&2
        python3 -c "import json; print(json.load(open('$WORK/hf.json'))['results'][0]['median'])"
    else
        local best=""
        for _ in 1 2 3 4 5; do
            local t0 t1
            t0=$(date +%s.%N)
            "$JETGATE" tegrastats --json "$input" > /dev/null
            t1=$(date +%s.%N)
            best=$(python3 -c "d=$t1-$t0; b='$best'; print(min(d, float(b)) if b else d)")
        done
        echo "$best"
    fi
}

echo "== installing jetson-stats 3.1.4 into $WORK/venv"
if [ ! -x "$WORK/venv/bin/python" ]; then
    python3 -m venv "$WORK/venv"
fi
"$WORK/venv/bin/pip" install --quiet 'jetson-stats==3.1.4'
PARSE_PY=$("$WORK/venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("jtop")
print(os.path.join(os.path.dirname(spec.origin), "core", "tegra_parse.py"))
PY
)

cat > "$WORK/jtop_driver.py" <<'PY'
# Times jetson-stats' tegrastats parser: the calls jtop's Tegrastats._decode makes per line,
# on each line of a file. Loads jtop/core/tegra_parse.py alone, so nothing touches a Jetson.
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("tegra_parse", sys.argv[1])
tp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tp)
lines = open(sys.argv[2]).read().splitlines()
def decode(text):
    stats = tp.VALS(text)
    mts = tp.MTS(text)
    if mts:
        stats["MTS"] = mts
    stats["RAM"] = tp.RAM(text)
    swap = tp.SWAP(text)
    if swap:
        stats["SWAP"] = swap
    iram = tp.IRAM(text)
    if iram:
        stats["IRAM"] = iram
    stats["CPU"] = tp.CPUS(text)
    stats["TEMP"] = tp.TEMPS(text)
    stats["WATT"] = tp.WATTS(text)
    return stats
failed = 0
t0 = time.perf_counter()
for line in lines:
    try:
        decode(line)
    except Exception:
        failed += 1
dt = time.perf_counter() - t0
print(f"{dt} {failed}")
PY

report() {
    local name=$1 input=$2
    local js jt jt_failed
    js=$(time_jetgate "$input")
    read -r jt jt_failed < <("$WORK/venv/bin/python" "$WORK/jtop_driver.py" "$PARSE_PY" "$input")
    python3 - "$name" "$LINES" "$js" "$jt" "$jt_failed" <<'PY'
import sys
name, n, js, jt, failed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"{name}: {n} lines")
print(f"  jetgate tegrastats --json : {js:.3f} s  {n/js:,.0f} lines/s (end to end, JSON out)")
print(f"  jetson-stats 3.1.4 parser : {jt:.3f} s  {n/jt:,.0f} lines/s (parse only; {failed} lines raised)")
print(f"  ratio                     : {jt/js:.1f}x")
PY
}

echo "== results"
report "JetPack 6 AGX Orin line" "$WORK/orin.txt"
report "fixture mix (13 releases)" "$WORK/mix.txt"
