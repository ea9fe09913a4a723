//! `jetgate tegrastats [FILE|-] [--json] [--interval MS]`: parses tegrastats lines from a file,
//! from stdin (`-`), or from a `tegrastats` this command runs itself, and prints one sample a
//! line, as JSON (the `jetgate tegrastats --json` contract of `docs/tegrastats.md`) or as a
//! short human summary.
//!
//! It owns the streaming loop only; the parsing is `tegrastats_parser`. One line buffer and one
//! [`Sample`] are reused for every line. Input is read through a 256 KiB buffer; output lines
//! collect in one reused buffer that is written out in 64 KiB batches, and written and flushed
//! whenever the reader has no more input buffered, so a live pipe shows each sample as it
//! arrives while a big file runs at full speed. A line that fails is reported on stderr with
//! its line number and the stream goes on; the exit code is then 1.
//!
//! ```text
//! $ jetgate tegrastats tegrastats.log
//! 2024-11-15T08:38:09 RAM 6185/7620MiB SWAP 851/3810MiB CPU 12% x6 GPU 63% EMC 43% max 54.0C cpu IN 12479mW
//! ```

// This command runs `tegrastats` itself when given no FILE: spawning is its job, not a
// decision module's, so the process-spawn lint does not apply to this file.
#![allow(clippy::disallowed_methods)]

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Context;
use tegrastats_parser::{parse_line_into, Sample};

use crate::cli::Globals;
use crate::exit::{CliError, CliResult, FAILURE, SUCCESS};

mod json;

const AFTER_HELP: &str = "\
Parses tegrastats output, one sample a line, from every L4T release (R24 to R39, root or not).

Input: FILE (e.g. written by `tegrastats --logfile FILE`), `-` for stdin \
(`tegrastats | jetgate tegrastats -`), or nothing: then jetgate runs \
`tegrastats --interval MS` itself and parses its output until interrupted. tegrastats prints \
everything only when run as root (without root it drops EMC, GPU frequency and engines).

Output: with --json one JSON object per input line (the contract in docs/tegrastats.md: \
sizes in bytes, power in mW, absent figures null, unknown tokens listed in \"unrecognized\"); \
otherwise one summary line per sample: time, RAM used/total, swap, mean CPU load and number \
of online cores, GPU load, EMC load, the hottest sensor and the board input power when the \
board has a total rail. Output appears as lines arrive, so it works on an endless pipe.

Blank lines are skipped. A line that is not tegrastats output is reported on stderr with its \
line number and the stream goes on. Exit code: 0 if every line parsed, 1 if any line failed \
or the input could not be read (or tegrastats could not be run), 2 for a usage error.";

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// File of tegrastats lines, or `-` for stdin. Without it, runs `tegrastats` itself.
    #[arg(value_name = "FILE|-")]
    pub file: Option<PathBuf>,

    /// One JSON object per line (the `jetgate tegrastats --json` contract).
    #[arg(long)]
    pub json: bool,

    /// Sampling interval passed to `tegrastats --interval` when jetgate runs it (milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub interval: u32,
}

/// How the output is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Human,
}

/// What a stream came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Samples written.
    pub samples: u64,
    /// Lines that failed to parse.
    pub failed: u64,
}

/// Input buffer for files and pipes: big reads keep a large file at full speed.
const READ_BUFFER: usize = 256 * 1024;
/// Output is written in batches of about this many bytes (and whenever the input is idle).
const OUTPUT_BATCH: usize = 64 * 1024;

pub fn run(args: Args, _globals: &Globals) -> CliResult {
    let format = if args.json {
        Format::Json
    } else {
        Format::Human
    };
    let stdout = io::stdout();
    // `stream` hands over whole batches of lines; a batch this big bypasses the buffer.
    let mut out = BufWriter::with_capacity(OUTPUT_BATCH, stdout.lock());
    let mut err = io::stderr();
    let summary = match args.file {
        Some(path) if path.as_os_str() == "-" => {
            let mut input = BufReader::with_capacity(READ_BUFFER, io::stdin().lock());
            stream(&mut input, &mut out, &mut err, format).context("reading stdin")?
        }
        Some(path) => {
            let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let mut input = BufReader::with_capacity(READ_BUFFER, file);
            stream(&mut input, &mut out, &mut err, format)
                .with_context(|| format!("reading {}", path.display()))?
        }
        None => run_tegrastats("tegrastats", args.interval, &mut out, &mut err, format)?,
    };
    Ok(if summary.failed > 0 { FAILURE } else { SUCCESS })
}

/// Runs `program --interval MS` and streams its stdout.
fn run_tegrastats(
    program: &str,
    interval_ms: u32,
    out: &mut impl Write,
    err: &mut impl Write,
    format: Format,
) -> Result<Summary, CliError> {
    let mut child = match Command::new(program)
        .arg("--interval")
        .arg(interval_ms.to_string())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(CliError::new(FAILURE, anyhow::anyhow!(missing(program))));
        }
        Err(e) => {
            return Err(CliError::new(
                FAILURE,
                anyhow::Error::new(e).context(format!("running {program}")),
            ))
        }
    };
    let summary = match child.stdout.take() {
        Some(stdout) => stream(&mut BufReader::new(stdout), out, err, format)
            .with_context(|| format!("reading the output of {program}"))?,
        None => Summary::default(),
    };
    let status = child
        .wait()
        .with_context(|| format!("waiting for {program}"))?;
    if !status.success() {
        return Err(CliError::new(
            FAILURE,
            anyhow::anyhow!("{program} exited with {status}"),
        ));
    }
    Ok(summary)
}

/// What to say when `tegrastats` is not on the PATH.
fn missing(program: &str) -> String {
    format!(
        "{program} not found on the PATH. On a Jetson it is /usr/bin/tegrastats (L4T R32 and \
later; older releases ship it as ~/tegrastats), and it needs root for its full output: \
run `sudo tegrastats | jetgate tegrastats -`, or record with `sudo tegrastats --logfile F` and \
then run `jetgate tegrastats F`."
    )
}

/// Parses every line of `input` and writes one sample per line to `out`; bad lines are
/// reported on `err` as `line N: why`. `out` is flushed whenever `input` has nothing more
/// buffered, so samples show up as they arrive on a pipe. A closed `out` (a reader such as
/// `head` that went away) ends the stream quietly.
pub fn stream<R: Read>(
    input: &mut BufReader<R>,
    out: &mut impl Write,
    err: &mut impl Write,
    format: Format,
) -> io::Result<Summary> {
    match stream_lines(input, out, err, format) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Summary::default()),
        other => other,
    }
}

fn stream_lines<R: Read>(
    input: &mut BufReader<R>,
    out: &mut impl Write,
    err: &mut impl Write,
    format: Format,
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    // Output lines collect here and go to `out` in one `write_all` per batch.
    let mut batch: Vec<u8> = Vec::with_capacity(OUTPUT_BATCH + 4096);
    let mut spare: Sample<'static> = Sample::default();
    let mut line_no: u64 = 0;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        match std::str::from_utf8(&buf) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => {
                let mut sample = spare.recycle();
                match parse_line_into(text, &mut sample) {
                    Ok(()) => {
                        write_sample(&mut batch, &sample, format)?;
                        summary.samples += 1;
                    }
                    Err(e) => {
                        writeln!(err, "jetgate tegrastats: line {line_no}: {e}")?;
                        summary.failed += 1;
                    }
                }
                spare = sample.recycle();
            }
            Err(_) => {
                writeln!(err, "jetgate tegrastats: line {line_no}: not UTF-8 text")?;
                summary.failed += 1;
            }
        }
        let idle = input.buffer().is_empty();
        if idle || batch.len() >= OUTPUT_BATCH {
            out.write_all(&batch)?;
            batch.clear();
        }
        if idle {
            out.flush()?;
        }
    }
    out.write_all(&batch)?;
    out.flush()?;
    Ok(summary)
}

/// Appends one sample and its newline to `batch`.
fn write_sample(batch: &mut Vec<u8>, sample: &Sample<'_>, format: Format) -> io::Result<()> {
    match format {
        Format::Json => json::write(batch, sample)?,
        Format::Human => write_human(batch, sample)?,
    }
    batch.push(b'\n');
    Ok(())
}

/// `TIME RAM used/totalMiB [SWAP used/totalMiB] [CPU mean% xN[/M]] [GPU n%] [EMC n%]
/// [max T.TC name] [IN mW]`.
fn write_human(out: &mut impl Write, s: &Sample<'_>) -> io::Result<()> {
    const MIB: u64 = 1 << 20;
    match &s.time {
        Some(t) => write!(out, "{t}")?,
        None => write!(out, "-")?,
    }
    write!(
        out,
        " RAM {}/{}MiB",
        s.ram.used_bytes / MIB,
        s.ram.total_bytes / MIB
    )?;
    if let Some(swap) = &s.swap {
        write!(
            out,
            " SWAP {}/{}MiB",
            swap.used_bytes / MIB,
            swap.total_bytes / MIB
        )?;
    }
    let online: Vec<u64> = s
        .cpus
        .iter()
        .flatten()
        .map(|c| u64::from(c.load_pct))
        .collect();
    if !online.is_empty() {
        let n = online.len() as u64;
        let mean = (online.iter().sum::<u64>() + n / 2) / n;
        write!(out, " CPU {mean}% x{n}")?;
        if s.cpus.len() as u64 != n {
            write!(out, "/{}", s.cpus.len())?;
        }
    }
    if let Some(gpu) = &s.gpu {
        match gpu.load_pct {
            Some(load) => write!(out, " GPU {load}%")?,
            None => write!(out, " GPU -")?,
        }
    }
    if let Some(load) = s.emc.as_ref().and_then(|e| e.load_pct) {
        write!(out, " EMC {load}%")?;
    }
    let hottest = s
        .temps
        .iter()
        // `PMIC@100C` is a fixed placeholder on TX2/Nano/Xavier, not a reading.
        .filter(|t| !t.name.eq_ignore_ascii_case("PMIC"))
        .filter_map(|t| t.celsius.map(|c| (c, t.name)))
        .reduce(|hot, t| if t.0 > hot.0 { t } else { hot }); // the first of equals
    if let Some((celsius, name)) = hottest {
        write!(out, " max {celsius:.1}C {name}")?;
    }
    if let Some(rail) = s.total_rail() {
        write!(out, " IN {}mW", rail.milliwatts)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
