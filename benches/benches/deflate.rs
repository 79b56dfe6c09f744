//! permessage-deflate: ferrosocket-deflate's codec against raw flate2 (same zlib-rs
//! backend, same level, same 15-bit window, raw deflate with a sync flush and the
//! `00 00 ff ff` tail stripped or appended by hand), on JSON-like text and random
//! bytes, 1 KiB and 64 KiB messages. The difference is our layer's overhead: the
//! per-message decisions, the step loop and, into a `BytesMut`, zeroing the space
//! zlib writes into.
//!
//! Compression keeps the context (the default agreement) over a rotation of 1 MiB of
//! different messages (cut from one stream, so that no message repeats within the
//! 32 KiB window), so every message is compressed against real history.
//! Decompression inflates independently compressed messages (no context takeover),
//! so that any message may come next.

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrosocket_deflate::{Agreed, DEFAULT_LEVEL, DeflateConfig, PerMessageDeflate, Role};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Bytes of distinct messages each benchmark cycles through.
const ROTATION_BYTES: usize = 1 << 20;

fn xorshift(x: &mut u32) -> u32 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x
}

/// JSON-like records of `len` bytes: repeated keys, varying values.
fn json(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    let mut s = String::with_capacity(len + 200);
    s.push('[');
    let mut i = 0;
    while s.len() < len {
        let r = xorshift(&mut x);
        s.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"score\":{},\"active\":{},\"tags\":[\"t{}\",\"t{}\"],\
             \"ts\":\"2024-05-{:02}T12:{:02}:00Z\"}},",
            r % 1000,
            r % 100_000,
            r.is_multiple_of(2),
            r % 7,
            r % 13,
            r % 28 + 1,
            r % 60
        ));
        i += 1;
    }
    s.truncate(len);
    s.into_bytes()
}

fn random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len).map(|_| xorshift(&mut x) as u8).collect()
}

fn config() -> DeflateConfig {
    DeflateConfig::new().threshold(0)
}

fn raw_compressor() -> Compress {
    Compress::new_with_window_bits(Compression::new(DEFAULT_LEVEL), false, 15)
}

/// What a careful direct user of flate2 writes: one sync-flushed call into a
/// reserved `Vec`, more room only if it filled up, then the tail cut off.
fn raw_compress(c: &mut Compress, message: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(message.len() + 64);
    let start = c.total_in();
    loop {
        let done = (c.total_in() - start) as usize;
        c.compress_vec(&message[done..], out, FlushCompress::Sync)
            .unwrap();
        if (c.total_in() - start) as usize == message.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    debug_assert!(out.ends_with(&TAIL));
    out.truncate(out.len() - TAIL.len());
}

/// Inflates into a `Vec` with room to spare (zlib decodes slowly, symbol by symbol,
/// when under 258 bytes of output space are left).
fn raw_decompress(d: &mut Decompress, wire: &[u8], out: &mut Vec<u8>) {
    d.reset(false);
    out.clear();
    d.decompress_vec(wire, out, FlushDecompress::None).unwrap();
    d.decompress_vec(&TAIL, out, FlushDecompress::Sync).unwrap();
}

fn deflate(c: &mut Criterion) {
    for (kind, make) in [
        ("json", json as fn(usize, u32) -> Vec<u8>),
        ("random", random),
    ] {
        for size in [1024usize, 64 * 1024] {
            let stream = make(ROTATION_BYTES, 7);
            let messages: Vec<Vec<u8>> = stream.chunks(size).map(<[u8]>::to_vec).collect();
            let rotation = messages.len();

            let mut group = c.benchmark_group(format!("deflate/compress/{kind}"));
            group
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2))
                .throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new("flate2", size), |b| {
                let mut comp = raw_compressor();
                let mut out = Vec::new();
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % rotation;
                    raw_compress(&mut comp, black_box(&messages[i]), &mut out);
                    out.len()
                })
            });
            group.bench_function(BenchmarkId::new("ferrosocket_vec", size), |b| {
                let mut codec = Agreed::default().into_codec(Role::Server, &config());
                let mut out = Vec::new();
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % rotation;
                    out.clear();
                    codec
                        .compress(black_box(&messages[i]), true, &mut out)
                        .unwrap();
                    out.len()
                })
            });
            group.bench_function(BenchmarkId::new("ferrosocket_bytesmut", size), |b| {
                let mut codec = Agreed::default().into_codec(Role::Server, &config());
                let mut out = BytesMut::new();
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % rotation;
                    out.clear();
                    codec
                        .compress(black_box(&messages[i]), true, &mut out)
                        .unwrap();
                    out.len()
                })
            });
            group.finish();

            // Independently compressed messages, so any may be inflated next.
            let mut comp = raw_compressor();
            let wires: Vec<Vec<u8>> = messages
                .iter()
                .map(|m| {
                    comp.reset();
                    let mut out = Vec::new();
                    raw_compress(&mut comp, m, &mut out);
                    out
                })
                .collect();
            let reset = Agreed {
                client_no_context_takeover: true,
                ..Agreed::default()
            };
            let mut group = c.benchmark_group(format!("deflate/decompress/{kind}"));
            group
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2))
                .throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new("flate2", size), |b| {
                let mut d = Decompress::new_with_window_bits(false, 15);
                let mut out = Vec::with_capacity(2 * size);
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % rotation;
                    raw_decompress(&mut d, black_box(&wires[i]), &mut out);
                    debug_assert_eq!(out, messages[i]);
                    out.len()
                })
            });
            group.bench_function(BenchmarkId::new("ferrosocket_vec", size), |b| {
                let mut codec: PerMessageDeflate = reset.into_codec(Role::Server, &config());
                let mut out = Vec::with_capacity(2 * size);
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % rotation;
                    out.clear();
                    codec
                        .decompress(black_box(&wires[i]), true, &mut out, 1 << 20)
                        .unwrap();
                    debug_assert_eq!(out, messages[i]);
                    out.len()
                })
            });
            group.bench_function(BenchmarkId::new("ferrosocket_bytesmut", size), |b| {
                let mut codec: PerMessageDeflate = reset.into_codec(Role::Server, &config());
                let mut out = BytesMut::with_capacity(2 * size);
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % rotation;
                    out.clear();
                    codec
                        .decompress(black_box(&wires[i]), true, &mut out, 1 << 20)
                        .unwrap();
                    debug_assert_eq!(&out[..], &messages[i][..]);
                    out.len()
                })
            });
            group.finish();
        }
    }
}

criterion_group!(benches, deflate);
criterion_main!(benches);
