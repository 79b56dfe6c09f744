//! Masking in place: bytewise and word-at-a-time scalar, the SIMD kernel, the public
//! dispatching `apply_mask`, and `copy_from_slice` of the same size as the
//! memory-bandwidth reference. Aligned (64-byte) and at a 6-byte offset, the position
//! of a payload behind a 6-byte header.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrosocket_benches::aligned_buffer;
use ferrosocket_codec::apply_mask;
use ferrosocket_codec::mask::{
    apply_mask_bytewise, apply_mask_simd, apply_mask_word, simd_backend,
};

const SIZES: [usize; 5] = [16, 125, 1024, 64 * 1024, 1024 * 1024];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn mask(c: &mut Criterion) {
    eprintln!("mask: SIMD backend on this CPU: {}", simd_backend());
    for misalign in [0usize, 6] {
        let mut group = c.benchmark_group(format!("mask/align+{misalign}"));
        group
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for &size in &SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let (mut buf, start) = aligned_buffer(size, misalign);
            let (src, _) = aligned_buffer(size, misalign);
            // Each kernel is called directly, as user code calls it (a function
            // pointer would hide `apply_mask`'s inlined short path and add an
            // indirect call to every iteration that `copy_from_slice` does not pay).
            macro_rules! kernel {
                ($name:literal, $kernel:path) => {
                    group.bench_with_input(BenchmarkId::new($name, size), &size, |b, _| {
                        b.iter(|| {
                            $kernel(black_box(&mut buf[start..start + size]), black_box(KEY), 0)
                        })
                    });
                };
            }
            kernel!("bytewise", apply_mask_bytewise);
            kernel!("word", apply_mask_word);
            kernel!("simd", apply_mask_simd);
            kernel!("apply_mask", apply_mask);
            group.bench_with_input(BenchmarkId::new("copy", size), &size, |b, _| {
                b.iter(|| {
                    black_box(&mut buf[start..start + size])
                        .copy_from_slice(black_box(&src[start..start + size]))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, mask);
criterion_main!(benches);
