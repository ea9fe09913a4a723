//! The tegrastats families of the metrics text: the source's health and its latest sample's
//! loads (as ratios), clocks (hertz), temperatures and rail power (watts). Sensor and rail
//! names are tegrastats' own, escaped as label values like any other.

use super::catalog as c;
use super::exposition::Exposition;
use super::render::seconds;
use super::Snapshot;
use crate::status::TegrastatsState;

const MHZ: f64 = 1_000_000.0;

fn ratio(pct: u64) -> f64 {
    pct as f64 / 100.0
}

pub(super) fn write(x: &mut Exposition, s: &Snapshot) {
    let Some(t) = &s.status.tegrastats else {
        return;
    };
    x.sample(&c::TEGRA_UP, &[], t.state == TegrastatsState::Running);
    if let Some(age) = t.age_ms {
        x.sample(&c::TEGRA_AGE, &[], seconds(age));
    }
    let Some(f) = t.figures() else {
        return;
    };
    let cores: Vec<(String, _)> = f
        .cpus
        .iter()
        .enumerate()
        .filter_map(|(i, cpu)| Some((i.to_string(), cpu.as_ref()?)))
        .collect();
    for (core, cpu) in &cores {
        if let Some(pct) = cpu.load_pct {
            x.sample(&c::CPU_LOAD, &[("core", core.as_str())], ratio(pct));
        }
    }
    for (core, cpu) in &cores {
        if let Some(mhz) = cpu.freq_mhz {
            x.sample(&c::CPU_FREQ, &[("core", core.as_str())], mhz as f64 * MHZ);
        }
    }
    if let Some(gpu) = &f.gpu {
        if let Some(pct) = gpu.load_pct {
            x.sample(&c::GPU_LOAD, &[], ratio(pct));
        }
        for (i, mhz) in gpu.freq_mhz.iter().enumerate() {
            if let Some(mhz) = mhz {
                let gpc = i.to_string();
                x.sample(&c::GPU_FREQ, &[("gpc", gpc.as_str())], *mhz as f64 * MHZ);
            }
        }
    }
    if let Some(emc) = &f.emc {
        if let Some(pct) = emc.load_pct {
            x.sample(&c::EMC_LOAD, &[], ratio(pct));
        }
        if let Some(mhz) = emc.freq_mhz {
            x.sample(&c::EMC_FREQ, &[], mhz as f64 * MHZ);
        }
    }
    // A name printed twice would be a duplicate series, which fails the whole scrape: the
    // first one stands.
    let mut seen = std::collections::BTreeSet::new();
    for temp in &f.temps {
        if let Some(celsius) = temp.celsius.filter(|_| seen.insert(temp.name.as_str())) {
            x.sample(&c::TEMPERATURE, &[("sensor", temp.name.as_str())], celsius);
        }
    }
    seen.clear();
    for rail in &f.rails {
        if let Some(mw) = rail.milliwatts.filter(|_| seen.insert(rail.name.as_str())) {
            x.sample(
                &c::RAIL_POWER,
                &[("rail", rail.name.as_str())],
                mw as f64 / 1000.0,
            );
        }
    }
}
