//! `/proc/buddyinfo`: free memory by block size, the fragmentation figure.
//!
//! Owns [`BuddyInfo`], its pure parser [`parse_buddyinfo`] and the reader [`read_buddyinfo`].
//! The kernel's buddy allocator keeps free memory in blocks of 2^order pages; the file has one
//! line per memory zone with the number of free blocks of each order, order 0 first. An Orin
//! Nano on L4T R36.5 (4 KiB pages, orders 0 to 12) after a failed GPU allocation:
//!
//! ```text
//! Node 0, zone      DMA   3952   2239   1702   1244    608     68     70     23     10     31     28      6      1
//! Node 0, zone   Normal  59440  50533  38883  22684   2068    402     96     32     87    147     20      6      0
//! ```
//!
//! The number of orders is the kernel's (`MAX_ORDER`: 11 on most arm64 and x86 kernels, 13 on
//! these Jetson kernels), so the parser takes however many the line has.
//!
//! **High order.** [`BuddyInfo::free_high_order`] is the free memory in blocks of order
//! [`HIGH_ORDER`] (4) and up: 64 KiB and larger with 4 KiB pages. That is the size of the GPU's
//! big pages on these SoCs, which large GPU buffers are mapped with where memory allows; what
//! free memory is left below it is scattered single pages and short runs. It is a
//! fragmentation indicator, not a promise: a buffer may still be built from small pages, and
//! CMA pages are counted in the zone they sit in (CMA has its own figures in `/proc/meminfo`).
//! The total over all orders ([`BuddyInfo::free`]) is the kernel's `MemFree` seen from the
//! buddy allocator (the real capture above adds up to `free -m`'s 3094 MiB).

use std::path::Path;

use super::error::{parse_u64, ParseError, SourceError};
use super::root::Root;
use crate::units::Bytes;

/// The default location, relative to the [`Root`].
pub const BUDDYINFO_PATH: &str = "/proc/buddyinfo";

/// Blocks of this order and up count as high-order: 2^4 pages, 64 KiB with 4 KiB pages.
pub const HIGH_ORDER: u32 = 4;

/// One line: a zone of a NUMA node and its free blocks per order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Zone {
    pub node: u32,
    /// `DMA`, `DMA32`, `Normal`, `Movable`, `HighMem`.
    pub zone: String,
    /// Free blocks of each order, order 0 first.
    pub free_blocks: Vec<u64>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct BuddyInfo {
    pub zones: Vec<Zone>,
}

impl BuddyInfo {
    /// Free pages in blocks of `order` and up, over every zone.
    pub fn free_pages_from(&self, order: u32) -> u64 {
        self.zones
            .iter()
            .flat_map(|z| z.free_blocks.iter().enumerate())
            .filter(|(o, _)| *o as u32 >= order)
            .fold(0u64, |sum, (o, &blocks)| {
                sum.saturating_add(blocks.saturating_mul(1u64 << o.min(63)))
            })
    }

    /// Free memory in blocks of `order` and up, for pages of `page_size` bytes.
    pub fn free_from(&self, order: u32, page_size: u64) -> Bytes {
        Bytes(self.free_pages_from(order).saturating_mul(page_size))
    }

    /// Free memory in blocks of [`HIGH_ORDER`] and up (see the module doc).
    pub fn free_high_order(&self, page_size: u64) -> Bytes {
        self.free_from(HIGH_ORDER, page_size)
    }

    /// All free memory the buddy allocator holds.
    pub fn free(&self, page_size: u64) -> Bytes {
        self.free_from(0, page_size)
    }

    /// The highest order with a free block in any zone: the largest free block is
    /// `page_size << order`. `None` when nothing is free.
    pub fn largest_free_order(&self) -> Option<u32> {
        self.zones
            .iter()
            .filter_map(|z| z.free_blocks.iter().rposition(|&n| n > 0))
            .max()
            .map(|o| o as u32)
    }
}

/// Parses one `Node N, zone NAME c0 c1 ...` line.
fn parse_zone(line: &str) -> Result<Zone, ParseError> {
    let malformed = || ParseError::Malformed(format!("buddyinfo line {line:.80}"));
    let rest = line.trim().strip_prefix("Node").ok_or_else(malformed)?;
    let (node, rest) = rest.split_once(',').ok_or_else(malformed)?;
    let mut words = rest.split_ascii_whitespace();
    if words.next() != Some("zone") {
        return Err(malformed());
    }
    let zone = words.next().ok_or(ParseError::Missing("zone name"))?;
    let free_blocks = words
        .map(|w| parse_u64("free blocks", w))
        .collect::<Result<Vec<_>, _>>()?;
    if free_blocks.is_empty() {
        return Err(ParseError::Missing("free blocks"));
    }
    Ok(Zone {
        node: parse_u64("node", node.trim())? as u32,
        zone: zone.to_string(),
        free_blocks,
    })
}

/// Parses the text of `/proc/buddyinfo`. Every non-empty line must be a zone line; a file
/// without one is an error (the kernel always has a zone).
pub fn parse_buddyinfo(text: &str) -> Result<BuddyInfo, ParseError> {
    let zones = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_zone)
        .collect::<Result<Vec<_>, _>>()?;
    if zones.is_empty() {
        return Err(ParseError::Missing("zone"));
    }
    Ok(BuddyInfo { zones })
}

/// Reads and parses `/proc/buddyinfo` under `root`.
pub fn read_buddyinfo(root: &Root) -> Result<BuddyInfo, SourceError> {
    let rel = Path::new(BUDDYINFO_PATH);
    let text = root.read(rel)?;
    parse_buddyinfo(&text).map_err(|e| SourceError::parse(root.path(rel), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::captures::capture;
    use proptest::prelude::*;

    const PAGE: u64 = 4096;

    fn real(when: &str) -> BuddyInfo {
        let name = format!("buddyinfo_orin_nano_super_r36.5.0_{when}.txt");
        parse_buddyinfo(&capture(&name)).unwrap()
    }

    #[test]
    fn parses_a_real_orin_buddyinfo_with_thirteen_orders() {
        let b = real("after");
        assert_eq!(b.zones.len(), 2);
        let normal = &b.zones[1];
        assert_eq!((normal.node, normal.zone.as_str()), (0, "Normal"));
        assert_eq!(normal.free_blocks.len(), 13);
        assert_eq!(normal.free_blocks[0], 59440);
        assert_eq!(normal.free_blocks[12], 0);
        assert_eq!(b.zones[0].zone, "DMA");
    }

    #[test]
    fn the_free_total_is_what_free_printed_on_the_device() {
        // The capture's `free -m` printed 5299 MiB free before and 3094 MiB after.
        assert_eq!(real("before").free_pages_from(0), 1_356_667);
        assert_eq!(real("after").free_pages_from(0), 792_012);
        assert_eq!(real("after").free(PAGE).get() >> 20, 3093);
    }

    #[test]
    fn high_order_free_memory_fell_by_three_quarters_after_the_failure() {
        // Orders 4..=12 of both zones: Σ blocks × 2^order pages.
        assert_eq!(real("before").free_pages_from(HIGH_ORDER), 1_036_544);
        assert_eq!(real("after").free_pages_from(HIGH_ORDER), 269_312);
        assert_eq!(real("before").free_high_order(PAGE), Bytes::from_mib(4049));
        assert_eq!(real("after").free_high_order(PAGE), Bytes::from_mib(1052));
        // DMA still has one order-12 block after.
        assert_eq!(real("after").largest_free_order(), Some(12));
    }

    #[test]
    fn a_kernel_with_eleven_orders_and_an_empty_file() {
        let b = parse_buddyinfo("Node 0, zone    DMA32  1 0 0 0 0 0 0 0 0 0 2\n").unwrap();
        assert_eq!(b.free_pages_from(0), 1 + 2 * 1024);
        assert_eq!(b.largest_free_order(), Some(10));
        let none = parse_buddyinfo("Node 0, zone Normal 0 0 0\n").unwrap();
        assert_eq!(none.largest_free_order(), None);
        assert_eq!(parse_buddyinfo(""), Err(ParseError::Missing("zone")));
    }

    #[test]
    fn garbage_is_an_error_naming_what_is_wrong() {
        assert!(parse_buddyinfo("Node 0, zone Normal\n").is_err());
        let err = parse_buddyinfo("Node 0, zone Normal 1 x 3\n").unwrap_err();
        assert!(err.to_string().contains("free blocks"), "{err}");
        assert!(parse_buddyinfo("# source: somewhere\n").is_err());
        assert!(parse_buddyinfo("Node x, zone Normal 1\n").is_err());
        assert!(parse_buddyinfo("Node 0, region Normal 1\n").is_err());
    }

    #[test]
    fn huge_counts_saturate_instead_of_overflowing() {
        let b = parse_buddyinfo(&format!("Node 0, zone Normal {} 0 0 0 0 1\n", u64::MAX)).unwrap();
        assert_eq!(b.free_pages_from(0), u64::MAX);
        assert_eq!(b.free(PAGE), Bytes(u64::MAX));
    }

    #[test]
    fn reads_this_machines_buddyinfo_and_a_tree_without_one() {
        let b = read_buddyinfo(&Root::host()).unwrap();
        assert!(b.free(PAGE) > Bytes::ZERO);
        let dir = tempfile::tempdir().unwrap();
        let err = read_buddyinfo(&Root::new(dir.path())).unwrap_err();
        assert!(err.is_unsupported());
    }

    #[test]
    fn the_jetpack_6_fixture_tree_adds_up_to_its_mem_free() {
        let root = Root::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/orin-nano-8gb-jp6"
        ));
        let b = read_buddyinfo(&root).unwrap();
        let m = crate::sources::read_meminfo(&root, &mut String::new()).unwrap();
        assert_eq!(b.free(PAGE), m.free);
        assert_eq!(b.free_high_order(PAGE), Bytes::from_kib(427_776));
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "(?s).{0,300}") {
            let _ = parse_buddyinfo(&s);
        }

        #[test]
        fn high_order_never_exceeds_the_total(
            counts in proptest::collection::vec(0u64..100_000, 1..14)
        ) {
            let line: Vec<String> = counts.iter().map(u64::to_string).collect();
            let b = parse_buddyinfo(&format!("Node 0, zone Normal {}\n", line.join(" "))).unwrap();
            prop_assert!(b.free_high_order(PAGE) <= b.free(PAGE));
        }
    }
}
