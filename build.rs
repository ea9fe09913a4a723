//! Build script: records what `jetgate --version` says about this build.
//!
//! - `JETGATE_TARGET`: the target triple cargo builds for.
//! - `JETGATE_GIT_COMMIT`: the commit, from `JETGATE_GIT_COMMIT` in the environment when set
//!   (packagers building from a tarball), else `git rev-parse`, else `unknown`.
//!
//! The glibc floor is not recorded here: only the linked binary knows it, and the binary reads
//! it from its own ELF version requirements at run time (`src/buildinfo.rs`).

// The build script runs git itself; the rule that spawning belongs to the runner is for the
// agent's code.
#![allow(clippy::disallowed_methods)]

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!(
        "cargo:rustc-env=JETGATE_TARGET={}",
        std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string())
    );
    println!("cargo:rerun-if-env-changed=JETGATE_GIT_COMMIT");
    let given = std::env::var("JETGATE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty());
    let commit = given
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=JETGATE_GIT_COMMIT={commit}");
    // Run again when HEAD moves: HEAD itself (a checkout) and the branch it names (a commit).
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for path in watched {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            if std::path::Path::new(&file).exists() {
                println!("cargo:rerun-if-changed={file}");
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
