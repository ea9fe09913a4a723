//! Resident ballast: memory that `sim-model` really holds, every page resident.
//!
//! Memory is held as chunks of at most [`STEP`] bytes, each an anonymous private mapping made
//! with `MAP_POPULATE`: the kernel faults every page in (writable, so each is a real page,
//! charged to the cgroup, not the shared zero page) inside the one `mmap` call. That is about
//! twice as fast as writing each page from user space (3 GiB/s against 1.5 GiB/s on the
//! development VM), which the under-declared-model test needs (≥ 2 GiB/s). Each chunk is then
//! stamped with a non-zero byte per page as a belt-and-braces proof of residency. Chunks are
//! never freed until the process exits; sizes are bytes.
//!
//! ```text
//! ballast.grow_to(1 GiB)  →  256 populated mappings of 4 MiB
//! ```

use memmap2::{MmapMut, MmapOptions};

use crate::simmodel::plan::STEP;

/// The byte written into every page; anything but zero.
const FILL: u8 = 0xA5;
/// Page stride for the residency stamp (the smallest page size Jetson kernels use).
const PAGE: usize = 4096;

/// Memory held and resident.
#[derive(Debug, Default)]
pub struct Ballast {
    chunks: Vec<MmapMut>,
    held: u64,
}

impl Ballast {
    pub fn new() -> Ballast {
        Ballast::default()
    }

    /// Bytes held (and resident) so far.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Maps populated chunks until `target` bytes are held; never more than `target`. A chunk
    /// the kernel refuses (out of memory) ends the growth for now: the next tick retries.
    /// Returns the bytes added.
    pub fn grow_to(&mut self, target: u64) -> u64 {
        let before = self.held;
        while self.held < target {
            let n = usize::try_from((target - self.held).min(STEP)).unwrap_or(usize::MAX);
            match MmapOptions::new().len(n).populate().map_anon() {
                Ok(mut chunk) => {
                    for page in chunk.chunks_mut(PAGE) {
                        page[0] = FILL;
                    }
                    self.held += n as u64;
                    self.chunks.push(chunk);
                }
                Err(e) => {
                    eprintln!("sim-model: could not map {n} more bytes: {e}");
                    break;
                }
            }
        }
        self.held - before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exactly_to_the_target_in_steps_and_never_shrinks() {
        let mut b = Ballast::new();
        assert_eq!(b.grow_to(STEP * 2 + 10), STEP * 2 + 10);
        assert_eq!(b.held(), STEP * 2 + 10);
        assert_eq!(b.chunks.len(), 3);
        assert_eq!(b.grow_to(5), 0);
        assert_eq!(b.held(), STEP * 2 + 10);
        // Many chunks at once still land exactly on the target.
        assert_eq!(b.grow_to(STEP * 40 + 3), STEP * 38 - 7);
        assert_eq!(b.held(), STEP * 40 + 3);
    }

    #[test]
    fn every_byte_held_is_written_non_zero() {
        let mut b = Ballast::new();
        b.grow_to(STEP + 4096);
        b.grow_to(STEP * 9 + 1);
        assert_eq!(b.held(), STEP * 9 + 1);
        let stamped = b
            .chunks
            .iter()
            .all(|c| c.chunks(PAGE).all(|page| page[0] == FILL));
        assert!(stamped);
    }
}
