//! Human summaries of status-document sections that both `jetgate status` and `jetgate top`
//! show: the tegrastats figures (the status document's `tegrastats` key, whose `sample` is a
//! `jetgate tegrastats --json` object).
//!
//! ```text
//! CPU 12% x6 @729MHz  GPU 63% @621MHz  EMC 43% @2133MHz  power IN 12.5W
//! temps cpu 54.0C gpu 53.3C tj 54.0C soc0 50.8C  rails VDD_CPU_GPU_CV 4.7W VDD_SOC 2.8W
//! ```

use crate::status::{SampleFigures, TegrastatsSection, TegrastatsState};

/// Names of the board input rail, by board family (docs/tegrastats.md, "Naming decisions").
const TOTAL_RAILS: [&str; 3] = ["VDD_IN", "POM_5V_IN", "VIN"];

fn watts(mw: u64) -> String {
    format!("{:.1}W", mw as f64 / 1000.0)
}

/// Two lines for the `tegrastats` section: loads (and the board input power), then
/// temperatures and the other rails. An absent or unavailable source says why on the first.
pub fn tegrastats_lines(t: Option<&TegrastatsSection>) -> (String, String) {
    let Some(t) = t else {
        return ("not reported by this agent".to_string(), String::new());
    };
    let figures = t.figures();
    match figures {
        Some(s) if t.state == TegrastatsState::Running => (loads(&s), temps_and_rails(&s)),
        _ => {
            let why = match t.state {
                TegrastatsState::Starting => format!(
                    "starting {}, no line yet",
                    Some(t.path.as_str())
                        .filter(|p| !p.is_empty())
                        .unwrap_or("?")
                ),
                _ => format!(
                    "unavailable: {}",
                    t.reason.as_deref().unwrap_or("no reason given")
                ),
            };
            (why, String::new())
        }
    }
}

fn loads(s: &SampleFigures) -> String {
    let mut parts = Vec::new();
    let online: Vec<_> = s.cpus.iter().flatten().collect();
    if !online.is_empty() {
        let loads: Vec<u64> = online.iter().filter_map(|c| c.load_pct).collect();
        let mean = loads.iter().sum::<u64>() as f64 / loads.len().max(1) as f64;
        let max_mhz = online.iter().filter_map(|c| c.freq_mhz).max();
        let mut cpu = format!("CPU {mean:.0}% x{}", online.len());
        if online.len() < s.cpus.len() {
            cpu.push_str(&format!(" ({} off)", s.cpus.len() - online.len()));
        }
        if let Some(mhz) = max_mhz {
            cpu.push_str(&format!(" @{mhz}MHz"));
        }
        parts.push(cpu);
    }
    match &s.gpu {
        Some(gpu) => {
            let load = gpu.load_pct.map_or("-".to_string(), |l| format!("{l}%"));
            parts.push(match gpu.freq_mhz.iter().flatten().max() {
                Some(m) => format!("GPU {load} @{m}MHz"),
                None => format!("GPU {load}"),
            });
        }
        None => parts.push("GPU -".to_string()),
    }
    if let Some(emc) = &s.emc {
        if let Some(load) = emc.load_pct {
            parts.push(match emc.freq_mhz {
                Some(m) => format!("EMC {load}% @{m}MHz"),
                None => format!("EMC {load}%"),
            });
        }
    }
    let total = s
        .rails
        .iter()
        .find(|r| TOTAL_RAILS.contains(&r.name.as_str()));
    match total.and_then(|r| r.milliwatts) {
        Some(mw) => parts.push(format!("power IN {}", watts(mw))),
        None if !s.rails.is_empty() => {
            let sum: u64 = s.rails.iter().filter_map(|r| r.milliwatts).sum();
            parts.push(format!("power rails sum {}", watts(sum)));
        }
        None => {}
    }
    parts.join("  ")
}

fn temps_and_rails(s: &SampleFigures) -> String {
    let temps: Vec<String> = s
        .temps
        .iter()
        .filter_map(|t| {
            let c = t.celsius?;
            Some(format!("{} {c:.1}C", or_unknown(&t.name)))
        })
        .collect();
    let rails: Vec<String> = s
        .rails
        .iter()
        .filter(|r| !TOTAL_RAILS.contains(&r.name.as_str()))
        .filter_map(|r| Some(format!("{} {}", or_unknown(&r.name), watts(r.milliwatts?))))
        .collect();
    let mut out = String::new();
    if !temps.is_empty() {
        out.push_str(&format!("temps {}", temps.join(" ")));
    }
    if !rails.is_empty() {
        if !out.is_empty() {
            out.push_str("  ");
        }
        out.push_str(&format!("rails {}", rails.join(" ")));
    }
    out
}

fn or_unknown(name: &str) -> &str {
    if name.is_empty() {
        "?"
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The section as a reader takes it from the agent's JSON.
    fn section(v: serde_json::Value) -> TegrastatsSection {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn summarises_a_running_source_and_explains_an_unavailable_one() {
        let line = "11-15-2024 08:38:09 RAM 6185/7620MB (lfb 8x2MB) CPU [15%@729,11%@729,off] \
            EMC_FREQ 43%@2133 GR3D_FREQ 63%@[621] cpu@53.968C gpu@53.343C CV0@-256C \
            VDD_IN 12479mW/12479mW VDD_SOC 2817mW/2817mW";
        let sample = tegrastats_parser::parse_line(line).unwrap();
        let t =
            section(json!({"state": "running", "sample": serde_json::to_value(&sample).unwrap()}));
        let (first, second) = tegrastats_lines(Some(&t));
        assert_eq!(
            first,
            "CPU 13% x2 (1 off) @729MHz  GPU 63% @621MHz  EMC 43% @2133MHz  power IN 12.5W"
        );
        assert_eq!(second, "temps cpu 54.0C gpu 53.3C  rails VDD_SOC 2.8W");
        let t = section(json!({"state": "unavailable", "reason": "/usr/bin/tegrastats not found"}));
        assert_eq!(
            tegrastats_lines(Some(&t)).0,
            "unavailable: /usr/bin/tegrastats not found"
        );
        assert_eq!(tegrastats_lines(None).0, "not reported by this agent");
    }
}
