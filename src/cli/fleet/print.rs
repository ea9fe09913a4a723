//! The printed forms of `jetgate fleet --once`: the aligned table and the JSON array.

use std::io::Write;

use crate::cli::table::Table;
use crate::units::Bytes;

use super::collect::FleetRow;

/// The columns of a device row, in the printed table and the live view.
pub const TITLES: [&str; 8] = [
    "DEVICE",
    "ONLINE",
    "SESSION",
    "BOARD",
    "AVAILABLE",
    "BUDGET",
    "MODELS",
    "LAST EVENT",
];

/// The aligned table of every device.
pub fn render(rows: &[FleetRow]) -> String {
    let mut t = Table::new(&TITLES);
    for r in rows {
        t.row(cells(r));
    }
    t.render()
}

/// One row's cells, as the table and the live view show them (untrusted text unescaped:
/// the printers escape it).
pub fn cells(r: &FleetRow) -> Vec<String> {
    let size = |b: Option<u64>| b.map_or("-".to_string(), |b| Bytes(b).to_string());
    let models: Vec<String> = r
        .models
        .iter()
        .map(|s| format!("{}:{}", s.name, s.state))
        .collect();
    vec![
        r.id.clone(),
        if r.online { "yes" } else { "no" }.to_string(),
        r.session.map_or("-".into(), |s| s.to_string()),
        r.board
            .clone()
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "-".into()),
        size(r.available_bytes),
        size(r.budget_bytes.map(Bytes::get)),
        if models.is_empty() {
            "-".into()
        } else {
            models.join(" ")
        },
        match &r.last_event {
            None => "-".into(),
            Some(e) => format!("#{} {}", e.seq, e.kind),
        },
    ]
}

/// Prints the rows: one JSON array (keys sorted, as every document is published) or the table.
pub fn print(rows: &[FleetRow], json: bool) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        write_json(&mut out, rows)?;
    } else {
        writeln!(out, "{}", render(rows))?;
    }
    out.flush()
}

/// The JSON array, one row's value at a time (10,000 devices never sit in memory as one
/// `Value` tree); the bytes are those of the whole array printed at once.
pub fn write_json(out: &mut impl Write, rows: &[FleetRow]) -> std::io::Result<()> {
    out.write_all(b"[")?;
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let value = serde_json::to_value(r).map_err(std::io::Error::other)?;
        serde_json::to_writer(&mut *out, &value)?;
    }
    out.write_all(b"]\n")
}
