//! Parse throughput: `cargo bench -p tegrastats-parser --bench parse`.
//!
//! Reported per line (criterion `Throughput::Elements(1)`): the JetPack 6 AGX Orin line (the
//! longest common form), the same through the buffer-reusing API, and the mix of all fixture
//! lines, and for calibration the cost of only splitting the line into tokens. The target is at least one million lines per second on one core.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tegrastats_parser::{parse_line, parse_line_into, Sample};

fn lines() -> Vec<&'static str> {
    include_str!("../tests/data/lines.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

fn bench(c: &mut Criterion) {
    let all = lines();
    let orin = all[9];
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("agx_orin_jp6/parse_line", |b| {
        b.iter(|| parse_line(black_box(orin)).map(|s| s.cpus.len()))
    });
    // Calibration: only splitting the line into tokens, no parsing.
    g.bench_function("agx_orin_jp6/split_only", |b| {
        b.iter(|| black_box(orin).split_ascii_whitespace().count())
    });
    let mut spare: Sample<'static> = Sample::default();
    g.bench_function("agx_orin_jp6/parse_line_into", |b| {
        b.iter(|| {
            let mut s = std::mem::take(&mut spare).recycle();
            let n = parse_line_into(black_box(orin), &mut s).map(|()| s.cpus.len());
            spare = s.recycle();
            n
        })
    });
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("fixture_mix/parse_line_into", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in &all {
                let mut s = std::mem::take(&mut spare).recycle();
                if parse_line_into(black_box(line), &mut s).is_ok() {
                    n += s.cpus.len();
                }
                spare = s.recycle();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
