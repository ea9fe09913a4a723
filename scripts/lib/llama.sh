#!/usr/bin/env bash
# Sourced by scripts/test.sh and scripts/demo.sh (or run: `scripts/lib/llama.sh`): llama.cpp's
# own `llama-server`, built from the source vendored in the pinned `llama-cpp-python` sdist on
# PyPI, and a Python venv with numpy for the vendored `gguf-py` that writes test models.
#
# Everything lives under target/llama/<version>/ and is built once: later runs find the binary
# and skip the build (about 6 minutes on 2 cores). The sdist's sha256 is checked before use.
#
#   ensure_llama          builds or finds both; exports JETGATE_LLAMA_SERVER (the binary),
#                         JETGATE_GGUF_PY (the vendored gguf-py) and JETGATE_LLAMA_PYTHON
#                         (the venv's python, with numpy)

LLAMA_CPP_PYTHON_VERSION=0.3.36
LLAMA_CPP_PYTHON_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
# JETGATE_LLAMA_DIR moves the cache (e.g. to share one build between git worktrees).
LLAMA_DIR=${JETGATE_LLAMA_DIR:-target/llama/$LLAMA_CPP_PYTHON_VERSION}
# gguf-py's own dependencies, pinned; only numpy is used to write models.
LLAMA_PY_PINS=(numpy==2.3.5 PyYAML==6.0.3 tqdm==4.67.1 requests==2.32.5)

llama_fetch_source() {
  local sdist=$LLAMA_DIR/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz
  if [ ! -f "$sdist" ]; then
    echo "downloading llama-cpp-python $LLAMA_CPP_PYTHON_VERSION (sdist) from PyPI" >&2
    mkdir -p "$LLAMA_DIR"
    # The venv's pip: a fresh Debian's python3 has no pip module (python3-pip is not installed).
    "$LLAMA_DIR/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$LLAMA_DIR" >&2
  fi
  echo "$LLAMA_CPP_PYTHON_SHA256  $sdist" | sha256sum --check --quiet - >&2 ||
    { echo "error: $sdist does not match its pinned sha256" >&2; return 1; }
  if [ ! -d "$LLAMA_DIR/src" ]; then
    rm -rf "$LLAMA_DIR/src.tmp" && mkdir -p "$LLAMA_DIR/src.tmp"
    tar -xzf "$sdist" -C "$LLAMA_DIR/src.tmp" --strip-components=3 \
      "llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp"
    mv "$LLAMA_DIR/src.tmp" "$LLAMA_DIR/src"
  fi
}

llama_build_server() {
  local bin=$LLAMA_DIR/bin/llama-server
  [ -x "$bin" ] && return 0
  command -v cmake >/dev/null || { echo "error: cmake is needed to build llama-server" >&2; return 1; }
  echo "building llama-server (once; cached in $LLAMA_DIR)" >&2
  # CPU only, portable (no -march=native: the cache may move between machines), no libcurl,
  # static libraries so the one binary can be copied, and nothing but the server target.
  cmake -S "$LLAMA_DIR/src" -B "$LLAMA_DIR/build" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON >&2
  cmake --build "$LLAMA_DIR/build" --target llama-server -j "$(nproc)" >&2
  mkdir -p "$LLAMA_DIR/bin"
  cp "$LLAMA_DIR/build/bin/llama-server" "$bin.tmp" && mv "$bin.tmp" "$bin"
}

llama_python() {
  local venv=$LLAMA_DIR/venv
  if ! cmp -s <(printf '%s\n' "${LLAMA_PY_PINS[@]}") "$venv/pins.txt" 2>/dev/null; then
    echo "installing numpy for gguf-py into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${LLAMA_PY_PINS[@]}" >&2
    printf '%s\n' "${LLAMA_PY_PINS[@]}" >"$venv/pins.txt"
  fi
}

ensure_llama() {
  llama_python && llama_fetch_source && llama_build_server || return 1
  local dir
  dir=$(realpath "$LLAMA_DIR")
  JETGATE_LLAMA_SERVER=$dir/bin/llama-server
  JETGATE_GGUF_PY=$dir/src/gguf-py
  JETGATE_LLAMA_PYTHON=$dir/venv/bin/python
  export JETGATE_LLAMA_SERVER JETGATE_GGUF_PY JETGATE_LLAMA_PYTHON
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/../.."
  ensure_llama
  echo "$JETGATE_LLAMA_SERVER"
fi
