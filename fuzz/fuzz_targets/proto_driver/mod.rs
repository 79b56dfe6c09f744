//! The driver shared by `proto_server` and `proto_client`: one `WsConnection` of
//! the role under test, from its first byte, against a peer of the other role.
//!
//! The fuzz input is a script (read with `arbitrary::Unstructured`, so any bytes are
//! a valid script): the connection's and the deflate settings, the handshake (server:
//! the client's permessage-deflate offers; client: the server's answer, with
//! fuzzer-chosen parameters), then steps in any order:
//!
//! * the peer sends (a real `Connection` of the other role with the agreed
//!   permessage-deflate installed: messages, fragments, pings, closes), or puts
//!   hostile bytes on the wire (hand-made frames with any header bits, masking and
//!   length encoding, the peer's frames with a byte flipped or cut, raw bytes);
//! * the wire is delivered in pieces, through `receive_data` or appended to
//!   `read_buf()`, or ends (`receive_eof`);
//! * we send (text, binary, fragments, pings, pongs, close, header-only);
//! * the time advances (`handle_timeout`) by fuzzer-chosen steps, or to
//!   `poll_timeout()`, as a driver sleeping until the deadline does;
//! * events are pulled (`next_event`), output is flushed (all of it or part) to the
//!   peer, which must parse it.
//!
//! What must hold, besides "no panic":
//!
//! * after a `ProtocolError` the state is `Closed` and (unless we had sent a close)
//!   the last frame we wrote is a close carrying the error's `close_code()`, when
//!   it is sendable; nothing is written after it, nor ever after `Closed`;
//! * we write at most one close frame and nothing after it; everything we write is
//!   a frame stream the peer accepts, carrying exactly the messages we sent;
//! * while only the peer's own bytes went on the wire, in order, the messages we
//!   receive are exactly the ones it sent, and the only errors are our limits
//!   (1009) and timers;
//! * `poll_timeout()` is never earlier than the last time given (it is that time
//!   itself when activity waits to be stamped), is `None` once closed, and a driver
//!   calling `handle_timeout` at a deadline gets past it within a few calls;
//! * the state only moves forward (never out of `Closed`); no event follows a close
//!   or an error; text is UTF-8 (each streamed piece on its own); data events and
//!   buffered messages stay within the limits; what events make us write (pongs,
//!   close replies) is bounded by the bytes received; sends succeed or fail exactly
//!   as the state says;
//! * after end of file and every event, the connection is `Closed`.

use std::collections::VecDeque;
use std::time::Duration;

use ferrosocket_proto::bytes::{Bytes, BytesMut};
use ferrosocket_proto::deflate::{self, Deflate, DeflateConfig};
use ferrosocket_proto::handshake::{
    Accept, ClientHandshake, ClientRequest, ExtensionOffer, Key, Outcome, Request, RequestParser,
    Status,
};
use ferrosocket_proto::{
    CloseCode, Config, Connection, Delivery, Error, Event, Fault, FrameError, Instant, Keepalive,
    LocalError, OpCode, ProtocolError, Role, SeededRandom, State, Timer, Utf8Bytes, WsConnection,
};
use libfuzzer_sys::arbitrary::Unstructured;

/// Steps of one run at most (each takes at least one input byte anyway).
const MAX_STEPS: usize = 400;

// ------------------------------------------------------------ input helpers

fn byte(u: &mut Unstructured) -> u8 {
    u.arbitrary().unwrap_or(0)
}

fn flag(u: &mut Unstructured) -> bool {
    u.arbitrary().unwrap_or(false)
}

fn pick(u: &mut Unstructured, n: usize) -> usize {
    u.choose_index(n).unwrap_or(0)
}

fn upto(u: &mut Unstructured, max: usize) -> usize {
    u.int_in_range(0..=max).unwrap_or(0)
}

/// Up to `n` input bytes (fewer when the input runs out).
fn take<'a>(u: &mut Unstructured<'a>, n: usize) -> &'a [u8] {
    let n = n.min(u.len());
    u.bytes(n).unwrap_or(&[])
}

/// A payload: short ones from the input, longer ones a repeated input pattern (so
/// they compress), now and then one past the 64 KiB limits (rarely: compressing it
/// is most of the time a run takes).
fn payload(u: &mut Unstructured) -> Vec<u8> {
    match pick(u, 16) {
        0..=7 => {
            let n = upto(u, 24);
            take(u, n).to_vec()
        }
        8..=11 => {
            let n = upto(u, 300);
            take(u, n).to_vec()
        }
        class => {
            let n = upto(u, 4);
            let pattern = take(u, n).to_vec();
            let len = if class < 15 {
                upto(u, 4096)
            } else {
                u.int_in_range(60_000..=70_000).unwrap_or(60_000)
            };
            if pattern.is_empty() {
                vec![0; len]
            } else {
                pattern.iter().copied().cycle().take(len).collect()
            }
        }
    }
}

/// Text of 1- to 4-byte characters, no longer in bytes than the payload it is
/// made from.
fn text(u: &mut Unstructured) -> String {
    let bytes = payload(u);
    let mut s = String::with_capacity(bytes.len());
    for &b in &bytes {
        let c = match b >> 5 {
            0..=4 => char::from(b & 0x7f),
            5 => 'é',
            6 => '€',
            _ => '𝄞',
        };
        if s.len() + c.len_utf8() > bytes.len() {
            break;
        }
        s.push(c);
    }
    s
}

fn duration(u: &mut Unstructured) -> Duration {
    match pick(u, 11) {
        0 => Duration::ZERO,
        1 => Duration::from_millis(1),
        2 => Duration::from_millis(999),
        3 => Duration::from_secs(1),
        4 => Duration::from_secs(5),
        5 => Duration::from_secs(10),
        6 => Duration::from_secs(20),
        7 => Duration::from_secs(60),
        8 => Duration::from_millis(u64::from(u.arbitrary::<u16>().unwrap_or(0))),
        9 => Duration::from_secs(u64::from(u.arbitrary::<u32>().unwrap_or(0))),
        _ => Duration::MAX,
    }
}

fn maybe_duration(u: &mut Unstructured) -> Option<Duration> {
    flag(u).then(|| duration(u))
}

/// Our connection's settings: small limits (the fuzzer stays fast), every timer
/// fuzzer-chosen.
fn config(u: &mut Unstructured) -> Config {
    const SIZES: [usize; 8] = [0, 1, 125, 1024, 16 << 10, 64 << 10, 64 << 10, 64 << 10];
    let max_frame_size = SIZES[pick(u, SIZES.len())];
    let max_message_size = SIZES[pick(u, SIZES.len())];
    let fragments = match pick(u, 4) {
        0 => None,
        1 => Some(1),
        2 => Some(4),
        _ => Some(64),
    };
    let bits = byte(u);
    let keepalive = flag(u).then(|| Keepalive::new(duration(u), duration(u)));
    Config::new()
        .max_frame_size(max_frame_size)
        .max_message_size(max_message_size)
        .max_fragments_per_message(fragments)
        .auto_pong(bits & 1 == 0)
        .auto_close_reply(bits & 2 == 0)
        .delivery(if bits & 4 == 0 {
            Delivery::Assembled
        } else {
            Delivery::Streaming
        })
        .accept_unmasked_frames(bits & 8 != 0)
        .handshake_timeout(maybe_duration(u))
        .close_timeout(maybe_duration(u))
        .keepalive(keepalive)
        .idle_timeout(maybe_duration(u))
        .message_timeout(maybe_duration(u))
}

/// permessage-deflate settings: every parameter fuzzer-chosen, a low threshold so
/// short messages are compressed too.
fn deflate_config(u: &mut Unstructured) -> DeflateConfig {
    let (a, b, c) = (byte(u), byte(u), byte(u));
    let mut config = DeflateConfig::new()
        .server_no_context_takeover(a & 1 != 0)
        .client_no_context_takeover(a & 2 != 0)
        .release_idle_contexts(a & 4 != 0)
        .threshold(usize::from(c % 40));
    if let Ok(x) = config.clone().level(u32::from(a >> 4) % 10) {
        config = x;
    }
    if let Ok(x) = config.clone().server_max_window_bits(9 + b % 7) {
        config = x;
    }
    if let Ok(x) = config.clone().client_max_window_bits(9 + (b >> 4) % 7) {
        config = x;
    }
    if let Ok(x) = config.clone().min_window_bits(9 + (c >> 6)) {
        config = x;
    }
    config
}

/// A permessage-deflate element with parameters from a small vocabulary (valid and
/// invalid names and values), as a hostile peer would offer or answer.
fn odd_extension(u: &mut Unstructured) -> ExtensionOffer {
    const NAMES: [&str; 6] = [
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
        "client_max_window_bits",
        "x",
    ];
    const VALUES: [&str; 10] = ["8", "9", "10", "12", "15", "16", "08", "7", "\"9\"", "1x"];
    let name = if pick(u, 8) == 0 {
        "x-webkit-deflate-frame"
    } else {
        deflate::NAME
    };
    let mut e = ExtensionOffer::new(name);
    for _ in 0..upto(u, 4) {
        let b = byte(u);
        let param = NAMES[usize::from(b) % NAMES.len()];
        e = if b & 0x80 != 0 {
            e.with_param_value(param, VALUES[usize::from(b >> 3) % VALUES.len()])
        } else {
            e.with_param(param)
        };
    }
    e
}

/// A send's result: sends fail only with our own errors.
fn local(result: Result<(), Error>) -> Result<(), LocalError> {
    result.map_err(|e| match e {
        Error::Local(e) => e,
        other => panic!("a send failed with {other:?}"),
    })
}

/// The peer received a whole message: the next one we sent.
fn peer_got(to_peer: &mut VecDeque<Sent>, kind: Kind, data: &[u8]) {
    let sent = to_peer
        .pop_front()
        .expect("the peer got a message we never sent");
    assert_eq!(sent.kind, kind);
    assert!(sent.data == data, "the peer got other bytes than we sent");
}

fn rank(state: State) -> u8 {
    match state {
        State::Connecting => 0,
        State::Open => 1,
        State::LocalClosing | State::RemoteClosing => 2,
        State::Closed => 3,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// A message one side sent: the other must receive exactly its bytes.
#[derive(Debug)]
struct Sent {
    kind: Kind,
    data: Vec<u8>,
    /// Its last frame was sent.
    complete: bool,
}

/// Frames of our output, parsed independently of the peer (which stops reading at
/// our close): closes are counted and nothing may follow one.
#[derive(Debug, Default)]
struct Scanner {
    buf: Vec<u8>,
    /// Unmasked payloads of our close frames.
    closes: Vec<Vec<u8>>,
    /// The last complete frame was a close.
    last_is_close: bool,
}

impl Scanner {
    fn feed(&mut self, role: Role, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        loop {
            let b = &self.buf;
            if b.len() < 2 {
                return;
            }
            let masked = b[1] & 0x80 != 0;
            assert_eq!(
                masked,
                role == Role::Client,
                "we mask exactly as a {role:?}"
            );
            let (len, mut at) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
                127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().unwrap()), 10),
                126 | 127 => return,
                n => (u64::from(n), 2),
            };
            let key = if masked {
                if b.len() < at + 4 {
                    return;
                }
                at += 4;
                Some([b[at - 4], b[at - 3], b[at - 2], b[at - 1]])
            } else {
                None
            };
            let len = usize::try_from(len).expect("a frame we wrote");
            if b.len() < at + len {
                return;
            }
            assert!(
                self.closes.is_empty(),
                "a frame after our close: {:#04x}",
                b[0]
            );
            self.last_is_close = b[0] & 0x0f == 0x8;
            if self.last_is_close {
                let mut payload = b[at..at + len].to_vec();
                if let Some(key) = key {
                    for (i, x) in payload.iter_mut().enumerate() {
                        *x ^= key[i % 4];
                    }
                }
                self.closes.push(payload);
            }
            self.buf.drain(..at + len);
        }
    }
}

/// How the handshake was set up, per role.
enum Handshake {
    Server {
        /// Checks our 101 as a client of this library would.
        client: Option<ClientHandshake>,
        /// The client's offer was `client_offer(peer_deflate)`: our answer must be
        /// one `client_confirm(peer_deflate)` takes, agreeing on the same.
        valid_offer: bool,
        /// Accept with permessage-deflate when it can be agreed.
        use_deflate: bool,
        /// A request waiting for our decision (the fuzzer may delay it).
        pending: Option<Box<Request>>,
    },
    Client {
        /// The answer was `server_negotiate(peer_deflate)`: our client must take it,
        /// and this is the server's side of it.
        valid: Option<Option<Deflate>>,
        /// The status is not 101: the body that follows (its `Content-Length`).
        reject_length: Option<Option<u64>>,
        reject_seen: u64,
    },
}

struct Driver {
    role: Role,
    config: Config,
    ws: WsConnection,
    handshake: Handshake,
    /// Our permessage-deflate settings, and the peer's.
    deflate: DeflateConfig,
    peer_deflate: DeflateConfig,
    /// The peer, once the connection is open.
    peer: Option<Connection>,
    /// Bytes on their way to us.
    wire: VecDeque<u8>,
    /// Only the peer's own bytes, in order, went on the wire and were received.
    clean: bool,
    /// No byte taken off the wire was lost or received out of order.
    in_order: bool,
    /// Takes off the wire so far, and the last one received.
    took: u64,
    arrived: u64,
    /// Buffers `lend_read_buf` lent, held by the driver, with the takes in them.
    lent: Vec<(BytesMut, Vec<(u64, usize)>)>,
    delivered: u64,
    eof: bool,
    /// The last time given.
    now: Option<Instant>,
    base: Instant,

    // What we sent.
    sending: Option<Sent>,
    to_peer: VecDeque<Sent>,
    we_closed: bool,
    scanner: Scanner,
    /// Every byte we wrote so far (taken or still in the output).
    taken: u64,
    /// Bytes written while events were pulled (pongs, close replies).
    replies: u64,

    // What we received.
    from_peer: VecDeque<Sent>,
    received: usize,
    streaming: Option<(Kind, usize)>,
    /// An error or a close was reported: no more events.
    done: bool,
    last_state: State,
    /// The script has ended: requests are answered at once.
    finishing: bool,
    /// `PROTO_TRACE` set: print each step (to read a crash).
    trace: bool,
}

impl Driver {
    fn new(role: Role, u: &mut Unstructured) -> Self {
        let config = config(u);
        let deflate = deflate_config(u);
        let peer_deflate = deflate_config(u);
        let mut key = [0u8; 16];
        key.copy_from_slice(&[take(u, 16), &[0; 16]].concat()[..16]);
        let key = Key::from_bytes(key);
        let seed = u64::from(u.arbitrary::<u32>().unwrap_or(0));
        let base = match pick(u, 3) {
            0 => Instant::ZERO,
            1 => Instant::from_duration(Duration::from_secs(1_000_000)),
            _ => Instant::from_duration(Duration::MAX.saturating_sub(duration(u))),
        };
        let mut wire = VecDeque::new();
        let (ws, handshake) = match role {
            Role::Server => {
                let use_deflate = pick(u, 8) != 0;
                let (mut request, mut valid_offer) =
                    (ClientRequest::new("example.com", "/fuzz", key), true);
                match pick(u, 4) {
                    0 | 1 => request = request.extension(deflate::client_offer(&peer_deflate)),
                    2 => {
                        valid_offer = false;
                        for _ in 0..=upto(u, 2) {
                            request = request.extension(odd_extension(u));
                        }
                    }
                    _ => {}
                }
                let mut head = Vec::new();
                let client = match request.write_to(&mut head) {
                    Ok(client) => client,
                    Err(_) => {
                        // A parameter the request writer refuses: offer nothing.
                        head.clear();
                        valid_offer = false;
                        ClientRequest::new("example.com", "/fuzz", key)
                            .write_to(&mut head)
                            .expect("a plain request")
                    }
                };
                wire.extend(head);
                (
                    WsConnection::server(config),
                    Handshake::Server {
                        client: Some(client),
                        valid_offer,
                        use_deflate,
                        pending: None,
                    },
                )
            }
            Role::Client => {
                let mut request = ClientRequest::new("example.com", "/fuzz", key);
                if pick(u, 8) != 0 {
                    request = request.extension(deflate::client_offer(&deflate));
                }
                let mut ws =
                    WsConnection::client_with_random(&request, config, SeededRandom::new(seed))
                        .expect("a valid request");
                // The request, as a server of this library reads it.
                let head = ws.take_output();
                let Ok(Status::Complete {
                    value: parsed,
                    consumed,
                }) = RequestParser::new().feed(&head)
                else {
                    panic!("our request does not parse: {head:?}")
                };
                assert_eq!(consumed, head.len());
                let mut response = String::new();
                let mut valid = None;
                let mut reject_length = None;
                let mut body = Vec::new();
                match pick(u, 10) {
                    0..=5 => {
                        let agreed = deflate::server_negotiate(&peer_deflate, parsed.extensions());
                        response += "HTTP/1.1 101 Switching Protocols\r\n";
                        if let Some((answer, _)) = &agreed {
                            response += &format!("Sec-WebSocket-Extensions: {answer}\r\n");
                        }
                        valid = Some(agreed.map(|(_, ext)| ext));
                    }
                    6 => {
                        response += "HTTP/1.1 101 Switching Protocols\r\n";
                        valid = Some(None);
                    }
                    7 | 8 => {
                        response += "HTTP/1.1 101 Switching Protocols\r\n";
                        for _ in 0..=upto(u, 1) {
                            let answer = odd_extension(u);
                            response += &format!("Sec-WebSocket-Extensions: {answer}\r\n");
                        }
                    }
                    _ => {
                        let status = [400, 403, 404, 500][pick(u, 4)];
                        response += &format!("HTTP/1.1 {status} No\r\n");
                        body = payload(u);
                        let length = flag(u).then_some(body.len() as u64);
                        if let Some(n) = length {
                            response += &format!("Content-Length: {n}\r\n");
                        }
                        reject_length = Some(length);
                    }
                }
                response += &format!(
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                    key.accept()
                );
                wire.extend(response.into_bytes());
                wire.extend(body);
                (
                    ws,
                    Handshake::Client {
                        valid,
                        reject_length,
                        reject_seen: 0,
                    },
                )
            }
        };
        Self {
            role,
            config,
            last_state: ws.state(),
            ws,
            handshake,
            deflate,
            peer_deflate,
            peer: None,
            wire,
            clean: true,
            in_order: true,
            took: 0,
            arrived: 0,
            lent: Vec::new(),
            delivered: 0,
            eof: false,
            now: None,
            base,
            sending: None,
            to_peer: VecDeque::new(),
            we_closed: false,
            scanner: Scanner::default(),
            taken: 0,
            replies: 0,
            from_peer: VecDeque::new(),
            received: 0,
            streaming: None,
            done: false,
            finishing: false,
            trace: std::env::var_os("PROTO_TRACE").is_some(),
        }
    }

    fn peer_role(&self) -> Role {
        match self.role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        }
    }

    // ------------------------------------------------------------ the peer

    /// The peer, of the other role, with the extension agreed installed.
    fn open_peer(&mut self, ext: Option<Deflate>) {
        let role = self.peer_role();
        let config = Config::new().without_timers();
        let peer = Connection::with_random(role, config, SeededRandom::new(99));
        self.peer = Some(match ext {
            Some(ext) => peer.with_extension(ext),
            None => peer,
        });
    }

    /// The peer's pending output goes on the wire.
    fn pump(&mut self) {
        if let Some(peer) = &mut self.peer {
            self.wire.extend(peer.take_output());
        }
    }

    /// Our bytes reach the peer (and the scanner), which must accept them.
    fn emit(&mut self, bytes: &[u8]) {
        let Some(peer) = &mut self.peer else {
            return;
        };
        self.scanner.feed(self.role, bytes);
        peer.receive_data(bytes);
        while let Some(event) = peer.next_event() {
            match event {
                Err(e) => panic!("the peer refuses what we wrote: {e:?}"),
                Ok(Event::Text { data, .. }) => {
                    peer_got(&mut self.to_peer, Kind::Text, data.as_bytes())
                }
                Ok(Event::Binary { data, .. }) => peer_got(&mut self.to_peer, Kind::Binary, &data),
                Ok(Event::Close { code, .. }) => {
                    let ours = self.scanner.closes.last().expect("a close we wrote");
                    if ours.len() >= 2 {
                        assert_eq!(code.as_u16(), u16::from_be_bytes([ours[0], ours[1]]));
                    }
                }
                Ok(_) => {}
            }
        }
        self.pump();
    }

    /// Flushes `n` bytes of our output (all with `None`).
    fn flush(&mut self, n: Option<usize>) {
        let total = self.ws.output_len();
        let mut all = Vec::with_capacity(total);
        for chunk in self.ws.output_chunks() {
            assert!(!chunk.is_empty(), "an empty output piece");
            all.extend_from_slice(chunk);
        }
        assert_eq!(all.len(), total, "output_len counts the pieces");
        assert!(
            all.starts_with(self.ws.output()),
            "output() is the first piece"
        );
        let bytes = match n {
            // All of it, in one buffer.
            None => {
                let taken = self.ws.take_output();
                assert!(taken == all, "take_output is every piece in order");
                all
            }
            Some(n) => {
                let n = n.min(total);
                self.ws.consume(n);
                all.truncate(n);
                all
            }
        };
        assert_eq!(self.ws.output_len(), total - bytes.len());
        self.taken += bytes.len() as u64;
        self.emit(&bytes);
    }

    fn peer_sends(&mut self, u: &mut Unstructured) {
        let Some(peer) = &mut self.peer else {
            return;
        };
        match pick(u, 8) {
            0 | 1 => {
                let s = text(u);
                if peer.send_text(&s).is_ok() {
                    self.from_peer.push_back(Sent {
                        kind: Kind::Text,
                        data: s.into_bytes(),
                        complete: true,
                    });
                }
            }
            2 | 3 => {
                let data = payload(u);
                if peer.send_binary(&data).is_ok() {
                    self.from_peer.push_back(Sent {
                        kind: Kind::Binary,
                        data,
                        complete: true,
                    });
                }
            }
            4 => {
                // A fragment, of text maybe cut inside a character.
                let data = if flag(u) {
                    text(u).into_bytes()
                } else {
                    payload(u)
                };
                let cut = upto(u, data.len());
                let opcode = [OpCode::Text, OpCode::Binary, OpCode::Continuation][pick(u, 3)];
                let fin = flag(u);
                let data = &data[..cut];
                if peer.send_frame(opcode, data, fin).is_ok() {
                    match self.from_peer.back_mut() {
                        Some(m) if opcode == OpCode::Continuation => {
                            assert!(!m.complete);
                            m.data.extend_from_slice(data);
                            m.complete = fin;
                        }
                        _ => self.from_peer.push_back(Sent {
                            kind: if opcode == OpCode::Text {
                                Kind::Text
                            } else {
                                Kind::Binary
                            },
                            data: data.to_vec(),
                            complete: fin,
                        }),
                    }
                }
            }
            5 => {
                let n = upto(u, 125);
                let data = take(u, n);
                let _ = if flag(u) {
                    peer.ping(data)
                } else {
                    peer.pong(data)
                };
            }
            6 => {
                let code = [1000, 1001, 1003, 1011, 3000, 4999][pick(u, 6)];
                let reason = text(u);
                let reason = reason.get(..reason.len().min(20)).unwrap_or("");
                let _ = peer.close(CloseCode::from(code), reason);
            }
            _ => peer.release_idle_memory(),
        }
        self.pump();
    }

    /// A message from the peer, cut or with a byte flipped, on the wire.
    fn peer_sends_damaged(&mut self, u: &mut Unstructured) {
        let Some(peer) = &mut self.peer else {
            return;
        };
        self.wire.extend(peer.take_output());
        let data = payload(u);
        let sent = if flag(u) {
            peer.send_text(&String::from_utf8_lossy(&data))
        } else {
            peer.send_binary(&data)
        };
        if sent.is_err() {
            return;
        }
        let mut bytes = peer.take_output().to_vec();
        let at = upto(u, bytes.len().saturating_sub(1));
        match pick(u, 3) {
            0 => bytes.truncate(at),
            1 => bytes[at] ^= 1 << (byte(u) % 8),
            _ => bytes[at] = byte(u),
        }
        self.wire.extend(bytes);
        self.clean = false;
    }

    /// A frame made by hand: any first byte, masked right or wrong, any length
    /// encoding (non-minimal, or a length that does not match the payload).
    fn raw_frame(&mut self, u: &mut Unstructured) {
        let b0 = byte(u);
        let data = payload(u);
        let right = self.peer_role() == Role::Client;
        let masked = if pick(u, 8) == 0 { !right } else { right };
        let key = [byte(u), byte(u), byte(u), byte(u)];
        let mut frame = vec![b0];
        let mask_bit = if masked { 0x80 } else { 0 };
        let len = match pick(u, 8) {
            7 => u.arbitrary::<u64>().unwrap_or(0),
            _ => data.len() as u64,
        };
        match pick(u, 8) {
            6 => {
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            7 => {
                frame.push(mask_bit | 127);
                frame.extend_from_slice(&len.to_be_bytes());
            }
            _ if len < 126 => frame.push(mask_bit | len as u8),
            _ if len <= 0xffff => {
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                frame.push(mask_bit | 127);
                frame.extend_from_slice(&len.to_be_bytes());
            }
        }
        if masked {
            frame.extend_from_slice(&key);
            frame.extend(data.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            frame.extend_from_slice(&data);
        }
        self.wire.extend(frame);
        self.clean = false;
    }

    /// Takes up to `n` bytes off the wire, numbered in the order taken.
    fn take_wire(&mut self, n: usize) -> (u64, Vec<u8>) {
        let n = n.min(self.wire.len());
        self.took += 1;
        (self.took, self.wire.drain(..n).collect())
    }

    /// Bytes taken off the wire as `seq` were received: out of order, the wire is
    /// no longer the peer's stream.
    fn arrived(&mut self, seq: u64, len: usize) {
        if seq != self.arrived + 1 && len != 0 {
            self.clean = false;
            self.in_order = false;
        }
        self.arrived = self.arrived.max(seq);
        self.delivered += len as u64;
    }

    fn chunk_size(u: &mut Unstructured) -> usize {
        match pick(u, 8) {
            0 => 1,
            1 => 2,
            2 => upto(u, 16),
            3 => upto(u, 300),
            4 => 0,
            _ => usize::MAX,
        }
    }

    /// Bytes from the wire, by one of the ways in.
    fn deliver(&mut self, u: &mut Unstructured) {
        let n = Self::chunk_size(u);
        let how = pick(u, 5);
        if self.eof {
            return;
        }
        let (seq, bytes) = self.take_wire(n);
        self.arrived(seq, bytes.len());
        match how {
            0 | 1 => self.ws.receive_data(&bytes),
            // Appended to the spare room `read_buf` lends, taken in by the next call.
            2 => self.ws.read_buf().extend_from_slice(&bytes),
            3 => {
                let additional = [0, 1, 4096][pick(u, 3)];
                self.ws
                    .read_into(additional, |buf| buf.extend_from_slice(&bytes));
            }
            // A buffer of the caller's own, not the one lent.
            _ => self.ws.receive_buf(BytesMut::from(&bytes[..])),
        }
    }

    /// The buffers `lend_read_buf` lent and the driver holds (a few at once, filled
    /// from the wire, given back in any order, cut or dropped), between other steps.
    fn lent_step(&mut self, u: &mut Unstructured) {
        match pick(u, 5) {
            0 => {
                if self.lent.len() < 3 {
                    let additional = [0, 1, 64, 4096][pick(u, 4)];
                    let buf = self.ws.lend_read_buf(additional);
                    assert!(buf.is_empty() && buf.capacity() >= additional);
                    self.lent.push((buf, Vec::new()));
                }
            }
            1 | 2 => {
                let n = Self::chunk_size(u);
                let i = pick(u, self.lent.len().max(1));
                if self.eof || i >= self.lent.len() {
                    return;
                }
                let (seq, bytes) = self.take_wire(n);
                let (buf, seqs) = &mut self.lent[i];
                buf.extend_from_slice(&bytes);
                seqs.push((seq, bytes.len()));
            }
            3 => {
                let i = pick(u, self.lent.len().max(1));
                if i < self.lent.len() {
                    self.give_back(i);
                }
            }
            _ => {
                // Cut or dropped: what it held is lost.
                let i = pick(u, self.lent.len().max(1));
                if i >= self.lent.len() {
                    return;
                }
                let keep = upto(u, self.lent[i].0.len());
                let (buf, seqs) = &mut self.lent[i];
                if keep < buf.len() {
                    self.clean = false;
                    self.in_order = false;
                    buf.truncate(keep);
                    // What is left counts as its first take.
                    let first = seqs.first().map_or(0, |&(seq, _)| seq);
                    seqs.clear();
                    seqs.push((first, keep));
                }
                if flag(u) {
                    let (buf, _) = self.lent.remove(i);
                    self.clean &= buf.is_empty();
                    self.in_order &= buf.is_empty();
                }
            }
        }
    }

    fn give_back(&mut self, i: usize) {
        let (buf, seqs) = self.lent.remove(i);
        for (seq, len) in seqs {
            self.arrived(seq, len);
        }
        self.ws.receive_buf(buf);
    }

    // ------------------------------------------------------------ our sends

    /// What a send must return, from the state alone.
    fn send_verdict(&self) -> Result<(), LocalError> {
        match self.ws.state() {
            State::Connecting => Err(LocalError::NotOpen),
            State::Open | State::RemoteClosing => Ok(()),
            State::LocalClosing | State::Closed => Err(LocalError::Closed),
        }
    }

    fn send(&mut self, u: &mut Unstructured) {
        let verdict = self.send_verdict();
        match pick(u, 12) {
            0 | 1 => {
                let s = text(u);
                let expected = verdict.and(match self.sending {
                    Some(_) => Err(LocalError::MessageInProgress),
                    None => Ok(()),
                });
                assert_eq!(local(self.ws.send_text(&s)), expected);
                if expected.is_ok() {
                    self.to_peer.push_back(Sent {
                        kind: Kind::Text,
                        data: s.into_bytes(),
                        complete: true,
                    });
                }
            }
            2 | 3 => {
                let data = payload(u);
                let expected = verdict.and(match self.sending {
                    Some(_) => Err(LocalError::MessageInProgress),
                    None => Ok(()),
                });
                assert_eq!(local(self.ws.send_binary(&data)), expected);
                if expected.is_ok() {
                    self.to_peer.push_back(Sent {
                        kind: Kind::Binary,
                        data,
                        complete: true,
                    });
                }
            }
            4..=6 => self.send_fragment(u, verdict),
            7 | 8 => {
                let n = upto(u, 130);
                let data = take(u, n);
                let n = data.len();
                let expected = verdict.and(if n > 125 {
                    Err(LocalError::ControlPayloadTooLong(n))
                } else {
                    Ok(())
                });
                let got = local(if flag(u) {
                    self.ws.ping(data)
                } else {
                    self.ws.pong(data)
                });
                assert_eq!(got, expected);
            }
            9 | 10 => {
                let code = match pick(u, 4) {
                    0 => 1000,
                    1 => 1009,
                    2 => 4000,
                    _ => u.arbitrary::<u16>().unwrap_or(0),
                };
                let reason = text(u);
                let reason = match pick(u, 4) {
                    0 => reason.as_str(),
                    _ => reason.get(..reason.len().min(123)).unwrap_or(""),
                };
                let code = CloseCode::from(code);
                let expected = verdict.and(if !code.is_sendable() {
                    Err(LocalError::InvalidClose(FrameError::UnsendableCloseCode(
                        code.as_u16(),
                    )))
                } else if reason.len() > 123 {
                    Err(LocalError::InvalidClose(FrameError::CloseReasonTooLong(
                        reason.len(),
                    )))
                } else {
                    Ok(())
                });
                let before = self.ws.state();
                assert_eq!(local(self.ws.close(code, reason)), expected);
                if expected.is_ok() {
                    self.we_closed = true;
                    // A fragmented message being sent is abandoned.
                    self.sending = None;
                    let after = if before == State::RemoteClosing {
                        State::Closed
                    } else {
                        State::LocalClosing
                    };
                    assert_eq!(self.ws.state(), after);
                }
            }
            _ => self.send_bytes(u, verdict),
        }
    }

    fn send_fragment(&mut self, u: &mut Unstructured, verdict: Result<(), LocalError>) {
        let data = if flag(u) {
            text(u).into_bytes()
        } else {
            payload(u)
        };
        let cut = upto(u, data.len());
        let data = &data[..cut];
        let opcode = [
            OpCode::Text,
            OpCode::Binary,
            OpCode::Continuation,
            OpCode::Ping,
        ][pick(u, 4)];
        let fin = flag(u);
        let in_progress = self.sending.as_ref().map(|s| s.kind);
        let kind = match opcode {
            OpCode::Text => Some(Kind::Text),
            OpCode::Binary => Some(Kind::Binary),
            OpCode::Continuation => in_progress,
            _ => None,
        };
        // The whole text so far must stay valid UTF-8 (a prefix of it, before the end).
        let invalid = kind == Some(Kind::Text) && {
            let mut all = match (opcode, &self.sending) {
                (OpCode::Continuation, Some(s)) => s.data.clone(),
                _ => Vec::new(),
            };
            all.extend_from_slice(data);
            match std::str::from_utf8(&all) {
                Ok(_) => false,
                Err(e) => fin || e.error_len().is_some(),
            }
        };
        let expected = verdict.and(match (opcode, in_progress) {
            (OpCode::Text | OpCode::Binary, Some(_)) => Err(LocalError::MessageInProgress),
            (OpCode::Continuation, None) => Err(LocalError::NoMessageInProgress),
            (OpCode::Ping, _) => Err(LocalError::ControlOpCode),
            _ => Ok(()),
        });
        let got = local(self.ws.send_frame(opcode, data, fin));
        match (&expected, &got) {
            (Ok(()), Err(LocalError::InvalidUtf8(_))) => {
                assert!(invalid, "valid text refused: {data:?}");
                return;
            }
            _ => {
                assert!(
                    !(expected.is_ok() && invalid),
                    "invalid text sent: {data:?}"
                );
                assert_eq!(got, expected);
            }
        }
        if got.is_err() {
            return;
        }
        let kind = kind.expect("a data frame");
        let sending = self.sending.get_or_insert(Sent {
            kind,
            data: Vec::new(),
            complete: false,
        });
        sending.data.extend_from_slice(data);
        if fin {
            let mut done = self.sending.take().expect("in progress");
            done.complete = true;
            self.to_peer.push_back(done);
        }
    }

    /// A whole message from a buffer given away (`send_*_bytes`): a server without
    /// extension queues a payload of 8 KiB or more as an output piece of its own.
    fn send_bytes(&mut self, u: &mut Unstructured, verdict: Result<(), LocalError>) {
        let is_text = flag(u);
        let mut data = if is_text {
            text(u).into_bytes()
        } else {
            payload(u)
        };
        if flag(u) {
            // Past the size where the payload becomes a piece of its own.
            let pad = if is_text { b'a' } else { byte(u) };
            data.resize(data.len().max(8 << 10), pad);
        }
        let expected = verdict.and(match self.sending {
            Some(_) => Err(LocalError::MessageInProgress),
            None => Ok(()),
        });
        let got = if is_text {
            let text = Utf8Bytes::try_from(Bytes::from(data.clone())).expect("text");
            local(self.ws.send_text_bytes(text))
        } else {
            local(self.ws.send_binary_bytes(Bytes::from(data.clone())))
        };
        assert_eq!(got, expected);
        if got.is_ok() {
            self.to_peer.push_back(Sent {
                kind: if is_text { Kind::Text } else { Kind::Binary },
                data,
                complete: true,
            });
        }
    }

    // ------------------------------------------------------------ time

    fn advance(&mut self, to: Instant) {
        self.now = Some(to);
        self.ws.handle_timeout(to);
    }

    fn tick(&mut self, u: &mut Unstructured) {
        match pick(u, 4) {
            0 | 1 => {
                let now = self.now.map_or(self.base, |now| now + duration(u));
                self.advance(now);
            }
            2 => {
                // A driver sleeping until the deadline.
                if let Some(deadline) = self.ws.poll_timeout() {
                    let now = self.now.map_or(deadline, |now| now.max(deadline));
                    self.advance(now);
                }
            }
            _ => {
                // A driver calling handle_timeout while the deadline is due gets
                // past it in a few calls at the same time.
                let Some(now) = self.now else {
                    return;
                };
                let mut calls = 0;
                while self.ws.poll_timeout().is_some_and(|t| t <= now) {
                    calls += 1;
                    assert!(calls <= 3, "poll_timeout stays at {now:?}");
                    self.ws.handle_timeout(now);
                }
            }
        }
    }

    // ------------------------------------------------------------ events

    /// Pulls up to `max` events.
    fn pull(&mut self, u: &mut Unstructured, max: usize) {
        for _ in 0..max {
            let state = self.ws.state();
            let out = self.ws.output_len();
            // A whole frame buffered is consumed by the next `next_event`, with an
            // event or without (a fragment being assembled, a keepalive pong).
            let whole = self
                .ws
                .connection_mut()
                .filter(|conn| conn.has_whole_frame())
                .map(|conn| conn.buffered_input_len());
            let Some(event) = self.ws.next_event() else {
                if let Some(before) = whole {
                    let after = self
                        .ws
                        .connection_mut()
                        .map_or(0, |conn| conn.buffered_input_len());
                    assert!(after < before, "a whole frame waits, unread");
                }
                return;
            };
            if let Err(e) = &event {
                assert_ne!(e.fault(), Fault::Local, "{e:?} from next_event");
                if let Error::Protocol(p) = e {
                    assert_eq!(e.close_code(), Some(p.close_code()));
                }
            }
            if state != State::Connecting {
                self.replies += self.ws.output_len().saturating_sub(out) as u64;
                assert!(
                    self.replies <= 3 * self.delivered + 8,
                    "{} bytes written in reply to {} received",
                    self.replies,
                    self.delivered
                );
            }
            self.on_event(u, event);
            self.check();
            // (Not in `check`: `connection_mut` takes in what `read_buf` lent, and
            // the steps between pulls should see those bytes still out.)
            let max_message = self.config.max_message_size;
            let max_frame = self.config.max_frame_size;
            if let Some(conn) = self.ws.connection_mut() {
                assert!(conn.buffered_message_len() <= max_message);
                assert!(conn.frame_bytes_wanted() <= max_frame);
            }
        }
    }

    fn pull_all(&mut self, u: &mut Unstructured) {
        self.pull(u, 1 << 20);
        assert!(self.ws.next_event().is_none(), "events without end");
    }

    fn on_event(&mut self, u: &mut Unstructured, event: Result<Event, Error>) {
        if self.trace {
            let shown: String = format!("{event:?}").chars().take(300).collect();
            eprintln!("  event {shown}");
        }
        assert!(!self.done, "an event after a close or an error: {event:?}");
        match event {
            Ok(Event::Request(request)) => {
                let Handshake::Server { pending, .. } = &mut self.handshake else {
                    panic!("a request for a client");
                };
                *pending = Some(request);
                if self.finishing || pick(u, 4) != 0 {
                    self.decide();
                }
            }
            Ok(Event::Accept(accepted)) => self.accepted(&accepted.extensions),
            Ok(Event::Reject(rejected)) => {
                let Handshake::Client { reject_length, .. } = &self.handshake else {
                    panic!("a reject for a server");
                };
                assert_eq!(Some(rejected.content_length()), *reject_length);
            }
            Ok(Event::RejectData {
                data,
                body_finished,
            }) => {
                let Handshake::Client {
                    reject_length: Some(length),
                    reject_seen,
                    ..
                } = &mut self.handshake
                else {
                    panic!("a body without a reject");
                };
                *reject_seen += data.len() as u64;
                if let Some(n) = length {
                    assert!(*reject_seen <= *n, "more body than announced");
                    assert!(!body_finished || *reject_seen == *n || self.eof);
                }
                if body_finished {
                    assert_eq!(self.ws.state(), State::Closed);
                    self.done = true;
                } else {
                    assert_eq!(self.ws.state(), State::Connecting);
                }
            }
            Ok(Event::Text {
                data,
                frame_finished,
                message_finished,
            }) => {
                assert!(std::str::from_utf8(data.as_bytes()).is_ok());
                assert_eq!(data.as_str().len(), data.len());
                self.on_data(
                    Kind::Text,
                    data.as_bytes(),
                    frame_finished,
                    message_finished,
                );
            }
            Ok(Event::Binary {
                data,
                frame_finished,
                message_finished,
            }) => self.on_data(Kind::Binary, &data, frame_finished, message_finished),
            Ok(Event::Ping(p) | Event::Pong(p)) => assert!(p.len() <= 125),
            Ok(Event::Close {
                code,
                reason,
                initiated_by,
            }) => {
                self.done = true;
                assert!(reason.len() <= 123);
                // Whoever sent the first close frame.
                let first = if self.we_closed {
                    ferrosocket_proto::Side::Local
                } else {
                    ferrosocket_proto::Side::Remote
                };
                assert_eq!(initiated_by, first);
                if code == CloseCode::ABNORMAL {
                    assert!(self.eof, "1006 without end of file");
                    assert_eq!(self.ws.state(), State::Closed);
                } else {
                    assert!(code == CloseCode::NO_STATUS || code.is_sendable());
                    // The peer's close answers ours, is echoed, or waits for the
                    // application's answer.
                    match self.ws.state() {
                        State::Closed => self.we_closed = true,
                        State::RemoteClosing => {
                            assert!(!self.config.auto_close_reply && !self.we_closed);
                        }
                        other => panic!("{other:?} after a close frame"),
                    }
                }
            }
            Ok(other) => panic!("unexpected event {other:?}"),
            Err(Error::Protocol(e)) => self.failed(&e),
            Err(Error::Handshake(e)) => {
                self.done = true;
                assert_eq!(self.ws.state(), State::Closed);
                let valid = match &self.handshake {
                    Handshake::Server { valid_offer, .. } => *valid_offer,
                    Handshake::Client { valid, .. } => valid.is_some(),
                };
                assert!(!valid || !self.in_order, "a valid handshake failed: {e:?}");
            }
            Err(Error::EofDuringHandshake) => {
                self.done = true;
                assert!(self.eof);
                assert_eq!(self.ws.state(), State::Closed);
            }
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    fn on_data(&mut self, kind: Kind, data: &[u8], frame_finished: bool, message_finished: bool) {
        let max = self.config.max_message_size;
        match self.config.delivery {
            Delivery::Assembled => {
                assert!(frame_finished && message_finished);
                assert!(data.len() <= max);
            }
            Delivery::Streaming => {
                let (k, n) = self.streaming.get_or_insert((kind, 0));
                assert_eq!(*k, kind, "a message changed kind");
                *n += data.len();
                assert!(*n <= max, "streamed {n} bytes past the {max} limit");
                assert!(frame_finished || !message_finished);
                if message_finished {
                    self.streaming = None;
                }
            }
        }
        if !self.clean {
            return;
        }
        let sent = self
            .from_peer
            .front()
            .expect("a message the peer never sent");
        assert_eq!(sent.kind, kind);
        assert!(
            sent.data.get(self.received..self.received + data.len()) == Some(data),
            "we got other bytes than the peer sent"
        );
        self.received += data.len();
        if message_finished {
            assert!(sent.complete && self.received == sent.data.len());
            self.from_peer.pop_front();
            self.received = 0;
        }
    }

    fn failed(&mut self, e: &ProtocolError) {
        self.done = true;
        assert_eq!(self.ws.state(), State::Closed);
        assert_eq!(self.ws.poll_timeout(), None);
        if self.clean {
            assert!(
                e.close_code() == CloseCode::MESSAGE_TOO_BIG
                    || matches!(e, ProtocolError::Timeout(_)),
                "the peer's own bytes failed the connection: {e:?}"
            );
        }
        if *e == ProtocolError::Timeout(Timer::Handshake) {
            assert!(self.peer.is_none());
            assert!(
                !self.ws.has_output(),
                "nothing is sent on a handshake timeout"
            );
            return;
        }
        self.flush(None);
        if e.close_code().is_sendable() && !self.we_closed {
            assert_eq!(self.scanner.closes.len(), 1, "one close, for {e:?}");
            assert!(self.scanner.last_is_close && self.scanner.buf.is_empty());
            assert_eq!(
                self.scanner.closes[0],
                e.close_code().as_u16().to_be_bytes(),
                "the close frame for {e:?}"
            );
            self.we_closed = true;
        } else {
            assert_eq!(
                self.scanner.closes.len(),
                usize::from(self.we_closed),
                "{e:?}"
            );
        }
    }

    // ------------------------------------------------------------ handshake

    /// Server: accepts the request, with permessage-deflate when it can be agreed.
    fn decide(&mut self) {
        let Handshake::Server {
            client,
            valid_offer,
            use_deflate,
            pending,
        } = &mut self.handshake
        else {
            return;
        };
        let Some(request) = pending.take() else {
            return;
        };
        let negotiated = if *use_deflate {
            deflate::server_negotiate(&self.deflate, request.extensions())
        } else {
            None
        };
        let agreed = negotiated.as_ref().map(|(_, ext)| ext.agreed());
        let result = match negotiated {
            Some((answer, ext)) => self
                .ws
                .accept_with_extension(&Accept::new().extension(answer), ext),
            None => self.ws.accept(&Accept::new()),
        };
        if self.ws.state() == State::Closed && self.taken == 0 && !self.ws.has_output() {
            // The handshake timed out while the request waited.
            assert_eq!(result, Err(Error::Local(LocalError::InvalidState)));
            return;
        }
        result.expect("accept");
        let head = self.ws.take_output();
        self.taken += head.len() as u64;
        // Our 101, as a client of this library that sent this request reads it
        // (unless the request arrived scrambled: lost or reordered pieces).
        let (extensions, consumed) = match client.take().expect("one request").feed(&head) {
            Ok(Status::Complete {
                value: Outcome::Accepted(accepted),
                consumed,
            }) => (Some(accepted.extensions), consumed),
            other => {
                assert!(!self.in_order, "our 101 is refused: {other:?}");
                let end = head.windows(4).position(|w| w == b"\r\n\r\n");
                (None, end.map_or(head.len(), |at| at + 4))
            }
        };
        // Frames may follow it already: opening gives the connection the last time,
        // and a timer of zero may fire at once.
        let ext = match extensions {
            Some(extensions) if *valid_offer && self.in_order => {
                let confirmed = deflate::client_confirm(&self.peer_deflate, &extensions)
                    .expect("our client takes our server's answer");
                assert_eq!(confirmed.as_ref().map(Deflate::agreed), agreed);
                confirmed
            }
            _ => agreed.map(|a| Deflate::new(a, Role::Client, &self.peer_deflate)),
        };
        self.open_peer(ext);
        self.emit(&head[consumed..]);
    }

    /// Client: the server's answer, checked and installed before the next event.
    fn accepted(&mut self, extensions: &[ExtensionOffer]) {
        let Handshake::Client { valid, .. } = &mut self.handshake else {
            panic!("an accept for a server");
        };
        if !self.in_order {
            // The answer may have arrived scrambled: no longer the one negotiated.
            *valid = None;
        }
        // Open, or closed already by a timer of zero (opening gives the connection
        // the last time).
        assert!(matches!(self.ws.state(), State::Open | State::Closed));
        match deflate::client_confirm(&self.deflate, extensions) {
            Ok(ext) => {
                let agreed = ext.as_ref().map(Deflate::agreed);
                if let Some(ext) = ext {
                    self.ws.set_extension(ext);
                }
                let peer_ext = match valid.take() {
                    Some(server_ext) => {
                        assert_eq!(server_ext.as_ref().map(Deflate::agreed), agreed);
                        server_ext
                    }
                    None => agreed.map(|a| Deflate::new(a, Role::Server, &self.peer_deflate)),
                };
                self.open_peer(peer_ext);
            }
            Err(e) => {
                assert!(valid.is_none(), "our client refuses a valid answer: {e:?}");
                self.open_peer(None);
                // RFC 7692: fail the connection.
                let code = e.close_code();
                let expected = self.send_verdict().and(if code.is_sendable() {
                    Ok(())
                } else {
                    Err(LocalError::InvalidClose(FrameError::UnsendableCloseCode(
                        code.as_u16(),
                    )))
                });
                assert_eq!(local(self.ws.close(code, "")), expected);
                self.we_closed |= expected.is_ok();
            }
        }
    }

    // ------------------------------------------------------------ checks

    /// After every step.
    fn check(&mut self) {
        let state = self.ws.state();
        let last = self.last_state;
        assert!(rank(state) >= rank(last), "{last:?} -> {state:?}");
        if rank(state) == 2 && rank(last) == 2 {
            assert_eq!(state, last);
        }
        self.last_state = state;
        if state == State::Closed {
            assert_eq!(self.ws.poll_timeout(), None, "a timer after Closed");
        }
        if let Some(deadline) = self.ws.poll_timeout() {
            let now = self.now.expect("no timer runs before a time is given");
            assert!(deadline >= now, "deadline {deadline:?} before now {now:?}");
        }
    }

    fn written(&self) -> u64 {
        self.taken + self.ws.output_len() as u64
    }

    fn step(&mut self, u: &mut Unstructured) {
        let closed = self.ws.state() == State::Closed;
        let written = self.written();
        let op = pick(u, 17);
        if self.trace {
            eprintln!(
                "step {op}: {:?}, {} bytes on the wire, {} in our output, clean {}",
                self.ws.state(),
                self.wire.len(),
                self.ws.output_len(),
                self.clean
            );
        }
        match op {
            0 | 1 => self.peer_sends(u),
            2 => self.peer_sends_damaged(u),
            3 => self.raw_frame(u),
            4 => {
                let n = upto(u, 32);
                let bytes = take(u, n).to_vec();
                self.wire.extend(bytes);
                self.clean = false;
            }
            5..=7 => self.deliver(u),
            8 => {
                self.eof = true;
                self.ws.receive_eof();
            }
            9 | 10 => self.send(u),
            11 | 12 => self.tick(u),
            13 => {
                let max = [1, 2, 1 << 20][pick(u, 3)];
                self.pull(u, max);
            }
            14 => {
                let n = if flag(u) { None } else { Some(upto(u, 64)) };
                self.flush(n);
            }
            15 => {
                let which = pick(u, 4);
                if which == 0 {
                    self.decide();
                } else if let Some(conn) = self.ws.connection_mut() {
                    match which {
                        1 => conn.release_idle_memory(),
                        2 => conn.release_read_buf(),
                        _ => conn.release_output(),
                    }
                }
            }
            _ => self.lent_step(u),
        }
        if closed {
            assert_eq!(self.written(), written, "bytes written after Closed");
        }
        self.check();
    }

    /// The transport ends; every event is pulled; the connection must be closed.
    fn finish(&mut self, u: &mut Unstructured) {
        self.finishing = true;
        self.decide();
        // What the driver holds arrives, then the rest of the wire (the input is
        // spent: `flag` says false).
        while !self.lent.is_empty() {
            self.give_back(0);
        }
        if !flag(u) && !self.eof {
            let (seq, bytes) = self.take_wire(usize::MAX);
            self.arrived(seq, bytes.len());
            self.ws.receive_data(&bytes);
        }
        self.pull_all(u);
        self.flush(None);
        self.eof = true;
        self.ws.receive_eof();
        self.pull_all(u);
        if self.ws.state() == State::RemoteClosing {
            assert_eq!(local(self.ws.close(CloseCode::NORMAL, "")), Ok(()));
            self.we_closed = true;
        }
        self.flush(None);
        self.check();
        assert_eq!(self.ws.state(), State::Closed);
        assert!(self.ws.next_event().is_none());
        // Everything we sent before our close reached the peer.
        if self.peer.is_some() {
            assert!(
                self.to_peer.is_empty(),
                "messages lost: {:?}",
                self.to_peer.len()
            );
        }
    }
}

/// One run of the script in `data` against a connection of `role`.
pub fn run(role: Role, data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut driver = Driver::new(role, &mut u);
    // Mostly, the handshake is over before the script starts (the fuzzer need not
    // find the steps that open the connection before it can do anything with it).
    if pick(&mut u, 4) != 0 {
        let (seq, head) = driver.take_wire(usize::MAX);
        driver.arrived(seq, head.len());
        driver.ws.receive_data(&head);
        driver.pull(&mut u, 2);
    }
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        driver.step(&mut u);
    }
    driver.finish(&mut u);
}
