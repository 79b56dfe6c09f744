//! Load generator for the end-to-end echo benchmark: the same minimal client for
//! every server, on one thread (a tokio current-thread runtime).
//!
//! Load mode: `echo-load --addr HOST:PORT --conns N --payload BYTES --inflight K
//! --warmup SECS --window SECS [--server-pid PID]` opens N connections (a fixed
//! upgrade request; the answer must be a `101` with the right accept key and
//! nothing after it), then each connection keeps K binary messages in flight: the
//! frames are masked once, up front, with `ferrosocket_codec::encode_frame`, and up
//! to K of them go out in one write. Echoes are parsed minimally (header only) and
//! checked: FIN + binary, unmasked, the payload length sent. Completed echoes are
//! counted over the window that follows the warm-up; the server's utime/stime
//! (`/proc/PID/stat`) are sampled at both ends of the window. Then no new message
//! is sent and the in-flight ones are drained (5 s at most), so `total` is every
//! message the server echoed. Prints one line:
//! `msgs=.. secs=.. utime=.. stime=.. total=.. drained=true|false`.
//!
//! With `--deflate` the upgrade request offers `permessage-deflate;
//! client_no_context_takeover; server_no_context_takeover` (the answer must agree),
//! the messages are JSON-like text sent as binary, compressed once up front with
//! RSV1 set (without context takeover every copy is valid), and echoes may come
//! back compressed (RSV1) of any length; their number is what counts.
//!
//! Idle mode: `echo-load --addr HOST:PORT --idle N --server-pid PID` opens N
//! connections (handshake completed, 64 at a time), waits a second and prints the
//! server's `VmRSS` before and after, in KiB: `idle=N rss_before_kib=..
//! rss_after_kib=..`. With `--deflate` each connection offers permessage-deflate as
//! a browser does (`permessage-deflate; client_max_window_bits`: context takeover
//! both ways unless the server declines it), sends one compressed 1 KiB JSON-like
//! message and waits for its echo before it goes idle, so that the server has used
//! its compression contexts once.
//!
//! Everything stops by itself; any unexpected byte is an error (exit status 1).
#![forbid(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrosocket_codec::{FrameHeader, OpCode, encode_frame};
use ferrosocket_deflate::{Agreed, DeflateConfig, Role};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Notify;

type BoxError = Box<dyn std::error::Error>;

/// The upgrade request, always the same; its key is RFC 6455's example.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";
/// [`REQUEST`] offering permessage-deflate without context takeover either way.
const REQUEST_DEFLATE: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; \
client_no_context_takeover; server_no_context_takeover\r\n\r\n";
/// [`REQUEST`] offering permessage-deflate the way browsers do.
const REQUEST_BROWSER_DEFLATE: &[u8] =
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; \
client_max_window_bits\r\n\r\n";
/// The accept key that goes with [`REQUEST`]'s key.
const ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// Connections opened at once in idle mode; below the listen backlog (tokio: 128 here)
/// so that no SYN waits for a retransmission.
const IDLE_BATCH: usize = 64;
/// How long the in-flight messages may take to come back at the end.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Args {
    addr: Option<SocketAddr>,
    conns: usize,
    payload: usize,
    inflight: usize,
    warmup: f64,
    window: f64,
    server_pid: Option<u32>,
    idle: Option<usize>,
    deflate: bool,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        conns: 1,
        payload: 20,
        inflight: 1,
        warmup: 1.0,
        window: 3.0,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--deflate" {
            a.deflate = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => a.addr = Some(value.parse()?),
            "--conns" => a.conns = value.parse()?,
            "--payload" => a.payload = value.parse()?,
            "--inflight" => a.inflight = value.parse()?,
            "--warmup" => a.warmup = value.parse()?,
            "--window" => a.window = value.parse()?,
            "--server-pid" => a.server_pid = Some(value.parse()?),
            "--idle" => a.idle = Some(value.parse()?),
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    if a.conns == 0 || a.inflight == 0 {
        return Err("--conns and --inflight must be at least 1".into());
    }
    Ok(a)
}

fn main() {
    let result = parse_args().and_then(|args| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let local = tokio::task::LocalSet::new();
        let line = local.block_on(&runtime, async move {
            match args.idle {
                Some(n) => idle(&args, n).await,
                None => load(&args).await,
            }
        })?;
        println!("{line}");
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("echo-load: {e}");
        std::process::exit(1);
    }
}

/// Counters shared by the connection tasks and the main task.
#[derive(Debug, Default)]
struct Shared {
    /// Echoes received since the start.
    completed: Cell<u64>,
    /// Messages sent and not echoed yet, over all connections.
    in_flight: Cell<u64>,
    /// Set at the end of the window: send nothing more.
    stop: Cell<bool>,
    /// The first error of a connection.
    error: RefCell<Option<String>>,
}

async fn load(args: &Args) -> Result<String, BoxError> {
    let addr = args.addr.ok_or("--addr is required")?;
    let mut one = BytesMut::new();
    let header = FrameHeader {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: OpCode::Binary,
        mask: Some([0x37, 0xfa, 0x21, 0x3d]),
        payload_len: 0,
    };
    if args.deflate {
        let payload = json_like(args.payload);
        let config = DeflateConfig::new()
            .client_no_context_takeover(true)
            .server_no_context_takeover(true);
        let agreed = Agreed {
            client_no_context_takeover: true,
            server_no_context_takeover: true,
            ..Agreed::default()
        };
        let mut codec = agreed.into_codec(Role::Client, &config);
        let mut compressed = Vec::new();
        let rsv1 = codec.compress(&payload, true, &mut compressed)?;
        encode_frame(FrameHeader { rsv1, ..header }, &compressed, &mut one);
    } else {
        let payload: Vec<u8> = (0..args.payload).map(|i| (i % 251) as u8).collect();
        encode_frame(header, &payload, &mut one);
    }
    let frame_len = one.len();
    let frames: Rc<[u8]> = one.repeat(args.inflight).into();

    let mut streams = Vec::with_capacity(args.conns);
    for _ in 0..args.conns {
        streams.push(handshake(addr, request(args.deflate), args.deflate).await?);
    }
    let shared = Rc::new(Shared::default());
    for stream in streams {
        let (frames, shared) = (frames.clone(), shared.clone());
        // Compressed echoes have the server's length, not ours.
        let (k, expected) = (
            args.inflight,
            (!args.deflate).then_some(args.payload as u64),
        );
        tokio::task::spawn_local(async move {
            if let Err(e) = connection(stream, &frames, frame_len, k, expected, &shared).await
                && !shared.stop.get()
            {
                shared.error.borrow_mut().get_or_insert(e.to_string());
            }
        });
    }

    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let (c0, t0, cpu0) = (
        shared.completed.get(),
        Instant::now(),
        cpu(args.server_pid)?,
    );
    tokio::time::sleep(Duration::from_secs_f64(args.window)).await;
    let (c1, t1, cpu1) = (
        shared.completed.get(),
        Instant::now(),
        cpu(args.server_pid)?,
    );
    shared.stop.set(true);
    let drain_end = Instant::now() + DRAIN_LIMIT;
    while shared.in_flight.get() > 0 && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    if let Some(e) = shared.error.take() {
        return Err(format!("connection failed: {e}").into());
    }
    if c1 == c0 {
        return Err("no echo completed within the window".into());
    }
    Ok(format!(
        "msgs={} secs={:.6} utime={} stime={} total={} drained={}",
        c1 - c0,
        (t1 - t0).as_secs_f64(),
        cpu1.0 - cpu0.0,
        cpu1.1 - cpu0.1,
        shared.completed.get(),
        shared.in_flight.get() == 0,
    ))
}

/// One connection: a writer sending up to `k` frames per write whenever echoes
/// have come back, and a reader checking and counting the echoes.
async fn connection(
    mut stream: TcpStream,
    frames: &[u8],
    frame_len: usize,
    k: usize,
    expected: Option<u64>,
    shared: &Shared,
) -> io::Result<()> {
    let (mut rd, mut wr) = stream.split();
    let credits = Cell::new(k);
    let wake_writer = Notify::new();
    let writer = async {
        loop {
            let n = credits.replace(0);
            if n == 0 {
                wake_writer.notified().await;
                continue;
            }
            if shared.stop.get() {
                return Ok::<_, io::Error>(());
            }
            shared.in_flight.set(shared.in_flight.get() + n as u64);
            wr.write_all(&frames[..n * frame_len]).await?;
        }
    };
    let reader = async {
        let mut buf = vec![0u8; 256 * 1024];
        let mut parser = EchoParser::new(expected);
        loop {
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Err::<(), _>(io::ErrorKind::UnexpectedEof.into());
            }
            let done = parser.feed(&buf[..n])?;
            if done > 0 {
                shared.completed.set(shared.completed.get() + done);
                shared.in_flight.set(shared.in_flight.get() - done);
                credits.set(credits.get() + done as usize);
                wake_writer.notify_one();
            }
        }
    };
    futures_util::future::try_join(writer, reader)
        .await
        .map(|_| ())
}

/// A minimal parser of the server's frames: headers are checked, payloads skipped.
#[derive(Debug)]
struct EchoParser {
    /// The payload length every echo must have; `None`: any, and RSV1 (compressed)
    /// allowed.
    expected: Option<u64>,
    header: [u8; 14],
    header_len: usize,
    /// Payload bytes still to skip; `None` while reading a header.
    remaining: Option<u64>,
}

impl EchoParser {
    fn new(expected: Option<u64>) -> Self {
        Self {
            expected,
            header: [0; 14],
            header_len: 0,
            remaining: None,
        }
    }

    /// Takes the next bytes, returns how many echoes they completed.
    fn feed(&mut self, mut input: &[u8]) -> io::Result<u64> {
        let mut done = 0;
        while !input.is_empty() || self.remaining == Some(0) {
            match self.remaining {
                Some(rest) => {
                    let take = rest.min(input.len() as u64);
                    input = &input[take as usize..];
                    if rest == take {
                        self.remaining = None;
                        done += 1;
                    } else {
                        self.remaining = Some(rest - take);
                    }
                }
                None => {
                    let need = match self.header_len {
                        0 | 1 => 2,
                        _ => match self.header[1] & 0x7f {
                            126 => 4,
                            127 => 10,
                            _ => 2,
                        },
                    };
                    let take = (need - self.header_len).min(input.len());
                    self.header[self.header_len..self.header_len + take]
                        .copy_from_slice(&input[..take]);
                    self.header_len += take;
                    input = &input[take..];
                    if self.header_len < need || (need == 2 && self.header[1] & 0x7f >= 126) {
                        continue;
                    }
                    let h = &self.header[..need];
                    let compressed_ok = self.expected.is_none() && h[0] == 0xc2;
                    if (h[0] != 0x82 && !compressed_ok) || h[1] & 0x80 != 0 {
                        return Err(bad(format!("unexpected frame header {h:02x?}")));
                    }
                    let len = match need {
                        4 => u64::from(u16::from_be_bytes([h[2], h[3]])),
                        10 => u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
                        _ => u64::from(h[1] & 0x7f),
                    };
                    if let Some(expected) = self.expected
                        && len != expected
                    {
                        return Err(bad(format!("echo of {len} bytes, expected {expected}")));
                    }
                    self.header_len = 0;
                    self.remaining = Some(len);
                }
            }
        }
        Ok(done)
    }
}

fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The load mode's upgrade request.
fn request(deflate: bool) -> &'static [u8] {
    if deflate { REQUEST_DEFLATE } else { REQUEST }
}

/// Connects and upgrades with `request`; the answer must be exactly a `101` with our
/// accept key (agreeing to permessage-deflate if `deflate`).
async fn handshake(addr: SocketAddr, request: &[u8], deflate: bool) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    stream.write_all(request).await?;
    let mut answer = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("connection closed during the handshake".into()));
        }
        answer.extend_from_slice(&chunk[..n]);
        if let Some(i) = find(&answer, b"\r\n\r\n") {
            break i + 4;
        }
        if answer.len() > 8192 {
            return Err(bad("handshake answer too long".into()));
        }
    };
    if !answer.starts_with(b"HTTP/1.1 101") || find(&answer, ACCEPT).is_none() {
        return Err(bad(format!(
            "not a 101 with our accept key: {:?}",
            String::from_utf8_lossy(&answer)
        )));
    }
    if deflate && find(&answer, b"permessage-deflate").is_none() {
        return Err(bad("permessage-deflate was not agreed".into()));
    }
    if end != answer.len() {
        return Err(bad("bytes after the 101".into()));
    }
    Ok(stream)
}

/// `len` bytes of JSON-like text: what compression is for.
fn json_like(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        let record = format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"op\":\"update\",\"price\":{}.{:02}}},",
            i % 97,
            1000 + (i * 7919) % 5000,
            i % 100
        );
        out.extend_from_slice(record.as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn idle(args: &Args, n: usize) -> Result<String, BoxError> {
    let addr = args.addr.ok_or("--addr is required")?;
    let pid = args.server_pid.ok_or("--idle needs --server-pid")?;
    let before = status_kib(pid, "VmRSS:")?;
    // With --deflate: one compressed message, from a fresh compressor (valid as the
    // first message of any connection, whatever the context takeover agreed).
    let message: Rc<[u8]> = if args.deflate {
        let mut codec = Agreed::default().into_codec(Role::Client, &DeflateConfig::new());
        let mut compressed = Vec::new();
        let rsv1 = codec.compress(&json_like(1024), true, &mut compressed)?;
        let header = FrameHeader {
            rsv1,
            mask: Some([0x37, 0xfa, 0x21, 0x3d]),
            ..FrameHeader::new(OpCode::Binary, 0)
        };
        let mut frame = BytesMut::new();
        encode_frame(header, &compressed, &mut frame);
        frame.to_vec().into()
    } else {
        Rc::from(&[][..])
    };
    let open = |message: Rc<[u8]>| async move {
        if message.is_empty() {
            return handshake(addr, REQUEST, false).await;
        }
        let mut stream = handshake(addr, REQUEST_BROWSER_DEFLATE, true).await?;
        stream.write_all(&message).await?;
        let mut parser = EchoParser::new(None);
        let mut buf = [0u8; 4096];
        let mut echoed = 0;
        while echoed == 0 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(bad("closed before the echo".into()));
            }
            echoed += parser.feed(&buf[..n])?;
        }
        Ok(stream)
    };
    let mut streams = Vec::with_capacity(n);
    while streams.len() < n {
        let batch = IDLE_BATCH.min(n - streams.len());
        let opened =
            futures_util::future::join_all((0..batch).map(|_| open(message.clone()))).await;
        for stream in opened {
            streams.push(stream?);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = status_kib(pid, "VmRSS:")?;
    drop(streams);
    Ok(format!(
        "idle={n} rss_before_kib={before} rss_after_kib={after}"
    ))
}

/// The server's (utime, stime) in clock ticks, or zeros without a PID.
fn cpu(pid: Option<u32>) -> Result<(u64, u64), BoxError> {
    let Some(pid) = pid else { return Ok((0, 0)) };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses: state is field 3,
    // utime 14, stime 15.
    let rest = &stat[stat.rfind(')').ok_or("bad /proc stat")? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Ok((fields[11].parse()?, fields[12].parse()?))
}

/// A `/proc/PID/status` field in KiB.
fn status_kib(pid: u32, field: &str) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}

#[cfg(test)]
mod tests {
    use super::EchoParser;

    fn frame(len: usize) -> Vec<u8> {
        let mut f = vec![0x82];
        match len {
            0..=125 => f.push(len as u8),
            126..=65535 => {
                f.push(126);
                f.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                f.push(127);
                f.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        f.resize(f.len() + len, 7);
        f
    }

    #[test]
    fn parser_counts_echoes_split_anywhere() {
        for len in [0, 20, 1024, 16384, 1 << 20] {
            let stream: Vec<u8> = (0..3).flat_map(|_| frame(len)).collect();
            for cut in [1, 2, 3, 5, 4096, stream.len()] {
                let mut p = EchoParser::new(Some(len as u64));
                let total: u64 = stream.chunks(cut).map(|c| p.feed(c).unwrap()).sum();
                assert_eq!(total, 3, "len {len} cut {cut}");
            }
        }
    }

    #[test]
    fn parser_rejects_wrong_length_and_opcode() {
        assert!(EchoParser::new(Some(20)).feed(&frame(21)).is_err());
        let mut text = frame(20);
        text[0] = 0x81;
        assert!(EchoParser::new(Some(20)).feed(&text).is_err());
    }
}
