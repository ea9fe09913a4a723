//! Resident ballast: memory that `sim-model` really holds, every page written.
//!
//! Memory is held as chunks of at most [`STEP`] bytes. Each chunk is filled with a non-zero byte
//! as it is allocated, so every page is faulted in and resident (a zeroed allocation would be
//! mapped lazily to the shared zero page and show up in no RSS). Chunks are never freed until
//! the process exits; sizes are bytes.
//!
//! ```text
//! ballast.grow_to(1 GiB)  →  256 chunks of 4 MiB, each memset to 0xA5
//! ```

use crate::simmodel::plan::STEP;

/// The byte written into every page; anything but zero.
const FILL: u8 = 0xA5;

/// The most threads that fault pages in at once.
pub const MAX_WORKERS: usize = 4;

/// Memory held and touched.
#[derive(Debug, Default)]
pub struct Ballast {
    chunks: Vec<Vec<u8>>,
    held: u64,
}

impl Ballast {
    pub fn new() -> Ballast {
        Ballast::default()
    }

    /// Bytes held (and touched) so far.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Allocates and touches chunks until `target` bytes are held; never more than `target`.
    /// A deficit of several chunks is filled by up to [`MAX_WORKERS`] threads at once: page
    /// faults (the kernel zeroing each page) bound a single thread to about 1.5 GiB/s.
    /// Returns the bytes added.
    pub fn grow_to(&mut self, target: u64) -> u64 {
        let before = self.held;
        let mut sizes = Vec::new();
        let mut planned = self.held;
        while planned < target {
            let n = (target - planned).min(STEP);
            sizes.push(usize::try_from(n).unwrap_or(usize::MAX));
            planned += n;
        }
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WORKERS);
        if sizes.len() < 2 || workers < 2 {
            for n in sizes {
                self.push(vec![FILL; n]);
            }
        } else {
            let per = sizes.len().div_ceil(workers);
            let parts: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
                let handles: Vec<_> = sizes
                    .chunks(per)
                    .map(|part| s.spawn(move || part.iter().map(|&n| vec![FILL; n]).collect()))
                    .collect();
                // A worker that died holds nothing; the next tick allocates what is missing.
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect()
            });
            for chunk in parts.into_iter().flatten() {
                self.push(chunk);
            }
        }
        self.held - before
    }

    fn push(&mut self, chunk: Vec<u8>) {
        // `vec![FILL; n]` allocated and wrote every byte: its pages are resident now.
        self.held += chunk.len() as u64;
        self.chunks.push(chunk);
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
        // Many chunks at once (the parallel path) still land exactly on the target.
        assert_eq!(b.grow_to(STEP * 40 + 3), STEP * 38 - 7);
        assert_eq!(b.held(), STEP * 40 + 3);
    }

    #[test]
    fn every_byte_held_is_written_non_zero() {
        let mut b = Ballast::new();
        b.grow_to(STEP + 4096);
        b.grow_to(STEP * 9 + 1); // several chunks at once: the parallel path
        assert_eq!(b.held(), STEP * 9 + 1);
        assert!(b.chunks.iter().flatten().all(|&x| x == FILL));
    }
}
