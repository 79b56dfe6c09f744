//! Frame decoding from one buffer of masked binary frames: ferrosocket's
//! `FrameDecoder` (zero-copy, unmasked in place) against tungstenite's
//! `WebSocket::read` and fastwebsockets' `read_frame` over the same bytes, and
//! `FrameDecoder::decode_in_place` (payloads borrowed from the read buffer).
//!
//! Each competitor is configured to unmask, allow frames of any size used here, and
//! not reply to anything; the outputs are checked once before timing.

use std::hint::black_box;
use std::io::{self, Cursor, Read, Write};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrosocket_benches::masked_frames;
use ferrosocket_codec::FrameDecoder;

/// A read-only stream for tungstenite: at most 64 KiB per read, writes discarded.
struct ReadOnly<'a>(Cursor<&'a [u8]>);

impl Read for ReadOnly<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(READ);
        self.0.read(&mut buf[..n])
    }
}

impl Write for ReadOnly<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const READ: usize = 64 * 1024;

/// Reads as from a socket into the buffer's spare room, sized as
/// `ferrosocket-proto`'s streams size it: what a pending frame still needs (its
/// header announced it) plus one read; each read brings at most `READ` bytes and
/// never more than the room. After each read, `decode_all` takes every whole frame
/// out of the buffer and says how many there were.
fn read_and_decode(
    wire: &[u8],
    count: usize,
    mut decode_all: impl FnMut(&mut FrameDecoder, &mut BytesMut) -> usize,
) -> usize {
    let mut buf = BytesMut::with_capacity(READ);
    let mut decoder = FrameDecoder::with_max_payload_len(64 << 20);
    let mut n = 0;
    let mut at = 0;
    while at < wire.len() {
        let needed = decoder.bytes_needed(&buf);
        buf.reserve(needed + READ);
        let room = buf.capacity() - buf.len();
        let read = &wire[at..wire.len().min(at + room.min(READ))];
        at += read.len();
        buf.extend_from_slice(read);
        n += decode_all(&mut decoder, &mut buf);
    }
    assert_eq!(n, count);
    n
}

/// `FrameDecoder::decode`: each frame split off as `Bytes`, unmasked in place.
fn ferrosocket(wire: &[u8], count: usize) -> usize {
    read_and_decode(wire, count, |decoder, buf| {
        let mut n = 0;
        while let Some(frame) = decoder.decode(buf).expect("valid frames") {
            black_box(&frame);
            n += 1;
        }
        n
    })
}

/// `FrameDecoder::decode_in_place`: each frame's payload is unmasked and borrowed
/// where it lies, then its bytes are advanced over (no `Bytes` handle, no
/// reference count).
fn ferrosocket_in_place(wire: &[u8], count: usize) -> usize {
    read_and_decode(wire, count, |decoder, buf| {
        let mut n = 0;
        while let Some(frame) = decoder.decode_in_place(buf).expect("valid frames") {
            black_box(&frame);
            let used = frame.wire_len();
            buf.advance(used);
            n += 1;
        }
        n
    })
}

/// The floor: the same reads into the same kind of buffer, sized for 16 KiB frames
/// (frame + one read), every byte dropped after it arrives; no decoding. Large
/// frames cannot be decoded faster than their bytes are copied in.
fn reads_only(wire: &[u8]) -> usize {
    let mut buf = BytesMut::with_capacity(READ);
    let mut at = 0;
    while at < wire.len() {
        buf.clear();
        buf.reserve(READ);
        let read = &wire[at..wire.len().min(at + READ)];
        at += read.len();
        buf.extend_from_slice(read);
        black_box(&mut buf[..]);
    }
    at
}

fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

fn tungstenite(wire: &[u8], count: usize) -> usize {
    let stream = ReadOnly(Cursor::new(wire));
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        stream,
        tungstenite::protocol::Role::Server,
        Some(tungstenite_config()),
    );
    for _ in 0..count {
        black_box(ws.read().expect("valid frames"));
    }
    count
}

fn fastwebsockets(rt: &tokio::runtime::Runtime, wire: &[u8], count: usize) -> usize {
    rt.block_on(async {
        let stream = tokio::io::join(wire, tokio::io::sink());
        let mut ws =
            fastwebsockets::WebSocket::after_handshake(stream, fastwebsockets::Role::Server);
        ws.set_auto_close(false);
        ws.set_auto_pong(false);
        ws.set_max_message_size(64 << 20);
        for _ in 0..count {
            let frame = ws.read_frame().await.expect("valid frames");
            black_box(&frame.payload);
        }
    });
    count
}

fn frame_decode(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // (frames, payload bytes each)
    for (count, size) in [
        (1_000_000usize, 20usize),
        (10_000, 16 * 1024),
        (16, 1024 * 1024),
    ] {
        let wire = masked_frames(count, size);
        // Same answer from everyone before timing anything.
        assert_eq!(ferrosocket(&wire, count), tungstenite(&wire, count));
        assert_eq!(ferrosocket_in_place(&wire, count), count);
        assert_eq!(fastwebsockets(&rt, &wire, count), count);

        let mut group = c.benchmark_group(format!("frame_decode/{count}x{size}B"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        if size <= 1024 {
            group.throughput(Throughput::Elements(count as u64));
        } else {
            group.throughput(Throughput::Bytes((count * size) as u64));
        }
        // Every reader takes the bytes in reads of at most 64 KiB, as from a socket:
        // ferrosocket copies each read into its BytesMut's spare room (reserving what
        // a frame header announced) and splits frames out of it; the others read
        // from the same slice into their own buffers.
        group.bench_function(BenchmarkId::from_parameter("ferrosocket"), |b| {
            b.iter(|| ferrosocket(&wire, count))
        });
        group.bench_function(BenchmarkId::from_parameter("ferrosocket_in_place"), |b| {
            b.iter(|| ferrosocket_in_place(&wire, count))
        });
        if size > 1024 {
            group.bench_function(BenchmarkId::from_parameter("reads_only"), |b| {
                b.iter(|| reads_only(&wire))
            });
        }
        group.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
            b.iter(|| tungstenite(&wire, count))
        });
        group.bench_function(BenchmarkId::from_parameter("fastwebsockets"), |b| {
            b.iter(|| fastwebsockets(&rt, &wire, count))
        });
        group.finish();
    }
}

criterion_group!(benches, frame_decode);
criterion_main!(benches);
