//! The per-connection codec: one compressor for what we send, one decompressor for
//! what we receive (RFC 7692 section 7.2).

use core::fmt;

use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::config::{DeflateConfig, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
use crate::negotiate::{Agreed, Role};
use crate::pool;

/// What a sync flush ends with, stripped from every compressed message by the
/// sender and appended again by the receiver (RFC 7692 7.2.1 and 7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output space offered to zlib per call: never below 64 bytes (a sync flush wants
/// more than 6, or it may repeat its marker) and never above 256 KiB, so that an
/// output budget is checked at least that often.
const MIN_STEP: usize = 64;
const FIRST_STEP_MAX: usize = 64 * 1024;
const MAX_STEP: usize = 256 * 1024;

/// Compressing or decompressing failed. The connection should be failed with
/// [`close_code`](Self::close_code): the zlib context of the direction that failed
/// is lost. A failed decompressor returns the same error to every later call; after
/// a failed compressor every later message is sent uncompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeflateError {
    /// The inflated message would exceed the `max_len` given to
    /// [`PerMessageDeflate::decompress`]: close with 1009 (message too big).
    TooBig,
    /// The peer's compressed data is not valid deflate (or goes on after a final
    /// block, or refers to history that does not exist): close with 1007
    /// (invalid frame payload data), the code RFC 6455 gives for a payload that is
    /// inconsistent with its message.
    Corrupt,
    /// Our own compressor failed, which zlib does only on misuse: close with 1011
    /// (internal error).
    Compress,
}

impl DeflateError {
    /// The WebSocket close code to fail the connection with: 1009, 1007 or 1011.
    #[must_use]
    pub const fn close_code(&self) -> u16 {
        match self {
            Self::TooBig => 1009,
            Self::Corrupt => 1007,
            Self::Compress => 1011,
        }
    }
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooBig => "decompressed message too big",
            Self::Corrupt => "invalid permessage-deflate data",
            Self::Compress => "permessage-deflate compressor failed",
        })
    }
}

impl std::error::Error for DeflateError {}

/// A buffer the codec appends to: `Vec<u8>` or `bytes::BytesMut`.
///
/// Into a `Vec<u8>` zlib writes straight into the spare capacity; a `BytesMut` has its
/// new space zeroed first (the crate has no `unsafe`), which costs a `memset` of each
/// step's output.
pub trait OutBuf: sink::Sink {}

impl OutBuf for Vec<u8> {}
impl OutBuf for BytesMut {}

// The sealed-trait pattern: `Sink` and `Step` are `pub` so that they may appear in
// a public trait's bounds, in a private module so that nobody outside can name them.
#[allow(unreachable_pub)]
mod sink {
    use bytes::BytesMut;
    use flate2::{
        Compress, CompressError, Decompress, DecompressError, FlushCompress, FlushDecompress,
        Status,
    };

    /// What one zlib call did: its result, the output space it was offered and how
    /// much of it it filled (counted even when it failed).
    #[derive(Debug)]
    pub struct Step<E> {
        pub result: Result<Status, E>,
        pub space: usize,
        pub written: usize,
    }

    /// The operations the codec needs from an output buffer (sealed: the trait is
    /// public, its module is not).
    pub trait Sink {
        /// The current length.
        fn sink_len(&self) -> usize;
        /// Shortens to `len`.
        fn sink_truncate(&mut self, len: usize);
        /// Appends bytes.
        fn sink_extend(&mut self, data: &[u8]);
        /// Whether the buffer ends with `tail`.
        fn sink_ends_with(&self, tail: &[u8]) -> bool;
        /// One deflate call into at least `want` bytes of fresh space.
        fn deflate_step(
            &mut self,
            c: &mut Compress,
            input: &[u8],
            want: usize,
            flush: FlushCompress,
        ) -> Step<CompressError>;
        /// One inflate call into at least `want` bytes of fresh space; a `Vec` grows
        /// geometrically but never by more than `limit`.
        fn inflate_step(
            &mut self,
            d: &mut Decompress,
            input: &[u8],
            want: usize,
            limit: usize,
            flush: FlushDecompress,
        ) -> Step<DecompressError>;
    }

    /// Makes room for `want` bytes, growing by the current length (amortised
    /// doubling) when that is more, but by no more than `limit`.
    fn make_room(v: &mut Vec<u8>, want: usize, limit: usize) {
        if v.capacity() - v.len() < want {
            v.reserve_exact(want.max(v.len().min(limit)));
        }
    }

    impl Sink for Vec<u8> {
        fn sink_len(&self) -> usize {
            self.len()
        }
        fn sink_truncate(&mut self, len: usize) {
            self.truncate(len);
        }
        fn sink_extend(&mut self, data: &[u8]) {
            self.extend_from_slice(data);
        }
        fn sink_ends_with(&self, tail: &[u8]) -> bool {
            self.ends_with(tail)
        }
        fn deflate_step(
            &mut self,
            c: &mut Compress,
            input: &[u8],
            want: usize,
            flush: FlushCompress,
        ) -> Step<CompressError> {
            make_room(self, want, usize::MAX);
            let len = self.len();
            let space = self.capacity() - len;
            let result = c.compress_vec(input, self, flush);
            Step {
                result,
                space,
                written: self.len() - len,
            }
        }
        fn inflate_step(
            &mut self,
            d: &mut Decompress,
            input: &[u8],
            want: usize,
            limit: usize,
            flush: FlushDecompress,
        ) -> Step<DecompressError> {
            make_room(self, want, limit);
            let len = self.len();
            let space = self.capacity() - len;
            let result = d.decompress_vec(input, self, flush);
            Step {
                result,
                space,
                written: self.len() - len,
            }
        }
    }

    impl Sink for BytesMut {
        fn sink_len(&self) -> usize {
            self.len()
        }
        fn sink_truncate(&mut self, len: usize) {
            self.truncate(len);
        }
        fn sink_extend(&mut self, data: &[u8]) {
            self.extend_from_slice(data);
        }
        fn sink_ends_with(&self, tail: &[u8]) -> bool {
            self.ends_with(tail)
        }
        fn deflate_step(
            &mut self,
            c: &mut Compress,
            input: &[u8],
            want: usize,
            flush: FlushCompress,
        ) -> Step<CompressError> {
            let len = self.len();
            self.resize(len + want, 0);
            let before = c.total_out();
            let result = c.compress(input, &mut self[len..], flush);
            let written = (c.total_out() - before) as usize;
            self.truncate(len + written);
            Step {
                result,
                space: want,
                written,
            }
        }
        fn inflate_step(
            &mut self,
            d: &mut Decompress,
            input: &[u8],
            want: usize,
            _limit: usize,
            flush: FlushDecompress,
        ) -> Step<DecompressError> {
            let len = self.len();
            self.resize(len + want, 0);
            let before = d.total_out();
            let result = d.decompress(input, &mut self[len..], flush);
            let written = (d.total_out() - before) as usize;
            self.truncate(len + written);
            Step {
                result,
                space: want,
                written,
            }
        }
    }
}

use sink::Sink;

/// Where the message being sent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outgoing {
    /// Between messages.
    Idle,
    /// Sent as is (RSV1 clear).
    Plain,
    /// Compressed (RSV1 set); whether any input was given yet.
    Compressed { input: bool },
}

/// permessage-deflate state of one connection, for one role: compresses what we send
/// and decompresses what we receive, message by message and piece by piece.
///
/// Both zlib contexts are created lazily, on the first message that needs them, so an
/// idle connection (or one that only ever sends small messages) costs little. With
/// context takeover a context lives as long as the connection; without it, it is
/// reset after every message (or freed, with
/// [`DeflateConfig::release_idle_contexts`]).
///
/// * Our compressor's window is the agreed maximum for our direction
///   (`client_max_window_bits` for a client, `server_max_window_bits` for a server);
///   it resets per message when the agreement says so for our direction. An agreed
///   window of 8 cannot be produced by zlib, so then every message goes out
///   uncompressed.
/// * Our decompressor always uses a 15-bit window, whatever was agreed for the
///   peer. A decompressor may always use a window at least as large as the
///   compressor's, so this reads every stream the peer may legally send (including
///   the 8-bit case, and the 9 bits zlib silently uses when asked for 8). A smaller
///   one would gain nothing: zlib-rs allocates a 32 KiB inflate window whatever the
///   bits, checks distances only against the history it keeps between calls (so it
///   could not reliably catch a peer exceeding its window anyway), and flate2
///   resets a 15-bit decompressor in place but re-creates any other. The agreed
///   peer window saves the peer's memory, not ours.
///
/// Note that `server_no_context_takeover` governs the server's compressor and the
/// client's decompressor, and `client_no_context_takeover` the other pair.
pub struct PerMessageDeflate {
    agreed: Agreed,
    role: Role,
    level: Compression,
    threshold: usize,
    release_idle: bool,

    out_window: Option<u8>,
    out_resets: bool,
    compressor: Option<Compress>,
    outgoing: Outgoing,
    out_failed: bool,

    in_resets: bool,
    decompressor: Option<Decompress>,
    /// The current incoming message has had compressed bytes.
    in_seen: bool,
    /// The peer's stream ended (a block with BFINAL set) in the current message.
    in_ended: bool,
    in_failed: Option<DeflateError>,
    /// Compressed and inflated bytes of the current incoming message.
    in_counts: (usize, usize),
    /// How many times its input the previous message inflated to (1 to 16): the
    /// first output step is sized by it, since a `BytesMut` pays for every byte
    /// offered by zeroing it.
    in_expand: usize,
}

impl fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("role", &self.role)
            .field("agreed", &self.agreed)
            .field("level", &self.level.level())
            .field("threshold", &self.threshold)
            .field("compressor_window_bits", &self.out_window)
            .field("compressor_resets", &self.out_resets)
            .field("compressor_allocated", &self.compressor.is_some())
            .field("outgoing", &self.outgoing)
            .field("decompressor_resets", &self.in_resets)
            .field("decompressor_allocated", &self.decompressor.is_some())
            .field("in_message", &self.in_seen)
            .finish_non_exhaustive()
    }
}

impl PerMessageDeflate {
    /// The codec for the end playing `role` under `agreed`, compressing with
    /// `config`'s level and threshold (its negotiation preferences play no part any
    /// more).
    #[must_use]
    pub fn new(agreed: Agreed, role: Role, config: &DeflateConfig) -> Self {
        let (ours, out_resets, in_resets) = match role {
            Role::Client => (
                agreed.client_max_window_bits,
                agreed.client_no_context_takeover,
                agreed.server_no_context_takeover,
            ),
            Role::Server => (
                agreed.server_max_window_bits,
                agreed.server_no_context_takeover,
                agreed.client_no_context_takeover,
            ),
        };
        Self {
            agreed,
            role,
            level: Compression::new(config.level),
            threshold: config.threshold,
            release_idle: config.release_idle,
            out_window: (ours >= MIN_WINDOW_BITS).then_some(ours.min(MAX_WINDOW_BITS)),
            out_resets,
            compressor: None,
            outgoing: Outgoing::Idle,
            out_failed: false,
            in_resets,
            decompressor: None,
            in_seen: false,
            in_ended: false,
            in_failed: None,
            in_counts: (0, 0),
            in_expand: 4,
        }
    }

    /// The parameters this codec was built from.
    #[must_use]
    pub const fn agreed(&self) -> &Agreed {
        &self.agreed
    }

    /// The role this codec plays.
    #[must_use]
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The window our compressor uses, or `None` when the agreed window is 8 and
    /// every message is therefore sent uncompressed.
    #[must_use]
    pub const fn compressor_window_bits(&self) -> Option<u8> {
        self.out_window
    }

    /// Whether our compressor forgets its context after every message (no context
    /// takeover for our direction).
    #[must_use]
    pub const fn compressor_resets(&self) -> bool {
        self.out_resets
    }

    /// Whether our decompressor forgets its context after every message (no context
    /// takeover for the peer's direction).
    #[must_use]
    pub const fn decompressor_resets(&self) -> bool {
        self.in_resets
    }

    /// Whether the compressor currently holds zlib state (memory).
    #[must_use]
    pub const fn compressor_allocated(&self) -> bool {
        self.compressor.is_some()
    }

    /// Whether the decompressor currently holds zlib state (memory).
    #[must_use]
    pub const fn decompressor_allocated(&self) -> bool {
        self.decompressor.is_some()
    }

    /// Frees the zlib state that nothing needs to keep: with
    /// [`DeflateConfig::release_idle_contexts`], the context of each direction
    /// that has no context takeover, if no message is in progress in it. Returns
    /// whether anything was freed. Call it when the connection goes idle (the
    /// adapters do, when they wait for the peer): the next message allocates
    /// again. Without the setting, or with context takeover, it does nothing.
    pub fn release_idle_contexts(&mut self) -> bool {
        if !self.release_idle {
            return false;
        }
        let mut freed = false;
        if self.out_resets
            && matches!(self.outgoing, Outgoing::Idle)
            && !self.out_failed
            && let Some(c) = self.compressor.take()
        {
            pool::put_compressor(self.level.level(), self.out_window.unwrap_or(15), c);
            freed = true;
        }
        if self.in_resets
            && !self.in_seen
            && self.in_failed.is_none()
            && let Some(d) = self.decompressor.take()
        {
            pool::put_decompressor(d);
            freed = true;
        }
        freed
    }

    /// Whether the message being sent is compressed: `None` between messages.
    #[must_use]
    pub const fn message_compressed(&self) -> Option<bool> {
        match self.outgoing {
            Outgoing::Idle => None,
            Outgoing::Plain => Some(false),
            Outgoing::Compressed { .. } => Some(true),
        }
    }

    /// Starts sending a message and decides whether it is compressed: the answer is
    /// the message's RSV1 bit. `len_hint` is the message's length if known; a message
    /// known to be shorter than the threshold is not compressed, nor is any message
    /// when our agreed window is 8. With `None` (a message of unknown length, sent in
    /// pieces) it is compressed.
    ///
    /// Called again before the message is finished, it changes nothing and returns
    /// the decision already made.
    pub fn begin_message(&mut self, len_hint: Option<usize>) -> bool {
        match self.outgoing {
            Outgoing::Plain => false,
            Outgoing::Compressed { .. } => true,
            Outgoing::Idle => {
                let compress = self.out_window.is_some()
                    && !self.out_failed
                    && len_hint.is_none_or(|len| len >= self.threshold);
                self.outgoing = if compress {
                    Outgoing::Compressed { input: false }
                } else {
                    Outgoing::Plain
                };
                compress
            }
        }
    }

    /// Appends the wire form of the next piece of the message being sent to `out`:
    /// the input itself if the message is not compressed, else whatever the
    /// compressor has ready (possibly nothing until the message is finished). A
    /// message not begun is begun with an unknown length
    /// ([`begin_message(None)`](Self::begin_message)).
    ///
    /// With `message_finished` the compressor is sync-flushed and the trailing
    /// `00 00 ff ff` is removed (RFC 7692 7.2.1); an empty compressed message is the
    /// single byte `00`. Then the context is reset if our direction has no context
    /// takeover.
    ///
    /// # Errors
    ///
    /// [`DeflateError::Compress`] if zlib fails (never with valid use); later
    /// messages are then sent uncompressed.
    pub fn compress_chunk<B: OutBuf>(
        &mut self,
        input: &[u8],
        message_finished: bool,
        out: &mut B,
    ) -> Result<(), DeflateError> {
        self.begin_message(None);
        if self.outgoing == Outgoing::Plain {
            out.sink_extend(input);
            if message_finished {
                self.outgoing = Outgoing::Idle;
            }
            return Ok(());
        }
        if self.out_failed {
            return Err(DeflateError::Compress);
        }
        let result = self.deflate_message_piece(input, message_finished, out);
        if result.is_err() {
            self.out_failed = true;
            self.compressor = None;
            self.outgoing = Outgoing::Idle;
        }
        result
    }

    /// [`compress_chunk`](Self::compress_chunk), beginning the message if needed
    /// (with the length of `input` as the hint when it is the whole message), and
    /// returning whether the message is compressed (its RSV1 bit).
    ///
    /// # Errors
    ///
    /// As [`compress_chunk`](Self::compress_chunk).
    pub fn compress<B: OutBuf>(
        &mut self,
        input: &[u8],
        message_finished: bool,
        out: &mut B,
    ) -> Result<bool, DeflateError> {
        let hint = message_finished.then_some(input.len());
        let compressed = self.begin_message(hint);
        self.compress_chunk(input, message_finished, out)?;
        Ok(compressed)
    }

    fn deflate_message_piece<B: OutBuf>(
        &mut self,
        input: &[u8],
        message_finished: bool,
        out: &mut B,
    ) -> Result<(), DeflateError> {
        let Outgoing::Compressed { input: had_input } = self.outgoing else {
            unreachable!("only called for a compressed message");
        };
        let had_input = had_input || !input.is_empty();
        self.outgoing = Outgoing::Compressed { input: had_input };
        if !message_finished {
            if !input.is_empty() {
                let c = self.compressor();
                deflate_piece(c, input, FlushCompress::None, out)?;
            }
            return Ok(());
        }
        self.outgoing = Outgoing::Idle;
        if !had_input {
            // Nothing went into the compressor since its last sync flush, so zlib
            // would answer a second flush with a buffer error and no bytes. The
            // empty message is a stored block header (BFINAL 0, BTYPE 00), whose
            // LEN/NLEN are the 00 00 ff ff the receiver appends (RFC 7692 7.2.3.6);
            // the context is untouched, so there is nothing to reset either.
            out.sink_extend(&[0x00]);
            return Ok(());
        }
        let start = out.sink_len();
        let c = self.compressor();
        deflate_piece(c, input, FlushCompress::Sync, out)?;
        if out.sink_len() < start + TAIL.len() || !out.sink_ends_with(&TAIL) {
            return Err(DeflateError::Compress);
        }
        out.sink_truncate(out.sink_len() - TAIL.len());
        if self.out_resets
            && let Some(c) = &mut self.compressor
        {
            c.reset();
        }
        Ok(())
    }

    fn compressor(&mut self) -> &mut Compress {
        let (level, bits) = (self.level, self.out_window.unwrap_or(15));
        let pooled = self.release_idle && self.out_resets;
        self.compressor.get_or_insert_with(|| {
            pooled
                .then(|| pool::take_compressor(level.level(), bits))
                .flatten()
                .unwrap_or_else(|| Compress::new_with_window_bits(level, false, bits))
        })
    }

    /// Appends the inflated form of the next piece of a compressed message (one whose
    /// first frame had RSV1 set) to `out`, appending at most `max_len` bytes in this
    /// call. With `message_finished` (the last piece, which may be empty) the
    /// `00 00 ff ff` tail is appended to the input first (RFC 7692 7.2.2), and the
    /// context is reset afterwards if the peer's direction has no context takeover,
    /// or if the peer ended its stream (a block with BFINAL set, 7.2.3.4).
    ///
    /// Inflation goes in steps of at most 256 KiB, checking the budget after each,
    /// so memory never tracks the inflated size beyond `max_len`: the call returns
    /// with at most `max_len` new bytes in `out`, and a `Vec`'s capacity grows by at
    /// most `max_len + 1` (a `BytesMut` reserves by its own rule, which may double
    /// it). A `Vec` that comes with more spare capacity may have it written to
    /// before the call fails.
    /// A message whose compressed payload is empty (which no conforming sender
    /// produces; the empty message is `00`) is taken as the empty message.
    ///
    /// # Errors
    ///
    /// * [`DeflateError::TooBig`] (1009) as soon as the output of this call would
    ///   exceed `max_len`; `out` then holds at most `max_len` new bytes.
    /// * [`DeflateError::Corrupt`] (1007) for invalid deflate data, data after the
    ///   peer's final block, or a reference to history we do not have.
    ///
    /// After an error the decompressor's context is gone and every later call
    /// returns the same error.
    pub fn decompress<B: OutBuf>(
        &mut self,
        input: &[u8],
        message_finished: bool,
        out: &mut B,
        max_len: usize,
    ) -> Result<(), DeflateError> {
        if let Some(e) = self.in_failed {
            return Err(e);
        }
        let start = out.sink_len();
        let result = self.inflate_message_piece(input, message_finished, out, max_len);
        if let Err(e) = result {
            self.in_failed = Some(e);
            self.decompressor = None;
            if out.sink_len() - start > max_len {
                out.sink_truncate(start + max_len);
            }
        }
        result
    }

    fn inflate_message_piece<B: OutBuf>(
        &mut self,
        input: &[u8],
        message_finished: bool,
        out: &mut B,
        max_len: usize,
    ) -> Result<(), DeflateError> {
        let mut appended = 0;
        if !input.is_empty() {
            if self.in_ended {
                return Err(DeflateError::Corrupt);
            }
            self.in_seen = true;
            let first = input.len().saturating_mul(self.in_expand + 1);
            let d = self.decompressor();
            let ended = inflate_piece(
                d,
                input,
                FlushDecompress::None,
                first,
                out,
                max_len,
                &mut appended,
            )?;
            self.in_ended = ended;
            self.in_counts.0 += input.len();
        }
        if message_finished {
            if self.in_seen && !self.in_ended {
                let d = self.decompressor();
                let ended = inflate_piece(
                    d,
                    &TAIL,
                    FlushDecompress::Sync,
                    0,
                    out,
                    max_len,
                    &mut appended,
                )?;
                self.in_ended = ended;
            }
            let (compressed, inflated) = self.in_counts;
            if compressed > 0 {
                self.in_expand = (inflated + appended).div_ceil(compressed).clamp(1, 16);
            }
            self.in_counts = (0, 0);
            if (self.in_ended || (self.in_seen && self.in_resets))
                && let Some(d) = &mut self.decompressor
            {
                d.reset(false);
            }
            self.in_seen = false;
            self.in_ended = false;
        } else {
            self.in_counts.1 += appended;
        }
        Ok(())
    }

    fn decompressor(&mut self) -> &mut Decompress {
        let pooled = self.release_idle && self.in_resets;
        self.decompressor.get_or_insert_with(|| {
            pooled
                .then(pool::take_decompressor)
                .flatten()
                .unwrap_or_else(|| Decompress::new_with_window_bits(false, MAX_WINDOW_BITS))
        })
    }
}

impl Drop for PerMessageDeflate {
    /// A closing connection parks its idle contexts for the next one (see
    /// [`release_idle_contexts`](Self::release_idle_contexts)).
    fn drop(&mut self) {
        self.release_idle_contexts();
    }
}

/// Compresses all of `input` with `flush`, appending to `out` until zlib has no
/// more output for it.
fn deflate_piece<B: Sink>(
    c: &mut Compress,
    input: &[u8],
    flush: FlushCompress,
    out: &mut B,
) -> Result<(), DeflateError> {
    let mut pos = 0;
    // Deflate output rarely exceeds its input by more than a few bytes per block.
    let mut want = (input.len() + input.len() / 64 + MIN_STEP).min(FIRST_STEP_MAX);
    loop {
        let before = c.total_in();
        let step = out.deflate_step(c, &input[pos..], want, flush);
        let status = step.result.map_err(|_| DeflateError::Compress)?;
        let consumed = (c.total_in() - before) as usize;
        pos += consumed;
        if step.written < step.space {
            // Not stopped by lack of output space: done once all input is in.
            if pos == input.len() {
                return Ok(());
            }
            if consumed == 0 && step.written == 0 {
                // No progress with space and input available: zlib is stuck.
                return Err(DeflateError::Compress);
            }
        } else if consumed == 0 {
            // Only draining what zlib holds: offer more each time.
            want = (want * 2).min(MAX_STEP);
        } else {
            // Room for the rest of the input and what zlib may hold back, no more:
            // a `BytesMut` pays for every byte offered by zeroing it.
            let rest = input.len() - pos;
            want = (rest + rest / 64 + 4096).min(MAX_STEP);
        }
        if status == Status::StreamEnd {
            return Err(DeflateError::Compress);
        }
    }
}

/// Inflates all of `input`, appending to `out` and counting into `appended`, which
/// must not exceed `max_len`; the first step offers about `first` bytes. Returns
/// whether the peer's stream ended (BFINAL).
fn inflate_piece<B: Sink>(
    d: &mut Decompress,
    input: &[u8],
    flush: FlushDecompress,
    first: usize,
    out: &mut B,
    max_len: usize,
    appended: &mut usize,
) -> Result<bool, DeflateError> {
    let mut pos = 0;
    let mut step_size = first.clamp(4 * MIN_STEP, FIRST_STEP_MAX);
    loop {
        // One byte past the budget, so that going over it is seen.
        let limit = (max_len - *appended).saturating_add(1);
        let want = step_size.min(limit);
        let before = d.total_in();
        let step = out.inflate_step(d, &input[pos..], want, limit, flush);
        let consumed = (d.total_in() - before) as usize;
        pos += consumed;
        *appended += step.written;
        // Output past the budget counts first, even if the data turned bad later in
        // the same call: the outcome must not depend on the output space offered.
        if *appended > max_len {
            return Err(DeflateError::TooBig);
        }
        let status = step.result.map_err(|_| DeflateError::Corrupt)?;
        if status == Status::StreamEnd {
            // Bytes after the final block are not deflate data.
            return if pos == input.len() {
                Ok(true)
            } else {
                Err(DeflateError::Corrupt)
            };
        }
        if step.written < step.space {
            // Not stopped by lack of output space: done once all input is in. A
            // buffer error here just means "no more input".
            if pos == input.len() {
                return Ok(false);
            }
            if consumed == 0 && step.written == 0 {
                return Err(DeflateError::Corrupt);
            }
        } else if pos == input.len() {
            // Output full with all input taken: what is left is what zlib decoded
            // ahead (a match or a few symbols), so offer a little, not a doubling
            // (a `BytesMut` pays for every byte offered by zeroing it).
            step_size = 1024;
        } else {
            // Output full with input left: grow the step; the budget bounds it.
            step_size = (step_size * 2).min(MAX_STEP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(agreed: Agreed) -> (PerMessageDeflate, PerMessageDeflate) {
        let config = DeflateConfig::new().threshold(0);
        (
            agreed.into_codec(Role::Client, &config),
            agreed.into_codec(Role::Server, &config),
        )
    }

    #[test]
    fn codec_is_send_sync_and_debug() {
        fn check<T: Send + Sync + fmt::Debug>() {}
        check::<PerMessageDeflate>();
        let (c, _) = pair(Agreed::default());
        let dbg = format!("{c:?}");
        assert!(dbg.contains("compressor_allocated: false"), "{dbg}");
    }

    #[test]
    fn contexts_are_created_lazily() {
        let (mut c, mut s) = pair(Agreed::default());
        assert!(!c.compressor_allocated() && !c.decompressor_allocated());
        let mut wire = Vec::new();
        assert!(c.compress(b"hello hello hello", true, &mut wire).unwrap());
        assert!(c.compressor_allocated() && !c.decompressor_allocated());
        let mut plain = Vec::new();
        s.decompress(&wire, true, &mut plain, 100).unwrap();
        assert_eq!(plain, b"hello hello hello");
        assert!(s.decompressor_allocated() && !s.compressor_allocated());
    }

    #[test]
    fn idle_release_frees_only_resetting_directions_between_messages() {
        let agreed = Agreed {
            server_no_context_takeover: true,
            ..Agreed::default()
        };
        let config = DeflateConfig::new()
            .threshold(0)
            .release_idle_contexts(true);
        let mut s = agreed.into_codec(Role::Server, &config);
        let mut c = agreed.into_codec(Role::Client, &config);
        let text = b"the same words again and again, the same words again";
        for round in 0..3 {
            // A message in progress keeps its compressor.
            let mut wire = Vec::new();
            assert!(s.begin_message(None));
            s.compress_chunk(&text[..10], false, &mut wire).unwrap();
            assert!(!s.release_idle_contexts(), "round {round}");
            s.compress_chunk(&text[10..], true, &mut wire).unwrap();
            // Between messages the server's compressor (no takeover) goes...
            assert!(s.release_idle_contexts());
            assert!(!s.compressor_allocated());
            // ...and the client's decompressor for that direction too, but only
            // once the message is complete.
            let mut plain = Vec::new();
            c.decompress(&wire[..5], false, &mut plain, 1000).unwrap();
            assert!(!c.release_idle_contexts());
            c.decompress(&wire[5..], true, &mut plain, 1000).unwrap();
            assert_eq!(plain, text);
            assert!(c.release_idle_contexts());
            assert!(!c.decompressor_allocated());
            // The client's own direction keeps its context (takeover).
            let mut up = Vec::new();
            assert!(c.compress(text, true, &mut up).unwrap());
            assert!(!c.release_idle_contexts());
            assert!(c.compressor_allocated());
            let mut back = Vec::new();
            s.decompress(&up, true, &mut back, 1000).unwrap();
            assert_eq!(back, text);
            assert!(!s.release_idle_contexts());
            assert!(s.decompressor_allocated());
        }
        // Without the setting nothing is ever freed.
        let keep = DeflateConfig::new()
            .threshold(0)
            .release_idle_contexts(false);
        let mut kept = agreed.into_codec(Role::Server, &keep);
        let mut wire = Vec::new();
        assert!(kept.compress(text, true, &mut wire).unwrap());
        assert!(!kept.release_idle_contexts());
        assert!(kept.compressor_allocated());
    }

    #[test]
    fn idle_contexts_go_to_the_next_connection() {
        // A level and window no other test uses: the pool is shared by the process.
        let (level, bits) = (7, 11);
        let agreed = Agreed {
            server_no_context_takeover: true,
            server_max_window_bits: bits,
            ..Agreed::default()
        };
        let config = DeflateConfig::new()
            .threshold(0)
            .level(level)
            .unwrap()
            .release_idle_contexts(true);
        let text = b"parked contexts carry nothing of their last connection, nothing";
        let mut first = agreed.into_codec(Role::Server, &config);
        let mut wire = Vec::new();
        assert!(
            first
                .compress(b"something else entirely, first", true, &mut wire)
                .unwrap()
        );
        assert_eq!(pool::parked_compressors(level, bits), 0);
        assert!(first.release_idle_contexts());
        assert_eq!(pool::parked_compressors(level, bits), 1);
        // The next connection takes it, and its messages stand alone.
        let mut second = agreed.into_codec(Role::Server, &config);
        let mut wire = Vec::new();
        assert!(second.compress(text, true, &mut wire).unwrap());
        assert_eq!(pool::parked_compressors(level, bits), 0);
        let mut client = agreed.into_codec(Role::Client, &config);
        let mut plain = Vec::new();
        client.decompress(&wire, true, &mut plain, 1000).unwrap();
        assert_eq!(plain, text);
        // Dropped between messages, a connection parks its context; dropped in the
        // middle of one, it does not.
        drop(second);
        assert_eq!(pool::parked_compressors(level, bits), 1);
        let mut third = agreed.into_codec(Role::Server, &config);
        let mut part = Vec::new();
        assert!(third.begin_message(None));
        third
            .compress_chunk(b"half a mess", false, &mut part)
            .unwrap();
        assert_eq!(pool::parked_compressors(level, bits), 0);
        drop(third);
        assert_eq!(pool::parked_compressors(level, bits), 0);
        drop(first);
    }

    #[test]
    fn window_eight_means_never_compressing() {
        let agreed = Agreed {
            client_max_window_bits: 8,
            ..Agreed::default()
        };
        let (mut c, mut s) = pair(agreed);
        assert_eq!(c.compressor_window_bits(), None);
        assert_eq!(s.compressor_window_bits(), Some(15));
        let mut wire = Vec::new();
        assert!(!c.compress(&[b'a'; 1000], true, &mut wire).unwrap());
        assert_eq!(wire, [b'a'; 1000]);
        assert!(!c.begin_message(None));
        assert!(!c.compressor_allocated());
        // The server still compresses towards the client.
        wire.clear();
        assert!(s.compress(&[b'a'; 1000], true, &mut wire).unwrap());
        let mut plain = BytesMut::new();
        c.decompress(&wire, true, &mut plain, 1000).unwrap();
        assert_eq!(&plain[..], [b'a'; 1000]);
    }

    #[test]
    fn threshold_decides_on_the_hint() {
        let config = DeflateConfig::new().threshold(10);
        let mut c = Agreed::default().into_codec(Role::Client, &config);
        assert!(!c.begin_message(Some(9)));
        assert_eq!(c.message_compressed(), Some(false));
        assert!(
            !c.begin_message(Some(100)),
            "a started message keeps its decision"
        );
        let mut out = Vec::new();
        c.compress_chunk(b"123456789", true, &mut out).unwrap();
        assert_eq!(out, b"123456789");
        assert_eq!(c.message_compressed(), None);
        assert!(c.begin_message(Some(10)));
        assert!(c.begin_message(None));
        c.compress_chunk(b"", true, &mut out).unwrap();
        assert!(!c.compress(b"short", true, &mut out).unwrap());
        assert!(
            c.compress(b"short", false, &mut out).unwrap(),
            "unknown length"
        );
        c.compress_chunk(b"", true, &mut out).unwrap();
    }

    #[test]
    fn errors_have_their_close_codes_and_stick() {
        assert_eq!(DeflateError::TooBig.close_code(), 1009);
        assert_eq!(DeflateError::Corrupt.close_code(), 1007);
        assert_eq!(DeflateError::Compress.close_code(), 1011);
        let (_, mut s) = pair(Agreed::default());
        let mut out = Vec::new();
        // BTYPE 11 is reserved: invalid at once.
        assert_eq!(
            s.decompress(&[0xff, 0xff], true, &mut out, 100),
            Err(DeflateError::Corrupt)
        );
        assert_eq!(
            s.decompress(&[0x00], true, &mut out, 100),
            Err(DeflateError::Corrupt)
        );
    }
}
