#!/usr/bin/env bash
# The gate demo (README's main command): three models whose sum does not fit, loaded through
# jetgate's gate inside a 3 GiB memory cgroup that stands for a small Jetson.
#
# Needs root (or a delegated, writable memory cgroup) to create the cgroup. Builds the release
# binary first. Leaves nothing behind: the agent, the models and the cgroup are removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

# The memory cgroup to stand for the board, a child of our own, needs root: say so before
# spending minutes on a build.
. scripts/lib/scope.sh
require_scope "the demo"

cargo build --release --quiet
export PATH="$PWD/target/release:$PATH"
work=$(mktemp -d /tmp/jetgate-demo.XXXXXX)
export JETGATE_SOCKET="$work/control.sock"

make_scope jetgate-demo $((3 << 30))

agent=""
cleanup() {
  [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  remove_scope
  rm -rf "$work"
}
trap cleanup EXIT

sed -e "s|^scope = \"system\".*|scope = \"cgroup:$scope\"|" examples/demo.toml > "$work/demo.toml"
cat >> "$work/demo.toml" <<TOML

[store]
path = "$work/jetgate.db"

[control]
socket = "$work/control.sock"
TOML

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_state() { # NAME STATE
  for _ in $(seq 1 600); do
    jetgate services --json | grep -q "\"name\":\"$1\"[^}]*\"state\":\"$2\"" && return 0
    sleep 0.1
  done
  echo "demo: $1 never became $2" >&2; return 1
}

jetgate config check "$work/demo.toml"
jetgate agent --config "$work/demo.toml" --log warn &
agent=$!
for _ in $(seq 1 100); do [ -S "$JETGATE_SOCKET" ] && break; sleep 0.1; done

say "a 3 GiB board, 512 MiB reserve: ask for three 1 GiB models at once"
jetgate load detector
jetgate load tracker
jetgate load llm
wait_state detector ready
wait_state tracker ready
say "two admitted one after another; the third is held, with its reason"
jetgate status

say "unload detector: its memory comes back and the gate admits llm"
jetgate unload detector
wait_state llm ready
jetgate services

say "every decision, with the figures behind it"
jetgate events
