//! `jetgate status [--json] [--local]`: device, memory, gate and services.
//!
//! By default it asks the agent (so it shows what the agent believes). `--local` reads the
//! device directly under `--root` (default `/`): board, memory, the agent's own cgroup,
//! pressure, and the heaviest process trees by PSS; it works with no agent running, and on a
//! captured fixture tree (`--root tests/fixtures/orin-nano-8gb-jp6`).

use serde_json::{json, Value};

use crate::cli::figures::tegrastats_lines;
use crate::cli::human;
use crate::cli::remote::{ask, services_table_toned, REQUEST_TIMEOUT};
use crate::cli::table::Table;
use crate::cli::Globals;
use crate::control::Cmd;
use crate::exit::{self, CliError, CliResult};
use crate::sources::{Sampler, Scope, TreeSampler};
use crate::status::{board_json, memory_json, ServiceView};
use crate::units::Bytes;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The status document as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Read the device directly instead of asking the agent.
    #[arg(long)]
    pub local: bool,
    /// How many of the heaviest process trees to list with --local.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    let doc = if args.local {
        local_document(globals, args.top)?
    } else {
        ask(globals, Cmd::Status {}, Some(REQUEST_TIMEOUT))?
    };
    if args.json {
        println!("{doc}");
    } else {
        print!("{}", render_toned(&doc, human::colour_stdout()));
    }
    Ok(exit::SUCCESS)
}

/// The local status document: the same `device` and `memory` sections as the agent's, plus the
/// heaviest process trees.
pub fn local_document(globals: &Globals, top: usize) -> Result<Value, CliError> {
    let root = &globals.root;
    let board = crate::board::detect(root).map_err(|e| CliError::new(exit::FAILURE, e))?;
    let mut sampler = Sampler::new(root.clone(), Scope::System);
    let sample = sampler
        .sample(None)
        .map_err(|e| CliError::new(exit::FAILURE, e))?;
    let trees = TreeSampler::new(root.clone())
        .heaviest(top)
        .map_err(|e| CliError::new(exit::FAILURE, e))?;
    let trees: Vec<Value> = trees
        .iter()
        .map(|t| {
            json!({
                "comm": t.comm,
                "pid": t.totals.root_pid,
                "processes": t.totals.processes,
                "zombies": t.totals.zombies,
                "threads": t.totals.threads,
                "pss_bytes": t.totals.pss.get(),
                "rss_bytes": t.totals.rss.get(),
                "swap_bytes": t.totals.swap.get(),
                "fds": t.totals.fds,
            })
        })
        .collect();
    Ok(json!({
        "source": "local",
        "root": root.base().display().to_string(),
        "device": { "board": board_json(&board) },
        "memory": memory_json(&sample, None),
        "gpu": gpu_json(root, &board),
        "trees": trees,
    }))
}

/// GPU load from the board's devfreq node, and NVML where it works (discrete GPUs, Thor). Each
/// absent source says why instead of failing the document.
fn gpu_json(root: &crate::sources::Root, board: &crate::board::Detected) -> Value {
    use crate::sources::{devfreq, nvml};
    let candidates: Vec<String> = match &board.profile {
        Some(p) if !p.gpu.load_paths.is_empty() => p.gpu.load_paths.clone(),
        _ => devfreq::DEFAULT_GPU_LOAD_PATHS
            .iter()
            .map(|p| p.to_string())
            .collect(),
    };
    let mut buf = String::new();
    let load = match devfreq::read_gpu_load(root, &candidates, &mut buf) {
        Ok((path, load)) => json!({
            "load_pct": f64::from(load.permille) / 10.0,
            "path": path.display().to_string(),
        }),
        Err(e) => json!({ "unsupported": e.to_string() }),
    };
    // NVML reads the live driver, so only when looking at this machine, not a captured tree.
    let nvml = if !root.is_host() {
        json!({ "unsupported": "not read under --root (NVML reads the live driver)" })
    } else {
        match nvml::NvmlSource::new().read() {
            Ok(reading) => json!(reading),
            Err(e) => json!({ "unsupported": e.to_string() }),
        }
    };
    json!({ "load": load, "nvml": nvml })
}

fn size(v: &Value) -> String {
    v.as_u64().map_or("-".to_string(), |b| Bytes(b).to_string())
}

fn text<'a>(v: &'a Value, default: &'a str) -> &'a str {
    v.as_str().unwrap_or(default)
}

/// Human form of a status document (local or from the agent), without colour.
pub fn render(doc: &Value) -> String {
    render_toned(doc, false)
}

/// Human form of a status document; service states coloured when `colour`.
pub fn render_toned(doc: &Value, colour: bool) -> String {
    let mut out = String::new();
    let board = &doc["device"]["board"];
    out.push_str(&format!(
        "board     {} [{}]  L4T {}  JetPack {}\n",
        text(&board["name"], "unknown"),
        text(&board["id"], "?"),
        text(&board["l4t"], "-"),
        text(&board["jetpack"], "-"),
    ));
    let agent = &doc["agent"];
    if agent.is_object() {
        out.push_str(&format!(
            "agent     pid {}  up {}  version {}  socket {}\n",
            agent["pid"],
            agent["uptime_ms"]
                .as_u64()
                .map_or("-".into(), human::span_ms),
            text(&agent["version"], "-"),
            text(&agent["socket"], "-"),
        ));
    }
    let m = &doc["memory"];
    if m.is_object() {
        out.push_str(&render_available(m));
        let pressure = &m["pressure"];
        out.push_str(&format!(
            "          swap {}/{} (never counted)  GPU-held {}  pressure {}\n",
            size(&m["swap_used_bytes"]),
            size(&m["swap_total_bytes"]),
            size(&m["gpu_held_bytes"]),
            if pressure.is_object() {
                format!(
                    "some {:.2}% full {:.2}% (avg10)",
                    pressure["some_avg10"].as_f64().unwrap_or(0.0),
                    pressure["full_avg10"].as_f64().unwrap_or(0.0)
                )
            } else {
                "unsupported".to_string()
            },
        ));
        let cg = &m["cgroup"];
        if cg.is_object() {
            out.push_str(&format!(
                "cgroup    {}  limit {}  usage {}  reclaimable {}  oom kills {}\n",
                text(&cg["version"], "?"),
                size(&cg["limit_bytes"]),
                size(&cg["usage_bytes"]),
                size(&cg["reclaimable_bytes"]),
                cg["oom_kill"]
                    .as_u64()
                    .map_or("-".into(), |n| n.to_string()),
            ));
        }
    } else {
        out.push_str("memory    no sample yet\n");
    }
    let gpu = &doc["gpu"];
    if gpu.is_object() {
        let load = match gpu["load"]["load_pct"].as_f64() {
            Some(pct) => format!("{pct:.1}%"),
            None => "unsupported".to_string(),
        };
        let nvml = match gpu["nvml"]["devices"].as_array() {
            Some(devices) => format!("{} device(s)", devices.len()),
            None => format!("unsupported ({})", text(&gpu["nvml"]["unsupported"], "?")),
        };
        out.push_str(&format!("gpu       load {load}  NVML {nvml}\n"));
    }
    if let Some(t) = doc.get("tegrastats") {
        let (first, second) = tegrastats_lines(t);
        out.push_str(&format!("tegrastats {first}\n"));
        if !second.is_empty() {
            out.push_str(&format!("          {second}\n"));
        }
    }
    let gate = &doc["gate"];
    if gate.is_object() {
        out.push_str(&render_gate(gate));
    }
    if let Ok(services) = serde_json::from_value::<Vec<ServiceView>>(doc["services"].clone()) {
        out.push('\n');
        out.push_str(&services_table_toned(&services, colour));
    }
    let agent = &doc["agent"];
    if agent.is_object() {
        out.push_str(&render_agent(agent));
    }
    if let Some(trees) = doc["trees"].as_array() {
        let mut t = Table::new(&[
            "TREE", "PID", "PROCS", "PSS", "RSS", "SWAP", "THREADS", "FDS",
        ]);
        for tree in trees {
            t.row(vec![
                text(&tree["comm"], "?").to_string(),
                tree["pid"].to_string(),
                tree["processes"].to_string(),
                size(&tree["pss_bytes"]),
                size(&tree["rss_bytes"]),
                size(&tree["swap_bytes"]),
                tree["threads"].to_string(),
                tree["fds"].to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    out
}

/// The available-memory lines, each figure against the total of its own frame. Bounded by a
/// memory cgroup, available is measured against the cgroup's limit, and the host's
/// `MemAvailable` and `MemTotal` get their own line:
///
/// ```text
/// memory    available 1016.8MiB of 3.0GiB (cgroup limit)
/// host      MemAvailable 20.1GiB of 23.5GiB  free 18.0GiB  cached 2.0GiB
/// ```
fn render_available(m: &Value) -> String {
    let cgroup_limit = m["cgroup"]["limit_bytes"].as_u64();
    match cgroup_limit {
        Some(limit) if m["available_from"] == "cgroup" => format!(
            "memory    available {} of {} (cgroup limit)\n\
             host      MemAvailable {} of {}  free {}  cached {}\n",
            size(&m["available_bytes"]),
            Bytes(limit),
            size(&m["mem_available_bytes"]),
            size(&m["total_bytes"]),
            size(&m["free_bytes"]),
            size(&m["cached_bytes"]),
        ),
        _ => format!(
            "memory    available {} of {} ({})  free {}  cached {}\n",
            size(&m["available_bytes"]),
            size(&m["total_bytes"]),
            text(&m["available_from"], "?"),
            size(&m["free_bytes"]),
            size(&m["cached_bytes"]),
        ),
    }
}

/// `agent     pid 4242  v0.1.0  up 3h 2m  heap allocated 2.1MiB  resident 6.0MiB`
fn render_agent(agent: &Value) -> String {
    let uptime = agent["uptime_ms"].as_u64().map_or("-".to_string(), |ms| {
        let s = ms / 1000;
        match (s / 3600, s / 60 % 60, s % 60) {
            (0, 0, s) => format!("{s}s"),
            (0, m, s) => format!("{m}m {s}s"),
            (h, m, _) => format!("{h}h {m}m"),
        }
    });
    let a = &agent["allocator"];
    let heap = if a.is_object() {
        format!(
            "heap allocated {}  resident {}",
            size(&a["allocated_bytes"]),
            size(&a["resident_bytes"])
        )
    } else {
        "heap unknown".to_string()
    };
    format!(
        "agent     pid {}  v{}  up {uptime}  {heap}\n",
        agent["pid"],
        text(&agent["version"], "?"),
    )
}

fn render_gate(gate: &Value) -> String {
    let mut out = format!(
        "gate      reserve {}  budget {}  outstanding {}\n",
        size(&gate["reserve_bytes"]),
        size(&gate["budget_bytes"]),
        size(&gate["outstanding_bytes"]),
    );
    let flight = &gate["in_flight"];
    if flight.is_object() {
        out.push_str(&format!(
            "          in flight: {} ({}, {}, consumed {} of need {})\n",
            text(&flight["model"], "?"),
            text(&flight["phase"], "?"),
            flight["elapsed_ms"]
                .as_u64()
                .map_or("-".into(), human::span_ms),
            size(&flight["consumed_bytes"]),
            size(&flight["need_bytes"]),
        ));
    }
    for (i, q) in gate["queue"].as_array().into_iter().flatten().enumerate() {
        out.push_str(&format!(
            "          queue {}: {} need {}: {}\n",
            i + 1,
            text(&q["model"], "?"),
            size(&q["need_bytes"]),
            text(&q["reason"], ""),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_gate_with_its_queue_and_reasons() {
        let doc = json!({
            "device": {"board": {"name": "Jetson Orin Nano 8GB", "id": "orin-nano-8gb", "l4t": "36.4.4", "jetpack": "6.x"}},
            "memory": {"available_bytes": 1u64 << 30, "total_bytes": 8u64 << 30, "available_from": "mem_available"},
            "gate": {"reserve_bytes": 512u64 << 20, "budget_bytes": 100u64 << 20, "outstanding_bytes": 0,
                     "queue": [{"model": "llm", "need_bytes": 1u64 << 30, "reason": "waiting: budget 100.0MiB < need"}]},
            "services": [],
            "agent": {"pid": 4242, "version": "0.1.0", "uptime_ms": 10_920_000u64,
                      "allocator": {"allocated_bytes": 2u64 << 20, "resident_bytes": 6u64 << 20}},
        });
        let text = render(&doc);
        assert!(
            text.contains(
                "agent     pid 4242  v0.1.0  up 3h 2m  heap allocated 2.0MiB  resident 6.0MiB"
            ),
            "{text}"
        );
        assert!(
            text.contains("Jetson Orin Nano 8GB [orin-nano-8gb]  L4T 36.4.4"),
            "{text}"
        );
        assert!(text.contains("available 1.0GiB of 8.0GiB"), "{text}");
        assert!(
            text.contains("queue 1: llm need 1.0GiB: waiting: budget"),
            "{text}"
        );
        assert!(
            !text.contains("tegrastats"),
            "a local document has no tegrastats"
        );
    }

    #[test]
    fn renders_the_agent_tegrastats_and_coloured_states_only_when_asked() {
        let doc = json!({
            "device": {"board": {"name": "Jetson Orin Nano 8GB"}},
            "memory": null,
            "gate": {"reserve_bytes": 0, "budget_bytes": null, "outstanding_bytes": 0, "queue": [],
                     "in_flight": {"model": "llm", "phase": "loading", "elapsed_ms": 12_345,
                                   "consumed_bytes": 1u64 << 30, "need_bytes": 2u64 << 30}},
            "services": [{"name": "llm", "kind": "model", "state": "loading", "pid": 7,
                          "memory_bytes": 1u64 << 30, "restarts": 0}],
            "tegrastats": {"state": "unavailable", "reason": "/usr/bin/tegrastats not found"},
            "agent": {"pid": 812, "uptime_ms": 185_000, "version": "0.1.0", "socket": "/s"},
        });
        let plain = render(&doc);
        assert!(
            plain.contains("agent     pid 812  up 3m05s  version 0.1.0  socket /s"),
            "{plain}"
        );
        assert!(
            plain.contains("tegrastats unavailable: /usr/bin/tegrastats not found"),
            "{plain}"
        );
        assert!(
            plain.contains("in flight: llm (loading, 12.3s, consumed 1.0GiB of need 2.0GiB)"),
            "{plain}"
        );
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = render_toned(&doc, true);
        assert!(coloured.contains("\x1b[33mloading\x1b[0m"), "{coloured}");
    }
}
