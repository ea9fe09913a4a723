//! The synthetic event the store examples fill a store with: kinds and subjects in rotation,
//! a realistic message and figures (shared by `fill_store` and `store_bench`).

use jetgate::event::{EventKind, NewEvent, Severity};

/// The `i`th synthetic event.
pub fn event(i: u64) -> NewEvent {
    let kinds = [
        EventKind::LoadAdmitted,
        EventKind::LoadReady,
        EventKind::LoadQueued,
        EventKind::Note,
        EventKind::ServiceExited,
    ];
    let subjects = ["llm", "asr", "tts", "vision"];
    NewEvent::untyped(
        kinds[(i % 5) as usize].clone(),
        Some(subjects[(i % 4) as usize]),
    )
    .severity(Severity::Info)
    .message("admitted: budget 9.1GiB covers need 4.0GiB + 10%")
    .figure("available_bytes", 11_811_160_064u64)
    .figure("need_bytes", 4_294_967_296u64)
    .figure("i", i)
}
