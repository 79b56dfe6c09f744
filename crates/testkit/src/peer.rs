//! A raw WebSocket client over a real TCP socket that misbehaves on purpose, and
//! reports what the server sent. Blocking `std::net`: any engine under test
//! (tokio, smol, blocking) serves it from another thread.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::frame::{self, CONTINUATION, Frame, PING, PONG, TEXT};

/// An opening request for `/` without extensions (RFC 6455's sample key).
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// How long a peer waits for the server at most, so a broken server fails the test
/// instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// What the server did, as the peer saw it.
#[derive(Debug, Default)]
pub struct Report {
    /// The frames the server sent after the handshake, in order.
    pub frames: Vec<Frame>,
    /// The server closed the TCP connection (EOF or reset) within [`PATIENCE`].
    pub disconnected: bool,
    /// How long after the peer's start it disconnected.
    pub elapsed: Duration,
}

impl Report {
    /// The code of the server's close frame, if it sent one.
    #[must_use]
    pub fn close_code(&self) -> Option<u16> {
        self.frames.iter().find_map(Frame::close_code)
    }

    /// The payloads of the pings the server sent.
    #[must_use]
    pub fn pings(&self) -> Vec<&[u8]> {
        self.frames
            .iter()
            .filter(|f| f.opcode == PING)
            .map(|f| &f.payload[..])
            .collect()
    }
}

/// A connected raw client.
#[derive(Debug)]
pub struct Peer {
    stream: TcpStream,
    buf: Vec<u8>,
    started: Instant,
}

impl Peer {
    /// Connects to `addr` without a handshake.
    ///
    /// # Errors
    ///
    /// The connect's.
    pub fn connect_raw(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::new(),
            started: Instant::now(),
        })
    }

    /// Connects to `addr` and completes the opening handshake (no extension).
    ///
    /// # Errors
    ///
    /// I/O errors, or `InvalidData` if the answer is not `101`.
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let mut peer = Self::connect_raw(addr)?;
        peer.stream.write_all(REQUEST)?;
        peer.stream.set_read_timeout(Some(PATIENCE))?;
        let end = loop {
            if let Some(end) = peer.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 1024];
            match peer.stream.read(&mut chunk)? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => peer.buf.extend_from_slice(&chunk[..n]),
            }
        };
        if !peer.buf.starts_with(b"HTTP/1.1 101") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                String::from_utf8_lossy(&peer.buf[..end]).into_owned(),
            ));
        }
        peer.buf.drain(..end);
        peer.started = Instant::now();
        Ok(peer)
    }

    /// Writes raw bytes.
    ///
    /// # Errors
    ///
    /// The write's (the server may have closed the connection).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next frame from the server, waiting at most `wait`: `Ok(None)` if none
    /// came in time.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` once the server closed the connection; other I/O errors.
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
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads frames until the server disconnects (at most [`PATIENCE`]),
    /// answering each ping with `answer(payload)` if given.
    pub fn drain(&mut self, mut answer: impl FnMut(&[u8]) -> Option<Vec<u8>>) -> Report {
        let mut report = Report::default();
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            match self.recv(Duration::from_millis(50)) {
                Ok(Some(frame)) => {
                    if frame.opcode == PING
                        && let Some(pong) = answer(&frame.payload)
                    {
                        let _ = self.send(&frame::masked(PONG, &pong));
                    }
                    report.frames.push(frame);
                }
                Ok(None) => {}
                Err(_) => {
                    report.disconnected = true;
                    break;
                }
            }
        }
        report.elapsed = self.started.elapsed();
        report
    }

    /// Sends nothing more and reads until the server disconnects.
    pub fn silent(mut self) -> Report {
        self.drain(|_| None)
    }

    /// Trickles `bytes`, one every `every`, while the server keeps the connection;
    /// then reads until it disconnects.
    pub fn trickle(mut self, bytes: &[u8], every: Duration) -> Report {
        for b in bytes {
            if self.send(&[*b]).is_err() {
                break;
            }
            thread::sleep(every);
        }
        self.drain(|_| None)
    }

    /// Begins a text message (`fin` = 0) and then sends one byte of continuation
    /// every `every`, never finishing it; reads until the server disconnects.
    pub fn trickle_fragments(mut self, every: Duration) -> Report {
        let _ = self.send(&frame::masked_fragment(false, TEXT, b"a"));
        let mut report = Report::default();
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if self
                .send(&frame::masked_fragment(false, CONTINUATION, b"b"))
                .is_err()
            {
                report.disconnected = true;
                break;
            }
            match self.recv(every) {
                Ok(Some(frame)) => report.frames.push(frame),
                Ok(None) => {}
                Err(_) => {
                    report.disconnected = true;
                    break;
                }
            }
        }
        let rest = self.drain(|_| None);
        report.frames.extend(rest.frames);
        report.disconnected |= rest.disconnected;
        report.elapsed = rest.elapsed;
        report
    }

    /// Sends a pong nobody asked for every `every` and never answers a ping; reads
    /// until the server disconnects.
    pub fn unsolicited_pongs(mut self, every: Duration) -> Report {
        let mut report = Report::default();
        let deadline = Instant::now() + PATIENCE;
        let mut n = 0u32;
        while Instant::now() < deadline {
            n += 1;
            if self.send(&frame::masked(PONG, &n.to_be_bytes())).is_err() {
                // The server closed the connection (a write after its close fails).
                report.disconnected = true;
                break;
            }
            match self.recv(every) {
                Ok(Some(frame)) => report.frames.push(frame),
                Ok(None) => {}
                Err(_) => {
                    report.disconnected = true;
                    break;
                }
            }
        }
        report.elapsed = self.started.elapsed();
        report
    }

    /// Answers every ping with its payload for `duration`, then sends `text` and
    /// leaves without a close (the server sees the message, then EOF).
    pub fn answer_pings_then_send(mut self, duration: Duration, text: &str) -> Report {
        let until = Instant::now() + duration;
        let mut report = Report::default();
        while Instant::now() < until {
            match self.recv(Duration::from_millis(10)) {
                Ok(Some(frame)) => {
                    if frame.opcode == PING {
                        let _ = self.send(&frame::masked(PONG, &frame.payload));
                    }
                    report.frames.push(frame);
                }
                Ok(None) => {}
                Err(_) => {
                    report.disconnected = true;
                    report.elapsed = self.started.elapsed();
                    return report;
                }
            }
        }
        let _ = self.send(&frame::masked(TEXT, text.as_bytes()));
        report.elapsed = self.started.elapsed();
        // Leave with a FIN, not a reset: a ping of ours still unread when the socket
        // is dropped would make the kernel reset the connection, and the server
        // would see that instead of the end of the stream.
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let _ = self.drain(|_| None);
        report
    }
}
