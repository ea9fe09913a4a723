//! GPU load from the devfreq `load` file.
//!
//! Owns [`GpuLoad`], the parser [`parse_load`] and the reader [`read_gpu_load`], which takes a
//! list of candidate paths (board profiles supply them; [`DEFAULT_GPU_LOAD_PATHS`] is the
//! fallback) and reads the first that exists. The file holds one integer, the load in tenths of
//! a percent (0..=1000):
//!
//! ```text
//! /sys/devices/gpu.0/load                              (Nano, TX2, Xavier: nvgpu)
//! /sys/devices/platform/17000000.ga10b/load            (Orin, JetPack 5)
//! /sys/devices/platform/bus@0/17000000.gpu/load        (Orin, JetPack 6)
//! 143
//! ```
//!
//! No candidate present (Thor, a discrete-GPU host) → unsupported.

use std::path::{Path, PathBuf};

use super::error::{parse_u64, ParseError, SourceError};
use super::root::Root;

pub const DEFAULT_GPU_LOAD_PATHS: &[&str] = &[
    "/sys/devices/gpu.0/load",
    "/sys/devices/platform/17000000.ga10b/load",
    "/sys/devices/platform/bus@0/17000000.gpu/load",
];

/// GPU load in tenths of a percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct GpuLoad {
    pub permille: u16,
}

impl GpuLoad {
    pub fn percent(self) -> f32 {
        f32::from(self.permille) / 10.0
    }
}

/// Parses the `load` file: an integer 0..=1000.
pub fn parse_load(text: &str) -> Result<GpuLoad, ParseError> {
    let v = parse_u64("load", text)?;
    if v > 1000 {
        return Err(ParseError::bad("load", text.trim()));
    }
    Ok(GpuLoad { permille: v as u16 })
}

/// Reads the first candidate that exists under `root`; returns which one it was.
pub fn read_gpu_load<P: AsRef<Path>>(
    root: &Root,
    candidates: &[P],
    buf: &mut String,
) -> Result<(PathBuf, GpuLoad), SourceError> {
    for candidate in candidates {
        let rel = candidate.as_ref();
        match root.read_into(rel, buf) {
            Ok(()) => {
                let load = parse_load(buf).map_err(|e| SourceError::parse(root.path(rel), e))?;
                return Ok((rel.to_path_buf(), load));
            }
            Err(e) if e.is_unsupported() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(SourceError::Unsupported {
        what: "GPU load (devfreq)".into(),
        reason: format!("none of {} candidate load files exists", candidates.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn load_is_in_tenths_of_a_percent() {
        let l = parse_load("143\n").unwrap();
        assert_eq!(l.permille, 143);
        assert_eq!(l.percent(), 14.3);
        assert!(parse_load("1001").is_err());
        assert!(parse_load("busy").is_err());
    }

    #[test]
    fn the_first_present_candidate_wins() {
        let dir = tempfile::tempdir().unwrap();
        let orin = dir.path().join("sys/devices/platform/bus@0/17000000.gpu");
        std::fs::create_dir_all(&orin).unwrap();
        std::fs::write(orin.join("load"), "999\n").unwrap();
        let (path, load) = read_gpu_load(
            &Root::new(dir.path()),
            DEFAULT_GPU_LOAD_PATHS,
            &mut String::new(),
        )
        .unwrap();
        assert_eq!(path, Path::new(DEFAULT_GPU_LOAD_PATHS[2]));
        assert_eq!(load.permille, 999);
    }

    #[test]
    fn no_candidate_present_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_gpu_load(
            &Root::new(dir.path()),
            DEFAULT_GPU_LOAD_PATHS,
            &mut String::new(),
        )
        .unwrap_err();
        assert!(err.is_unsupported(), "{err}");
        let err = read_gpu_load(&Root::host(), DEFAULT_GPU_LOAD_PATHS, &mut String::new());
        assert!(
            err.is_err_and(|e| e.is_unsupported()),
            "this host has no Jetson GPU"
        );
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "(?s).{0,40}") {
            let _ = parse_load(&s);
        }
    }
}
