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
    /// Returns the bytes added.
    pub fn grow_to(&mut self, target: u64) -> u64 {
        let before = self.held;
        while self.held < target {
            let n = (target - self.held).min(STEP);
            // `vec![FILL; n]` allocates and writes every byte: the pages become resident now.
            let chunk = vec![FILL; usize::try_from(n).unwrap_or(usize::MAX)];
            self.held += chunk.len() as u64;
            self.chunks.push(chunk);
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
    }

    #[test]
    fn every_byte_held_is_written_non_zero() {
        let mut b = Ballast::new();
        b.grow_to(STEP + 4096);
        assert!(b.chunks.iter().flatten().all(|&x| x == FILL));
    }
}
