//! A connection from the first byte: opening handshake, then frames.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use bytes::{Buf, Bytes, BytesMut};
use ferrosocket_codec::{CloseCode, OpCode};
use ferrosocket_handshake::{
    Accept, ClientHandshake, ClientRequest, Outcome, Reject, Request, RequestParser, Status,
};

use crate::config::{Config, Delivery, Role};
use crate::connection::Connection;
use crate::error::{Error, LocalError, ProtocolError};
use crate::event::{Event, State, Utf8Bytes};
use crate::extension::Extension;
use crate::random::RandomSource;
use crate::time::{Instant, Timer};

// `Open` is the steady state every byte goes through; boxing it would add an
// allocation and a pointer chase to the hot path to save bytes during the handshake.
#[allow(clippy::large_enum_variant)]
enum Phase {
    /// Server: reading the request.
    ServerRequest(RequestParser),
    /// Server: the request was reported; waiting for `accept` or `reject`.
    ServerDecision(Box<Request>),
    /// Client: reading the response.
    ClientResponse(ClientHandshake),
    /// Client: rejected; reading the body (`Some(n)`: n bytes left).
    ClientRejectBody(Option<u64>),
    Open(Connection),
    Closed,
}

/// A WebSocket connection driven from its first byte, like wsproto's
/// `WSConnection`: the opening handshake for either role, then a [`Connection`].
///
/// **Server**: [`server`](WsConnection::server); feed bytes, get
/// [`Event::Request`]; answer with [`accept`](WsConnection::accept) (the `101`
/// is queued, the state becomes [`State::Open`], and frames that came in the same
/// read as the request are processed) or [`reject`](WsConnection::reject) (the
/// answer is queued, [`State::Closed`]). A bad request yields
/// [`Error::Handshake`] with its HTTP status, the error answer queued.
///
/// **Client**: [`client`](WsConnection::client) queues the request at once; then
/// [`Event::Accept`] (open) or [`Event::Reject`] followed by [`Event::RejectData`]
/// pieces of the body, the last with `body_finished` (then [`State::Closed`]; the
/// state stays [`State::Connecting`] while the body is read).
///
/// Once open, everything is delegated to the inner [`Connection`]; the input,
/// output and event methods are the same.
pub struct WsConnection {
    role: Role,
    config: Config,
    phase: Phase,
    read: BytesMut,
    /// What [`read_buf`](WsConnection::read_buf) lent: taken in at the next call.
    lent: BytesMut,
    out: BytesMut,
    eof: bool,
    rng: Option<Box<dyn RandomSource + Send + Sync>>,
    ext: Option<Box<dyn Extension + Send + Sync>>,
    /// The last time given; the handshake started at the first.
    now: Option<Instant>,
    started: Option<Instant>,
    /// The handshake timer fired: reported by the next `next_event`.
    timed_out: bool,
}

impl fmt::Debug for WsConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("WsConnection");
        d.field("role", &self.role).field("state", &self.state());
        if let Phase::Open(conn) = &self.phase {
            d.field("connection", conn);
        }
        d.finish_non_exhaustive()
    }
}

/// Iterator over [`WsConnection::next_event`], from [`WsConnection::events`].
#[derive(Debug)]
pub struct WsEvents<'a> {
    conn: &'a mut WsConnection,
}

impl Iterator for WsEvents<'_> {
    type Item = Result<Event, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.conn.next_event()
    }
}

impl WsConnection {
    fn with_phase(role: Role, config: Config, phase: Phase) -> Self {
        Self {
            role,
            config,
            phase,
            read: BytesMut::new(),
            lent: BytesMut::new(),
            out: BytesMut::new(),
            eof: false,
            rng: None,
            ext: None,
            now: None,
            started: None,
            timed_out: false,
        }
    }

    /// A server waiting for the client's opening request.
    #[must_use]
    pub fn server(config: Config) -> Self {
        Self::with_phase(
            Role::Server,
            config,
            Phase::ServerRequest(RequestParser::new()),
        )
    }

    /// A server reading the request with the given parser (e.g. other limits).
    #[must_use]
    pub fn server_with_parser(config: Config, parser: RequestParser) -> Self {
        Self::with_phase(Role::Server, config, Phase::ServerRequest(parser))
    }

    /// A client: writes `request` into the output at once; masking keys will come
    /// from [`OsRandom`](crate::OsRandom).
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] if the request cannot be written (invalid host,
    /// header, ...): our fault, HTTP status 500.
    #[cfg(feature = "std")]
    pub fn client(request: &ClientRequest, config: Config) -> Result<Self, Error> {
        Self::client_with_random(request, config, crate::OsRandom::new())
    }

    /// A client taking its masking keys from `random`.
    ///
    /// # Errors
    ///
    /// As [`client`](Self::client).
    pub fn client_with_random(
        request: &ClientRequest,
        config: Config,
        random: impl RandomSource + Send + Sync + 'static,
    ) -> Result<Self, Error> {
        let mut buf = Vec::new();
        let handshake = request.write_to(&mut buf)?;
        let mut conn = Self::with_phase(Role::Client, config, Phase::ClientResponse(handshake));
        conn.out.extend_from_slice(&buf);
        conn.rng = Some(Box::new(random));
        Ok(conn)
    }

    /// Installs the extension agreed on. Client: call it right after
    /// [`Event::Accept`], before pulling the next event (frames are parsed lazily, so
    /// none has been yet). Server: prefer [`accept_with_extension`](Self::accept_with_extension).
    pub fn set_extension(&mut self, extension: impl Extension + Send + Sync + 'static) {
        self.take_lent();
        match &mut self.phase {
            Phase::Open(conn) => conn.set_extension(Box::new(extension)),
            _ => self.ext = Some(Box::new(extension)),
        }
    }

    /// Our role.
    #[must_use]
    pub const fn role(&self) -> Role {
        self.role
    }

    /// [`State::Connecting`] during the handshake, then the connection's state.
    #[must_use]
    pub fn state(&self) -> State {
        match &self.phase {
            Phase::Open(conn) => conn.state(),
            Phase::Closed => State::Closed,
            _ => State::Connecting,
        }
    }

    /// How data messages are delivered now (see [`Connection::delivery`]); during
    /// the handshake, the delivery the connection will open with.
    #[must_use]
    pub fn delivery(&self) -> Delivery {
        match &self.phase {
            Phase::Open(conn) => conn.delivery(),
            _ => self.config.delivery,
        }
    }

    /// Switches how data messages are delivered, at the next message boundary (see
    /// [`Connection::set_delivery`]); during the handshake, the delivery the
    /// connection will open with.
    pub fn set_delivery(&mut self, delivery: Delivery) {
        match &mut self.phase {
            Phase::Open(conn) => conn.set_delivery(delivery),
            _ => self.config.delivery = delivery,
        }
    }

    /// The inner connection, once open.
    pub fn connection_mut(&mut self) -> Option<&mut Connection> {
        self.take_lent();
        match &mut self.phase {
            Phase::Open(conn) => Some(conn),
            _ => None,
        }
    }

    /// The inner connection, once open (the handshake layer is dropped); `None`
    /// before the handshake succeeded or after it failed.
    #[must_use]
    pub fn into_connection(mut self) -> Option<Connection> {
        self.take_lent();
        match self.phase {
            Phase::Open(conn) => Some(conn),
            _ => None,
        }
    }

    // ---------------------------------------------------------------- input

    /// Appends received bytes; see [`Connection::receive_data`].
    pub fn receive_data(&mut self, data: &[u8]) {
        self.take_lent();
        match &mut self.phase {
            Phase::Open(conn) => conn.receive_data(data),
            Phase::Closed => {}
            _ => self.read.extend_from_slice(data),
        }
    }

    /// Lends the read buffer's spare room, empty, for the caller to append received
    /// bytes to; give it back with [`receive_buf`](WsConnection::receive_buf). See
    /// [`Connection::lend_read_buf`]: the bytes received before cannot be reached
    /// through it.
    pub fn lend_read_buf(&mut self, additional: usize) -> BytesMut {
        self.take_lent();
        match &mut self.phase {
            Phase::Open(conn) => conn.lend_read_buf(additional),
            _ => {
                if self.read.capacity() - self.read.len() < additional {
                    self.read.reserve(additional);
                }
                self.read.split_off(self.read.len())
            }
        }
    }

    /// Appends the received bytes in `buf` (no copy if it is the buffer
    /// [`lend_read_buf`](WsConnection::lend_read_buf) lent); see
    /// [`Connection::receive_buf`].
    pub fn receive_buf(&mut self, buf: BytesMut) {
        self.take_lent();
        self.take_in(buf);
    }

    fn take_in(&mut self, buf: BytesMut) {
        match &mut self.phase {
            Phase::Open(conn) => conn.receive_buf(buf),
            Phase::Closed => {}
            _ => self.read.unsplit(buf),
        }
    }

    /// [`lend_read_buf`](WsConnection::lend_read_buf), `read` appending to the lent
    /// buffer, then [`receive_buf`](WsConnection::receive_buf).
    pub fn read_into<R>(&mut self, additional: usize, read: impl FnOnce(&mut BytesMut) -> R) -> R {
        let mut buf = self.lend_read_buf(additional);
        let result = read(&mut buf);
        self.receive_buf(buf);
        result
    }

    /// An **empty** buffer, the read buffer's spare room, for a caller that must
    /// hold a `&mut BytesMut` to read into: append received bytes to it; they are
    /// taken in (without a copy) by the next call of any method that reads input
    /// (`next_event`, `receive_*`, `handle_timeout`, `read_buf` again, ...). The bytes
    /// received before are never in it, so they cannot be changed through it. Prefer
    /// [`lend_read_buf`](WsConnection::lend_read_buf) where the buffer can be owned.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        self.take_lent();
        self.lent = self.lend_read_buf(0);
        &mut self.lent
    }

    /// Takes in what was appended to the buffer [`read_buf`](WsConnection::read_buf)
    /// lent.
    fn take_lent(&mut self) {
        if self.lent.capacity() != 0 {
            let lent = core::mem::take(&mut self.lent);
            self.take_in(lent);
        }
    }

    /// The transport reached end of file; see [`Connection::receive_eof`].
    pub fn receive_eof(&mut self) {
        self.take_lent();
        self.eof = true;
        if let Phase::Open(conn) = &mut self.phase {
            conn.receive_eof();
        }
    }

    /// An iterator over [`next_event`](WsConnection::next_event).
    pub fn events(&mut self) -> WsEvents<'_> {
        WsEvents { conn: self }
    }

    /// The next event, `None` when more bytes (or a decision) are needed.
    pub fn next_event(&mut self) -> Option<Result<Event, Error>> {
        self.take_lent();
        if core::mem::take(&mut self.timed_out) {
            return Some(Err(Error::Protocol(ProtocolError::Timeout(
                Timer::Handshake,
            ))));
        }
        match &mut self.phase {
            Phase::Open(conn) => conn.next_event(),
            Phase::ServerRequest(parser) => {
                let status = if self.read.is_empty() {
                    Ok(Status::Partial)
                } else {
                    parser.feed(&self.read)
                };
                match status {
                    Ok(Status::Partial) => {
                        self.read.clear();
                        self.eof_during_handshake()
                    }
                    Ok(Status::Complete { value, consumed }) => {
                        self.read.advance(consumed);
                        let request = Box::new(value);
                        self.phase = Phase::ServerDecision(request.clone());
                        Some(Ok(Event::Request(request)))
                    }
                    Err(e) => {
                        let mut answer = Vec::new();
                        e.write_response(&mut answer);
                        self.out.extend_from_slice(&answer);
                        self.close_handshake();
                        Some(Err(Error::Handshake(e)))
                    }
                }
            }
            Phase::ServerDecision(_) | Phase::Closed => None,
            Phase::ClientResponse(handshake) => {
                let status = if self.read.is_empty() {
                    Ok(Status::Partial)
                } else {
                    handshake.feed(&self.read)
                };
                match status {
                    Ok(Status::Partial) => {
                        self.read.clear();
                        self.eof_during_handshake()
                    }
                    Ok(Status::Complete {
                        value: Outcome::Accepted(accepted),
                        consumed,
                    }) => {
                        self.read.advance(consumed);
                        self.open();
                        Some(Ok(Event::Accept(Box::new(accepted))))
                    }
                    Ok(Status::Complete {
                        value: Outcome::Rejected(rejected),
                        consumed,
                    }) => {
                        self.read.advance(consumed);
                        self.phase = Phase::ClientRejectBody(rejected.content_length());
                        Some(Ok(Event::Reject(Box::new(rejected))))
                    }
                    Err(e) => {
                        self.close_handshake();
                        Some(Err(Error::Handshake(e)))
                    }
                }
            }
            Phase::ClientRejectBody(remaining) => {
                let (data, body_finished) = match remaining {
                    Some(left) => {
                        let take = (*left).min(self.read.len() as u64) as usize;
                        *left -= take as u64;
                        if take == 0 && *left != 0 && !self.eof {
                            return None;
                        }
                        // Finished at the announced length, or cut short by EOF.
                        let finished = *left == 0 || self.eof && take == self.read.len();
                        (self.read.split_to(take).freeze(), finished)
                    }
                    None if !self.read.is_empty() => (self.read.split().freeze(), false),
                    None if self.eof => (Bytes::new(), true),
                    None => return None,
                };
                if body_finished {
                    self.close_handshake();
                }
                Some(Ok(Event::RejectData {
                    data,
                    body_finished,
                }))
            }
        }
    }

    /// Input: the time is now `now`; see [`Connection::handle_timeout`]. During the
    /// opening handshake, the first call starts
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout); when it
    /// expires the connection is closed (nothing is queued) and the next
    /// [`next_event`](WsConnection::next_event) returns
    /// `Error::Protocol(ProtocolError::Timeout(Timer::Handshake))`. Once open, the
    /// connection's timers run from here.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.take_lent();
        self.now = Some(now);
        match &mut self.phase {
            Phase::Open(conn) => conn.handle_timeout(now),
            Phase::Closed => {}
            _ => {
                let started = *self.started.get_or_insert(now);
                if let Some(limit) = self.config.handshake_timeout
                    && now >= started + limit
                {
                    self.close_handshake();
                    self.out.clear();
                    self.timed_out = true;
                }
            }
        }
    }

    /// Output: when [`handle_timeout`](WsConnection::handle_timeout) is next due;
    /// see [`Connection::poll_timeout`]. During the handshake: the handshake
    /// timeout, once a first `handle_timeout` started it.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            // Bytes appended to `read_buf` are activity not stamped yet: now.
            Phase::Open(conn) if !self.lent.is_empty() => conn.poll_timeout().and(self.now),
            Phase::Open(conn) => conn.poll_timeout(),
            Phase::Closed => None,
            _ => Some(self.started? + self.config.handshake_timeout?),
        }
    }

    fn eof_during_handshake(&mut self) -> Option<Result<Event, Error>> {
        if !self.eof {
            return None;
        }
        self.close_handshake();
        Some(Err(Error::EofDuringHandshake))
    }

    fn close_handshake(&mut self) {
        self.phase = Phase::Closed;
        self.read = BytesMut::new();
        self.lent = BytesMut::new();
    }

    /// Switches to the open phase: the handshake's pending output and the bytes
    /// after the header block move into the connection.
    fn open(&mut self) {
        self.take_lent();
        let rng = self
            .rng
            .take()
            .unwrap_or_else(|| Box::new(|_: &mut [u8]| {}));
        let mut conn = Connection::with_boxed_random(self.role, self.config, rng);
        if let Some(ext) = self.ext.take() {
            conn.set_extension(ext);
        }
        *conn.output_buf() = core::mem::take(&mut self.out);
        conn.set_read_buf(core::mem::take(&mut self.read));
        if self.eof {
            conn.receive_eof();
        }
        if let Some(now) = self.now {
            conn.handle_timeout(now);
        }
        self.phase = Phase::Open(conn);
    }

    /// Server: accepts the request reported by [`Event::Request`]; the `101` answer
    /// is queued and the connection is open.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] if no request waits for an answer;
    /// [`Error::Handshake`] if `accept` is invalid for this request (a subprotocol
    /// or extension the client did not offer, a bad header): nothing is queued and
    /// the request still waits for an answer.
    pub fn accept(&mut self, accept: &Accept) -> Result<(), Error> {
        let Phase::ServerDecision(request) = &self.phase else {
            return Err(Error::Local(LocalError::InvalidState));
        };
        let mut answer = Vec::new();
        request.write_accept(accept, &mut answer)?;
        self.out.extend_from_slice(&answer);
        self.open();
        Ok(())
    }

    /// [`accept`](Self::accept), with the extension the `accept` agreed on
    /// (e.g. permessage-deflate) installed.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept).
    pub fn accept_with_extension(
        &mut self,
        accept: &Accept,
        extension: impl Extension + Send + Sync + 'static,
    ) -> Result<(), Error> {
        self.ext = Some(Box::new(extension));
        let result = self.accept(accept);
        if result.is_err() {
            self.ext = None;
        }
        result
    }

    /// Server: refuses the request with `reject` (status, headers, body); the answer
    /// is queued and the state is [`State::Closed`].
    ///
    /// # Errors
    ///
    /// [`Error::Local`] if no request waits for an answer; [`Error::Handshake`]
    /// if `reject` is invalid (1xx status, bad header): nothing is queued.
    pub fn reject(&mut self, reject: &Reject) -> Result<(), Error> {
        if !matches!(self.phase, Phase::ServerDecision(_)) {
            return Err(Error::Local(LocalError::InvalidState));
        }
        let mut answer = Vec::new();
        reject.write_to(&mut answer)?;
        self.out.extend_from_slice(&answer);
        self.close_handshake();
        Ok(())
    }

    // --------------------------------------------------------------- output

    /// The bytes waiting to be written; see [`Connection::output`].
    #[must_use]
    pub fn output(&self) -> &[u8] {
        match &self.phase {
            Phase::Open(conn) => conn.output(),
            _ => &self.out,
        }
    }

    /// Every piece of the output, in order; see [`Connection::output_chunks`].
    pub fn output_chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let (conn, own) = match &self.phase {
            Phase::Open(conn) => (Some(conn), None),
            _ => (None, (!self.out.is_empty()).then_some(&self.out[..])),
        };
        conn.into_iter()
            .flat_map(Connection::output_chunks)
            .chain(own)
    }

    /// Whether the output is in more than one piece; see
    /// [`Connection::output_is_segmented`].
    #[must_use]
    pub fn output_is_segmented(&self) -> bool {
        matches!(&self.phase, Phase::Open(conn) if conn.output_is_segmented())
    }

    /// Bytes waiting to be written, in all.
    #[must_use]
    pub fn output_len(&self) -> usize {
        match &self.phase {
            Phase::Open(conn) => conn.output_len(),
            _ => self.out.len(),
        }
    }

    /// Marks `n` bytes of the output as written; see [`Connection::consume`].
    pub fn consume(&mut self, n: usize) {
        match &mut self.phase {
            Phase::Open(conn) => conn.consume(n),
            _ => self.out.advance(n.min(self.out.len())),
        }
    }

    /// Takes all the bytes waiting to be written.
    pub fn take_output(&mut self) -> Bytes {
        match &mut self.phase {
            Phase::Open(conn) => conn.take_output(),
            _ => self.out.split().freeze(),
        }
    }

    /// Whether bytes wait to be written.
    #[must_use]
    pub fn has_output(&self) -> bool {
        self.output_len() != 0
    }

    // ---------------------------------------------------------------- sends

    fn open_conn(&mut self) -> Result<&mut Connection, LocalError> {
        match &mut self.phase {
            Phase::Open(conn) => Ok(conn),
            Phase::Closed => Err(LocalError::Closed),
            _ => Err(LocalError::NotOpen),
        }
    }

    /// See [`Connection::send_text`]; [`LocalError::NotOpen`] during the handshake.
    ///
    /// # Errors
    ///
    /// As [`Connection::send_text`], or [`LocalError::NotOpen`].
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.open_conn()?.send_text(text)
    }

    /// See [`Connection::send_binary`].
    ///
    /// # Errors
    ///
    /// As [`Connection::send_binary`], or [`LocalError::NotOpen`].
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.open_conn()?.send_binary(data)
    }

    /// See [`Connection::send_text_bytes`].
    ///
    /// # Errors
    ///
    /// As [`Connection::send_text`], or [`LocalError::NotOpen`].
    pub fn send_text_bytes(&mut self, text: Utf8Bytes) -> Result<(), Error> {
        self.open_conn()?.send_text_bytes(text)
    }

    /// See [`Connection::send_binary_bytes`].
    ///
    /// # Errors
    ///
    /// As [`Connection::send_binary`], or [`LocalError::NotOpen`].
    pub fn send_binary_bytes(&mut self, data: Bytes) -> Result<(), Error> {
        self.open_conn()?.send_binary_bytes(data)
    }

    /// See [`Connection::send_frame`].
    ///
    /// # Errors
    ///
    /// As [`Connection::send_frame`], or [`LocalError::NotOpen`].
    pub fn send_frame(&mut self, opcode: OpCode, data: &[u8], fin: bool) -> Result<(), Error> {
        self.open_conn()?.send_frame(opcode, data, fin)
    }

    /// See [`Connection::ping`].
    ///
    /// # Errors
    ///
    /// As [`Connection::ping`], or [`LocalError::NotOpen`].
    pub fn ping(&mut self, data: &[u8]) -> Result<(), Error> {
        self.open_conn()?.ping(data)
    }

    /// See [`Connection::pong`].
    ///
    /// # Errors
    ///
    /// As [`Connection::pong`], or [`LocalError::NotOpen`].
    pub fn pong(&mut self, data: &[u8]) -> Result<(), Error> {
        self.open_conn()?.pong(data)
    }

    /// See [`Connection::close`].
    ///
    /// # Errors
    ///
    /// As [`Connection::close`], or [`LocalError::NotOpen`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.open_conn()?.close(code, reason)
    }
}
