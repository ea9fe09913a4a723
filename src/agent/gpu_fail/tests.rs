#![allow(clippy::disallowed_methods)] // one `Instant` anchors the bursts' times
use std::time::Instant;

use super::*;
use crate::event::EventKind;
use crate::sources::buddyinfo::parse_buddyinfo;
use crate::sources::captures::capture;
use crate::sources::parse_meminfo;
use crate::sources::Root;
use crate::status::{ServiceKind, ServiceState, ServiceView};

/// The lines of a capture that match, as (line number from 1, form, requested MiB).
fn matches(name: &str) -> Vec<(usize, FailureForm, Option<u64>)> {
    capture(name)
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            match_line(l).map(|f| (i + 1, f.form, f.requested.map(|b| b.get() >> 20)))
        })
        .collect()
}

#[test]
fn llama_server_on_r36_4_7_the_nvmap_line_and_the_cuda_malloc_line_with_its_size() {
    // 1 "CUDA0 : Orin (7619 MiB, 3875 MiB free)", 3 "NvMapMemHandleAlloc: error 0",
    // 5 "alloc_tensor_range: failed to allocate ...", 6 "llama_model_load: error loading model"
    // are not failures of their own.
    let name = "gpu_errors_llama_server_orin_nano_r36.4.7.txt";
    assert_eq!(
        matches(name),
        [
            (2, FailureForm::Nvmap, None),
            (4, FailureForm::CudaMalloc, Some(345))
        ]
    );
    let line = capture(name).lines().nth(3).unwrap().to_string();
    let requested = match_line(&line).unwrap().requested.unwrap().get();
    // alloc_tensor_range's next line names the exact size: 362517888 bytes.
    assert!(requested.abs_diff(362_517_888) < 1 << 20, "{requested}");
}

#[test]
fn pytorch_on_r36_4_the_nvmap_line_but_not_the_nvml_assert() {
    let name = "gpu_errors_pytorch_orin_8gb_r36.4.txt";
    assert_eq!(matches(name), [(1, FailureForm::Nvmap, None)]);
}

#[test]
fn llama_cpp_on_an_orin_nx_an_untagged_nvmap_line_and_a_bare_cuda_malloc_line() {
    // Line 2 "allocating 4168.09 MiB" alone is no failure: the next line says it failed.
    let name = "gpu_errors_llamacpp_orin_nx_16gb.txt";
    assert_eq!(
        matches(name),
        [
            (1, FailureForm::Nvmap, None),
            (3, FailureForm::CudaMalloc, None)
        ]
    );
}

#[test]
fn pytorch_on_r36_5_four_nvmap_lines_and_nothing_in_the_traceback() {
    let name = "gpu_errors_pytorch_orin_nano_super_r36.5.0.txt";
    let found: Vec<usize> = matches(name).iter().map(|m| m.0).collect();
    assert_eq!(found, [1, 3, 5, 7]);
}

#[test]
fn the_cuda_error_form_and_near_misses() {
    // PyTorch's wording of a failed CUDA call (constructed: no capture here has it).
    let f = match_line("RuntimeError: CUDA error: out of memory").unwrap();
    assert_eq!(f.form, FailureForm::CudaError);
    for line in [
        "NvMapMemAllocInternalTagged: 1075072515 error 22",
        "NvMapMemAllocInternalTagged: 1075072515 error 120",
        "NvMapMemAllocInternalTagged: 1075072515",
        "NvMapMemHandleAlloc: error 12",
        "cudaMalloc failed: invalid argument",
        "CUDA error: an illegal memory access was encountered",
        "",
    ] {
        assert_eq!(match_line(line), None, "{line:?}");
    }
}

#[test]
fn a_size_that_is_no_size_is_left_out() {
    for line in [
        "allocating lots MiB on device 0: cudaMalloc failed: out of memory",
        "allocating 12 parsecs: cudaMalloc failed: out of memory",
        "allocating 1e400 GiB: cudaMalloc failed: out of memory",
        "allocating -5 MiB: cudaMalloc failed: out of memory",
        "allocating NaN MiB: cudaMalloc failed: out of memory",
    ] {
        let f = match_line(line).unwrap();
        assert_eq!(f.requested, None, "{line}");
    }
}

#[test]
fn a_burst_of_repeated_lines_is_one_event_and_the_next_process_starts_afresh() {
    let t0 = Instant::now();
    let mut bursts = Bursts::default();
    // The four nvmap lines of one PyTorch load (r36.5 capture), a few ms apart.
    let lines = capture("gpu_errors_pytorch_orin_nano_super_r36.5.0.txt");
    let recorded: Vec<Option<u64>> = lines
        .lines()
        .filter(|l| match_line(l).is_some())
        .enumerate()
        .map(|(i, _)| bursts.observe("llm", Some(100), t0 + Duration::from_millis(i as u64)))
        .collect();
    assert_eq!(recorded, [Some(0), None, None, None]);
    // A line read after the process's exit (no pid) is still that burst.
    assert_eq!(
        bursts.observe("llm", None, t0 + Duration::from_secs(1)),
        None
    );
    // Another model is its own burst.
    assert_eq!(bursts.observe("vision", Some(200), t0), Some(0));
    // The next start of the model fails again: recorded, with the 4 lines counted before.
    let t1 = t0 + Duration::from_secs(5);
    assert_eq!(bursts.observe("llm", Some(101), t1), Some(4));
    assert_eq!(bursts.observe("llm", Some(101), t1), None);
    // The same process, still failing a minute later: one more event.
    assert_eq!(
        bursts.observe("llm", Some(101), t1 + GPU_FAIL_EVERY),
        Some(1)
    );
}

/// The R36.5 Orin Nano after its failed load: MemTotal and CmaTotal from the grep before the
/// test, MemFree, MemAvailable and CmaFree from the grep after (the same device), its buddyinfo
/// after.
fn drained_device() -> DeviceFigures {
    let before = capture("meminfo_orin_nano_super_r36.5.0_before.txt");
    let after = capture("meminfo_orin_nano_super_r36.5.0_after.txt");
    DeviceFigures {
        meminfo: Some(parse_meminfo(&(before + &after)).unwrap()),
        buddy: Some(
            parse_buddyinfo(&capture("buddyinfo_orin_nano_super_r36.5.0_after.txt")).unwrap(),
        ),
        page_size: 4096,
        unreadable: Vec::new(),
    }
}

fn loading_view() -> ServiceView {
    ServiceView {
        name: "llm".into(),
        kind: ServiceKind::Model,
        state: ServiceState::Loading,
        pid: Some(4242),
        memory_bytes: Some(1_500_000_000),
        gpu_bytes: None,
        trend: None,
        restarts: 0,
        restart_in_ms: None,
        reason: None,
        estimate: None,
    }
}

#[test]
fn the_event_shows_six_gigabytes_available_while_cma_is_drained() {
    let line = "NvMapMemAllocInternalTagged: 1075072515 error 12";
    let failure = match_line(line).unwrap();
    let e = event(
        "llm",
        failure,
        line,
        3,
        Some(&loading_view()),
        &drained_device(),
    );
    assert_eq!(e.kind, EventKind::GpuAllocFailed);
    assert_eq!(e.severity, crate::event::Severity::Error);
    assert_eq!(e.subject.as_deref(), Some("llm"));
    assert_eq!(
        e.message,
        "GPU allocation failed (nvmap error 12) with 5.9GiB available: CMA 164.5MiB free of \
         512.0MiB, 1.0GiB in free blocks of 64.0KiB and up"
    );
    let f = &e.figures;
    assert_eq!(f["form"], "nvmap_error_12");
    assert_eq!(f["mem_available_bytes"], 6_156_320u64 * 1024);
    assert_eq!(f["mem_free_bytes"], 3_168_552u64 * 1024);
    assert_eq!(f["cma_total_bytes"], 524_288u64 * 1024);
    assert_eq!(f["cma_free_bytes"], 168_452u64 * 1024);
    assert_eq!(f["free_high_order_bytes"], 1052u64 << 20);
    assert_eq!(f["high_order"], 4);
    assert_eq!(f["largest_free_block_bytes"], 4096u64 << 12);
    assert_eq!(f["state"], "loading");
    assert_eq!(f["pid"], 4242);
    assert_eq!(f["tree_pss_bytes"], 1_500_000_000u64);
    assert!(f["gpu_bytes"].is_null());
    assert!(f["requested_bytes"].is_null());
    assert_eq!(f["suppressed_lines"], 3);
    assert_eq!(f["line"], line);
    assert!(!f.contains_key("unreadable"));
}

#[test]
fn without_cma_buddyinfo_or_a_unit_the_event_says_what_it_lacks() {
    let line = format!(
        "allocating 345.72 MiB on device 0: cudaMalloc failed: out of memory{}",
        "x".repeat(500)
    );
    let failure = match_line(&line).unwrap();
    let device = DeviceFigures {
        meminfo: Some(
            parse_meminfo("MemTotal: 8 kB\nMemFree: 4 kB\nMemAvailable: 6 kB\n").unwrap(),
        ),
        buddy: None,
        page_size: 4096,
        unreadable: vec!["/x/proc/buddyinfo is not present on this system (unsupported)".into()],
    };
    let e = event("llm", failure, &line, 0, None, &device);
    assert_eq!(
        e.message,
        "GPU allocation of 345.7MiB failed (cudaMalloc out of memory) with 6.0KiB available: \
         no CMA, free blocks unknown"
    );
    assert!(e.figures["cma_total_bytes"].is_null());
    assert!(e.figures["free_high_order_bytes"].is_null());
    assert!(e.figures["state"].is_null());
    assert_eq!(
        e.figures["line"].as_str().unwrap().chars().count(),
        event::MAX_LINE_CHARS
    );
    assert!(e.figures["unreadable"]
        .as_str()
        .unwrap()
        .contains("buddyinfo"));
}

#[test]
fn the_device_figures_of_a_tree_with_the_r36_meminfo_and_no_buddyinfo() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("proc")).unwrap();
    std::fs::write(
        dir.path().join("proc/meminfo"),
        capture("meminfo_orin_nano_8gb_r36.txt"),
    )
    .unwrap();
    let d = read_device(&Root::new(dir.path()));
    let m = d.meminfo.unwrap();
    assert_eq!(m.cma_free, Some(Bytes::ZERO));
    assert!(d.buddy.is_none());
    assert_eq!(d.unreadable.len(), 1);
    assert!(
        d.unreadable[0].contains("proc/buddyinfo"),
        "{:?}",
        d.unreadable
    );
}
