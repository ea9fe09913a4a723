//! The `gpu_alloc_failed` event: the device's memory figures at the moment a model's GPU
//! allocation failed, beside the model's own.
//!
//! [`read_device`] is the I/O (`/proc/meminfo` and `/proc/buddyinfo` under the agent's root, a
//! few hundred bytes, read off the core loop); [`event`] is pure. The message puts the figures
//! side by side so that "gigabytes available, CMA drained, few large free blocks" reads at a
//! glance:
//!
//! ```text
//! GPU allocation failed (nvmap error 12) with 5.9GiB available: CMA 164.5MiB free of 512.0MiB,
//! 1.0GiB in free blocks of 64.0KiB and up
//! ```
//!
//! A figure the device does not have (no CMA, a tree without buddyinfo) is `null`, and the
//! source that could not be read is named in `unreadable`, never silently left out.

use super::GpuFailure;
use crate::event::figures::GpuAllocFailed;
use crate::event::NewEvent;
use crate::sources::buddyinfo::{read_buddyinfo, BuddyInfo, HIGH_ORDER};
use crate::sources::meminfo::{read_meminfo, MemInfo};
use crate::sources::process::page_size;
use crate::sources::Root;
use crate::status::ServiceView;
use crate::units::Bytes;

/// The matched line is kept up to this many characters in the event.
pub const MAX_LINE_CHARS: usize = 200;

/// What the device's memory looked like when the failure was seen.
#[derive(Debug, Clone, Default)]
pub struct DeviceFigures {
    pub meminfo: Option<MemInfo>,
    pub buddy: Option<BuddyInfo>,
    /// The kernel's page size, bytes (buddyinfo counts pages).
    pub page_size: u64,
    /// Why a source could not be read, one entry per source.
    pub unreadable: Vec<String>,
}

/// Reads `/proc/meminfo` and `/proc/buddyinfo` under `root`.
pub fn read_device(root: &Root) -> DeviceFigures {
    let mut unreadable = Vec::new();
    let meminfo = read_meminfo(root, &mut String::new())
        .map_err(|e| unreadable.push(e.to_string()))
        .ok();
    let buddy = read_buddyinfo(root)
        .map_err(|e| unreadable.push(e.to_string()))
        .ok();
    DeviceFigures {
        meminfo,
        buddy,
        page_size: page_size(),
        unreadable,
    }
}

fn size(v: Option<Bytes>) -> String {
    v.map_or("?".to_string(), |b| b.to_string())
}

/// The `gpu_alloc_failed` event for `model`, whose output `line` was matched as `failure`;
/// `suppressed` lines of the model were counted and not recorded since its previous event,
/// `view` is the model's unit as the engine has it (state, pid, memory), `device` the figures
/// read for it.
pub fn event(
    model: &str,
    failure: GpuFailure,
    line: &str,
    suppressed: u64,
    view: Option<&ServiceView>,
    device: &DeviceFigures,
) -> NewEvent {
    let m = device.meminfo.as_ref();
    let available = m.map(|m| m.available);
    let (cma_total, cma_free) = (m.and_then(|m| m.cma_total), m.and_then(|m| m.cma_free));
    let buddy = device.buddy.as_ref();
    let high_order = buddy.map(|b| b.free_high_order(device.page_size));
    let block = Bytes(device.page_size << HIGH_ORDER);

    let what = match failure.requested {
        Some(r) => format!("GPU allocation of {r} failed"),
        None => "GPU allocation failed".to_string(),
    };
    let cma = match (cma_total, cma_free) {
        (Some(t), Some(f)) if t > Bytes::ZERO => format!("CMA {f} free of {t}"),
        _ => "no CMA".to_string(),
    };
    let blocks = match high_order {
        Some(h) => format!("{h} in free blocks of {block} and up"),
        None => "free blocks unknown".to_string(),
    };
    let message = format!(
        "{what} ({}) with {} available: {cma}, {blocks}",
        failure.form.describe(),
        size(available),
    );

    let bytes = |v: Option<Bytes>| v.map(Bytes::get);
    let figures = GpuAllocFailed {
        form: failure.form.as_str().to_string(),
        requested_bytes: bytes(failure.requested),
        mem_available_bytes: bytes(available),
        mem_free_bytes: bytes(m.map(|m| m.free)),
        cma_total_bytes: bytes(cma_total),
        cma_free_bytes: bytes(cma_free),
        free_high_order_bytes: bytes(high_order),
        high_order: HIGH_ORDER,
        largest_free_block_bytes: buddy
            .and_then(BuddyInfo::largest_free_order)
            .and_then(|o| 1u64.checked_shl(o))
            .map(|pages| pages.saturating_mul(device.page_size)),
        state: view.map(|v| v.state.as_str().to_string()),
        pid: view.and_then(|v| v.pid),
        tree_pss_bytes: view.and_then(|v| v.memory_bytes),
        gpu_bytes: view.and_then(|v| v.gpu_bytes),
        suppressed_lines: suppressed,
        line: line.chars().take(MAX_LINE_CHARS).collect(),
        unreadable: (!device.unreadable.is_empty()).then(|| device.unreadable.join("; ")),
    };
    NewEvent::new(figures, Some(model)).message(message)
}
