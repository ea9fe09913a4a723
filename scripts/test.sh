#!/usr/bin/env bash
# The test command from README.md, and exactly what CI runs (.ci/run calls this file).
#
# On a fresh Debian/Ubuntu machine it first installs what it needs (idempotently: nothing is
# reinstalled when present): the aarch64 cross linker and libc, qemu-user to run aarch64
# binaries, Mosquitto for the broker tests and the soak, jq for the soak's event counts, the
# packaging checks' tools (lintian, aarch64 objdump, systemd-analyze, python3-venv for the
# pinned cargo-zigbuild/zig/oelint-adv venv of scripts/lib/pytools.sh), cmake and g++ for
# llama.cpp's llama-server, libfaketime for the clock-step tests, tmux for the `jetgate top`
# screen tests, and the rustup aarch64 target. Then it runs:
#   1. cargo fmt --check and cargo clippy -D warnings over the whole workspace
#   2. every test (unit, property, integration with real processes and cgroups, and real
#      llama-server model servers: scripts/lib/llama.sh builds llama-server once from the
#      pinned llama-cpp-python sdist into target/llama/, about 6 minutes on 2 cores, and
#      exports where it and the GGUF writer are; the tests fail under CI without them)
#   3. the release build for aarch64-unknown-linux-gnu with cargo zigbuild against glibc 2.27
#      and 64 KiB jemalloc pages: the one aarch64 binary that is tested and packaged
#   4. the parser and device-readings tests built for aarch64 and run under qemu
#   5. `jetgate tegrastats --json` on the fixture lines: aarch64 (qemu) output must be
#      byte-identical to the x86-64 output
#   6. scripts/package.sh on the binaries built above: the .debs and tarball, the GLIBC
#      ceiling, lintian, systemd-analyze, oelint-adv, and an install/purge test of the amd64
#      package on this machine
#   7. a 3-minute soak of the release agent with three misbehaving models (scripts/soak.sh):
#      fails on a growing RSS or fd count, or on missing events
# Before clippy it also checks that the Yocto crates list is in step with Cargo.lock.
# Set JETGATE_SKIP_INSTALL=1 to skip step 0 on a machine you manage yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pytools.sh
source scripts/lib/llama.sh

AARCH64=aarch64-unknown-linux-gnu
APT_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user mosquitto mosquitto-clients openssl file jq
  lintian binutils-aarch64-linux-gnu systemd man-db adduser python3-venv cmake g++ libfaketime tmux
  prometheus podman runc)

step() { printf '\n==> %s\n' "$*"; }

install_prerequisites() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "installing apt packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # A package install may start the system broker and Prometheus; the tests start their own
  # on free ports (prometheus: promtool and the server of the metrics test).
  if command -v systemctl >/dev/null 2>&1; then
    systemctl stop mosquitto >/dev/null 2>&1 || true
    systemctl stop prometheus >/dev/null 2>&1 || true
  fi
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup target list --installed | grep -qx "$AARCH64" || rustup target add "$AARCH64"
}

[ "${JETGATE_SKIP_INSTALL:-0}" = 1 ] || install_prerequisites

step "format"
cargo fmt --all -- --check

step "yocto: jetgate-crates.inc in step with Cargo.lock"
scripts/yocto-crates.sh --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "llama-server for the real-server tests (built once, cached in target/llama)"
ensure_llama
echo "$JETGATE_LLAMA_SERVER"

step "tests (x86-64)"
cargo test --workspace --locked

step "release build for $AARCH64 (cargo zigbuild: glibc $AARCH64_GLIBC, 64 KiB jemalloc pages)"
bin=$(zigbuild_aarch64)
file "$bin"
file "$bin" | grep -q "ARM aarch64" || { echo "error: $bin is not an aarch64 binary" >&2; exit 1; }
ls -l "$bin"

step "parser and readings tests as aarch64 binaries under qemu"
cargo test --locked --target "$AARCH64" -p tegrastats-parser
# qemu-user answers a guest's reads of /proc/self and /proc/<child> with its own emulated view
# (thread counts of 0, the emulator's comm), so the tests that read live processes run natively
# above and are skipped here; every parser and fixture-tree test runs as aarch64.
cargo test --locked --target "$AARCH64" -p jetgate --lib -- sources:: board:: units:: --skip _live

step "tegrastats --json: aarch64 output byte-identical to x86-64"
cargo build --release --locked
lines=crates/tegrastats-parser/tests/data/lines.txt
host_out=$(mktemp) cross_out=$(mktemp)
trap 'rm -f "$host_out" "$cross_out"' EXIT
# Comment lines in the fixture are not tegrastats output: each yields an error (exit 1), so
# feed only the samples.
grep -v '^#' "$lines" | target/release/jetgate tegrastats --json - >"$host_out"
grep -v '^#' "$lines" | qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin" tegrastats --json - >"$cross_out"
cmp "$host_out" "$cross_out"
echo "identical: $(wc -l <"$host_out") JSON lines, $(wc -c <"$host_out") bytes"

step "packages from the binaries above: checks, install and purge"
JETGATE_ARM64_BIN="$bin" JETGATE_AMD64_BIN=target/release/jetgate scripts/package.sh

step "soak: the release agent for ${JETGATE_SOAK_MINUTES:-3} minutes"
JETGATE_BIN=target/release/jetgate scripts/soak.sh "${JETGATE_SOAK_MINUTES:-3}"

step "all checks passed"
