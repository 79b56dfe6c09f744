//! UTF-8 validation: ferrosocket's whole-buffer `validate` and streaming
//! `Utf8Validator` (fed in 1 KiB and 61-byte chunks) against `std::str::from_utf8`,
//! `simdutf8::basic` and `simdutf8::compat`, on ASCII and multibyte text.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrosocket_benches::text;
use ferrosocket_utf8::{Utf8Validator, validate};

fn feed_chunks(data: &[u8], chunk: usize) -> bool {
    let mut v = Utf8Validator::new();
    for piece in data.chunks(chunk) {
        if v.feed(piece).is_err() {
            return false;
        }
    }
    v.finish().is_ok()
}

fn utf8(c: &mut Criterion) {
    for multibyte in [false, true] {
        let kind = if multibyte { "multibyte" } else { "ascii" };
        let mut group = c.benchmark_group(format!("utf8/{kind}"));
        group
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        let sizes: &[usize] = if multibyte {
            &[125, 4096, 1 << 20]
        } else {
            &[20, 61, 125, 4096, 1 << 20]
        };
        for &size in sizes {
            let s = text(size, multibyte);
            let data = s.as_bytes();
            group.throughput(Throughput::Bytes(data.len() as u64));
            group.bench_with_input(BenchmarkId::new("ferrosocket", size), data, |b, d| {
                b.iter(|| validate(black_box(d)).is_ok())
            });
            group.bench_with_input(BenchmarkId::new("std", size), data, |b, d| {
                b.iter(|| std::str::from_utf8(black_box(d)).is_ok())
            });
            group.bench_with_input(BenchmarkId::new("simdutf8", size), data, |b, d| {
                b.iter(|| simdutf8::basic::from_utf8(black_box(d)).is_ok())
            });
            group.bench_with_input(BenchmarkId::new("simdutf8_compat", size), data, |b, d| {
                b.iter(|| simdutf8::compat::from_utf8(black_box(d)).is_ok())
            });
            if size >= 4096 {
                group.bench_with_input(BenchmarkId::new("feed_1KiB", size), data, |b, d| {
                    b.iter(|| feed_chunks(black_box(d), 1024))
                });
                group.bench_with_input(BenchmarkId::new("feed_61B", size), data, |b, d| {
                    b.iter(|| feed_chunks(black_box(d), 61))
                });
                if !multibyte {
                    // The floor for chunked validation: simdutf8 itself called once per
                    // 1 KiB chunk (valid only because ASCII never splits a code point).
                    group.bench_with_input(
                        BenchmarkId::new("simdutf8_per_1KiB", size),
                        data,
                        |b, d| {
                            b.iter(|| {
                                black_box(d)
                                    .chunks(1024)
                                    .all(|c| simdutf8::basic::from_utf8(c).is_ok())
                            })
                        },
                    );
                }
            }
        }
        group.finish();
    }
}

criterion_group!(benches, utf8);
criterion_main!(benches);
