//! Decompression bomb, measured on a real process: a server with a 16 MiB message
//! limit and permessage-deflate on receives one binary message of 1 GiB of zeros,
//! sent by our own client in 1 MiB fragments compressed on the fly (about 1 KiB each
//! on the wire). The server must close with 1009 and its peak resident memory (VmHWM
//! of its process, from /proc) must stay under 64 MiB.
//!
//! The server runs in a child process, this test binary re-executed with
//! `--exact bomb_server_child --ignored` and `FERROSOCKET_BOMB_CHILD=1`, so the
//! client's memory is not counted. The child prints `PORT <n>` once listening and
//! `RESULT ...` lines when the connection ends.

use std::io::{self, BufRead, BufReader};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ferrosocket::ClientOptions;
use ferrosocket::tokio::{accept_with_config, client_async_with};
use ferrosocket::{
    Accept, CloseCode, Config, DeflateConfig, Error, Message, OpCode, Request, StreamConfig,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

const CHILD_ENV: &str = "FERROSOCKET_BOMB_CHILD";
const CHILD_TEST: &str = "bomb_server_child";
const LIMIT: usize = 16 << 20;
const FRAGMENT: usize = 1 << 20;
const FRAGMENTS: usize = 1024; // 1 GiB in all
const PEAK_BUDGET_KIB: u64 = 64 << 10;

/// A socket that counts the bytes that go through it.
struct Counted {
    inner: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl Counted {
    fn new(inner: TcpStream) -> (Self, Arc<AtomicU64>, Arc<AtomicU64>) {
        let (read, written) = (Arc::default(), Arc::default());
        let counted = Self {
            inner,
            read: Arc::clone(&read),
            written: Arc::clone(&written),
        };
        (counted, read, written)
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        result
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = result {
            self.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// This process's peak resident set size in KiB (VmHWM), or its current one (VmRSS).
fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The server, in the child process. Does nothing unless the parent started it.
#[test]
#[ignore = "the server half of `bomb`, which runs it in a child process"]
fn bomb_server_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(serve_one());
}

async fn serve_one() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("PORT {}", listener.local_addr().unwrap().port());
    println!("RESULT hwm_before_kib={}", proc_status_kib("VmHWM"));
    let (tcp, _) = listener.accept().await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (socket, read, _written) = Counted::new(tcp);
    let config = StreamConfig::default().protocol(Config::default().max_message_size(LIMIT));
    assert!(config.compression.is_some(), "compression is on by default");
    let offer = Arc::new(std::sync::Mutex::new(String::new()));
    let seen = Arc::clone(&offer);
    let mut ws = accept_with_config(socket, config, async move |request: &Request| {
        *seen.lock().unwrap() = request
            .headers()
            .get_str("Sec-WebSocket-Extensions")
            .unwrap_or("")
            .to_owned();
        Accept::new()
    })
    .await
    .unwrap();
    println!("RESULT offer={:?}", offer.lock().unwrap());
    let started = Instant::now();
    let outcome = match ws.recv().await {
        Some(Err(Error::Protocol(e))) => format!("code={} error={e}", u16::from(e.close_code())),
        Some(Ok(Message::Binary(data))) => format!("code=none message_len={}", data.len()),
        other => format!("code=none other={other:?}"),
    };
    // Our close (1009) is queued: write it, then read what the client still sends
    // until it closes, so our socket is not reset while the close frame is in flight.
    let _ = ws.flush().await;
    let mut tcp = ws.into_inner();
    let mut sink = vec![0u8; 64 * 1024];
    let drain = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(n) = tcp.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    println!(
        "RESULT {outcome} read_bytes={} elapsed_ms={} drained={}",
        read.load(Ordering::Relaxed),
        started.elapsed().as_millis(),
        drain.is_ok()
    );
    println!(
        "RESULT hwm_kib={} rss_kib={}",
        proc_status_kib("VmHWM"),
        proc_status_kib("VmRSS")
    );
}

/// Kills the child if the test fails midway.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn field<'a>(lines: &'a [String], key: &str) -> Option<&'a str> {
    lines.iter().find_map(|line| {
        line.strip_prefix("RESULT ")?
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    })
}

#[test]
fn bomb() {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--ignored"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("re-execute the test binary as the server");
    let mut child = Reap(child);
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut port = None;
    let mut line = String::new();
    while port.is_none() {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server child exited before listening"
        );
        port = line
            .trim()
            .strip_prefix("PORT ")
            .map(|p| p.parse::<u16>().unwrap());
    }
    let port = port.unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let (close, fragments_sent, client_wrote) = rt.block_on(send_bomb(port));
    let elapsed = started.elapsed();

    let lines: Vec<String> = stdout
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with("RESULT "))
        .collect();
    let status = child.0.wait().unwrap();
    for l in &lines {
        println!("bomb: server {l}");
    }
    assert!(status.success(), "server child failed: {status}");
    let num = |key: &str| -> u64 {
        field(&lines, key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("server did not report {key}: {lines:?}"))
    };
    let (hwm, before, read) = (num("hwm_kib"), num("hwm_before_kib"), num("read_bytes"));
    println!(
        "bomb: 1 GiB of zeros offered as {FRAGMENTS} x 1 MiB fragments, deflated at level 9; \
         client sent {fragments_sent} fragments ({:.1} MiB uncompressed), {client_wrote} bytes on \
         the wire (incl. handshake); server read {read} bytes; close seen by the client: {close:?}; \
         {:.2} s",
        fragments_sent as f64,
        elapsed.as_secs_f64()
    );
    println!(
        "bomb: server VmHWM {:.1} MiB ({hwm} KiB; {:.1} MiB before the connection), budget {} MiB",
        mib(hwm),
        mib(before),
        PEAK_BUDGET_KIB >> 10
    );
    assert_eq!(field(&lines, "code"), Some("1009"), "server: {lines:?}");
    assert_eq!(close, Some(1009), "the client must see close code 1009");
    assert!(
        hwm < PEAK_BUDGET_KIB,
        "server peak memory {hwm} KiB is over the {PEAK_BUDGET_KIB} KiB budget"
    );
}

/// Sends the bomb; returns the close code the client saw, the fragments sent and
/// the bytes written to the socket.
async fn send_bomb(port: u16) -> (Option<u16>, usize, u64) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (socket, _read, written) = Counted::new(tcp);
    let url = format!("ws://127.0.0.1:{port}/bomb");
    // Level 9, as an attacker would: about 1 KiB per MiB of zeros (level 1, the
    // default, gives about 10 KiB).
    let deflate = DeflateConfig::default().level(9).unwrap();
    let options = ClientOptions::new().config(StreamConfig::default().compression(Some(deflate)));
    let (ws, response) = client_async_with(&url, socket, options).await.unwrap();
    let agreed = response
        .headers
        .get_str("Sec-WebSocket-Extensions")
        .unwrap_or("");
    println!("bomb: server answered Sec-WebSocket-Extensions: {agreed}");
    assert!(
        agreed.starts_with("permessage-deflate"),
        "deflate was not negotiated: {agreed:?}"
    );

    let (mut rx, mut tx) = ws.split();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let writer = tokio::spawn(async move {
        let zeros = vec![0u8; FRAGMENT];
        for i in 0..FRAGMENTS {
            let opcode = if i == 0 {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            if tx
                .send_fragment(opcode, &zeros, i + 1 == FRAGMENTS)
                .await
                .is_err()
            {
                break; // the server closed
            }
            counter.fetch_add(1, Ordering::Relaxed);
        }
        tx
    });
    let close = match tokio::time::timeout(Duration::from_secs(120), rx.recv()).await {
        Ok(Some(Ok(Message::Close(Some(frame))))) => Some(u16::from(frame.code())),
        Ok(Some(Err(Error::Protocol(e)))) => Some(u16::from(e.close_code())),
        Ok(other) => panic!("expected a close with 1009, got {other:?}"),
        Err(_) => panic!("no close from the server within 120 s"),
    };
    // The writer stops at its next send (the connection is closed), or is stopped.
    let tx = match tokio::time::timeout(Duration::from_secs(10), writer).await {
        Ok(joined) => Some(joined.unwrap()),
        Err(_) => None,
    };
    drop((rx, tx));
    let fragments = sent.load(Ordering::Relaxed) as usize;
    assert_eq!(
        close,
        Some(u16::from(CloseCode::MESSAGE_TOO_BIG)),
        "close code"
    );
    (close, fragments, written.load(Ordering::Relaxed))
}
