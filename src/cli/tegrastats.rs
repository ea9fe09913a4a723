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
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    const NANO: &str = "11-15-2024 08:38:09 RAM 6185/7620MB (lfb 8x2MB) SWAP 851/3810MB \
(cached 1MB) CPU [15%@729,11%@729,14%@729,13%@729,11%@729,8%@729] EMC_FREQ 43%@2133 \
GR3D_FREQ 63%@[621] NVDEC off NVJPG off NVJPG1 off VIC off OFA off APE 200 cpu@53.968C \
soc2@52.437C soc0@50.75C gpu@53.343C tj@53.968C soc1@51.656C VDD_IN 12479mW/12479mW \
VDD_CPU_GPU_CV 4667mW/4667mW VDD_SOC 2817mW/2817mW";

    fn run_stream(input: &str, format: Format) -> (Summary, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let summary = stream(
            &mut BufReader::new(input.as_bytes()),
            &mut out,
            &mut err,
            format,
        )
        .unwrap();
        (
            summary,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn bad_line_in_the_middle_is_reported_by_number_and_the_rest_is_still_emitted() {
        let input = format!("{NANO}\nhello world\n{NANO}\n");
        let (summary, out, err) = run_stream(&input, Format::Json);
        assert_eq!(
            summary,
            Summary {
                samples: 2,
                failed: 1
            }
        );
        assert_eq!(out.lines().count(), 2);
        assert_eq!(
            err,
            "jetgate tegrastats: line 2: not a tegrastats line: no RAM field\n"
        );
    }

    #[test]
    fn blank_lines_are_skipped_but_still_counted_for_line_numbers() {
        let input = format!("\n   \n{NANO}\r\n\nRAM x\n");
        let (summary, out, err) = run_stream(&input, Format::Human);
        assert_eq!(
            summary,
            Summary {
                samples: 1,
                failed: 1
            }
        );
        assert_eq!(out.lines().count(), 1);
        assert!(
            err.starts_with("jetgate tegrastats: line 5: unparseable RAM field"),
            "{err}"
        );
    }

    #[test]
    fn json_output_is_one_contract_object_per_line() {
        let (_, out, _) = run_stream(&format!("{NANO}\n{NANO}"), Format::Json);
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["time"], "2024-11-15T08:38:09");
            assert_eq!(v["ram"]["used_bytes"], 6185u64 << 20);
            assert_eq!(v["gpu"]["freq_mhz"][0], 621);
            assert_eq!(v["unrecognized"].as_array().map(Vec::len), Some(0));
        }
        assert_eq!(out.lines().count(), 2);
    }

    #[test]
    fn human_summary_names_time_memory_loads_heat_and_input_power() {
        let (_, out, _) = run_stream(NANO, Format::Human);
        assert_eq!(
            out,
            "2024-11-15T08:38:09 RAM 6185/7620MiB SWAP 851/3810MiB CPU 12% x6 GPU 63% \
EMC 43% max 54.0C cpu IN 12479mW\n"
        );
    }

    #[test]
    fn human_summary_counts_online_cores_and_skips_what_is_absent() {
        let line = "RAM 1736/15827MB (lfb 3283x4MB) CPU [1%@1160,2%@1161,off,off] CV0@-256C";
        let (_, out, _) = run_stream(line, Format::Human);
        assert_eq!(out, "- RAM 1736/15827MiB CPU 2% x2/4\n");
    }

    #[test]
    fn invalid_utf8_line_is_reported_and_the_stream_goes_on() {
        let mut input = b"RAM \xff\xfe\n".to_vec();
        input.extend_from_slice(NANO.as_bytes());
        let mut out = Vec::new();
        let mut err = Vec::new();
        let summary = stream(
            &mut BufReader::new(&input[..]),
            &mut out,
            &mut err,
            Format::Json,
        )
        .unwrap();
        assert_eq!(
            summary,
            Summary {
                samples: 1,
                failed: 1
            }
        );
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "jetgate tegrastats: line 1: not UTF-8 text\n"
        );
    }

    /// A pipe that delivers one line per read and records what the writer had flushed by
    /// the time of each read.
    struct SlowPipe {
        lines: Vec<String>,
        flushed: Rc<RefCell<Vec<u8>>>,
        seen_at_read: Vec<usize>,
    }

    impl Read for SlowPipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.seen_at_read.push(self.flushed.borrow().len());
            if self.lines.is_empty() {
                return Ok(0);
            }
            let line = self.lines.remove(0);
            let n = line.len().min(buf.len());
            buf[..n].copy_from_slice(&line.as_bytes()[..n]);
            Ok(n)
        }
    }

    struct Shared(Rc<RefCell<Vec<u8>>>, Vec<u8>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.0.borrow_mut().append(&mut self.1);
            Ok(())
        }
    }

    #[test]
    fn each_sample_is_flushed_before_the_next_line_is_awaited() {
        let flushed = Rc::new(RefCell::new(Vec::new()));
        let pipe = SlowPipe {
            lines: vec![format!("{NANO}\n"), format!("{NANO}\n")],
            flushed: flushed.clone(),
            seen_at_read: Vec::new(),
        };
        let mut input = BufReader::new(pipe);
        let mut out = Shared(flushed.clone(), Vec::new());
        stream(&mut input, &mut out, &mut Vec::new(), Format::Human).unwrap();
        let one = flushed.borrow().len() / 2;
        assert!(one > 0);
        assert_eq!(input.get_ref().seen_at_read, vec![0, one, 2 * one]);
    }

    #[test]
    fn missing_tegrastats_says_where_it_lives_and_how_to_feed_lines() {
        let mut out = Vec::new();
        let err = run_tegrastats(
            "jetgate-test-no-such-tegrastats",
            1000,
            &mut out,
            &mut Vec::new(),
            Format::Human,
        )
        .unwrap_err();
        assert_eq!(err.code, FAILURE);
        let msg = err.error.to_string();
        for needle in [
            "/usr/bin/tegrastats",
            "~/tegrastats",
            "root",
            "jetgate tegrastats -",
        ] {
            assert!(msg.contains(needle), "{needle} missing from: {msg}");
        }
        assert!(msg.contains("--logfile"), "{msg}");
    }

    #[test]
    fn a_program_that_prints_lines_is_streamed_like_a_file() {
        // `echo` stands in for tegrastats: it prints its arguments, which are no sample.
        let mut out = Vec::new();
        let mut err = Vec::new();
        let summary = run_tegrastats("echo", 250, &mut out, &mut err, Format::Json).unwrap();
        assert_eq!(
            summary,
            Summary {
                samples: 0,
                failed: 1
            }
        );
        assert!(String::from_utf8(err)
            .unwrap()
            .contains("line 1: not a tegrastats line"));
    }

    #[test]
    fn the_pmic_placeholder_is_never_the_hottest_sensor() {
        let line = "RAM 896/7859MB (lfb 26x4MB) CPU [4%@2035] PMIC@100C GPU@31C BCPU@34.5C";
        let sample = tegrastats_parser::parse_line(line).unwrap();
        let mut out = Vec::new();
        write_human(&mut out, &sample).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("max 34.5C BCPU"), "{text}");
    }
}
