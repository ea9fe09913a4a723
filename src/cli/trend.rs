//! `jetgate trend [NAME] [--json] [--markdown]`: the leak/growth report per model and service,
//! as the agent judges it (Theil–Sen slope of tree memory over the `leak.window`).
//!
//! ```text
//! NAME  STATE    VERDICT  SLOPE           WINDOW    SAMPLES  FIT   TO LIMIT        MEMORY    RESERVED
//! api   running  leaking  +72000.0MiB/h   7s/8s  8        1.00  12.5s (limit)   210.3MiB  160.0MiB
//! llm   ready    stable   +0.0MiB/h       10m       600      0.12  -               3.9GiB    -
//! ```
//!
//! `--markdown` prints the same as a Markdown table for an incident report; `--json` the
//! agent's answer (a services list, each entry with its `trend` object or null).

use crate::cli::remote::{ask, read_reply, REQUEST_TIMEOUT};
use crate::cli::table::Table;
use crate::cli::Globals;
use crate::control::Cmd;
use crate::exit::{self, CliResult};
use crate::status::{LimitFrom, ServiceView, ServicesReply, TrendView};
use crate::units::{format_duration, Bytes};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One model or service; all of them without it.
    pub name: Option<String>,
    /// The agent's answer as JSON: services with their `trend` objects.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// A Markdown table, fit for an incident report.
    #[arg(long)]
    pub markdown: bool,
}

pub fn run(args: Args, globals: &Globals) -> CliResult {
    let data = ask(
        globals,
        Cmd::Trend {
            name: args.name.clone(),
        },
        Some(REQUEST_TIMEOUT),
    )?;
    if args.json {
        println!("{data}");
        return Ok(exit::SUCCESS);
    }
    let views: ServicesReply = read_reply(data)?;
    if views.is_empty() {
        println!("no models or services configured");
    } else if args.markdown {
        print!("{}", markdown(&views));
    } else {
        print!("{}", table(&views));
    }
    Ok(exit::SUCCESS)
}

const HEADER: [&str; 10] = [
    "NAME", "STATE", "VERDICT", "SLOPE", "WINDOW", "SAMPLES", "FIT", "TO LIMIT", "MEMORY",
    "RESERVED",
];

/// One row of cells per unit; `-` where there is no figure.
fn cells(v: &ServiceView) -> Vec<String> {
    let dash = || "-".to_string();
    let memory = v.memory_bytes.map_or_else(dash, |b| Bytes(b).to_string());
    let Some(t) = &v.trend else {
        let mut row = vec![v.name.clone(), v.state.to_string()];
        row.extend(std::iter::repeat_n(dash(), 6));
        row.extend([memory, dash()]);
        return row;
    };
    vec![
        v.name.clone(),
        v.state.to_string(),
        t.verdict.to_string(),
        slope(t),
        window(t),
        t.samples.to_string(),
        format!("{:.2}", t.quality),
        to_limit(t),
        memory,
        match t.reserved_bytes {
            0 => dash(),
            b => Bytes(b).to_string(),
        },
    ]
}

/// Slope in MiB per hour, signed.
pub fn slope(t: &TrendView) -> String {
    format!(
        "{:+.1}MiB/h",
        t.slope_bytes_per_hour as f64 / Bytes::MIB as f64
    )
}

/// The span the samples cover, of the configured window: `7s/8s`.
fn window(t: &TrendView) -> String {
    format!("{}/{}", secs(t.window_s), secs(t.configured_window_s))
}

/// `12.5s (limit 1.0GiB)`; `-` when there is no projection.
fn to_limit(t: &TrendView) -> String {
    let Some(s) = t.projected_s else {
        return "-".to_string();
    };
    let what = match (t.limit_from, t.limit_bytes) {
        (Some(LimitFrom::Reserve), Some(b)) => format!("reserve at {}", Bytes(b)),
        (_, Some(b)) => format!("limit {}", Bytes(b)),
        _ => "limit".to_string(),
    };
    format!("{} ({what})", secs(s))
}

fn secs(s: f64) -> String {
    if s.is_finite() && s >= 0.0 {
        format_duration(std::time::Duration::from_secs_f64(s.min(1e12)))
    } else {
        "-".to_string()
    }
}

pub fn table(views: &[ServiceView]) -> String {
    let mut t = Table::new(&HEADER);
    for v in views {
        t.row(cells(v));
    }
    t.render()
}

pub fn markdown(views: &[ServiceView]) -> String {
    let header = [
        "service",
        "state",
        "verdict",
        "slope (MiB/h)",
        "window",
        "samples",
        "fit",
        "time to limit",
        "memory",
        "reserved",
    ];
    let mut out = format!("| {} |\n", header.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for v in views {
        let row: Vec<String> = cells(v).iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ServiceKind, ServiceState, TrendVerdict};

    fn view(trend: Option<TrendView>) -> ServiceView {
        ServiceView {
            name: "api".into(),
            kind: ServiceKind::Service,
            state: ServiceState::Running,
            pid: Some(42),
            memory_bytes: Some(210 * Bytes::MIB),
            gpu_bytes: None,
            trend,
            restarts: 0,
            restart_in_ms: None,
            reason: None,
            estimate: None,
        }
    }

    fn leaking() -> TrendView {
        TrendView {
            verdict: TrendVerdict::Leaking,
            slope_bytes_per_hour: 72_000 * Bytes::MIB as i64,
            quality: 1.0,
            samples: 8,
            window_s: 7.0,
            configured_window_s: 8.0,
            projected_s: Some(12.5),
            limit_bytes: Some(Bytes::GIB),
            limit_from: Some(LimitFrom::Limit),
            reserved_bytes: 160 * Bytes::MIB,
        }
    }

    #[test]
    fn the_table_shows_slope_in_mib_per_hour_and_sizes_in_human_units() {
        let text = table(&[view(Some(leaking())), view(None)]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME  STATE    VERDICT"), "{text}");
        assert!(lines[1].contains("+72000.0MiB/h"), "{text}");
        assert!(lines[1].contains("7s/8s"), "{text}");
        assert!(lines[1].contains("12.5s (limit 1.0GiB)"), "{text}");
        assert!(lines[1].contains("210.0MiB"), "{text}");
        assert!(lines[1].ends_with("160.0MiB"), "{text}");
        assert!(lines[2].starts_with("api   running  -"), "{text}");
    }

    #[test]
    fn the_markdown_table_has_a_header_separator_and_one_row_per_unit() {
        let text = markdown(&[view(Some(leaking())), view(None)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("| service | state | verdict | slope (MiB/h)"));
        assert_eq!(lines[1], "|---|---|---|---|---|---|---|---|---|---|");
        assert!(lines[2].starts_with("| api | running | leaking | +72000.0MiB/h | 7s/8s |"));
        assert_eq!(lines[3].matches('|').count(), 11);
    }
}
