//! Pinned weights: verify a model's file against its sha256 before the gate sees the load.
//! The hash is cached in the store by path, size and mtime. The cache is asked and a miss is
//! hashed on a blocking thread (the store's writer answers it there, never on the core loop);
//! either comes back as [`Feedback::Hashed`].

use std::path::PathBuf;

use super::{Executor, Feedback};
use crate::agent::engine::Input;
use crate::store::hash::{sha256_file, FileStamp};

impl Executor {
    pub(super) fn verify_weights(&mut self, name: &str) -> Vec<Input> {
        let Some(path) = self
            .launches
            .get(name)
            .and_then(|l| l.weights.as_ref())
            .map(|(p, _)| p.clone())
        else {
            return vec![Input::WeightsChecked {
                name: name.into(),
                result: Ok(()),
            }];
        };
        let stamp = match FileStamp::of(&path) {
            Ok(s) => s,
            Err(e) => {
                return vec![Input::WeightsChecked {
                    name: name.into(),
                    result: Err(e.to_string()),
                }]
            }
        };
        let feedback = self.feedback.clone();
        let name = name.to_string();
        let store = self.store.clone();
        self.tasks.spawn_blocking(move || {
            let key = path.clone();
            let cached = store
                .run(move |s| s.cached_hash(&key, stamp.size, stamp.mtime_ns))
                .blocking_recv();
            let (result, stamp) = match cached {
                Ok(Ok(Some(cached))) => (Ok(cached), None), // nothing new to cache
                _ => (sha256_file(&path).map_err(|e| e.to_string()), Some(stamp)),
            };
            let _ = feedback.send(Feedback::Hashed {
                name,
                path,
                stamp,
                result,
            });
        });
        Vec::new()
    }

    /// A weights hash finished: cache it and compare with the pin.
    pub fn hashed(
        &mut self,
        name: String,
        path: PathBuf,
        stamp: Option<FileStamp>,
        result: Result<String, String>,
    ) -> Input {
        let expected = self
            .launches
            .get(&name)
            .and_then(|l| l.weights.as_ref())
            .map(|(_, sum)| sum.clone())
            .unwrap_or_default();
        let result = result.and_then(|actual| {
            if let Some(s) = stamp {
                let (key, sum) = (path.clone(), actual.clone());
                self.store.submit(
                    format!("hash of {} not cached", path.display()),
                    move |st| st.store_hash(&key, s.size, s.mtime_ns, &sum),
                );
            }
            compare(&path, &expected, &actual)
        });
        Input::WeightsChecked { name, result }
    }
}

fn compare(path: &std::path::Path, expected: &str, actual: &str) -> Result<(), String> {
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(format!(
            "weights {} have sha256 {actual}, but the configuration pins {expected}",
            path.display()
        ))
    }
}
