//! Placing a child into its cgroup between `fork` and `exec`, so not one page of the model is
//! ever charged outside its cgroup.
//!
//! Approach: the parent opens `<child cgroup>/cgroup.procs` (`O_WRONLY | O_CLOEXEC`) before
//! spawning. In the forked child, a `pre_exec` hook does a single raw `write(fd, "0", 1)`:
//! writing `0` to `cgroup.procs` moves *the writing process* (v1 and v2 alike), so the hook
//! needs neither `getpid` nor number formatting. Only `write(2)` and reading `errno` happen
//! after `fork`, both async-signal-safe; nothing allocates or takes a lock. If the write fails
//! the hook returns the OS error, `exec` never happens and `spawn` reports that error. The fd is
//! close-on-exec, so the model never sees it. The parent closes its copy after `spawn`.
//!
//! Why not `clone3(CLONE_INTO_CGROUP)`: it is v2 only (kernel 5.7+), Jetson L4T kernels are
//! often v1 or hybrid, and std/tokio do not expose it; one mechanism for both hierarchies is
//! simpler to reason about and to test.
#![allow(unsafe_code)] // pre_exec is unsafe by signature; the hook below is async-signal-safe

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Arranges for the child of `cmd` to write itself into the cgroup whose `cgroup.procs` is
/// open as `procs`. `procs` must stay open until `cmd.spawn()` has returned.
pub fn place_before_exec(cmd: &mut tokio::process::Command, procs: &File) {
    let fd = procs.as_raw_fd();
    // SAFETY: the closure runs in the child after fork, where only async-signal-safe calls are
    // allowed. It calls `libc::write` on an fd inherited from the parent (kept open by the
    // caller until spawn returns) with a static one-byte buffer, and on failure reads errno via
    // `io::Error::last_os_error`, which neither allocates nor locks. It touches no other state.
    unsafe {
        cmd.pre_exec(move || {
            const SELF_PID: &[u8] = b"0";
            let n = libc::write(fd, SELF_PID.as_ptr().cast(), SELF_PID.len());
            if n == SELF_PID.len() as isize {
                Ok(())
            } else if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Err(io::Error::from_raw_os_error(libc::EIO))
            }
        });
    }
}
