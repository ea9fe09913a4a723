//! Real model servers for the gate tests: llama.cpp's `llama-server` on GGUF models written
//! for the test (random f16 weights of a chosen size, `scripts/lib/write_gguf.py`).
//!
//! Unlike `jetgate sim-model`, which allocates anonymous memory, `llama-server` maps its
//! weights from the file: they are file-backed pages, shared with the page cache.
//!
//! Prerequisites come from the environment that `scripts/lib/llama.sh`'s `ensure_llama` sets
//! (`scripts/test.sh` calls it before the tests): `JETGATE_LLAMA_SERVER` (the binary),
//! `JETGATE_LLAMA_PYTHON` (a python with numpy) and `JETGATE_GGUF_PY` (llama.cpp's `gguf-py`).
//! Under `CI` a missing one is a failure; elsewhere the test prints why it skipped.
//!
//! Models are deterministic (a seed), so they are written once under the test target's
//! temporary directory and reused by later tests and runs:
//!
//! ```text
//! target/tmp/llama-models/l10-e2048-f5504-c4096-s1.gguf    10 layers: 0.94 GiB
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    dead_code
)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The shape of a test model; about 101 MB a layer at the default width.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub layers: u32,
    pub embd: u32,
    pub ff: u32,
    pub ctx_train: u32,
    pub seed: u64,
}

impl Shape {
    /// `layers` layers of a 2048-wide llama (7B-like proportions, fewer layers).
    pub fn layers(layers: u32, seed: u64) -> Shape {
        Shape {
            layers,
            embd: 2048,
            ff: 5504,
            ctx_train: 4096,
            seed,
        }
    }

    fn file_name(&self) -> String {
        format!(
            "l{}-e{}-f{}-c{}-s{}.gguf",
            self.layers, self.embd, self.ff, self.ctx_train, self.seed
        )
    }
}

/// The llama.cpp tools found from the environment.
#[derive(Debug, Clone)]
pub struct Llama {
    pub server: PathBuf,
    python: PathBuf,
    gguf_py: PathBuf,
    /// The flag that turns the web UI off, where this build has one.
    no_ui: Option<&'static str>,
}

const VARS: [&str; 3] = [
    "JETGATE_LLAMA_SERVER",
    "JETGATE_LLAMA_PYTHON",
    "JETGATE_GGUF_PY",
];

impl Llama {
    /// The tools named by `JETGATE_LLAMA_SERVER`, `JETGATE_LLAMA_PYTHON` and `JETGATE_GGUF_PY`;
    /// `None` (with a printed reason) when one is unset or missing, a panic under `CI`.
    pub fn find() -> Option<Llama> {
        let mut paths = Vec::new();
        for var in VARS {
            match std::env::var_os(var).map(PathBuf::from) {
                Some(p) if p.exists() => paths.push(p),
                Some(p) => return skip(&format!("{var}={} does not exist", p.display())),
                None => return skip(&format!("{var} is not set")),
            }
        }
        let server = paths.remove(0);
        let help = Command::new(&server).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        let no_ui = ["--no-ui", "--no-webui"]
            .into_iter()
            .find(|flag| help.contains(&format!("{flag},")) || help.contains(&format!("{flag} ")));
        Some(Llama {
            server,
            python: paths.remove(0),
            gguf_py: paths.remove(0),
            no_ui,
        })
    }

    /// The model of this shape under `target/tmp/llama-models/`, written first if missing.
    pub fn model(&self, shape: Shape) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("llama-models");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(shape.file_name());
        if !path.exists() {
            self.write_model(shape, &path);
        }
        path
    }

    /// Writes a model of this shape to `out` (atomically: a temporary file renamed into place).
    pub fn write_model(&self, shape: Shape, out: &Path) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/write_gguf.py");
        let result = Command::new(&self.python)
            .arg(script)
            .args(["--layers", &shape.layers.to_string()])
            .args(["--embd", &shape.embd.to_string()])
            .args(["--ff", &shape.ff.to_string()])
            .args(["--ctx-train", &shape.ctx_train.to_string()])
            .args(["--seed", &shape.seed.to_string()])
            .arg("--out")
            .arg(out)
            .env("PYTHONPATH", &self.gguf_py)
            .output()
            .unwrap();
        assert!(
            result.status.success(),
            "write_gguf.py {shape:?}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
    }

    /// A `[[model]]` entry serving `gguf` with `llama-server` on 127.0.0.1:`port`, ready when
    /// `/health` answers 200 (it answers 503 while loading), started only when a test asks.
    pub fn model_entry(&self, name: &str, memory: &str, gguf: &Path, port: u16) -> String {
        let mut argv: Vec<String> = vec![self.server.display().to_string()];
        argv.extend(
            [
                "-m",
                &gguf.display().to_string(),
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "-c",
                "512",
                "--threads",
                "1",
                "--threads-http",
                "1",
                "--parallel",
                "1",
            ]
            .map(String::from),
        );
        argv.extend(self.no_ui.map(String::from));
        format!(
            "[[model]]\nname = \"{name}\"\ncommand = {argv:?}\nmemory = \"{memory}\"\n\
             ready = {{ http = \"http://127.0.0.1:{port}/health\", timeout = \"5m\" }}\n\
             stop_grace = \"5s\"\nautostart = false\n\n"
        )
    }
}

fn skip<T>(reason: &str) -> Option<T> {
    crate::prerequisite::missing(
        reason,
        "scripts/test.sh sources scripts/lib/llama.sh and calls ensure_llama before the tests; \
         by hand: `source scripts/lib/llama.sh && ensure_llama`",
    )
}

/// Memory of a process and all its descendants, from `/proc` (not from the agent).
#[derive(Debug, Clone, Copy, Default)]
pub struct TreeMemory {
    pub processes: u32,
    /// `VmRSS` summed: resident pages, file-backed ones included.
    pub rss: u64,
    /// `RssFile`: resident pages mapped from files (the weights).
    pub rss_file: u64,
    /// `RssAnon`: heap, KV cache, compute buffers.
    pub rss_anon: u64,
    /// `Pss` from `smaps_rollup`.
    pub pss: u64,
}

pub fn tree_memory(root: i32) -> TreeMemory {
    let mut total = TreeMemory::default();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        total.processes += 1;
        total.rss += kib_field(&status, "VmRSS:");
        total.rss_file += kib_field(&status, "RssFile:");
        total.rss_anon += kib_field(&status, "RssAnon:");
        if let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            total.pss += kib_field(&rollup, "Pss:");
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    total
}

/// A `Name:   1234 kB` line's value in bytes (0 when absent).
fn kib_field(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Drops the page cache (`sync; echo 3 > /proc/sys/vm/drop_caches`), so the next reader of a
/// file faults its pages in from disk, charged to its own cgroup. Needs root, as do the cgroup
/// tests that call it.
pub fn drop_caches() {
    nix::unistd::sync();
    std::fs::write("/proc/sys/vm/drop_caches", "3").expect("drop caches (needs root)");
}

/// Reads `path` to its end, so its pages are in the page cache (charged to this process's
/// cgroup where they were not cached yet).
pub fn warm(path: &Path) {
    let mut f = std::fs::File::open(path).unwrap();
    std::io::copy(&mut f, &mut std::io::sink()).unwrap();
}
