#!/usr/bin/env bash
# Builds the install artifacts into target/package/ and checks them; every check fails the run:
#
#   jetgate_VERSION_arm64.deb, jetgate_VERSION_amd64.deb   Debian packages (dpkg-deb, no cargo-deb)
#   jetgate-VERSION-aarch64.tar.gz                         the aarch64 binary, unit, config, man page
#   SHA256SUMS
#
#   1. the aarch64 binary: an aarch64 ELF whose highest GLIBC_ symbol version is at most 2.27
#      (objdump -T), needing only glibc and libgcc_s; it runs under qemu with 4 KiB and 64 KiB
#      pages, and jemalloc reports 64 KiB pages (built with JEMALLOC_SYS_WITH_LG_PAGE=16)
#   2. systemd-analyze verify on the unit, installed with the binary in a temporary root
#   3. lintian on both packages: no error and no warning that is not overridden with a reason
#      (packaging/debian/lintian-overrides)
#   4. oelint-adv on the Yocto recipe and its .inc, once per series in LAYERSERIES_COMPAT
#   5. install test of the package of this machine's architecture (amd64 in CI), as root:
#      dpkg -i, jetgate --version, config check, status --local, the group-accessible control
#      socket of an agent started as the unit starts it, then dpkg --purge must leave no file
#      behind (scripts/lib/install-test.sh)
#
# Binaries: JETGATE_ARM64_BIN and JETGATE_AMD64_BIN name prebuilt ones (scripts/test.sh passes
# the ones it built and tested); without them this script builds them (cargo zigbuild for
# aarch64, plain cargo for x86-64). JETGATE_SKIP_INSTALL_TEST=1 skips step 5 (refused when
# CI=true). Packaging sources: packaging/ (the unit and config also serve the Yocto layer).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pytools.sh

out=target/package
step() { printf '\n==> package: %s\n' "$*"; }
die() { echo "error: $*" >&2; exit 1; }

for tool in dpkg-deb lintian aarch64-linux-gnu-objdump objdump qemu-aarch64 systemd-analyze \
  file gzip sha256sum python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/test.sh installs it)"
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
deb_version=$(sed -n '1s/^jetgate (\([^)]*\)).*/\1/p' packaging/debian/changelog)
[ "${deb_version%-*}" = "$version" ] ||
  die "packaging/debian/changelog is at $deb_version, Cargo.toml at $version: add a changelog entry"
# Reproducible: every timestamp is the changelog entry's date.
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' packaging/debian/changelog | head -1)" +%s)
export SOURCE_DATE_EPOCH

arm64_bin=${JETGATE_ARM64_BIN:-}
amd64_bin=${JETGATE_AMD64_BIN:-}
if [ -z "$arm64_bin" ]; then
  step "building the aarch64 binary (cargo zigbuild, glibc $AARCH64_GLIBC)"
  arm64_bin=$(zigbuild_aarch64)
fi
if [ -z "$amd64_bin" ]; then
  step "building the x86-64 binary"
  cargo build --release --locked
  amd64_bin=target/release/jetgate
fi
ensure_pytools
rm -rf "$out"
mkdir -p "$out"

step "aarch64 binary: $arm64_bin"
file -b "$arm64_bin" | grep -q 'ARM aarch64' || die "$arm64_bin is not an aarch64 ELF"
arm64_glibc=$(glibc_max aarch64-linux-gnu-objdump "$arm64_bin")
echo "highest glibc symbol version: GLIBC_$arm64_glibc (ceiling GLIBC_$AARCH64_GLIBC, JetPack 4.6)"
dpkg --compare-versions "$arm64_glibc" le "$AARCH64_GLIBC" ||
  die "$arm64_bin needs GLIBC_$arm64_glibc > $AARCH64_GLIBC: it would not start on JetPack 4.6/5"
needed=$(aarch64-linux-gnu-objdump -p "$arm64_bin" | awk '$1 == "NEEDED" {print $2}' | sort | tr '\n' ' ')
echo "needs: $needed"
for lib in $needed; do
  case $lib in
    libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libgcc_s.so.1 | ld-linux-aarch64.so.1) ;;
    *) die "$arm64_bin needs $lib, which libc6 and libgcc do not provide" ;;
  esac
done
qemu="qemu-aarch64 -L /usr/aarch64-linux-gnu"
fixture=tests/fixtures/orin-nano-8gb-jp6
for page in 4096 65536; do
  # qemu-user's -p sets the page size the guest sees (AT_PAGESZ, sysconf), which is what
  # jemalloc checks at start: a 4 KiB build stops there with "Unsupported system page size".
  $qemu -p "$page" "$arm64_bin" --version
  $qemu -p "$page" "$arm64_bin" status --local --root "$fixture" >/dev/null ||
    die "the aarch64 binary fails status --local with $page-byte pages"
  grep -v '^#' crates/tegrastats-parser/tests/data/lines.txt |
    $qemu -p "$page" "$arm64_bin" tegrastats --json - >/dev/null ||
    die "the aarch64 binary fails tegrastats --json with $page-byte pages"
done
lg_page=$(_RJEM_MALLOC_CONF=stats_print:true $qemu -p 65536 "$arm64_bin" --version 2>&1 |
  sed -n 's/^Page size: *//p' | head -1)
echo "jemalloc page size in the binary: $lg_page bytes; runs with 4 KiB and 64 KiB pages"
[ "$lg_page" = 65536 ] || die "jemalloc in $arm64_bin uses $lg_page-byte pages, not 65536"

# Stages the package tree of one architecture in $1 from the binary $2.
stage() {
  local root=$1 bin=$2 doc=$1/usr/share/doc/jetgate
  install -D -m 0755 "$bin" "$root/usr/bin/jetgate"
  install -D -m 0644 packaging/jetgate.service "$root/lib/systemd/system/jetgate.service"
  install -D -m 0644 packaging/jetgate.toml "$root/etc/jetgate/jetgate.toml"
  install -d -m 0755 "$root/var/lib/jetgate"
  install -D -m 0644 packaging/jetgate.1 "$root/usr/share/man/man1/jetgate.1"
  gzip -9n "$root/usr/share/man/man1/jetgate.1"
  install -D -m 0644 packaging/debian/copyright "$doc/copyright"
  install -m 0644 packaging/debian/changelog "$doc/changelog.Debian"
  gzip -9n "$doc/changelog.Debian"
  install -D -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/jetgate"
  install -D -m 0644 -t "$doc/examples/mosquitto" packaging/mosquitto/jetgate.acl packaging/mosquitto/jetgate.conf
}

# Builds the .deb of one architecture ($1: arm64 or amd64) from the binary $2 (objdump $3).
build_deb() {
  local arch=$1 bin=$2 objdump=$3 root glibc deb
  root=$(mktemp -d)
  chmod 0755 "$root"
  stage "$root" "$bin"
  install -d "$root/DEBIAN"
  install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
  install -m 0644 packaging/debian/conffiles "$root/DEBIAN/"
  # md5sums of every file but the conffiles (dpkg keeps their sums itself), as dh_md5sums does.
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort |
    grep -vxF -f <(sed 's|^/||' DEBIAN/conffiles) | tr '\n' '\0' | xargs -0 md5sum >DEBIAN/md5sums)
  glibc=$(glibc_max "$objdump" "$bin")
  # libgcc_s only where the binary links it (the zigbuild binary carries zig's own unwinder).
  libgcc=""
  case $("$objdump" -p "$bin") in *libgcc_s.so.1*) libgcc=" libgcc-s1 | libgcc1," ;; esac
  sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@GLIBC@/$glibc/" \
    -e "s/@LIBGCC@/$libgcc/" \
    -e "s/@INSTALLED_SIZE@/$(du -sk --exclude=DEBIAN "$root" | cut -f1)/" \
    packaging/debian/control.in >"$root/DEBIAN/control"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  deb="$out/jetgate_${deb_version}_$arch.deb"
  dpkg-deb --build --root-owner-group -Zxz "$root" "$deb" >/dev/null
  rm -rf "$root"
  echo "$deb: Depends $(dpkg-deb -f "$deb" Depends)"
}

step "Debian packages"
build_deb arm64 "$arm64_bin" aarch64-linux-gnu-objdump
build_deb amd64 "$amd64_bin" objdump
dpkg-deb -c "$out/jetgate_${deb_version}_arm64.deb"
# The arm64 package carries exactly the binary checked above.
extracted=$(mktemp -d)
dpkg-deb -x "$out/jetgate_${deb_version}_arm64.deb" "$extracted"
cmp "$extracted/usr/bin/jetgate" "$arm64_bin" || die "the arm64 package's binary is not $arm64_bin"
rm -rf "$extracted"

step "aarch64 tarball"
tardir=$(mktemp -d)
name=jetgate-$version-aarch64
install -D -m 0755 "$arm64_bin" "$tardir/$name/jetgate"
install -m 0644 packaging/jetgate.service packaging/jetgate.toml packaging/jetgate.1 "$tardir/$name/"
install -m 0644 packaging/INSTALL.tarball.md "$tardir/$name/INSTALL.md"
install -D -m 0644 -t "$tardir/$name/mosquitto" packaging/mosquitto/jetgate.acl packaging/mosquitto/jetgate.conf
tar -C "$tardir" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -cf - "$name" | gzip -9n >"$out/$name.tar.gz"
rm -rf "$tardir"
tar -tvzf "$out/$name.tar.gz"

step "systemd-analyze verify"
# The unit as the package installs it, in a temporary root that holds the package's files
# (ExecStart's /usr/bin/jetgate) and the host's /bin/sh (ExecStartPre) and system units (the
# targets it names). Its man page is checked by the install test, where it is installed.
vroot=$(mktemp -d)
stage "$vroot" "$amd64_bin"
install -D -m 0755 "$(readlink -f /bin/sh)" "$vroot/bin/sh"
mkdir -p "$vroot/usr/lib/systemd"
cp -a /lib/systemd/system "$vroot/usr/lib/systemd/system"
systemd-analyze verify --man=no --root="$vroot" /lib/systemd/system/jetgate.service
rm -rf "$vroot"
echo "jetgate.service: no problems"

step "lintian"
# Errors and warnings fail; info-level tags are shown. Overrides: packaging/debian/lintian-overrides.
lintian --fail-on error,warning --display-info --tag-display-limit 0 \
  "$out"/jetgate_*.deb
echo "lintian: no errors or warnings"

step "oelint-adv on the Yocto recipe"
recipe_dir=yocto/meta-jetgate/recipes-jetgate/jetgate
series=$(sed -n 's/^LAYERSERIES_COMPAT_meta-jetgate = "\(.*\)"/\1/p' yocto/meta-jetgate/conf/layer.conf)
[ -n "$series" ] || die "no LAYERSERIES_COMPAT_meta-jetgate in yocto/meta-jetgate/conf/layer.conf"
for s in $series; do
  # Errors and warnings fail; suppressions are inline `# nooelint:` lines with their reason.
  oelint-adv --quiet --hide info --relpaths --release "$s" \
    "$recipe_dir"/jetgate_*.bb "$recipe_dir"/jetgate-crates.inc ||
    die "oelint-adv --release $s reports problems"
  echo "oelint-adv --release $s: no errors or warnings"
done

if [ "${JETGATE_SKIP_INSTALL_TEST:-0}" = 1 ]; then
  [ "${CI:-}" != true ] || die "JETGATE_SKIP_INSTALL_TEST=1 is refused under CI=true"
  step "install test skipped (JETGATE_SKIP_INSTALL_TEST=1)"
else
  step "install test: dpkg -i, use, dpkg --purge"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  # The package of this machine's architecture (amd64 in CI; arm64 on a Jetson).
  $sudo scripts/lib/install-test.sh "$out/jetgate_${deb_version}_$(dpkg --print-architecture).deb"
fi

(cd "$out" && sha256sum -- *.deb *.tar.gz >SHA256SUMS)
step "artifacts in $out"
ls -l "$out"
cat "$out/SHA256SUMS"
