//! Tests of `jetgate tegrastats`: streaming, bad lines by number, pipes flushed, the missing-binary message.
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
