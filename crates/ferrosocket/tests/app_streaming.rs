//! Streaming reads in the application layer: a 32 MiB message read in
//! `Mode::Chunks`, and again cut into lines by `Mode::Delimiter`, never sits whole
//! in the server's memory. The server's resident memory is sampled while the
//! message goes through; its peak must stay under 8 MiB above the value before.
//!
//! The client is a raw socket that masks and writes the frame 64 KiB at a time,
//! so the test process's own memory does not grow with the message either. This
//! file is a test binary of its own: no other test's memory is counted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ferrosocket::app::{Captures, Context, Handler, Item, Mode, Server};

const TOTAL: usize = 32 << 20;
const LINE: usize = 1024;

/// Counts what it reads and answers with the count once the whole message came.
struct Counter {
    lines: bool,
    bytes: usize,
    items: usize,
    largest: usize,
}

impl Handler for Counter {
    fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
        let mode = if self.lines {
            Mode::delimiter("\n")
        } else {
            Mode::Chunks
        };
        ctx.set_read_delimiter(mode).unwrap();
    }

    fn on_read(&mut self, ctx: &mut Context, item: Item) {
        let len = item.as_bytes().map_or(0, <[u8]>::len);
        self.items += 1;
        self.largest = self.largest.max(len);
        // Lines lose their delimiter.
        self.bytes += len + usize::from(self.lines);
        if self.bytes == TOTAL {
            ctx.write(format!("{} {} {}", self.bytes, self.items, self.largest))
                .unwrap();
        }
    }
}

/// This process's resident memory, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Upgrades a raw socket to a WebSocket on `path`.
fn upgrade(addr: SocketAddr, path: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// Sends one binary message of `TOTAL` bytes (lines of `LINE` bytes ending in
/// `\n`) as four frames of 8 MiB (the default `max_frame_size` is 16 MiB), masked
/// and written 64 KiB at a time.
fn send_message(tcp: &mut TcpStream) {
    const FRAME: usize = 8 << 20;
    let key = [0x12u8, 0x34, 0x56, 0x78];
    let mut chunk = vec![0u8; 64 * 1024];
    let mut sent = 0;
    while sent < TOTAL {
        if sent % FRAME == 0 {
            let opcode = if sent == 0 { 0x2 } else { 0x0 };
            let fin = if sent + FRAME == TOTAL { 0x80 } else { 0 };
            let mut header = vec![fin | opcode, 0x80 | 127];
            header.extend_from_slice(&(FRAME as u64).to_be_bytes());
            header.extend_from_slice(&key);
            tcp.write_all(&header).unwrap();
        }
        for (i, b) in chunk.iter_mut().enumerate() {
            let at = sent + i;
            let plain = if at % LINE == LINE - 1 {
                b'\n'
            } else {
                b'a' + (at % 26) as u8
            };
            *b = plain ^ key[(at % FRAME) % 4];
        }
        tcp.write_all(&chunk).unwrap();
        sent += chunk.len();
    }
}

/// The server's text answer (an unmasked frame with a short length).
fn read_text(tcp: &mut TcpStream) -> String {
    let mut header = [0u8; 2];
    tcp.read_exact(&mut header).unwrap();
    assert_eq!(header[0], 0x81);
    let mut text = vec![0u8; usize::from(header[1] & 0x7f)];
    tcp.read_exact(&mut text).unwrap();
    String::from_utf8(text).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_32_mib_message_is_read_in_bounded_memory() {
    let server = Server::builder()
        .route("/chunks", || Counter {
            lines: false,
            bytes: 0,
            items: 0,
            largest: 0,
        })
        .route("/lines", || Counter {
            lines: true,
            bytes: 0,
            items: 0,
            largest: 0,
        })
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });

    for path in ["/chunks", "/lines"] {
        let result = tokio::task::spawn_blocking(move || {
            let mut tcp = upgrade(addr, path);
            // Idle: the connection is open, nothing sent yet.
            std::thread::sleep(Duration::from_millis(100));
            let idle = rss();
            let peak = Arc::new(AtomicUsize::new(idle));
            let done = Arc::new(AtomicBool::new(false));
            let sampler = std::thread::spawn({
                let (peak, done) = (peak.clone(), done.clone());
                move || {
                    while !done.load(Ordering::Relaxed) {
                        peak.fetch_max(rss(), Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            });
            send_message(&mut tcp);
            let answer = read_text(&mut tcp);
            done.store(true, Ordering::Relaxed);
            sampler.join().unwrap();
            (answer, idle, peak.load(Ordering::Relaxed))
        })
        .await
        .unwrap();
        let (answer, idle, peak) = result;
        let grew = peak.saturating_sub(idle);
        println!(
            "{path}: {answer} (bytes, items, largest item); RSS idle {idle} B, peak {peak} B, \
             +{grew} B"
        );
        let mut fields = answer.split(' ').map(|f| f.parse::<usize>().unwrap());
        assert_eq!(fields.next(), Some(TOTAL));
        let items = fields.next().unwrap();
        let largest = fields.next().unwrap();
        if path == "/lines" {
            assert_eq!(items, TOTAL / LINE);
            assert_eq!(largest, LINE - 1);
        } else {
            // Data as it arrived: many items, none larger than a read.
            assert!(items > 100, "{items} items");
            assert!(largest <= 256 * 1024, "an item of {largest} B");
        }
        assert!(
            grew < 8 << 20,
            "{path}: the server grew by {grew} B while a {TOTAL} B message went through"
        );
    }
    server.shutdown();
}
