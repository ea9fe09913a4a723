//! The node_exporter textfile (`[metrics] textfile = PATH`): the same metrics in the text
//! format 0.0.4 (no `# EOF`, as the textfile collector expects), written every
//! [`INTERVAL`] and atomically: a temporary file beside it (`.PATH.tmp`, a name the
//! collector skips), then a rename, so the collector never reads half a file. A write that
//! fails is logged (once per kind of failure) and tried again at the next interval.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{process, render, Format, Snapshots};
use crate::tasks::Tasks;

/// How often the file is rewritten.
pub const INTERVAL: Duration = Duration::from_secs(15);

/// The temporary file `path` is written through: same directory, so the rename is atomic.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes `text` to `path` through its temporary file.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let temp = temp_path(path);
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Rewrites `path` every `interval` from the latest snapshot, until `tasks` shuts down.
pub async fn run(path: PathBuf, interval: Duration, mut snapshots: Snapshots, tasks: Tasks) {
    let cancel = tasks.token();
    // The first file as soon as there is a snapshot, then on the interval.
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = snapshots.wait_for(Option::is_some) => {}
    }
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error: Option<std::io::ErrorKind> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(snapshot) = snapshots.borrow().clone() else {
            continue;
        };
        let text = render(&snapshot, process::read().as_ref(), Format::Text);
        let target = path.clone();
        let written = tasks
            .spawn_blocking(move || write_atomically(&target, &text))
            .await;
        match written {
            Ok(Ok(())) => last_error = None,
            Ok(Err(e)) => {
                if last_error != Some(e.kind()) {
                    tracing::error!("metrics.textfile {}: {e}", path.display());
                }
                last_error = Some(e.kind());
            }
            Err(_) => return,
        }
    }
}
