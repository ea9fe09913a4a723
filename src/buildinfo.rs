//! What `jetgate --version` says about this build, for bug reports: the version, the git
//! commit, the target triple and the oldest glibc the binary starts on.
//!
//! ```text
//! jetgate 0.1.0 (commit 310fff4c1a2b, aarch64-unknown-linux-gnu, glibc 2.27 or newer)
//! ```
//!
//! The commit and target come from `build.rs`. The glibc floor is read at run time from the
//! binary's own ELF version requirements ([`elf::glibc_floor`]): it depends on how the binary
//! was linked (plain cargo against the build machine's glibc, or cargo-zigbuild against an
//! older one), which only the linked file knows.

use std::sync::OnceLock;

pub mod elf;

/// The target triple this binary was built for.
pub const TARGET: &str = env!("JETGATE_TARGET");
/// The git commit it was built from (`unknown` outside a checkout).
pub const COMMIT: &str = env!("JETGATE_GIT_COMMIT");

/// The oldest C library the running binary needs, read from `/proc/self/exe`.
pub fn glibc_floor() -> elf::GlibcFloor {
    match std::fs::File::open("/proc/self/exe") {
        Ok(file) => elf::glibc_floor(&file),
        Err(e) => elf::GlibcFloor::Unknown(format!("cannot open /proc/self/exe: {e}")),
    }
}

/// The version line without the program name: `0.1.0 (commit ..., TARGET, glibc ...)`.
pub fn version() -> &'static str {
    static LINE: OnceLock<String> = OnceLock::new();
    LINE.get_or_init(|| {
        format!(
            "{} (commit {COMMIT}, {TARGET}, {})",
            env!("CARGO_PKG_VERSION"),
            glibc_floor()
        )
    })
}
