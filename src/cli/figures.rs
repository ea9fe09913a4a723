//! Human summaries of status-document sections that both `jetgate status` and `jetgate top`
//! show: the tegrastats figures (the status document's `tegrastats` key, whose `sample` is a
//! `jetgate tegrastats --json` object).
//!
//! ```text
//! CPU 12% x6 @729MHz  GPU 63% @621MHz  EMC 43% @2133MHz  power IN 12.5W
//! temps cpu 54.0C gpu 53.3C tj 54.0C soc0 50.8C  rails VDD_CPU_GPU_CV 4.7W VDD_SOC 2.8W
//! ```

use serde_json::Value;

/// Names of the board input rail, by board family (docs/tegrastats.md, "Naming decisions").
const TOTAL_RAILS: [&str; 3] = ["VDD_IN", "POM_5V_IN", "VIN"];

fn watts(mw: u64) -> String {
    format!("{:.1}W", mw as f64 / 1000.0)
}

/// Two lines for the `tegrastats` section: loads (and the board input power), then
/// temperatures and the other rails. An absent or unavailable source says why on the first.
pub fn tegrastats_lines(t: &Value) -> (String, String) {
    if !t.is_object() {
        return ("not reported by this agent".to_string(), String::new());
    }
    let state = t["state"].as_str().unwrap_or("?");
    let sample = &t["sample"];
    if state != "running" || !sample.is_object() {
        let why = match state {
            "starting" => format!(
                "starting {}, no line yet",
                t["path"].as_str().unwrap_or("?")
            ),
            _ => format!(
                "unavailable: {}",
                t["reason"].as_str().unwrap_or("no reason given")
            ),
        };
        return (why, String::new());
    }
    (loads(sample), temps_and_rails(sample))
}

fn loads(s: &Value) -> String {
    let mut parts = Vec::new();
    let cpus = s["cpus"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let online: Vec<&Value> = cpus.iter().filter(|c| c.is_object()).collect();
    if !online.is_empty() {
        let loads: Vec<u64> = online
            .iter()
            .filter_map(|c| c["load_pct"].as_u64())
            .collect();
        let mean = loads.iter().sum::<u64>() as f64 / loads.len().max(1) as f64;
        let max_mhz = online.iter().filter_map(|c| c["freq_mhz"].as_u64()).max();
        let mut cpu = format!("CPU {mean:.0}% x{}", online.len());
        if online.len() < cpus.len() {
            cpu.push_str(&format!(" ({} off)", cpus.len() - online.len()));
        }
        if let Some(mhz) = max_mhz {
            cpu.push_str(&format!(" @{mhz}MHz"));
        }
        parts.push(cpu);
    }
    let gpu = &s["gpu"];
    if gpu.is_object() {
        let load = gpu["load_pct"]
            .as_u64()
            .map_or("-".to_string(), |l| format!("{l}%"));
        let mhz = gpu["freq_mhz"]
            .as_array()
            .and_then(|f| f.iter().filter_map(Value::as_u64).max());
        parts.push(match mhz {
            Some(m) => format!("GPU {load} @{m}MHz"),
            None => format!("GPU {load}"),
        });
    } else {
        parts.push("GPU -".to_string());
    }
    let emc = &s["emc"];
    if let Some(load) = emc["load_pct"].as_u64() {
        parts.push(match emc["freq_mhz"].as_u64() {
            Some(m) => format!("EMC {load}% @{m}MHz"),
            None => format!("EMC {load}%"),
        });
    }
    let rails = s["rails"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let total = rails
        .iter()
        .find(|r| TOTAL_RAILS.contains(&r["name"].as_str().unwrap_or("")));
    match total.and_then(|r| r["milliwatts"].as_u64()) {
        Some(mw) => parts.push(format!("power IN {}", watts(mw))),
        None if !rails.is_empty() => {
            let sum: u64 = rails.iter().filter_map(|r| r["milliwatts"].as_u64()).sum();
            parts.push(format!("power rails sum {}", watts(sum)));
        }
        None => {}
    }
    parts.join("  ")
}

fn temps_and_rails(s: &Value) -> String {
    let temps: Vec<String> = s["temps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let c = t["celsius"].as_f64()?;
            Some(format!("{} {c:.1}C", t["name"].as_str().unwrap_or("?")))
        })
        .collect();
    let rails: Vec<String> = s["rails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| !TOTAL_RAILS.contains(&r["name"].as_str().unwrap_or("")))
        .filter_map(|r| {
            let mw = r["milliwatts"].as_u64()?;
            Some(format!(
                "{} {}",
                r["name"].as_str().unwrap_or("?"),
                watts(mw)
            ))
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summarises_a_running_source_and_explains_an_unavailable_one() {
        let line = "11-15-2024 08:38:09 RAM 6185/7620MB (lfb 8x2MB) CPU [15%@729,11%@729,off] \
            EMC_FREQ 43%@2133 GR3D_FREQ 63%@[621] cpu@53.968C gpu@53.343C CV0@-256C \
            VDD_IN 12479mW/12479mW VDD_SOC 2817mW/2817mW";
        let sample = tegrastats_parser::parse_line(line).unwrap();
        let t = json!({"state": "running", "sample": serde_json::to_value(&sample).unwrap()});
        let (first, second) = tegrastats_lines(&t);
        assert_eq!(
            first,
            "CPU 13% x2 (1 off) @729MHz  GPU 63% @621MHz  EMC 43% @2133MHz  power IN 12.5W"
        );
        assert_eq!(second, "temps cpu 54.0C gpu 53.3C  rails VDD_SOC 2.8W");
        let t = json!({"state": "unavailable", "reason": "/usr/bin/tegrastats not found"});
        assert_eq!(
            tegrastats_lines(&t).0,
            "unavailable: /usr/bin/tegrastats not found"
        );
        assert_eq!(
            tegrastats_lines(&Value::Null).0,
            "not reported by this agent"
        );
    }
}
