# Sourced by scripts/test.sh and scripts/package.sh: the pinned Python tools
# (scripts/lib/pytools.txt: cargo-zigbuild and the zig compiler from the `ziglang` wheel,
# oelint-adv) in a virtual environment under target/pkg-tools, outside the system Python
# (a fresh Debian's python3 is externally managed). Idempotent: the venv is rebuilt only when
# the pins change.
#
#   ensure_pytools      creates or updates the venv, puts its bin/ first on PATH
#   zigbuild_aarch64    the release aarch64 build for glibc 2.27 with 64 KiB jemalloc pages;
#                       prints the binary's path (the one binary CI tests and packages)

PYTOOLS_DIR=target/pkg-tools
PYTOOLS_PINS=scripts/lib/pytools.txt
# The glibc floor of the aarch64 binary: JetPack 4.6 (Ubuntu 18.04).
AARCH64_GLIBC=2.27

ensure_pytools() {
  if ! cmp -s "$PYTOOLS_PINS" "$PYTOOLS_DIR/pins.txt" 2>/dev/null; then
    echo "installing the pinned Python tools into $PYTOOLS_DIR" >&2
    rm -rf "$PYTOOLS_DIR"
    python3 -m venv "$PYTOOLS_DIR"
    "$PYTOOLS_DIR/bin/pip" install --quiet --disable-pip-version-check -r "$PYTOOLS_PINS"
    cp "$PYTOOLS_PINS" "$PYTOOLS_DIR/pins.txt"
  fi
  PATH="$PWD/$PYTOOLS_DIR/bin:$PATH"
  export PATH
}

zigbuild_aarch64() {
  ensure_pytools
  # zig is the C compiler and linker (it overrides .cargo/config.toml's linker through
  # CARGO_TARGET_..._LINKER) and links against glibc 2.27's symbol versions. jemalloc is
  # configured for 64 KiB pages, which also runs on 4 KiB kernels (docs/jemalloc.md).
  JEMALLOC_SYS_WITH_LG_PAGE=16 cargo zigbuild --release --locked \
    --target "aarch64-unknown-linux-gnu.$AARCH64_GLIBC" >&2
  echo target/aarch64-unknown-linux-gnu/release/jetgate
}

# The highest GLIBC_x.y symbol version a binary needs (objdump -T), e.g. "2.27".
glibc_max() {
  local objdump=$1 bin=$2
  "$objdump" -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -1
}
