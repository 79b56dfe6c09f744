//! The post-handshake connection state machine.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use core::fmt;

use bytes::{Buf, Bytes, BytesMut};
use ferrosocket_codec::{
    CloseCode, CloseFrame, FrameError, FrameHeader, HeaderStatus, MAX_CLOSE_REASON_LEN,
    MAX_CONTROL_PAYLOAD_LEN, OpCode, apply_mask, encode_frame,
};
use ferrosocket_utf8::Utf8Validator;

use crate::config::{Config, Delivery, Role};
use crate::error::{Error, LocalError, ProtocolError};
use crate::event::{Event, Side, State, Utf8Bytes};
use crate::extension::{Extension, Rsv};
use crate::random::RandomSource;
use crate::time::{Instant, Timer, Timers, earliest, ping_payload};

/// Payloads at least this long are queued as output segments of their own, no
/// copy (where no masking or extension has to transform them).
const ZERO_COPY_MIN: usize = 8 * 1024;

/// [`Delivery::Streaming`] through an extension: the decoded bytes one piece holds
/// at most.
const DECODED_PIECE_MAX: usize = 64 * 1024;

/// [`Delivery::Streaming`] through an extension: the decoded bytes held at once
/// (give or take what the decoder held back from the input before, a few hundred
/// bytes at most), handed out in pieces of [`DECODED_PIECE_MAX`] before more input
/// is decoded. The input left over waits in the read buffer. Decoding stops at half
/// of it: larger slices of input make fewer, cheaper decoder calls (see
/// [`MAX_EXPANSION`]).
const DECODE_BUDGET: usize = 256 * 1024;

/// The most output one byte of deflate input can make: a 258-byte match coded in
/// two bits (RFC 1951 section 3.2.5). Input is fed to the extension's decoder in
/// slices no larger than the room left in [`DECODE_BUDGET`] divided by this, so the
/// output stays within it whatever the compression ratio.
const MAX_EXPANSION: usize = 1032;

/// The kind of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

impl Kind {
    const fn opcode(self) -> OpCode {
        match self {
            Self::Text => OpCode::Text,
            Self::Binary => OpCode::Binary,
        }
    }
}

/// The frame whose payload is being read.
#[derive(Debug, Clone, Copy)]
struct CurFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Payload length.
    len: usize,
    /// Payload bytes already split off the read buffer (streaming).
    pos: usize,
    /// Payload bytes at the front of the read buffer already unmasked and checked.
    done: usize,
}

/// The data message being received.
#[derive(Debug, Default)]
struct RecvMessage {
    kind: Option<Kind>,
    /// RSV bits of the first frame: non-empty means "through the extension".
    rsv: Rsv,
    wire_len: usize,
    decoded_len: usize,
    fragments: u64,
    assembly: BytesMut,
    utf8: Utf8Validator,
    /// Streaming text: the start of a code point held back from the last piece.
    carry: [u8; 4],
    carry_len: u8,
    /// Streaming through the extension: decoded bytes not handed out yet.
    inflated: Bytes,
}

impl RecvMessage {
    fn end(&mut self) {
        self.kind = None;
        self.rsv = Rsv::NONE;
        self.wire_len = 0;
        self.decoded_len = 0;
        self.fragments = 0;
        self.utf8.reset();
        self.carry_len = 0;
        if !self.inflated.is_empty() {
            self.inflated = Bytes::new();
        }
    }
}

/// What the whole-frame fast path produced.
enum Fast {
    Event(Event),
    Error(ProtocolError),
    /// Not the common case: take the general path.
    Slow,
}

/// What one step of the receive machine produced.
enum Step {
    Event(Event),
    Error(ProtocolError),
    Continue,
    NeedData,
}

/// A WebSocket connection after the opening handshake: bytes in, events out, bytes to
/// send. See the [crate documentation](crate) for an example.
///
/// **Receiving.** Hand received bytes to [`receive_data`](Connection::receive_data)
/// (or read straight into the buffer [`lend_read_buf`](Connection::lend_read_buf)
/// lends and give it back with [`receive_buf`](Connection::receive_buf)), then pull
/// [`next_event`](Connection::next_event) until it returns `None`. Parsing happens
/// there, lazily. End of file goes to [`receive_eof`](Connection::receive_eof).
///
/// **Sending.** Every send queues wire bytes in the output; the caller writes them to
/// the transport with [`output`](Connection::output) (or all the pieces at once,
/// for a vectored write, with [`output_chunks`](Connection::output_chunks)) +
/// [`consume`](Connection::consume), or takes them all with
/// [`take_output`](Connection::take_output). The output is the bytes of the frames
/// in the order they were queued, in pieces: a server's large payload given as
/// [`Bytes`] ([`send_binary_bytes`](Connection::send_binary_bytes),
/// [`send_text_bytes`](Connection::send_text_bytes)) is a piece of its own, never
/// copied. The connection also queues bytes by itself (pongs, close replies, the
/// close frame of a protocol error), so flush after pulling events too.
///
/// **Closing.** [`state`](Connection::state) says when the transport should be
/// closed: [`State::Closed`], after flushing the output.
pub struct Connection {
    role: Role,
    config: Config,
    state: State,
    read: BytesMut,
    /// Output ahead of `out`: large payloads queued without a copy, each after a
    /// segment holding its header and what was queued before it. Never empty ones.
    segments: VecDeque<Bytes>,
    /// Bytes in `segments`.
    segments_len: usize,
    /// The output being written to (after `segments`).
    out: BytesMut,
    rng: Box<dyn RandomSource + Send + Sync>,
    ext: Option<Box<dyn Extension + Send + Sync>>,
    frame: Option<CurFrame>,
    msg: RecvMessage,
    /// The delivery asked for while a data message was being received: it takes
    /// over when that message ends.
    next_delivery: Option<Delivery>,
    eof: bool,
    /// No more events: close received, protocol error, or end of file reported.
    recv_done: bool,
    close_sent: bool,
    /// The fragmented message being sent.
    send_kind: Option<Kind>,
    send_utf8: Utf8Validator,
    scratch: BytesMut,
    timers: Timers,
    /// A timer failed the connection: reported by the next `next_event`.
    timed_out: Option<ProtocolError>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("config", &self.config)
            .field("buffered_input", &self.read.len())
            .field("pending_output", &self.output_len())
            .field("extension", &self.ext)
            .finish_non_exhaustive()
    }
}

/// Iterator over [`Connection::next_event`], from [`Connection::events`].
#[derive(Debug)]
pub struct Events<'a> {
    conn: &'a mut Connection,
}

impl Iterator for Events<'_> {
    type Item = Result<Event, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.conn.next_event()
    }
}

impl Connection {
    /// A connection in [`State::Open`] masking with [`OsRandom`](crate::OsRandom)
    /// (used by clients only).
    #[cfg(feature = "std")]
    #[must_use]
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_random(role, config, crate::OsRandom::new())
    }

    /// A connection in [`State::Open`] taking its masking keys from `random` (one
    /// 4-byte key per frame sent, clients only). Use a CSPRNG in production.
    #[must_use]
    pub fn with_random(
        role: Role,
        config: Config,
        random: impl RandomSource + Send + Sync + 'static,
    ) -> Self {
        Self::with_boxed_random(role, config, Box::new(random))
    }

    pub(crate) fn with_boxed_random(
        role: Role,
        config: Config,
        rng: Box<dyn RandomSource + Send + Sync>,
    ) -> Self {
        Self {
            role,
            config,
            state: State::Open,
            read: BytesMut::new(),
            segments: VecDeque::new(),
            segments_len: 0,
            out: BytesMut::new(),
            rng,
            ext: None,
            frame: None,
            msg: RecvMessage::default(),
            next_delivery: None,
            eof: false,
            recv_done: false,
            close_sent: false,
            send_kind: None,
            send_utf8: Utf8Validator::new(),
            scratch: BytesMut::new(),
            timers: Timers::default(),
            timed_out: None,
        }
    }

    /// Installs the extension the handshake agreed on. Call it right after
    /// construction, before any frame is received or sent.
    #[must_use]
    pub fn with_extension(mut self, extension: impl Extension + Send + Sync + 'static) -> Self {
        self.set_extension(Box::new(extension));
        self
    }

    pub(crate) fn set_extension(&mut self, extension: Box<dyn Extension + Send + Sync>) {
        self.ext = Some(extension);
    }

    /// Tells the extension the connection is idle, so it can free what it can
    /// rebuild ([`Extension::release_idle`]; permessage-deflate with
    /// `release_idle_contexts` frees the zlib state of directions without context
    /// takeover). Call it when waiting for the peer; the stream adapters do.
    pub fn release_idle_memory(&mut self) {
        if let Some(ext) = &mut self.ext {
            ext.release_idle();
        }
    }

    /// Our role.
    #[must_use]
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The configuration ([`delivery`](Config::delivery): the one in effect, see
    /// [`set_delivery`](Connection::set_delivery)).
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// How data messages are delivered now: [`Config::delivery`], then what
    /// [`set_delivery`](Connection::set_delivery) switched to. A switch asked for
    /// during a message shows here once that message ended.
    #[must_use]
    pub const fn delivery(&self) -> Delivery {
        self.config.delivery
    }

    /// Switches how data messages are delivered, at the next message boundary: at
    /// once when no data message is being received (no frame of one read, even in
    /// part), otherwise when the message being received ends, whose events all come
    /// in the delivery it began in (control frames between its fragments are no
    /// boundary). A later call replaces a switch not made yet.
    ///
    /// The application layer uses it to take a large message piece by piece
    /// ([`Delivery::Streaming`]) and the others whole.
    pub fn set_delivery(&mut self, delivery: Delivery) {
        if self.msg.kind.is_none() {
            self.config.delivery = delivery;
            self.next_delivery = None;
        } else {
            self.next_delivery = Some(delivery);
        }
    }

    /// The state; [`State::Closed`] means: flush the output, close the transport.
    #[must_use]
    pub const fn state(&self) -> State {
        self.state
    }

    // ---------------------------------------------------------------- input

    /// Appends received bytes to the read buffer. Nothing is parsed until
    /// [`next_event`](Connection::next_event). Ignored once no more events can come.
    pub fn receive_data(&mut self, data: &[u8]) {
        if !self.recv_done {
            // A frame whose header arrived (and passed the limits) says how much more
            // is coming: make room once instead of growing by doubling, with room
            // for one more piece of this size past the frame's end, so the piece that
            // brings the end (and the next frame's start) does not make the buffer
            // move the whole frame to grow.
            let wanted = self.frame_bytes_wanted();
            if wanted > data.len() {
                self.read.reserve(wanted + data.len());
            }
            self.read.extend_from_slice(data);
            self.timers.received |= !data.is_empty();
        }
    }

    /// Lends the read buffer's spare room to an adapter that reads from the
    /// transport straight into memory (tokio's `AsyncReadExt::read_buf`, a `read`
    /// into spare capacity), saving the copy of
    /// [`receive_data`](Connection::receive_data): an **empty** buffer with room for
    /// at least `additional` bytes, split off the end of the read buffer. Append what
    /// the transport brought, then give it back with
    /// [`receive_buf`](Connection::receive_buf), which joins it to the read buffer in
    /// place (no copy: the two halves are adjacent in one allocation).
    ///
    /// The bytes received before stay inside the connection (the front of the read
    /// buffer may be a frame already partly unmasked and checked), so nothing done to
    /// the lent buffer can change them: truncating, clearing or growing it, dropping
    /// it, lending twice, or giving back another buffer only decides what counts as
    /// received next. Anything but the lent buffer given back as lent, appended to,
    /// costs one copy, nothing more. Reserve room here rather than on the lent buffer:
    /// growing it moves it to a new allocation.
    pub fn lend_read_buf(&mut self, additional: usize) -> BytesMut {
        if self.read.capacity() - self.read.len() < additional {
            self.read.reserve(additional);
        }
        if self.read.is_empty() {
            // Nothing buffered (between messages, the common case): lend the whole
            // buffer. Splitting would turn its allocation into a shared one (an
            // allocation of its own) for every read.
            return core::mem::take(&mut self.read);
        }
        self.read.split_off(self.read.len())
    }

    /// Appends received bytes held in `buf`: without a copy when `buf` is the buffer
    /// [`lend_read_buf`](Connection::lend_read_buf) lent (nothing received in
    /// between), else as [`receive_data`](Connection::receive_data). Nothing is parsed
    /// until [`next_event`](Connection::next_event). Ignored once no more events can
    /// come.
    pub fn receive_buf(&mut self, buf: BytesMut) {
        if !self.recv_done {
            self.timers.received |= !buf.is_empty();
            if self.read.is_empty() && self.read.capacity() == 0 {
                // The whole buffer was lent (or nothing was held): take it back.
                self.read = buf;
            } else {
                self.read.unsplit(buf);
            }
        }
    }

    /// [`lend_read_buf`](Connection::lend_read_buf), `read` appending to the lent
    /// buffer, then [`receive_buf`](Connection::receive_buf): for a reader that
    /// finishes within one call. Returns what `read` returned.
    pub fn read_into<R>(&mut self, additional: usize, read: impl FnOnce(&mut BytesMut) -> R) -> R {
        let mut buf = self.lend_read_buf(additional);
        let result = read(&mut buf);
        self.receive_buf(buf);
        result
    }

    /// Takes over a read buffer wholesale (bytes after a handshake).
    pub(crate) fn set_read_buf(&mut self, read: BytesMut) {
        self.timers.received |= !read.is_empty();
        self.read = read;
    }

    /// Bytes of the current frame's payload announced by its header but not
    /// received yet (0 between frames): how much an adapter may reserve before
    /// reading. The length was checked against the limits when the header arrived.
    /// Always 0 in [`Delivery::Streaming`], where the payload is handed out as it
    /// arrives: the read buffer needs no room for a whole frame.
    #[must_use]
    pub fn frame_bytes_wanted(&self) -> usize {
        match self.frame {
            Some(f) if self.config.delivery == Delivery::Assembled => {
                (f.len - f.pos).saturating_sub(self.read.len())
            }
            _ => 0,
        }
    }

    /// Bytes the read buffer holds allocated.
    #[must_use]
    pub fn read_buffer_capacity(&self) -> usize {
        self.read.capacity()
    }

    /// Frees the read buffer's allocation when it holds no received bytes (for a
    /// driver whose connection went idle); does nothing otherwise.
    pub fn release_read_buf(&mut self) {
        if self.read.is_empty() {
            self.read = BytesMut::new();
        }
    }

    /// Received bytes not yet turned into events (including a partial frame).
    #[must_use]
    pub fn buffered_input_len(&self) -> usize {
        self.read.len()
    }

    /// Whether the read buffer holds a whole frame that no event has been made of
    /// yet (between frames; the frame is not judged, only its header's length is
    /// read): the next [`next_event`](Connection::next_event) will not wait for
    /// input. Adapters use it to hold a reply back and write it together with the
    /// replies to the frames that follow it.
    #[must_use]
    pub fn has_whole_frame(&self) -> bool {
        self.frame.is_none()
            && matches!(
                FrameHeader::parse(&self.read, u64::MAX),
                Ok(HeaderStatus::Complete { header, header_len })
                    if (self.read.len() - header_len) as u64 >= header.payload_len
            )
    }

    /// Bytes of a fragmented message held for assembly so far ([`Delivery::Assembled`]).
    #[must_use]
    pub fn buffered_message_len(&self) -> usize {
        self.msg.assembly.len()
    }

    /// The transport reached end of file. Events for the bytes already received
    /// still come first; then, unless the close handshake finished, an
    /// [`Event::Close`] with code 1006 ([`CloseCode::ABNORMAL`]) and
    /// [`State::Closed`].
    pub fn receive_eof(&mut self) {
        self.eof = true;
        if self.state == State::RemoteClosing {
            self.state = State::Closed;
        }
    }

    /// An iterator over [`next_event`](Connection::next_event).
    pub fn events(&mut self) -> Events<'_> {
        Events { conn: self }
    }

    /// The next event, `None` when more bytes are needed (or none will come).
    ///
    /// `Some(Err(_))` is returned once, for the peer's fault
    /// ([`Error::Protocol`], always that variant here: a rule broken, a limit
    /// passed, a timer fired); the close frame is already queued and the state is
    /// [`State::Closed`].
    pub fn next_event(&mut self) -> Option<Result<Event, Error>> {
        if let Some(e) = self.timed_out.take() {
            return Some(Err(Error::Protocol(e)));
        }
        self.next_event_inner()
            .map(|event| event.map_err(Error::Protocol))
    }

    #[inline]
    fn next_event_inner(&mut self) -> Option<Result<Event, ProtocolError>> {
        if self.recv_done {
            self.read.clear();
            return None;
        }
        loop {
            if self.frame.is_none() && self.msg.kind.is_none() {
                match self.whole_frame() {
                    Fast::Event(event) => return Some(Ok(event)),
                    Fast::Error(e) => return Some(Err(self.fail(e))),
                    Fast::Slow => {}
                }
            }
            let frame = match self.frame {
                Some(frame) => frame,
                None => match self.parse_header() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => return self.need_data(),
                    Err(e) => return Some(Err(self.fail(e))),
                },
            };
            let step = if frame.opcode.is_control() {
                self.on_control(frame)
            } else {
                self.on_data(frame)
            };
            match step {
                Step::Event(event) => return Some(Ok(event)),
                Step::Error(e) => return Some(Err(self.fail(e))),
                Step::Continue => {}
                Step::NeedData => return self.need_data(),
            }
        }
    }

    fn need_data(&mut self) -> Option<Result<Event, ProtocolError>> {
        if !self.eof {
            return None;
        }
        self.recv_done = true;
        self.state = State::Closed;
        self.read.clear();
        Some(Ok(Event::Close {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            initiated_by: if self.close_sent {
                Side::Local
            } else {
                Side::Remote
            },
        }))
    }

    /// Queues the close frame for `e` (unless one was sent) and closes.
    #[cold]
    fn fail(&mut self, e: ProtocolError) -> ProtocolError {
        if !self.close_sent && e.close_code().is_sendable() {
            let code = e.close_code().as_u16().to_be_bytes();
            self.write_frame(OpCode::Close, Rsv::NONE, true, &code);
            self.close_sent = true;
        }
        self.state = State::Closed;
        self.recv_done = true;
        self.frame = None;
        self.read.clear();
        self.end_message();
        self.msg.assembly = BytesMut::new();
        e
    }

    /// The data message being received ended (or never will): a delivery switch
    /// asked for during it takes over.
    #[inline]
    fn end_message(&mut self) {
        self.msg.end();
        if let Some(delivery) = self.next_delivery {
            self.config.delivery = delivery;
            self.next_delivery = None;
        }
    }

    /// The fast path for the common case: a whole, final, unfragmented data frame
    /// without RSV bits, masked as this role expects, already in the buffer, in
    /// assembled delivery. Anything else (including every error but invalid UTF-8)
    /// returns [`Fast::Slow`] with nothing consumed, and the general path below
    /// re-checks it from the start.
    #[inline]
    fn whole_frame(&mut self) -> Fast {
        if self.config.delivery != Delivery::Assembled {
            return Fast::Slow;
        }
        let Ok(HeaderStatus::Complete { header, header_len }) =
            FrameHeader::parse(&self.read, self.config.max_frame_size as u64)
        else {
            return Fast::Slow;
        };
        let masked_as_expected = header.mask.is_some() == (self.role == Role::Server);
        let len = header.payload_len as usize;
        if !header.fin
            || !header.opcode.is_data()
            || header.rsv1
            || header.rsv2
            || header.rsv3
            || !masked_as_expected
            || len > self.config.max_message_size
            || self.read.len() - header_len < len
        {
            return Fast::Slow;
        }
        // Split header and payload off together and skip the header on the frozen
        // `Bytes`, where advancing is two additions (on `BytesMut` it is not).
        let mut frame = self.read.split_to(header_len + len);
        let payload = &mut frame[header_len..];
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        let kind = if header.opcode == OpCode::Text {
            if let Err(e) = ferrosocket_utf8::validate(payload) {
                return Fast::Error(ProtocolError::InvalidUtf8(e));
            }
            Kind::Text
        } else {
            Kind::Binary
        };
        let mut data = frame.freeze();
        data.advance(header_len);
        Fast::Event(data_event(kind, data, true, true))
    }

    /// Parses and checks the next header; on success its bytes are consumed.
    #[inline]
    fn parse_header(&mut self) -> Result<Option<CurFrame>, ProtocolError> {
        let (header, header_len) =
            match FrameHeader::parse(&self.read, self.config.max_frame_size as u64) {
                Ok(HeaderStatus::Complete { header, header_len }) => (header, header_len),
                Ok(HeaderStatus::Partial { .. }) => return Ok(None),
                Err(e) => return Err(ProtocolError::Frame(e)),
            };
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) if !self.config.accept_unmasked_frames => {
                return Err(ProtocolError::UnmaskedFrame);
            }
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let rsv = Rsv::of(&header);
        // At most max_frame_size, a usize.
        let len = header.payload_len as usize;
        match header.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.msg.kind.is_some() {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                if !rsv.is_empty() {
                    let claimed = self.ext.as_ref().map_or(Rsv::NONE, |e| e.rsv());
                    if !rsv.without(claimed).is_empty() {
                        return Err(ProtocolError::ReservedBits(rsv));
                    }
                }
                self.msg.kind = Some(if header.opcode == OpCode::Text {
                    Kind::Text
                } else {
                    Kind::Binary
                });
                self.msg.rsv = rsv;
                self.msg.fragments = 1;
                // Stamped by the next handle_timeout.
                self.timers.message_started = None;
                self.check_message_budget(len)?;
            }
            OpCode::Continuation => {
                if self.msg.kind.is_none() {
                    return Err(ProtocolError::UnexpectedContinuation);
                }
                if !rsv.is_empty() {
                    return Err(ProtocolError::ReservedBits(rsv));
                }
                self.msg.fragments += 1;
                if let Some(max) = self.config.max_fragments_per_message
                    && self.msg.fragments > max
                {
                    return Err(ProtocolError::TooManyFragments { max });
                }
                self.check_message_budget(len)?;
            }
            _ => {
                if !rsv.is_empty() {
                    return Err(ProtocolError::ReservedBits(rsv));
                }
            }
        }
        self.read.advance(header_len);
        let frame = CurFrame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            len,
            pos: 0,
            done: 0,
        };
        self.frame = Some(frame);
        Ok(Some(frame))
    }

    #[inline]
    fn check_message_budget(&mut self, len: usize) -> Result<(), ProtocolError> {
        let max = self.config.max_message_size;
        if len > max - self.msg.wire_len {
            return Err(ProtocolError::MessageTooLarge { max });
        }
        self.msg.wire_len += len;
        Ok(())
    }

    fn on_control(&mut self, frame: CurFrame) -> Step {
        if self.read.len() < frame.len {
            return Step::NeedData;
        }
        self.frame = None;
        let mut payload = self.read.split_to(frame.len);
        if let Some(key) = frame.mask {
            apply_mask(&mut payload, key, 0);
        }
        match frame.opcode {
            OpCode::Ping => {
                if self.config.auto_pong && !self.close_sent {
                    self.write_frame(OpCode::Pong, Rsv::NONE, true, &payload);
                }
                Step::Event(Event::Ping(payload.freeze()))
            }
            OpCode::Pong => {
                if let Some((n, _)) = self.timers.outstanding
                    && payload[..] == ping_payload(n)
                {
                    // The answer to our keepalive ping: ours, not the application's.
                    self.timers.outstanding = None;
                    return Step::Continue;
                }
                Step::Event(Event::Pong(payload.freeze()))
            }
            _ => self.on_close(&payload),
        }
    }

    fn on_close(&mut self, payload: &[u8]) -> Step {
        let close = match CloseFrame::parse(payload) {
            Ok(close) => close,
            Err(e) => return Step::Error(ProtocolError::InvalidClose(e)),
        };
        let (code, reason) = match close {
            Some(close) => (close.code(), String::from(close.reason())),
            None => (CloseCode::NO_STATUS, String::new()),
        };
        // Nothing may follow a close frame: stop reading.
        self.recv_done = true;
        self.read.clear();
        self.end_message();
        self.msg.assembly = BytesMut::new();
        let initiated_by = if self.close_sent {
            self.state = State::Closed;
            Side::Local
        } else if self.config.auto_close_reply {
            // Echo the code; an empty close is answered with an empty close.
            let echo = code.as_u16().to_be_bytes();
            let echo: &[u8] = if close_had_code(payload) { &echo } else { &[] };
            self.write_frame(OpCode::Close, Rsv::NONE, true, echo);
            self.close_sent = true;
            self.state = State::Closed;
            Side::Remote
        } else {
            self.state = State::RemoteClosing;
            Side::Remote
        };
        Step::Event(Event::Close {
            code,
            reason,
            initiated_by,
        })
    }

    #[inline]
    fn on_data(&mut self, mut frame: CurFrame) -> Step {
        let want = frame.len - frame.pos;
        let avail = want.min(self.read.len());
        let kind = self.msg.kind.unwrap_or(Kind::Binary);
        let plain = self.msg.rsv.is_empty();
        if avail > frame.done {
            let fresh = &mut self.read[frame.done..avail];
            if let Some(key) = frame.mask {
                apply_mask(fresh, key, frame.pos + frame.done);
            }
            if kind == Kind::Text
                && plain
                && let Err(e) = self.msg.utf8.feed(fresh)
            {
                return Step::Error(ProtocolError::InvalidUtf8(e));
            }
            frame.done = avail;
        }
        let frame_finished = avail == want;
        match self.config.delivery {
            Delivery::Assembled => {
                if !frame_finished {
                    self.frame = Some(frame);
                    return Step::NeedData;
                }
                self.frame = None;
                let payload = self.read.split_to(avail);
                self.assembled_frame(kind, plain, frame.fin, payload)
            }
            Delivery::Streaming => {
                if !plain {
                    return self.inflated_piece(kind, frame, avail, frame_finished);
                }
                if avail == 0 && !frame_finished {
                    self.frame = Some(frame);
                    return Step::NeedData;
                }
                let chunk = self.read.split_to(avail).freeze();
                frame.pos += avail;
                frame.done = 0;
                self.frame = if frame_finished { None } else { Some(frame) };
                self.streamed_piece(kind, frame_finished, frame.fin, chunk, true)
            }
        }
    }

    #[inline]
    fn assembled_frame(&mut self, kind: Kind, plain: bool, fin: bool, payload: BytesMut) -> Step {
        if plain {
            if fin && self.msg.fragments == 1 {
                // A message in one frame: hand the payload over without a copy.
                if kind == Kind::Text
                    && let Err(e) = self.msg.utf8.finish()
                {
                    return Step::Error(ProtocolError::InvalidUtf8(e));
                }
                self.end_message();
                return Step::Event(data_event(kind, payload.freeze(), true, true));
            }
            self.msg.assembly.extend_from_slice(&payload);
        } else {
            let before = self.msg.assembly.len();
            let mut out = core::mem::take(&mut self.msg.assembly);
            let result = self.decode(&payload, fin, &mut out);
            self.msg.assembly = out;
            if let Err(e) = result {
                return Step::Error(e);
            }
            if kind == Kind::Text
                && let Err(e) = self.msg.utf8.feed(&self.msg.assembly[before..])
            {
                return Step::Error(ProtocolError::InvalidUtf8(e));
            }
        }
        if !fin {
            return Step::Continue;
        }
        if kind == Kind::Text
            && let Err(e) = self.msg.utf8.finish()
        {
            return Step::Error(ProtocolError::InvalidUtf8(e));
        }
        let data = self.msg.assembly.split().freeze();
        self.end_message();
        Step::Event(data_event(kind, data, true, true))
    }

    /// Streaming through the extension. The pieces of what was decoded already go
    /// first (at most [`DECODED_PIECE_MAX`] bytes each); when none is left, the
    /// first `avail` payload bytes of the read buffer (unmasked already) are
    /// decoded, but only while the output stays within [`DECODE_BUDGET`]: the rest
    /// stays buffered, unmasked, for a later call.
    fn inflated_piece(
        &mut self,
        kind: Kind,
        mut frame: CurFrame,
        avail: usize,
        frame_finished: bool,
    ) -> Step {
        if self.msg.inflated.is_empty() {
            if avail == 0 && !frame_finished {
                self.frame = Some(frame);
                return Step::NeedData;
            }
            let max = self.config.max_message_size;
            let mut out = core::mem::take(&mut self.scratch);
            let mut used = 0;
            let result = loop {
                // `out` is under half the budget here, so the slice is not empty
                // unless the input is (an empty frame: decoded once, for its end).
                let room = DECODE_BUDGET - out.len();
                let end = used + (avail - used).min(room / MAX_EXPANSION);
                let message_finished = end == avail && frame_finished && frame.fin;
                let result = decode(
                    self.ext.as_mut(),
                    &mut self.msg,
                    max,
                    &self.read[used..end],
                    message_finished,
                    &mut out,
                );
                used = end;
                if result.is_err() || used == avail || out.len() >= DECODE_BUDGET / 2 {
                    break result;
                }
            };
            let decoded = out.split().freeze();
            self.scratch = out;
            if let Err(e) = result {
                return Step::Error(e);
            }
            // The input decoded is not needed any more; what is left of it is unmasked.
            self.read.advance(used);
            frame.pos += used;
            frame.done = avail - used;
            if kind == Kind::Text
                && let Err(e) = self.msg.utf8.feed(&decoded)
            {
                return Step::Error(ProtocolError::InvalidUtf8(e));
            }
            self.msg.inflated = decoded;
        }
        let mut data = core::mem::take(&mut self.msg.inflated);
        if data.len() > DECODED_PIECE_MAX {
            let mut at = DECODED_PIECE_MAX;
            if kind == Kind::Text {
                // Not the end of what was fed to the validator: cut before a code
                // point's first byte (what was decoded is valid UTF-8 up to its end).
                while data[at] & 0xc0 == 0x80 {
                    at -= 1;
                }
            }
            self.msg.inflated = data.split_off(at);
        }
        let ends_decoded = self.msg.inflated.is_empty();
        let frame_finished = ends_decoded && frame.pos == frame.len;
        self.frame = if frame_finished { None } else { Some(frame) };
        self.streamed_piece(kind, frame_finished, frame.fin, data, ends_decoded)
    }

    /// Hands a piece of payload over (decoded and, for text, checked already).
    /// `ends_fed`: the piece ends with the last byte given to the UTF-8 validator,
    /// whose unfinished code point (if any) it holds back for the next piece.
    fn streamed_piece(
        &mut self,
        kind: Kind,
        frame_finished: bool,
        fin: bool,
        mut data: Bytes,
        ends_fed: bool,
    ) -> Step {
        let message_finished = frame_finished && fin;
        if kind == Kind::Text {
            if message_finished && let Err(e) = self.msg.utf8.finish() {
                return Step::Error(ProtocolError::InvalidUtf8(e));
            }
            // Every piece ends on a code point boundary: hold back the start of an
            // unfinished code point, and prepend what was held back before.
            if self.msg.carry_len != 0 {
                let carried = usize::from(self.msg.carry_len);
                let mut joined = BytesMut::with_capacity(carried + data.len());
                joined.extend_from_slice(&self.msg.carry[..carried]);
                joined.extend_from_slice(&data);
                data = joined.freeze();
                self.msg.carry_len = 0;
            }
            let pending = self.msg.utf8.pending_len();
            if ends_fed && pending != 0 {
                let tail = data.split_off(data.len() - pending);
                self.msg.carry[..pending].copy_from_slice(&tail);
                self.msg.carry_len = pending as u8;
            }
        }
        if data.is_empty() && !frame_finished {
            return Step::Continue;
        }
        if message_finished {
            self.end_message();
        }
        Step::Event(data_event(kind, data, frame_finished, message_finished))
    }

    /// Runs the extension's decoder within what is left of the message budget.
    fn decode(
        &mut self,
        input: &[u8],
        message_finished: bool,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        let max = self.config.max_message_size;
        decode(
            self.ext.as_mut(),
            &mut self.msg,
            max,
            input,
            message_finished,
            out,
        )
    }

    // --------------------------------------------------------------- output

    /// The next bytes to write to the transport: all that is queued, or its first
    /// piece while a large payload waits as a segment of its own
    /// ([`output_chunks`](Connection::output_chunks) has every piece,
    /// [`output_len`](Connection::output_len) counts them). Empty: nothing to write.
    #[must_use]
    pub fn output(&self) -> &[u8] {
        match self.segments.front() {
            Some(segment) => segment,
            None => &self.out,
        }
    }

    /// Every piece of the output, in order, for a vectored write: the first is
    /// [`output`](Connection::output); none is empty.
    pub fn output_chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let tail = (!self.out.is_empty()).then_some(&self.out[..]);
        self.segments.iter().map(|b| &b[..]).chain(tail)
    }

    /// Whether the output is in more than one piece (a vectored write pays off).
    #[must_use]
    pub fn output_is_segmented(&self) -> bool {
        !self.segments.is_empty()
    }

    /// Bytes waiting to be written, in all.
    #[must_use]
    pub fn output_len(&self) -> usize {
        self.segments_len + self.out.len()
    }

    /// Marks the first `n` bytes of the output as written (at most all of them),
    /// across pieces.
    pub fn consume(&mut self, mut n: usize) {
        while let Some(front) = self.segments.front_mut() {
            if n == 0 {
                return;
            }
            let take = n.min(front.len());
            front.advance(take);
            self.segments_len -= take;
            n -= take;
            if front.is_empty() {
                self.segments.pop_front();
            }
        }
        let n = n.min(self.out.len());
        self.out.advance(n);
    }

    /// Takes all the bytes waiting to be written, in one buffer (copied together if
    /// the output is in pieces, see [`output_chunks`](Connection::output_chunks)).
    pub fn take_output(&mut self) -> Bytes {
        if self.segments.is_empty() {
            return self.out.split().freeze();
        }
        let mut all = BytesMut::with_capacity(self.output_len());
        for segment in self.segments.drain(..) {
            all.extend_from_slice(&segment);
        }
        self.segments_len = 0;
        all.extend_from_slice(&self.out);
        self.out.clear();
        all.freeze()
    }

    /// Whether bytes wait to be written.
    #[must_use]
    pub fn has_output(&self) -> bool {
        self.output_len() != 0
    }

    /// Bytes the output buffer holds allocated (written or not; segments are the
    /// payloads' own memory and not counted).
    #[must_use]
    pub fn output_capacity(&self) -> usize {
        self.out.capacity()
    }

    pub(crate) fn output_buf(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Frees the output buffer's allocation when nothing waits to be written (for a
    /// driver whose connection went idle); does nothing otherwise.
    pub fn release_output(&mut self) {
        if !self.has_output() {
            self.out = BytesMut::new();
        }
    }

    // ---------------------------------------------------------------- time

    /// Input: the time is now `now` (see [`Instant`] and [`Timer`]). Call it when
    /// the deadline of [`poll_timeout`](Connection::poll_timeout) passes; calling it
    /// more often (after each read, say) is harmless and stamps activity more
    /// precisely. The timers start at the first call; without calls none runs.
    ///
    /// A timer that fires fails the connection: its close frame
    /// ([`Timer::close_code`]) is queued, the state is [`State::Closed`] and the next
    /// [`next_event`](Connection::next_event) returns
    /// [`ProtocolError::Timeout`]. A keepalive ping that falls due is queued in the
    /// output: flush it.
    pub fn handle_timeout(&mut self, now: Instant) {
        let first = self.timers.now.is_none();
        self.timers.now = Some(now);
        if self.recv_done || self.state == State::Closed {
            return;
        }
        let t = &mut self.timers;
        if first || t.received {
            t.last_received = now;
            t.received = false;
        }
        if first && let Some(keepalive) = self.config.keepalive {
            t.next_ping = now + keepalive.interval;
        }
        if self.msg.kind.is_some() {
            t.message_started.get_or_insert(now);
        } else {
            t.message_started = None;
        }
        if self.state == State::LocalClosing {
            t.close_sent.get_or_insert(now);
        }
        if let Some(timer) = self.due(now) {
            let e = self.fail(ProtocolError::Timeout(timer));
            self.timed_out = Some(e);
            return;
        }
        if let Some(keepalive) = self.config.keepalive
            && self.timers.outstanding.is_none()
            && !self.close_sent
            && now >= self.timers.next_ping
        {
            let n = self.timers.pings;
            self.timers.pings = n.wrapping_add(1);
            self.write_frame(OpCode::Ping, Rsv::NONE, true, &ping_payload(n));
            self.timers.outstanding = Some((n, now));
            self.timers.next_ping = now + keepalive.interval;
        }
    }

    /// Whether all activity since the last [`handle_timeout`](Connection::handle_timeout)
    /// that a running timer counts from (bytes received, with an idle timeout; a
    /// message begun, with a message timeout; a close sent) has been stamped
    /// already. While it has, [`poll_timeout`](Connection::poll_timeout) can only
    /// be later than it was after that call (a pong ends a keepalive wait, a
    /// message's end its timer), never earlier: a driver whose sleep is set for
    /// that deadline may skip `handle_timeout` until the sleep fires. This is what
    /// keeps a connection that waits after every message from doing the timer
    /// work each time.
    #[must_use]
    pub fn timers_settled(&self) -> bool {
        let t = &self.timers;
        t.now.is_some()
            && !(t.received && self.config.idle_timeout.is_some())
            && !(self.msg.kind.is_some()
                && t.message_started.is_none()
                && self.config.message_timeout.is_some())
            && !(self.state == State::LocalClosing && t.close_sent.is_none())
    }

    /// Output: when [`handle_timeout`](Connection::handle_timeout) is next due, or
    /// `None` when no timer runs (none configured, the connection is closed, or no
    /// time was given yet). Activity not stamped yet (bytes received, a message
    /// begun, a close sent since the last `handle_timeout`) makes it the last time
    /// given, so the driver calls `handle_timeout` at once.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = &self.timers;
        let now = t.now?;
        if self.recv_done || self.state == State::Closed {
            return None;
        }
        let unstamped = t.received
            || (self.msg.kind.is_some() && t.message_started.is_none())
            || (self.state == State::LocalClosing && t.close_sent.is_none());
        if unstamped {
            return Some(now);
        }
        let mut deadline = None;
        for timer in [Timer::Close, Timer::Message, Timer::Keepalive, Timer::Idle] {
            deadline = earliest(deadline, self.deadline(timer));
        }
        if self.config.keepalive.is_some() && t.outstanding.is_none() && !self.close_sent {
            deadline = earliest(deadline, Some(t.next_ping));
        }
        deadline
    }

    /// When `timer` fails the connection, if it runs.
    fn deadline(&self, timer: Timer) -> Option<Instant> {
        let t = &self.timers;
        match timer {
            Timer::Close => Some(t.close_sent? + self.config.close_timeout?),
            Timer::Message => Some(t.message_started? + self.config.message_timeout?),
            Timer::Keepalive => Some(t.outstanding?.1 + self.config.keepalive?.timeout),
            Timer::Idle => Some(t.last_received + self.config.idle_timeout?),
            Timer::Handshake => None,
        }
    }

    /// The first timer whose deadline is `now` or earlier.
    fn due(&self, now: Instant) -> Option<Timer> {
        [Timer::Close, Timer::Message, Timer::Keepalive, Timer::Idle]
            .into_iter()
            .find(|&timer| self.deadline(timer).is_some_and(|d| d <= now))
    }

    // ---------------------------------------------------------------- sends

    fn check_can_send(&self) -> Result<(), LocalError> {
        if self.close_sent || self.state == State::Closed {
            return Err(LocalError::Closed);
        }
        Ok(())
    }

    /// Sends a whole text message in one frame.
    ///
    /// # Errors
    ///
    /// [`LocalError::Closed`] after a close frame was sent,
    /// [`LocalError::MessageInProgress`] while a fragmented message is being sent.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_message(Kind::Text, text.as_bytes())
    }

    /// Sends a whole binary message in one frame.
    ///
    /// # Errors
    ///
    /// As [`send_text`](Connection::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_message(Kind::Binary, data)
    }

    /// Sends a whole binary message in one frame, from a buffer the caller gives
    /// away: a server without an extension queues a payload of 8 KiB or more as an
    /// output piece of its own, not copied (see [`output_chunks`](Connection::output_chunks));
    /// otherwise (smaller, a client, which masks, or an extension, which transforms)
    /// as [`send_binary`](Connection::send_binary).
    ///
    /// # Errors
    ///
    /// As [`send_binary`](Connection::send_binary).
    pub fn send_binary_bytes(&mut self, data: Bytes) -> Result<(), Error> {
        self.send_message_bytes(Kind::Binary, data)
    }

    /// Sends a whole text message in one frame, from text checked already
    /// ([`Utf8Bytes`]): as [`send_binary_bytes`](Connection::send_binary_bytes),
    /// not copied where that one is not.
    ///
    /// # Errors
    ///
    /// As [`send_text`](Connection::send_text).
    pub fn send_text_bytes(&mut self, text: Utf8Bytes) -> Result<(), Error> {
        self.send_message_bytes(Kind::Text, text.into_bytes())
    }

    fn send_message_bytes(&mut self, kind: Kind, data: Bytes) -> Result<(), Error> {
        if data.len() < ZERO_COPY_MIN || self.role != Role::Server || self.ext.is_some() {
            return self.send_message(kind, &data);
        }
        self.check_can_send()?;
        if self.send_kind.is_some() {
            return Err(LocalError::MessageInProgress.into());
        }
        let header = FrameHeader::new(kind.opcode(), data.len() as u64);
        self.out.extend_from_slice(&header.encode());
        // What was queued before, ending with the header, then the payload as it is.
        let head = self.out.split().freeze();
        for segment in [head, data] {
            if !segment.is_empty() {
                self.segments_len += segment.len();
                self.segments.push_back(segment);
            }
        }
        Ok(())
    }

    fn send_message(&mut self, kind: Kind, data: &[u8]) -> Result<(), Error> {
        self.check_can_send()?;
        if self.send_kind.is_some() {
            return Err(LocalError::MessageInProgress.into());
        }
        self.write_data(kind, kind.opcode(), data, true)
    }

    /// Sends one frame of a fragmented message (a generator-style writer): `opcode`
    /// [`OpCode::Text`] or [`OpCode::Binary`] starts a message, then
    /// [`OpCode::Continuation`] frames follow; the frame with `fin` ends it. Control
    /// frames ([`ping`](Connection::ping), ...) may be sent in between; other data
    /// messages may not.
    ///
    /// Text fragments may split a code point; the message must be valid UTF-8 as a
    /// whole, which is checked as it goes.
    ///
    /// # Errors
    ///
    /// [`LocalError::MessageInProgress`] (starting while a message is in progress),
    /// [`LocalError::NoMessageInProgress`] (continuation without a start),
    /// [`LocalError::ControlOpCode`], [`LocalError::InvalidUtf8`],
    /// [`LocalError::Closed`]. Nothing is sent on error and the state is unchanged.
    pub fn send_frame(&mut self, opcode: OpCode, data: &[u8], fin: bool) -> Result<(), Error> {
        self.check_can_send()?;
        let kind = match opcode {
            OpCode::Text | OpCode::Binary if self.send_kind.is_some() => {
                return Err(LocalError::MessageInProgress.into());
            }
            OpCode::Text => Kind::Text,
            OpCode::Binary => Kind::Binary,
            OpCode::Continuation => self
                .send_kind
                .ok_or(Error::Local(LocalError::NoMessageInProgress))?,
            _ => return Err(LocalError::ControlOpCode.into()),
        };
        let first = opcode != OpCode::Continuation;
        if kind == Kind::Text {
            let saved = self.send_utf8.clone();
            if first {
                self.send_utf8.reset();
            }
            let checked = self
                .send_utf8
                .feed(data)
                .and_then(|()| if fin { self.send_utf8.finish() } else { Ok(()) });
            if let Err(e) = checked {
                self.send_utf8 = saved;
                return Err(LocalError::InvalidUtf8(e).into());
            }
        }
        self.write_data(kind, opcode, data, fin)?;
        self.send_kind = if fin { None } else { Some(kind) };
        Ok(())
    }

    fn write_data(
        &mut self,
        kind: Kind,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        let Some(ext) = self.ext.as_mut() else {
            self.write_frame(opcode, Rsv::NONE, fin, data);
            return Ok(());
        };
        let mut scratch = core::mem::take(&mut self.scratch);
        scratch.clear();
        let rsv = ext
            .encode(kind.opcode(), data, fin, &mut scratch)
            .map_err(LocalError::Extension);
        if let Ok(rsv) = rsv {
            let rsv = if opcode == OpCode::Continuation {
                Rsv::NONE
            } else {
                rsv
            };
            self.write_frame(opcode, rsv, fin, &scratch);
        }
        scratch.clear();
        self.scratch = scratch;
        rsv.map(|_| ()).map_err(Error::Local)
    }

    /// Sends a ping (payload at most 125 bytes).
    ///
    /// # Errors
    ///
    /// [`LocalError::ControlPayloadTooLong`], [`LocalError::Closed`].
    pub fn ping(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Ping, data)
    }

    /// Sends a pong (payload at most 125 bytes), e.g. an unsolicited heartbeat.
    ///
    /// # Errors
    ///
    /// As [`ping`](Connection::ping).
    pub fn pong(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Pong, data)
    }

    fn send_control(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), Error> {
        self.check_can_send()?;
        if data.len() > MAX_CONTROL_PAYLOAD_LEN {
            return Err(LocalError::ControlPayloadTooLong(data.len()).into());
        }
        self.write_frame(opcode, Rsv::NONE, true, data);
        Ok(())
    }

    /// Starts the close handshake (state [`State::LocalClosing`] until the peer's
    /// close arrives), or answers the peer's close in [`State::RemoteClosing`]
    /// (then [`State::Closed`]). A fragmented message being sent is abandoned.
    ///
    /// # Errors
    ///
    /// [`LocalError::InvalidClose`] for a code that may not be sent
    /// ([`CloseCode::is_sendable`]) or a reason over 123 bytes;
    /// [`LocalError::Closed`] if a close was sent already.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.check_can_send()?;
        if !code.is_sendable() {
            return Err(
                LocalError::InvalidClose(FrameError::UnsendableCloseCode(code.as_u16())).into(),
            );
        }
        if reason.len() > MAX_CLOSE_REASON_LEN {
            return Err(
                LocalError::InvalidClose(FrameError::CloseReasonTooLong(reason.len())).into(),
            );
        }
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD_LEN];
        payload[..2].copy_from_slice(&code.as_u16().to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.write_frame(OpCode::Close, Rsv::NONE, true, &payload[..2 + reason.len()]);
        self.close_sent = true;
        self.send_kind = None;
        self.state = match self.state {
            State::RemoteClosing => State::Closed,
            _ => State::LocalClosing,
        };
        Ok(())
    }

    fn write_frame(&mut self, opcode: OpCode, rsv: Rsv, fin: bool, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => {
                let mut key = [0u8; 4];
                self.rng.fill(&mut key);
                Some(key)
            }
            Role::Server => None,
        };
        let header = rsv.apply(FrameHeader {
            fin,
            mask,
            ..FrameHeader::new(opcode, payload.len() as u64)
        });
        encode_frame(header, payload, &mut self.out);
    }
}

/// Runs `ext`'s decoder on the next piece of `msg` within what is left of the
/// message budget (`max` bytes decoded in all).
fn decode(
    ext: Option<&mut Box<dyn Extension + Send + Sync>>,
    msg: &mut RecvMessage,
    max: usize,
    input: &[u8],
    message_finished: bool,
    out: &mut BytesMut,
) -> Result<(), ProtocolError> {
    let budget = max - msg.decoded_len;
    let before = out.len();
    let Some(ext) = ext else {
        // Unreachable: RSV bits are only accepted when an extension claims them.
        return Err(ProtocolError::ReservedBits(msg.rsv));
    };
    ext.decode(msg.rsv, input, message_finished, out, budget)
        .map_err(ProtocolError::Extension)?;
    let produced = out.len() - before;
    if produced > budget {
        return Err(ProtocolError::MessageTooLarge { max });
    }
    msg.decoded_len += produced;
    Ok(())
}

fn close_had_code(payload: &[u8]) -> bool {
    payload.len() >= 2
}

#[inline]
fn data_event(kind: Kind, data: Bytes, frame_finished: bool, message_finished: bool) -> Event {
    match kind {
        Kind::Text => Event::Text {
            data: Utf8Bytes::from_validated(data),
            frame_finished,
            message_finished,
        },
        Kind::Binary => Event::Binary {
            data,
            frame_finished,
            message_finished,
        },
    }
}

#[cfg(test)]
mod tests;
