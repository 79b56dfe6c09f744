//! Interop against real peers, with permessage-deflate on and off: the Python
//! `websockets` package as client and as server (`interop/python_peer.py`), and
//! headless Chromium as a client (`interop/chromium_echo.html`).
//!
//! Every message (text and binary, 0 B to 4 MiB, random and compressible) must come
//! back byte-identical, and both sides check from the handshake headers that deflate
//! was agreed, or not, as intended.
//!
//! The peers are found through environment variables, which `cargo xtask interop`
//! sets after installing them:
//! * `FERROSOCKET_INTEROP_PYTHONPATH`: a directory holding the `websockets` package
//!   (`FERROSOCKET_INTEROP_PYTHON` names the interpreter, default `python3`);
//! * `FERROSOCKET_INTEROP_CHROMIUM`: the Chromium binary.
//!
//! Running them: these tests are `#[ignore]`d, so a plain `cargo test --workspace`
//! (which `cargo xtask ci` runs, before the peers are installed) lists them as
//! ignored instead of failing or passing without a peer. `cargo xtask interop`
//! installs the peers and runs them with `--include-ignored`: that is the one run
//! with peers in CI (`.ci/run`). By hand: `cargo test -p ferrosocket --test interop
//! -- --include-ignored` with the variables above set.
//!
//! A missing peer fails the test, with what is missing and how to install it
//! (`common::require_peer`). Only outside CI can it be skipped, and only explicitly:
//! with `FERROSOCKET_SKIP_INTEROP=1` such a test prints `SKIPPED: ...` and passes.
//! When `CI` is set (to anything but empty, `0` or `false`) that opt-out is refused
//! and a missing peer always fails.

mod common;

use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ferrosocket::ClientOptions;
use ferrosocket::tokio::{accept_with_config, connect_with};
use ferrosocket::{Accept, Message, Request, StreamConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

const EXTENSIONS: &str = "Sec-WebSocket-Extensions";
const SIZES: [usize; 8] = [0, 1, 125, 126, 65535, 65536, 1 << 20, 4 << 20];
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn stream_config(deflate: bool) -> StreamConfig {
    let config = StreamConfig::default();
    if deflate {
        assert!(config.compression.is_some(), "compression is on by default");
        config
    } else {
        config.compression(None)
    }
}

fn is_deflate(header: Option<&str>) -> bool {
    header.is_some_and(|h| h.trim_start().starts_with("permessage-deflate"))
}

// ---------------------------------------------------------------------------
// The messages.

/// A small xorshift generator: random content without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Characters of 1 to 4 bytes in UTF-8.
const TEXT_POOL: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', '0', '9', ' ', 'é', 'ß', 'λ', 'ж', '€', '✓', '中', '😀', '🦀',
];

fn random_text(rng: &mut Rng, size: usize) -> String {
    let mut text = String::with_capacity(size);
    while text.len() < size {
        let mut c = TEXT_POOL[rng.next() as usize % TEXT_POOL.len()];
        if text.len() + c.len_utf8() > size {
            c = 'x';
        }
        text.push(c);
    }
    text
}

fn compressible_text(size: usize) -> String {
    "the quick brown fox jumps over the lazy dog; "
        .chars()
        .cycle()
        .take(size)
        .collect()
}

/// Text and binary, random and compressible, of every size in [`SIZES`].
fn cases() -> Vec<(String, Message)> {
    let mut rng = Rng(0x7692_6455);
    let mut cases = Vec::new();
    for size in SIZES {
        let random: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        let compressible: Vec<u8> = (0..size).map(|i| (i % 7) as u8).collect();
        cases.push((
            format!("text/random/{size}"),
            Message::text(random_text(&mut rng, size)),
        ));
        cases.push((
            format!("text/compressible/{size}"),
            Message::text(compressible_text(size)),
        ));
        cases.push((format!("binary/random/{size}"), Message::binary(random)));
        cases.push((
            format!("binary/compressible/{size}"),
            Message::binary(compressible),
        ));
    }
    cases
}

// ---------------------------------------------------------------------------
// Our echo server, which records the request's offer and its own answer.

/// A socket that keeps a copy of the first bytes written: the handshake answer.
struct Tap {
    inner: TcpStream,
    head: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Tap {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tap {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = result {
            let mut head = self.head.lock().unwrap();
            if !head.windows(4).any(|w| w == b"\r\n\r\n") {
                head.extend_from_slice(&data[..n]);
            }
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

/// What our echo server saw of one connection.
#[derive(Debug, Default)]
struct ServerReport {
    /// The request's Sec-WebSocket-Extensions.
    offer: Option<String>,
    /// Ours, in the 101 answer as written to the socket.
    answer: Option<String>,
    /// Data messages echoed.
    messages: usize,
    /// Text messages starting with "RESULT " (the browser's verdict).
    results: Vec<String>,
    /// How the connection ended, if not with a close.
    error: Option<String>,
}

/// The value of header `name` in an HTTP head.
fn header_in(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head).lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// Starts an echo server for one connection, as `examples/echo_server.rs` does
/// (`accept`, echo every data message), with `deflate` as configured.
async fn echo_server(deflate: bool) -> (u16, tokio::task::JoinHandle<ServerReport>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut report = ServerReport::default();
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let head = Arc::new(Mutex::new(Vec::new()));
        let socket = Tap {
            inner: tcp,
            head: Arc::clone(&head),
        };
        let offer = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&offer);
        let accepted =
            accept_with_config(socket, stream_config(deflate), async move |r: &Request| {
                *seen.lock().unwrap() = r.headers().get_str(EXTENSIONS).map(str::to_owned);
                Accept::new()
            })
            .await;
        report.offer = offer.lock().unwrap().take();
        report.answer = header_in(&head.lock().unwrap(), EXTENSIONS);
        let mut ws = match accepted {
            Ok(ws) => ws,
            Err(e) => {
                report.error = Some(format!("handshake: {e}"));
                return report;
            }
        };
        while let Some(message) = ws.recv().await {
            match message {
                Ok(message) if message.is_data() => {
                    if let Message::Text(text) = &message
                        && text.as_str().starts_with("RESULT ")
                    {
                        report.results.push(text.as_str().to_owned());
                    } else {
                        report.messages += 1;
                    }
                    if let Err(e) = ws.send(message).await {
                        report.error = Some(format!("send: {e}"));
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    report.error = Some(format!("recv: {e}"));
                    break;
                }
            }
        }
        report
    });
    (port, task)
}

// ---------------------------------------------------------------------------
// Child processes.

/// A child process, killed if the test ends first.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Peer {
    /// Waits for the exit at most `timeout`; returns whether it succeeded.
    fn wait(&mut self, timeout: Duration) -> Result<bool, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0.try_wait().map_err(|e| e.to_string())? {
                return Ok(status.success());
            }
            if Instant::now() > deadline {
                let _ = self.0.kill();
                return Err(format!("no exit within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The Python interpreter and the directory holding `websockets`, or why not.
fn python() -> Result<(String, String), String> {
    let how = "run `cargo xtask interop`, which installs websockets into target/interop/python \
               and sets FERROSOCKET_INTEROP_PYTHONPATH";
    let path = std::env::var("FERROSOCKET_INTEROP_PYTHONPATH")
        .map_err(|_| format!("FERROSOCKET_INTEROP_PYTHONPATH is not set ({how})"))?;
    if !Path::new(&path).join("websockets").is_dir() {
        return Err(format!("no websockets package in {path} ({how})"));
    }
    let python = std::env::var("FERROSOCKET_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into());
    Ok((python, path))
}

fn python_peer(python: &(String, String), args: &[&str]) -> Peer {
    let child = Command::new(&python.0)
        .arg(interop_dir().join("python_peer.py"))
        .args(args)
        .env("PYTHONPATH", &python.1)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.0));
    Peer(child)
}

/// `key=value` from a peer's report line (values JSON-quoted strings or words).
fn report_field(line: &str, key: &str) -> Option<String> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[at..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        return Some(quoted[..end].to_owned());
    }
    Some(rest.split(' ').next()?.to_owned())
}

// ---------------------------------------------------------------------------
// Python websockets as the client of our echo server.

/// `python_compression`: what the Python client offers; `ours`: whether our server
/// accepts deflate. Deflate is agreed when both want it.
fn python_client(python_compression: bool, ours: bool) {
    let Some(python) = common::require_peer("Python websockets (client)", python()) else {
        return;
    };
    let expect = python_compression && ours;
    let rt = runtime();
    let (port, server) = rt.block_on(echo_server(ours));
    let started = Instant::now();
    let mut peer = python_peer(
        &python,
        &[
            "client",
            &format!("ws://127.0.0.1:{port}/python"),
            "--compression",
            if python_compression {
                "deflate"
            } else {
                "none"
            },
            "--expect",
            if expect { "deflate" } else { "none" },
        ],
    );
    let mut out = String::new();
    peer.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let ok = peer.wait(PEER_TIMEOUT);
    let report = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), server).await })
        .expect("the server ends with the connection")
        .unwrap();
    println!(
        "interop: python client (compression {}) -> our tokio echo server (compression {}): {} in {:.2} s",
        if python_compression {
            "deflate"
        } else {
            "none"
        },
        if ours { "on" } else { "off" },
        out.trim(),
        started.elapsed().as_secs_f64()
    );
    println!("interop:   our server saw {report:?}");
    assert_eq!(ok, Ok(true), "the Python client failed: {out}");
    assert!(out.contains("RESULT ok messages=32 "), "{out}");
    assert_eq!(report.error, None);
    assert_eq!(report.messages, 32);
    assert_eq!(is_deflate(report.offer.as_deref()), python_compression);
    assert_eq!(is_deflate(report.answer.as_deref()), expect, "our answer");
    if !expect {
        assert_eq!(report.answer, None, "no extension header when declined");
    }
    let python_saw = report_field(&out, "response_ext");
    assert_eq!(is_deflate(python_saw.as_deref()), expect, "{out}");
}

#[test]
#[ignore = "needs Python websockets: `cargo xtask interop` runs it"]
fn python_client_deflate() {
    python_client(true, true);
}

#[test]
#[ignore = "needs Python websockets: `cargo xtask interop` runs it"]
fn python_client_no_compression() {
    python_client(false, true);
}

#[test]
#[ignore = "needs Python websockets: `cargo xtask interop` runs it"]
fn python_client_deflate_server_off() {
    python_client(true, false);
}

// ---------------------------------------------------------------------------
// Our tokio client against a Python websockets echo server.

/// `python_compression`: whether the Python server accepts deflate; `ours`: whether
/// our client offers it.
fn python_server(python_compression: bool, ours: bool) {
    let Some(python) = common::require_peer("Python websockets (server)", python()) else {
        return;
    };
    let expect = python_compression && ours;
    let mut peer = python_peer(
        &python,
        &[
            "server",
            "--compression",
            if python_compression {
                "deflate"
            } else {
                "none"
            },
        ],
    );
    let mut stdout = BufReader::new(peer.0.stdout.take().unwrap());
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the Python server exited before listening"
        );
        if let Some(port) = line.trim().strip_prefix("PORT ") {
            break port.parse::<u16>().unwrap();
        }
    };
    let started = Instant::now();
    let rt = runtime();
    let (agreed, sent) = rt.block_on(async {
        let url = format!("ws://127.0.0.1:{port}/rust");
        let options = ClientOptions::new().config(stream_config(ours));
        let (mut ws, response) = connect_with(&url, options).await.unwrap();
        let agreed = response.headers.get_str(EXTENSIONS).map(str::to_owned);
        assert_eq!(is_deflate(agreed.as_deref()), expect, "{agreed:?}");
        let mut sent = 0;
        for (name, message) in cases() {
            ws.send(message.clone()).await.unwrap();
            let echo = loop {
                match ws.recv().await {
                    Some(Ok(m)) if m.is_data() => break m,
                    Some(Ok(_)) => {}
                    other => panic!("{name}: no echo: {other:?}"),
                }
            };
            assert!(echo == message, "{name}: the echo differs");
            sent += 1;
        }
        ws.close(None).await.unwrap();
        (agreed, sent)
    });
    let rest: String = stdout.lines().map_while(Result::ok).collect();
    let ok = peer.wait(PEER_TIMEOUT);
    println!(
        "interop: our tokio client (compression {}) -> python server (compression {}): {sent} \
         messages echoed identically, we saw {EXTENSIONS}: {agreed:?}; python reports: {} ({:.2} s)",
        if ours { "on" } else { "off" },
        if python_compression {
            "deflate"
        } else {
            "none"
        },
        rest.trim(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(ok, Ok(true), "the Python server failed");
    assert_eq!(report_field(&rest, "messages").as_deref(), Some("32"));
    assert_eq!(report_field(&rest, "close_code").as_deref(), Some("1000"));
    let offer = report_field(&rest, "request_ext");
    assert_eq!(is_deflate(offer.as_deref()), ours, "our offer: {rest}");
    let answer = report_field(&rest, "response_ext");
    assert_eq!(
        is_deflate(answer.as_deref()),
        expect,
        "python's answer: {rest}"
    );
}

#[test]
#[ignore = "needs Python websockets: `cargo xtask interop` runs it"]
fn python_server_deflate() {
    python_server(true, true);
}

#[test]
#[ignore = "needs Python websockets: `cargo xtask interop` runs it"]
fn python_server_no_compression() {
    python_server(false, true);
}

#[test]
#[ignore = "needs Python websockets: `cargo xtask interop` runs it"]
fn python_server_deflate_client_off() {
    python_server(true, false);
}

// ---------------------------------------------------------------------------
// Headless Chromium as the client of our echo server.

/// Serves the test page (any path but /favicon.ico) until the task is dropped.
async fn page_server(listener: TcpListener) {
    let page = std::fs::read(interop_dir().join("chromium_echo.html")).unwrap();
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            return;
        };
        let page = page.clone();
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let answer = if head.starts_with(b"GET /favicon.ico") {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            } else {
                let mut a = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                     Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                    page.len()
                )
                .into_bytes();
                a.extend_from_slice(&page);
                a
            };
            let _ = tcp.write_all(&answer).await;
            let _ = tcp.shutdown().await;
        });
    }
}

#[test]
#[ignore = "needs Chromium: `cargo xtask interop` runs it"]
fn chromium() {
    let chromium = std::env::var_os("FERROSOCKET_INTEROP_CHROMIUM").ok_or_else(|| {
        "FERROSOCKET_INTEROP_CHROMIUM is not set (run `cargo xtask interop`, which installs \
         the Debian package chromium when run as root, or set it to a Chromium binary)"
            .to_owned()
    });
    let Some(chromium) = common::require_peer("headless Chromium", chromium) else {
        return;
    };
    let rt = runtime();
    let (on_port, on) = rt.block_on(echo_server(true));
    let (off_port, off) = rt.block_on(echo_server(false));
    let http = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let http_port = http.local_addr().unwrap().port();
    let pages = rt.spawn(page_server(http));

    let profile = std::env::temp_dir().join(format!(
        "ferrosocket-chromium-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&profile).unwrap();
    let log_path = profile.with_extension("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let url = format!("http://127.0.0.1:{http_port}/?ports={on_port},{off_port}");
    let started = Instant::now();
    let browser = Command::new(&chromium)
        .args(common::CHROMIUM_FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromium.to_string_lossy()));
    let browser = Peer(browser);

    let reports = rt.block_on(async {
        tokio::time::timeout(PEER_TIMEOUT, async {
            (on.await.unwrap(), off.await.unwrap())
        })
        .await
    });
    let elapsed = started.elapsed();
    drop(browser);
    pages.abort();
    let log_tail = || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    let Ok((on, off)) = reports else {
        panic!(
            "Chromium did not finish within {PEER_TIMEOUT:?}; its log:\n{}",
            log_tail()
        );
    };
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_file(&log_path);
    for (what, report, deflate) in [("on", &on, true), ("off", &off, false)] {
        println!(
            "interop: chromium -> our tokio echo server (compression {what}): offer {:?}, our \
             answer {:?}, {} messages echoed, page says {:?}",
            report.offer, report.answer, report.messages, report.results
        );
        assert_eq!(report.error, None, "compression {what}");
        assert_eq!(report.results.len(), 1, "compression {what}: {report:?}");
        let verdict = &report.results[0];
        assert!(
            verdict.starts_with("RESULT ok messages=32 "),
            "compression {what}: {verdict}"
        );
        assert_eq!(report.messages, 32);
        assert!(
            is_deflate(report.offer.as_deref()),
            "Chromium offers deflate"
        );
        assert_eq!(is_deflate(report.answer.as_deref()), deflate, "our answer");
        let page_saw = report_field(verdict, "extensions").unwrap_or_default();
        assert_eq!(is_deflate(Some(&page_saw)), deflate, "{verdict}");
    }
    println!(
        "interop: chromium {} done in {:.2} s",
        String::from_utf8_lossy(
            &Command::new(&chromium)
                .arg("--version")
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        )
        .trim(),
        elapsed.as_secs_f64()
    );
}
