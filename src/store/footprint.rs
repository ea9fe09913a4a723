//! Learned model footprints: what each model really took on its earlier loads.
//!
//! The gate's `need` is `max(declared, learned peak)`, so the learned peak only ever rises:
//! [`Store::record_footprint`] keeps the larger of the stored and the new peak, and only
//! [`Store::reset_footprint`] (an operator action) forgets it. The other figures describe the
//! latest load and are replaced. Sizes are [`Bytes`], `updated_ms` is ms since the Unix epoch.
//!
//! ```text
//! llm: peak 4.2GiB, settled 3.9GiB, tree PSS 3.8GiB, GPU 3.1GiB, 12 loads, updated 1795921599120
//! llm: estimate 4.3GiB, ratio 0.97                    (`memory = "auto"` models only)
//! ```
//!
//! A `memory = "auto"` model also keeps, next to its learned peak, the estimate its latest load
//! was admitted on and the ratio of that load's peak to it ([`Store::record_estimate_ratio`]);
//! the agent multiplies the next estimate by the ratio. A reset forgets both.

use rusqlite::{params, OptionalExtension};

use crate::store::{from_sql, to_sql, Store, StoreError};
use crate::units::Bytes;

/// What a model took on its loads so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// The highest memory use seen during any load (never lowered by a later, smaller load).
    pub peak_bytes: Bytes,
    /// Use once the latest load settled.
    pub settled_bytes: Bytes,
    /// PSS of the model's whole process tree after the latest load.
    pub tree_pss_bytes: Bytes,
    /// GPU memory of the latest load, where the board reports it.
    pub gpu_bytes: Option<Bytes>,
    /// The anonymous share of `tree_pss_bytes` (heap, KV cache), where the kernel splits PSS.
    pub anon_bytes: Option<Bytes>,
    /// The file-backed share of `tree_pss_bytes` (mmap'd weights), where the kernel splits PSS.
    pub file_bytes: Option<Bytes>,
    /// Loads measured so far, as counted by the caller.
    pub loads: u64,
    pub updated_ms: u64,
}

impl Store {
    /// The learned footprint of `model`, if it was ever recorded.
    pub fn footprint(&self, model: &str) -> Result<Option<Footprint>, StoreError> {
        self.conn
            .query_row(
                "SELECT peak_bytes, settled_bytes, tree_pss_bytes, gpu_bytes, loads, updated_ms,
                        anon_bytes, file_bytes
                 FROM footprints WHERE model = ?1",
                [model],
                |r| {
                    Ok(Footprint {
                        peak_bytes: Bytes(from_sql(r.get(0)?)),
                        settled_bytes: Bytes(from_sql(r.get(1)?)),
                        tree_pss_bytes: Bytes(from_sql(r.get(2)?)),
                        gpu_bytes: r.get::<_, Option<i64>>(3)?.map(|b| Bytes(from_sql(b))),
                        loads: from_sql(r.get(4)?),
                        updated_ms: from_sql(r.get(5)?),
                        anon_bytes: r.get::<_, Option<i64>>(6)?.map(|b| Bytes(from_sql(b))),
                        file_bytes: r.get::<_, Option<i64>>(7)?.map(|b| Bytes(from_sql(b))),
                    })
                },
            )
            .optional()
            .map_err(StoreError::sql("read footprint"))
    }

    /// Records `fp` for `model`, keeping the higher of the stored and new peak; returns what is
    /// stored now.
    pub fn record_footprint(
        &mut self,
        model: &str,
        fp: Footprint,
    ) -> Result<Footprint, StoreError> {
        self.conn
            .execute(
                "INSERT INTO footprints
                     (model, peak_bytes, settled_bytes, tree_pss_bytes, gpu_bytes, loads, updated_ms,
                      anon_bytes, file_bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (model) DO UPDATE SET
                     peak_bytes = max(peak_bytes, excluded.peak_bytes),
                     settled_bytes = excluded.settled_bytes,
                     tree_pss_bytes = excluded.tree_pss_bytes,
                     gpu_bytes = excluded.gpu_bytes,
                     loads = excluded.loads,
                     updated_ms = excluded.updated_ms,
                     anon_bytes = excluded.anon_bytes,
                     file_bytes = excluded.file_bytes",
                params![
                    model,
                    to_sql("peak_bytes", fp.peak_bytes.get())?,
                    to_sql("settled_bytes", fp.settled_bytes.get())?,
                    to_sql("tree_pss_bytes", fp.tree_pss_bytes.get())?,
                    fp.gpu_bytes.map(|b| to_sql("gpu_bytes", b.get())).transpose()?,
                    to_sql("loads", fp.loads)?,
                    to_sql("updated_ms", fp.updated_ms)?,
                    fp.anon_bytes.map(|b| to_sql("anon_bytes", b.get())).transpose()?,
                    fp.file_bytes.map(|b| to_sql("file_bytes", b.get())).transpose()?,
                ],
            )
            .map_err(StoreError::sql("record footprint"))?;
        self.footprint(model)?.ok_or(StoreError::Sql {
            what: "read back the recorded footprint",
            source: rusqlite::Error::QueryReturnedNoRows,
        })
    }

    /// Stores the estimate of `model`'s latest load and the ratio learned from it, beside its
    /// footprint (recorded first); returns whether the model had a footprint to keep it by.
    pub fn record_estimate_ratio(
        &mut self,
        model: &str,
        estimate: Bytes,
        ratio: f64,
    ) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE footprints SET estimate_bytes = ?2, estimate_ratio = ?3 WHERE model = ?1",
                params![model, to_sql("estimate_bytes", estimate.get())?, ratio],
            )
            .map(|n| n > 0)
            .map_err(StoreError::sql("record estimate ratio"))
    }

    /// The ratio learned for `model` (its peak ÷ its estimate), if one was recorded.
    pub fn estimate_ratio(&self, model: &str) -> Result<Option<f64>, StoreError> {
        self.conn
            .query_row(
                "SELECT estimate_ratio FROM footprints WHERE model = ?1",
                [model],
                |r| r.get::<_, Option<f64>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(StoreError::sql("read estimate ratio"))
    }

    /// Forgets what was learned about `model` (an operator's explicit reset); returns whether
    /// there was anything.
    pub fn reset_footprint(&mut self, model: &str) -> Result<bool, StoreError> {
        self.conn
            .execute("DELETE FROM footprints WHERE model = ?1", [model])
            .map(|n| n > 0)
            .map_err(StoreError::sql("reset footprint"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(peak_mib: u64, loads: u64) -> Footprint {
        Footprint {
            peak_bytes: Bytes::from_mib(peak_mib),
            settled_bytes: Bytes::from_mib(peak_mib / 2),
            tree_pss_bytes: Bytes::from_mib(peak_mib / 3),
            gpu_bytes: None,
            anon_bytes: None,
            file_bytes: None,
            loads,
            updated_ms: 1_000 + loads,
        }
    }

    #[test]
    fn an_unknown_model_has_no_footprint() {
        let s = Store::open_in_memory().unwrap();
        assert_eq!(s.footprint("llm").unwrap(), None);
    }

    #[test]
    fn a_smaller_load_never_lowers_the_learned_peak_but_updates_the_rest() {
        let mut s = Store::open_in_memory().unwrap();
        s.record_footprint("llm", fp(4096, 1)).unwrap();
        let got = s.record_footprint("llm", fp(1024, 2)).unwrap();
        assert_eq!(got.peak_bytes, Bytes::from_mib(4096));
        assert_eq!(got.settled_bytes, Bytes::from_mib(512));
        assert_eq!(got.loads, 2);
        let got = s.record_footprint("llm", fp(5000, 3)).unwrap();
        assert_eq!(got.peak_bytes, Bytes::from_mib(5000));
        assert_eq!(s.footprint("llm").unwrap(), Some(got));
    }

    #[test]
    fn a_reset_forgets_the_peak_so_a_smaller_one_is_learned() {
        let mut s = Store::open_in_memory().unwrap();
        s.record_footprint("llm", fp(4096, 1)).unwrap();
        assert!(s.reset_footprint("llm").unwrap());
        assert!(!s.reset_footprint("llm").unwrap());
        let got = s.record_footprint("llm", fp(1024, 1)).unwrap();
        assert_eq!(got.peak_bytes, Bytes::from_mib(1024));
    }

    #[test]
    fn gpu_bytes_round_trip_including_absence() {
        let mut s = Store::open_in_memory().unwrap();
        let with_gpu = Footprint {
            gpu_bytes: Some(Bytes::from_gib(3)),
            ..fp(10, 1)
        };
        assert_eq!(s.record_footprint("a", with_gpu).unwrap(), with_gpu);
        assert_eq!(s.record_footprint("b", fp(10, 1)).unwrap().gpu_bytes, None);
    }

    #[test]
    fn the_breakdown_into_anonymous_and_file_backed_round_trips() {
        let mut s = Store::open_in_memory().unwrap();
        let mapped = Footprint {
            anon_bytes: Some(Bytes::from_mib(100)),
            file_bytes: Some(Bytes::from_gib(1)),
            ..fp(1124, 1)
        };
        assert_eq!(s.record_footprint("llm", mapped).unwrap(), mapped);
        // A later load on a kernel that does not split PSS replaces the breakdown with unknown.
        let unsplit = s.record_footprint("llm", fp(1124, 2)).unwrap();
        assert_eq!((unsplit.anon_bytes, unsplit.file_bytes), (None, None));
    }

    #[test]
    fn the_estimate_ratio_is_kept_beside_the_footprint_and_forgotten_with_it() {
        let mut s = Store::open_in_memory().unwrap();
        assert!(!s
            .record_estimate_ratio("llm", Bytes::from_gib(4), 1.1)
            .unwrap());
        assert_eq!(s.estimate_ratio("llm").unwrap(), None);
        s.record_footprint("llm", fp(4096, 1)).unwrap();
        assert_eq!(s.estimate_ratio("llm").unwrap(), None);
        assert!(s
            .record_estimate_ratio("llm", Bytes::from_gib(4), 0.93)
            .unwrap());
        assert_eq!(s.estimate_ratio("llm").unwrap(), Some(0.93));
        // A later footprint keeps it; a reset forgets it.
        s.record_footprint("llm", fp(5000, 2)).unwrap();
        assert_eq!(s.estimate_ratio("llm").unwrap(), Some(0.93));
        s.reset_footprint("llm").unwrap();
        assert_eq!(s.estimate_ratio("llm").unwrap(), None);
    }

    proptest! {
        #[test]
        fn the_stored_peak_is_the_maximum_of_all_recorded_peaks(
            peaks in prop::collection::vec(0u64..1_000_000, 1..20)
        ) {
            let mut s = Store::open_in_memory().unwrap();
            for (i, p) in peaks.iter().enumerate() {
                s.record_footprint("m", fp(*p, i as u64)).unwrap();
            }
            let max = peaks.iter().copied().max().unwrap_or(0);
            prop_assert_eq!(s.footprint("m").unwrap().unwrap().peak_bytes, Bytes::from_mib(max));
        }
    }
}
