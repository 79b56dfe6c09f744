//! The opening and closing handshakes over real loopback TCP, written once for
//! every engine (tokio, smol, async-std, blocking), so that they cannot drift apart:
//! each scenario puts a raw peer on a thread (a client from [`peer`](crate::peer)
//! or the raw server here, [`RawServer`]) and has the engine under test serve it
//! through a [`Serve`] function or connect to it through a [`Connect`] function;
//! an engine's test suite declares them all with
//! [`behaviour_tests!`](crate::behaviour_tests).
//!
//! # The end of a connection (RFC 6455 section 7.1.1)
//!
//! "The underlying TCP connection, in most normal cases, SHOULD be closed first by
//! the server, so that it holds the TIME_WAIT state and not the client", and "when
//! a client is instructed to do the same, it SHOULD wait for a TCP Close from the
//! server". So a server shuts the socket as soon as the closing handshake is over
//! (whoever started it), and a client waits for the server's FIN, at most the close
//! timeout, before shutting its own side. The scenarios check both: the client's
//! FIN comes only after the server's ([`client_close_waits_for_the_server_fin`],
//! [`client_echo_waits_for_the_server_fin`]); an engine that does not wait yet
//! declares those two ignored, with its reason.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use ferrosocket_io::{Error, Message, StreamConfig};
use ferrosocket_proto::{CloseCode, CloseFrame};

use crate::frame::{self, CLOSE, Frame, TEXT};
use crate::peer::{PATIENCE, Peer};
pub use crate::timers::{Act, Serve, Served};

const MS: Duration = Duration::from_millis(1);

/// An engine's client: connect to `url` (a `ws://` URL) with `config`, then `act`
/// ([`Act::Close`]: `close(None)` at once; [`Act::Receive`]: `recv` until the
/// stream ends), and report what it saw (the handshake's error, if any, in
/// [`Served::error`]).
pub type Connect = fn(String, StreamConfig, Act) -> Served;

/// How much of a refused handshake's body a client keeps: the same for every
/// engine.
pub const MAX_REJECT_BODY: usize = ferrosocket_io::poll::MAX_REJECT_BODY;

/// A config without timers but the close timeout, so that no keepalive ping
/// appears in what the peers see.
fn quiet() -> StreamConfig {
    StreamConfig::default()
        .without_timers()
        .close_timeout(Some(Duration::from_secs(3)))
}

/// Runs `serve` against `peer` (a raw client on a thread).
fn run_server<R: Send + 'static>(
    serve: Serve,
    act: Act,
    peer: impl FnOnce(SocketAddr) -> R + Send + 'static,
) -> (Served, R) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let peer = thread::spawn(move || peer(addr));
    let served = serve(listener, quiet(), act);
    (served, peer.join().expect("the peer thread"))
}

/// Runs `connect` against `server` (a raw server on a thread); also says how long
/// `connect` (the handshake and the act) took.
fn run_client<R: Send + 'static>(
    connect: Connect,
    act: Act,
    server: impl FnOnce(TcpListener) -> R + Send + 'static,
) -> (Served, Duration, R) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("ws://{}/", listener.local_addr().expect("local address"));
    let server = thread::spawn(move || server(listener));
    let started = Instant::now();
    let served = connect(url, quiet(), act);
    let took = started.elapsed();
    (served, took, server.join().expect("the raw server thread"))
}

/// A raw WebSocket server over a real TCP socket: it answers the opening
/// handshake by hand (or refuses it) and then sends and reads frames as a script
/// says. Blocking `std::net`, so any engine's client can be tested against it.
#[derive(Debug)]
pub struct RawServer {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawServer {
    /// Accepts one connection and reads its opening request (the head, up to the
    /// blank line); nothing is answered yet.
    ///
    /// # Errors
    ///
    /// I/O errors; `UnexpectedEof` if the client leaves before the blank line.
    pub fn accept(listener: &TcpListener) -> io::Result<(Self, Vec<u8>)> {
        let (stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        let mut server = Self {
            stream,
            buf: Vec::new(),
        };
        let end = loop {
            if let Some(end) = server.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            server.fill()?;
        };
        let head = server.buf.drain(..end).collect();
        Ok((server, head))
    }

    /// Accepts one connection and answers its request with `101` (no subprotocol,
    /// no extension).
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept); `InvalidData` for a request without a key.
    pub fn upgrade(listener: &TcpListener) -> io::Result<Self> {
        let (mut server, head) = Self::accept(listener)?;
        let key = header(&head, "sec-websocket-key")
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Sec-WebSocket-Key"))?;
        let accept = ferrosocket_proto::handshake::accept_key(key);
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        server.send(answer.as_bytes())?;
        Ok(server)
    }

    /// Accepts one connection and refuses it with `status` and `body` (with its
    /// `Content-Length`), then closes the connection. Write errors are ignored: a
    /// client that keeps only the start of a long body may leave before the end.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept).
    pub fn refuse(listener: &TcpListener, status: u16, body: &[u8]) -> io::Result<()> {
        let (mut server, _) = Self::accept(listener)?;
        let head = format!(
            "HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = server.send(head.as_bytes());
        let _ = server.send(body);
        let _ = server.stream.shutdown(Shutdown::Write);
        Ok(())
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk)? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }

    /// Writes raw bytes.
    ///
    /// # Errors
    ///
    /// The write's.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next frame from the client, waiting at most `wait`: `Ok(None)` if none
    /// came in time.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` once the client closed its side; other I/O errors.
    pub fn recv(&mut self, wait: Duration) -> io::Result<Option<Frame>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some((frame, used)) = frame::parse(&self.buf) {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.fill() {
                Ok(()) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Frames until the client's close frame (at most [`PATIENCE`]); the close is
    /// the last one.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv); `TimedOut` if no close came.
    pub fn recv_until_close(&mut self) -> io::Result<Vec<Frame>> {
        let deadline = Instant::now() + PATIENCE;
        let mut frames = Vec::new();
        while Instant::now() < deadline {
            if let Some(frame) = self.recv(Duration::from_millis(50))? {
                let close = frame.opcode == CLOSE;
                frames.push(frame);
                if close {
                    return Ok(frames);
                }
            }
        }
        Err(io::ErrorKind::TimedOut.into())
    }

    /// Waits at most `wait` for the client to close its side (EOF or reset),
    /// discarding what it sends: `true` if it did.
    pub fn client_left_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                return false;
            }
            let mut scrap = [0u8; 4096];
            match self.stream.read(&mut scrap) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
    }

    /// Closes the server's side of the TCP connection (sends FIN).
    ///
    /// # Errors
    ///
    /// The shutdown's.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The value of header `name` (lowercase) in an HTTP head.
fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        let (key, value) = line.split_at(colon);
        key.eq_ignore_ascii_case(name.as_bytes())
            .then(|| value[1..].trim_ascii())
    })
}

/// A close frame's payload: the code, big-endian, and the reason.
fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(
        CloseFrame::new(CloseCode::from(code), reason).expect("a valid close frame"),
    ))
}

// ---------------------------------------------------------------------------
// Server side: the engine serves a raw client.
// ---------------------------------------------------------------------------

/// The client closes with 4001: the server delivers that close, echoes the code
/// (RFC 6455 section 5.5.1: "typically echoing the status code it received") and
/// closes the TCP connection first, while the client still holds its side open.
pub fn server_echoes_the_close_code(serve: Serve) {
    let (served, report) = run_server(serve, Act::Receive, |addr| {
        let mut peer = Peer::connect(addr).expect("handshake");
        peer.send(&frame::masked(CLOSE, &close_payload(4001, "done")))
            .expect("send the close");
        peer.silent()
    });
    assert_eq!(served.messages, [close_message(4001, "done")], "{served:?}");
    assert!(served.error.is_none(), "{served:?}");
    assert_eq!(report.close_code(), Some(4001), "{report:?}");
    let closes = report.frames.iter().filter(|f| f.opcode == CLOSE).count();
    assert_eq!(closes, 1, "{report:?}");
    assert!(
        report.disconnected,
        "the server kept the connection: {report:?}"
    );
}

/// The server closes (1000); the client answers: the server's `close` returns
/// without error and the server closes the TCP connection first.
pub fn server_close_is_answered_and_the_server_disconnects(serve: Serve) {
    let (served, (code, disconnected)) = run_server(serve, Act::Close, |addr| {
        let mut peer = Peer::connect(addr).expect("handshake");
        let close = loop {
            match peer.recv(PATIENCE) {
                Ok(Some(frame)) if frame.opcode == CLOSE => break frame,
                Ok(Some(_)) => {}
                other => panic!("no close from the server: {other:?}"),
            }
        };
        peer.send(&frame::masked(CLOSE, &close.payload))
            .expect("answer the close");
        // Our side stays open: the server must be the one to close.
        (close.close_code(), peer.silent().disconnected)
    });
    assert!(served.error.is_none(), "{served:?}");
    assert_eq!(code, Some(1000));
    assert!(disconnected, "the server kept the connection");
}

/// A client's unmasked frame is a protocol error: the server reports it, sends
/// close 1002 and closes the connection.
pub fn protocol_error_closes_with_1002(serve: Serve) {
    let (served, report) = run_server(serve, Act::Receive, |addr| {
        let mut peer = Peer::connect(addr).expect("handshake");
        peer.send(&frame::unmasked(TEXT, b"")).expect("send");
        peer.silent()
    });
    match &served.error {
        Some(Error::Protocol(e)) => assert_eq!(e.close_code(), CloseCode::PROTOCOL_ERROR),
        other => panic!("{other:?}"),
    }
    assert_eq!(report.close_code(), Some(1002), "{report:?}");
    assert!(report.disconnected, "{report:?}");
}

/// A request that is not a WebSocket upgrade gets `400 Bad Request` and the
/// connection closed; the server reports [`Error::Handshake`] with status 400.
pub fn bad_request_gets_400(serve: Serve) {
    let (served, answer) = run_server(serve, Act::Receive, |addr| {
        let mut raw = TcpStream::connect(addr).expect("connect");
        raw.set_read_timeout(Some(PATIENCE)).expect("timeout");
        raw.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .expect("send");
        let mut answer = Vec::new();
        // Ends at the server's FIN (an error here means it never closed).
        raw.read_to_end(&mut answer).map(|_| answer)
    });
    match &served.error {
        Some(Error::Handshake(e)) => assert_eq!(e.http_status(), 400),
        other => panic!("{other:?}"),
    }
    let answer = answer.expect("the server closes the connection after its answer");
    assert!(
        answer.starts_with(b"HTTP/1.1 400 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

// ---------------------------------------------------------------------------
// Client side: the engine connects to a raw server.
// ---------------------------------------------------------------------------

/// A server refusing with 403 and a short body: [`Error::Rejected`] with both.
pub fn rejected_with_status_and_body(connect: Connect) {
    let (served, _, ()) = run_client(connect, Act::Receive, |listener| {
        RawServer::refuse(&listener, 403, b"go away").expect("refuse");
    });
    match &served.error {
        Some(Error::Rejected { status, body }) => {
            assert_eq!(*status, 403);
            assert_eq!(&body[..], b"go away");
        }
        other => panic!("{other:?}"),
    }
}

/// A refusal with a body longer than [`MAX_REJECT_BODY`]: the client keeps exactly
/// its first `MAX_REJECT_BODY` bytes.
pub fn rejected_body_is_capped(connect: Connect) {
    let body: Vec<u8> = (0..MAX_REJECT_BODY * 4)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let sent = body.clone();
    let (served, _, ()) = run_client(connect, Act::Receive, move |listener| {
        RawServer::refuse(&listener, 403, &sent).expect("refuse");
    });
    match &served.error {
        Some(Error::Rejected { status, body: kept }) => {
            assert_eq!(*status, 403);
            assert_eq!(kept.len(), MAX_REJECT_BODY);
            assert_eq!(&kept[..], &body[..MAX_REJECT_BODY]);
        }
        other => panic!("{other:?}"),
    }
}

/// What the raw server saw of a client's end.
#[derive(Debug, Default)]
struct Ending {
    /// The close code the client sent.
    code: Option<u16>,
    /// The client closed its side before the server closed its own.
    left_first: bool,
    /// The client closed its side (at all, within [`PATIENCE`]).
    left: bool,
}

/// The raw server's side of a client's close: answer it, hold the connection for
/// `hold`, watching whether the client leaves meanwhile, then close ours and wait
/// for the client's FIN.
fn answer_close_then_disconnect(listener: &TcpListener, hold: Duration) -> Ending {
    let mut server = RawServer::upgrade(listener).expect("handshake");
    let frames = server.recv_until_close().expect("the client's close");
    let close = frames.last().expect("a close");
    server
        .send(&frame::unmasked(CLOSE, &close.payload))
        .expect("answer the close");
    let left_first = server.client_left_within(hold);
    let _ = server.shutdown_write();
    let left = left_first || server.client_left_within(PATIENCE);
    Ending {
        code: close.close_code(),
        left_first,
        left,
    }
}

/// The raw server's side of a close it starts: send it (`code`), read the
/// client's answer, hold the connection for `hold` watching whether the client
/// leaves, then close ours and wait for the client's FIN.
fn close_then_disconnect(listener: &TcpListener, code: u16, hold: Duration) -> Ending {
    let mut server = RawServer::upgrade(listener).expect("handshake");
    server
        .send(&frame::unmasked(CLOSE, &close_payload(code, "bye")))
        .expect("send the close");
    let frames = server.recv_until_close().expect("the client's answer");
    let left_first = server.client_left_within(hold);
    let _ = server.shutdown_write();
    let left = left_first || server.client_left_within(PATIENCE);
    Ending {
        code: frames.last().and_then(Frame::close_code),
        left_first,
        left,
    }
}

/// The client closes; the server answers and closes the TCP connection at once:
/// the client's `close` returns without error, well before the close timeout, and
/// the client's side is closed too.
pub fn client_close_ends_with_the_connection_closed(connect: Connect) {
    let (served, took, ending) = run_client(connect, Act::Close, |listener| {
        answer_close_then_disconnect(&listener, Duration::ZERO)
    });
    assert!(served.error.is_none(), "{served:?}");
    assert_eq!(ending.code, Some(1000), "{ending:?}");
    assert!(ending.left, "the client kept the connection: {ending:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// The server closes with 1001: the client delivers that close, echoes the code,
/// ends its stream, and its side is closed once the server closed its own.
pub fn client_echoes_the_server_close(connect: Connect) {
    let (served, _, ending) = run_client(connect, Act::Receive, |listener| {
        close_then_disconnect(&listener, 1001, Duration::ZERO)
    });
    assert_eq!(served.messages, [close_message(1001, "bye")], "{served:?}");
    assert!(served.error.is_none(), "{served:?}");
    assert_eq!(ending.code, Some(1001), "{ending:?}");
    assert!(ending.left, "the client kept the connection: {ending:?}");
}

/// RFC 6455 section 7.1.1: the client's close waits for the server to close the
/// TCP connection first. The server holds it 300 ms after answering: the client
/// must not leave meanwhile, and its `close` returns once the server's FIN came
/// (before the close timeout, 3 s), without error.
pub fn client_close_waits_for_the_server_fin(connect: Connect) {
    let hold = 300 * MS;
    let (served, took, ending) = run_client(connect, Act::Close, move |listener| {
        answer_close_then_disconnect(&listener, hold)
    });
    assert!(served.error.is_none(), "{served:?}");
    assert_eq!(ending.code, Some(1000), "{ending:?}");
    assert!(
        !ending.left_first,
        "the client closed TCP first: {ending:?}"
    );
    assert!(ending.left, "the client kept the connection: {ending:?}");
    assert!(took >= hold - 10 * MS, "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// RFC 6455 section 7.1.1, the closing handshake the server starts: after echoing
/// the server's close, the client waits for the server's FIN before closing its
/// own side.
pub fn client_echo_waits_for_the_server_fin(connect: Connect) {
    let (served, _, ending) = run_client(connect, Act::Receive, |listener| {
        close_then_disconnect(&listener, 1001, 300 * MS)
    });
    assert_eq!(served.messages, [close_message(1001, "bye")], "{served:?}");
    assert!(served.error.is_none(), "{served:?}");
    assert_eq!(ending.code, Some(1001), "{ending:?}");
    assert!(
        !ending.left_first,
        "the client closed TCP first: {ending:?}"
    );
    assert!(ending.left, "the client kept the connection: {ending:?}");
}

/// Declares one `#[test]` per scenario of this module for an engine's [`Serve`]
/// and [`Connect`] functions.
///
/// `fin_wait = ignore("reason")` marks the two scenarios of RFC 6455 section
/// 7.1.1's client-side FIN wait ignored, for an engine that does not do it yet
/// (they still run with `--ignored`).
#[macro_export]
macro_rules! behaviour_tests {
    (serve = $serve:path, connect = $connect:path $(, fin_wait = ignore($reason:literal))? $(,)?) => {
        #[test]
        fn server_echoes_the_close_code() {
            $crate::behaviour::server_echoes_the_close_code($serve);
        }
        #[test]
        fn server_close_is_answered_and_the_server_disconnects() {
            $crate::behaviour::server_close_is_answered_and_the_server_disconnects($serve);
        }
        #[test]
        fn protocol_error_closes_with_1002() {
            $crate::behaviour::protocol_error_closes_with_1002($serve);
        }
        #[test]
        fn bad_request_gets_400() {
            $crate::behaviour::bad_request_gets_400($serve);
        }
        #[test]
        fn rejected_with_status_and_body() {
            $crate::behaviour::rejected_with_status_and_body($connect);
        }
        #[test]
        fn rejected_body_is_capped() {
            $crate::behaviour::rejected_body_is_capped($connect);
        }
        #[test]
        fn client_close_ends_with_the_connection_closed() {
            $crate::behaviour::client_close_ends_with_the_connection_closed($connect);
        }
        #[test]
        fn client_echoes_the_server_close() {
            $crate::behaviour::client_echoes_the_server_close($connect);
        }
        #[test]
        $(#[ignore = $reason])?
        fn client_close_waits_for_the_server_fin() {
            $crate::behaviour::client_close_waits_for_the_server_fin($connect);
        }
        #[test]
        $(#[ignore = $reason])?
        fn client_echo_waits_for_the_server_fin() {
            $crate::behaviour::client_echo_waits_for_the_server_fin($connect);
        }
    };
}
