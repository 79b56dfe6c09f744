//! Events per second for a server connection consuming client traffic delivered in
//! 64 KiB reads: ferrosocket's sans-IO `Connection` (assembled messages, UTF-8
//! validated, auto-pong on) against tungstenite's `WebSocket::read` over a stream
//! that hands out at most 64 KiB per read, on the same bytes in the same run.

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferrosocket_benches::masked_frames_of;
use ferrosocket_codec::OpCode;
use ferrosocket_proto::{Config, Connection, Event, Role};

const READ: usize = 64 * 1024;

/// A stream for tungstenite: at most 64 KiB per read, writes discarded.
struct Reads<'a> {
    data: &'a [u8],
}

impl Read for Reads<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(READ).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl Write for Reads<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn config() -> Config {
    Config::new()
        .max_frame_size(64 << 20)
        .max_message_size(64 << 20)
}

fn ferrosocket(wire: &[u8], count: usize) -> usize {
    let mut conn = Connection::new(Role::Server, config());
    let mut n = 0;
    for chunk in wire.chunks(READ) {
        conn.receive_data(chunk);
        while let Some(event) = conn.next_event() {
            match event.expect("valid frames") {
                Event::Text { data, .. } => {
                    black_box(data);
                }
                Event::Binary { data, .. } => {
                    black_box(data);
                }
                other => panic!("unexpected {other:?}"),
            }
            n += 1;
        }
    }
    assert_eq!(n, count);
    n
}

fn tungstenite(wire: &[u8], count: usize) -> usize {
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        Reads { data: wire },
        tungstenite::protocol::Role::Server,
        Some(config),
    );
    for _ in 0..count {
        black_box(ws.read().expect("valid frames"));
    }
    count
}

fn proto(c: &mut Criterion) {
    for (opcode, count, size) in [
        (OpCode::Text, 1_000_000usize, 20usize),
        (OpCode::Binary, 16, 1 << 20),
    ] {
        let wire = masked_frames_of(opcode, count, size);
        assert_eq!(ferrosocket(&wire, count), tungstenite(&wire, count));
        let mut group = c.benchmark_group(format!("proto_server/{count}x{size}B_{opcode}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        if size <= 1024 {
            group.throughput(Throughput::Elements(count as u64));
        } else {
            group.throughput(Throughput::Bytes((count * size) as u64));
        }
        group.bench_function(BenchmarkId::from_parameter("ferrosocket"), |b| {
            b.iter(|| ferrosocket(&wire, count))
        });
        group.bench_function(BenchmarkId::from_parameter("tungstenite"), |b| {
            b.iter(|| tungstenite(&wire, count))
        });
        group.finish();
    }
}

criterion_group!(benches, proto);
criterion_main!(benches);
