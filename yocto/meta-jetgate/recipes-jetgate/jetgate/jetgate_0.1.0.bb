SUMMARY = "Memory gate, supervisor and fleet agent for NVIDIA Jetson devices"
DESCRIPTION = "jetgate admits model loads one at a time on measured free memory, kills a \
               load before it eats the reserve, supervises model servers (health, restarts \
               with backoff, leak trends) and publishes state and events over MQTT."
# The project's address is a placeholder until it is published; oelint-adv cannot reach it.
# nooelint: oelint.vars.homepageping
HOMEPAGE = "https://example.invalid/jetgate"
SECTION = "admin"
LICENSE = "Apache-2.0"
# The pinned source has no license file of its own: the common Apache-2.0 text is the license.
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"
CVE_PRODUCT = "jetgate"

# The source: the jetgate repository. Point JETGATE_SRC_URI at your mirror (or use
# externalsrc for a local checkout, see yocto/README.md). SRCREV is pinned to a commit whose
# Cargo.lock is the one jetgate-crates.inc was generated from (`scripts/yocto-crates.sh
# --check` fails when they differ); set SRCREV:pn-jetgate to the commit you ship.
JETGATE_SRC_URI ?= "git://example.invalid/jetgate.git;protocol=https;branch=main"
SRC_URI = "${JETGATE_SRC_URI}"
SRCREV ?= "94c6fc8e3f1bf72eb613c8242b5b6ee8a8eabc56"
S = "${WORKDIR}/git"

# Every crate comes from crate:// URIs with the checksums of Cargo.lock, fetched by bitbake
# before do_compile, so cargo builds offline (--frozen). The list is generated:
# scripts/yocto-crates.sh (or `bitbake -c update_crates jetgate`), and a test in the
# repository fails when it is out of step with Cargo.lock.
require jetgate-crates.inc

inherit cargo systemd useradd
# cargo-update-recipe-crates provides `bitbake -c update_crates` (oe-core langdale and later);
# kirkstone has no such class, so inherit it only where it exists. inherit_defer, which
# oelint-adv suggests for a variable inherit, does not exist in kirkstone's bitbake.
# nooelint: oelint.var.inherit.inherit_defer
inherit ${@'cargo-update-recipe-crates' if bb.utils.which(d.getVar('BBPATH'), 'classes-recipe/cargo-update-recipe-crates.bbclass') else ''}

# jemalloc fixes the kernel page size at build time and cannot probe it when cross-compiled.
# The default (4 KiB pages) fits the stock meta-tegra kernels (linux-tegra with 4 KiB pages);
# a binary built for 4 KiB pages aborts at start on a kernel with CONFIG_ARM64_64K_PAGES=y.
# For such a kernel set, in local.conf or a bbappend:
#   JETGATE_LG_PAGE = "16"
# (16 also works on 4 KiB kernels, at a small memory cost: use it for one image for both).
JETGATE_LG_PAGE ??= ""
do_compile[vardeps] += "JETGATE_LG_PAGE"
do_compile:prepend() {
    if [ -n "${JETGATE_LG_PAGE}" ]; then
        export JEMALLOC_SYS_WITH_LG_PAGE="${JETGATE_LG_PAGE}"
    fi
}

do_install:append() {
    # The configuration and the unit come from the source tree, the same files the Debian
    # package installs (packaging/). The configuration: the embedded default (monitor only,
    # no models, no broker) with the models' memory scope outside the unit's cgroup and the
    # control socket open to the jetgate group (packaging/jetgate.toml says why). Edit
    # /etc/jetgate/jetgate.toml on the device or replace it in a bbappend.
    install -d ${D}${sysconfdir}/jetgate
    install -m 0644 ${S}/packaging/jetgate.toml ${D}${sysconfdir}/jetgate/jetgate.toml

    # The systemd unit (Type=notify, `jetgate agent --config /etc/jetgate/jetgate.toml`).
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/packaging/jetgate.service ${D}${systemd_system_unitdir}/jetgate.service
}

# The control socket's group (`[control] group = "jetgate"`): members may use the CLI
# without root.
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system jetgate"

CONFFILES:${PN} = "${sysconfdir}/jetgate/jetgate.toml"
SYSTEMD_SERVICE:${PN} = "jetgate.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"
