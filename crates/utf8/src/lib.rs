//! Streaming, fail-fast UTF-8 validation for WebSocket text messages.
//!
//! RFC 6455 requires the payload of a text message to be valid UTF-8, but a
//! message reaches the application in pieces: several frames (fragments), each
//! of which may itself be read from the socket in several chunks. A code point
//! can be split at any of these boundaries. The Autobahn test suite (cases
//! 6.x) additionally expects an endpoint to *fail fast*: an invalid byte must be
//! reported as soon as it is seen, without waiting for the end of the message.
//!
//! [`Utf8Validator`] does exactly that:
//!
//! * [`Utf8Validator::feed`] accepts the message in chunks of any size
//!   (including empty ones). A code point split across chunks is carried over
//!   inside the validator (at most 3 bytes, no allocation).
//! * As soon as the bytes seen so far cannot be the beginning of any valid
//!   UTF-8 string, `feed` returns an error: a chunk ending in `F4 90` (above
//!   U+10FFFF), `E0 80` (overlong) or `ED A0` (surrogate) is rejected at once,
//!   while a chunk ending in `E2 82` (the first two bytes of `€`) is not.
//! * [`Utf8Validator::finish`] marks the end of the message: a code point
//!   still unfinished at that point is an error.
//! * Errors ([`Utf8Error`]) have exactly the meaning of
//!   [`core::str::Utf8Error`] applied to the concatenation of every chunk of
//!   the message: [`Utf8Error::valid_up_to`] counts from the start of the
//!   message, not of the chunk.
//!
//! [`validate`] checks a whole buffer at once.
//!
//! The bulk of the work is done by [`simdutf8`] (SIMD, with run-time CPU
//! detection when the `std` feature is on, the default). ASCII goes faster:
//! short inputs through a word-at-a-time check, longer ones through an
//! AVX-512 or AVX2 scan (x86_64) that finds where the ASCII run ends, so
//! simdutf8 sees only the rest. The crate is `no_std` and needs no allocator;
//! its only `unsafe` code is that scan, behind a safe function, tested against
//! its scalar twin.
//!
//! What it does **not** do: it does not give back a `&str` (checking is all it
//! does; converting is up to the caller), it does not buffer or copy the
//! message, and it knows nothing of frames, opcodes or close codes: the caller
//! decides which bytes belong to a text message and what to do on error
//! (for WebSocket: close the connection with status 1007).
//!
//! # Example
//!
//! ```
//! use ferrosocket_utf8::{validate, Utf8Validator};
//!
//! let mut v = Utf8Validator::new();
//! // "κόσμε €" in three pieces; "€" (E2 82 AC) is split across two of them.
//! v.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83")?;
//! v.feed(b"\xce\xbc\xce\xb5 \xe2\x82")?; // ends inside "€": not an error
//! assert!(v.is_pending());
//! v.feed(b"\xac")?;
//! assert!(!v.is_pending());
//! v.finish()?; // message complete and valid; the validator is ready again
//!
//! // Fail fast: the second piece ends in F4 90, which can never become a
//! // valid code point (it would be above U+10FFFF), so `feed` fails at once.
//! v.feed(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")?;
//! let err = v.feed(b"\xf4\x90").unwrap_err();
//! assert_eq!(err.valid_up_to(), 11); // counted from the start of the message
//! assert_eq!(err.error_len(), Some(1));
//! // The same as `core::str::from_utf8` says about the whole message.
//! let std_err = core::str::from_utf8(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90")
//!     .unwrap_err();
//! assert_eq!(err.valid_up_to(), std_err.valid_up_to() as u64);
//! // The validator stays failed until it is reset.
//! assert_eq!(v.feed(b"ok"), Err(err));
//! v.reset();
//!
//! // A message that ends inside a code point is an error too, at `finish`.
//! v.feed(b"abc\xe2\x82")?;
//! let err = v.finish().unwrap_err();
//! assert_eq!((err.valid_up_to(), err.error_len()), (3, None));
//!
//! // Whole buffers at once.
//! assert!(validate("κόσμε".as_bytes()).is_ok());
//! assert_eq!(validate(b"a\xc0\x80").unwrap_err().valid_up_to(), 1);
//! # Ok::<(), ferrosocket_utf8::Utf8Error>(())
//! ```
#![no_std]
// Denied, not forbidden: the SIMD kernels of `ascii` opt back in.
#![deny(unsafe_code)]

// Run-time CPU feature detection only.
#[cfg(feature = "std")]
extern crate std;

mod ascii;
#[cfg(test)]
mod tests;

use core::fmt;

/// Inputs up to this many bytes first go through [`is_ascii_short`] before
/// [`simdutf8`] (which hands inputs under 64 bytes to `core::str::from_utf8`).
const SHORT_MAX: usize = 128;

/// simdutf8's block: inputs shorter than this go to `core::str::from_utf8`.
const BLOCK: usize = 64;

/// Non-ASCII chunks from this many bytes up to [`BLOCK`] are validated as one
/// padded SIMD block ([`Utf8Validator::feed_padded`]); below, std's scalar
/// check is as fast as copying into the block.
const PADDED_MIN: usize = 24;

/// `carry_len` value meaning "failed": the error is kept in `failure`.
const FAILED: u8 = u8::MAX;

/// An error of UTF-8 validation, with the meaning of [`core::str::Utf8Error`]
/// applied to the whole message (every chunk fed since the last
/// [`Utf8Validator::finish`] or [`Utf8Validator::reset`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Utf8Error {
    valid_up_to: u64,
    error_len: Option<u8>,
}

impl Utf8Error {
    /// The number of bytes, from the start of the message, that form valid
    /// UTF-8: the index of the first byte of the offending sequence.
    #[inline]
    #[must_use]
    pub const fn valid_up_to(&self) -> u64 {
        self.valid_up_to
    }

    /// `Some(n)`: an invalid sequence of `n` bytes (1 to 3) starts at
    /// [`valid_up_to`](Self::valid_up_to); no continuation of the message can
    /// make it valid. `None`: the message ended inside a code point that was
    /// valid so far (only returned by [`Utf8Validator::finish`] and
    /// [`validate`]).
    #[inline]
    #[must_use]
    pub const fn error_len(&self) -> Option<u8> {
        self.error_len
    }

    /// Whether the error is an unfinished code point at the end of the
    /// message (`error_len() == None`).
    #[inline]
    #[must_use]
    pub const fn is_incomplete(&self) -> bool {
        self.error_len.is_none()
    }

    #[inline]
    fn from_simdutf8(e: simdutf8::compat::Utf8Error, offset: u64) -> Self {
        Self {
            valid_up_to: offset + e.valid_up_to() as u64,
            // std and simdutf8 give 1 to 3.
            error_len: e.error_len().map(|n| n as u8),
        }
    }

    #[inline]
    fn from_core(e: core::str::Utf8Error, offset: u64) -> Self {
        Self {
            valid_up_to: offset + e.valid_up_to() as u64,
            error_len: e.error_len().map(|n| n as u8),
        }
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The same wording as `core::str::Utf8Error`.
        match self.error_len {
            Some(n) => write!(
                f,
                "invalid utf-8 sequence of {n} bytes from index {}",
                self.valid_up_to
            ),
            None => write!(
                f,
                "incomplete utf-8 byte sequence from index {}",
                self.valid_up_to
            ),
        }
    }
}

impl core::error::Error for Utf8Error {}

/// Checks that `bytes` is valid UTF-8 as a whole.
///
/// The result is that of [`core::str::from_utf8`], with `valid_up_to`
/// as `u64`. Inputs up to 128 bytes are first checked for pure ASCII (two
/// 64-bit words at a time), longer ones have their leading ASCII run skipped
/// with AVX-512 or AVX2 where the CPU has it; what is left goes to
/// [`simdutf8::basic::from_utf8`], and only on failure to
/// [`simdutf8::compat::from_utf8`] to locate the error.
///
/// # Errors
///
/// If `bytes` is not valid UTF-8. An input that ends inside a code point that
/// was valid so far gives an error with `error_len() == None`.
///
/// # Example
///
/// ```
/// use ferrosocket_utf8::validate;
///
/// assert!(validate(b"hello").is_ok());
/// let err = validate(b"hi \xed\xa0\x80").unwrap_err(); // encoded surrogate
/// assert_eq!((err.valid_up_to(), err.error_len()), (3, Some(1)));
/// let err = validate(b"hi \xe2\x82").unwrap_err(); // unfinished "€"
/// assert_eq!((err.valid_up_to(), err.error_len()), (3, None));
/// ```
#[inline]
pub fn validate(bytes: &[u8]) -> Result<(), Utf8Error> {
    if is_valid(bytes) {
        Ok(())
    } else {
        locate_error(bytes, 0)
    }
}

/// Streaming UTF-8 validator for one message at a time; see the
/// [crate documentation](crate) for an example.
///
/// Feed the message with [`feed`](Self::feed) in chunks of any size, then
/// call [`finish`](Self::finish). Errors are reported as early as possible
/// and carry positions counted from the start of the message.
///
/// After an error, the validator stays failed: every later `feed` and
/// `finish` returns the same error again, until [`reset`](Self::reset).
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// Bytes of the message before the carried sequence, all valid (on
    /// failure: the error's `valid_up_to`).
    validated: u64,
    /// The first bytes of a code point that is not complete yet.
    carry: [u8; 4],
    /// How many bytes of `carry` are used (0 to 3), or [`FAILED`].
    carry_len: u8,
    /// The error, once failed.
    failure: Option<Utf8Error>,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        Self {
            validated: 0,
            carry: [0; 4],
            carry_len: 0,
            failure: None,
        }
    }

    /// Validates the next chunk of the message.
    ///
    /// Chunks may have any size, including 0, and may split code points
    /// anywhere: the unfinished end of a code point is kept (at most 3 bytes)
    /// and completed by the next chunk.
    ///
    /// # Errors
    ///
    /// As soon as the bytes fed so far cannot be the beginning of any valid
    /// UTF-8 string; the error always has `error_len() == Some(_)` and its
    /// position counts from the start of the message. Once failed, the
    /// validator returns the same error until [`reset`](Self::reset).
    #[inline]
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.carry_len != 0 {
            // A code point to complete, or already failed.
            if self.carry_len != FAILED
                && (PADDED_MIN..=BLOCK).contains(&(usize::from(self.carry_len) + chunk.len()))
            {
                return self.feed_padded(chunk);
            }
            return self.feed_carried(chunk);
        }
        self.feed_at_boundary(chunk)
    }

    /// Ends the message.
    ///
    /// On success the validator is reset, ready for the next message.
    ///
    /// # Errors
    ///
    /// If the message ended inside a code point (an error with
    /// `error_len() == None`), or if an earlier [`feed`](Self::feed) failed (the
    /// same error again). The validator then stays failed until
    /// [`reset`](Self::reset).
    #[inline]
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        match self.carry_len {
            0 => {
                self.validated = 0;
                Ok(())
            }
            _ => Err(self.finish_slow()),
        }
    }

    /// Forgets the current message (and any error): back to the state of
    /// [`new`](Self::new).
    #[inline]
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Number of bytes of the current message known to be valid UTF-8 so far:
    /// every byte fed since the last `finish`/`reset`, minus the
    /// [pending](Self::pending_len) ones. Once failed: the error's
    /// [`valid_up_to`](Utf8Error::valid_up_to).
    #[inline]
    #[must_use]
    pub const fn validated_len(&self) -> u64 {
        self.validated
    }

    /// Number of bytes (0 to 3) at the end of what was fed that begin a code
    /// point not complete yet. 0 once failed.
    #[inline]
    #[must_use]
    pub const fn pending_len(&self) -> usize {
        if self.carry_len == FAILED {
            0
        } else {
            self.carry_len as usize
        }
    }

    /// Whether what was fed ends inside a code point (so `finish` now would
    /// fail).
    #[inline]
    #[must_use]
    pub const fn is_pending(&self) -> bool {
        self.pending_len() != 0
    }

    /// The error, if validation failed since the last
    /// [`reset`](Self::reset).
    #[inline]
    #[must_use]
    pub const fn error(&self) -> Option<Utf8Error> {
        self.failure
    }

    /// Validates `chunk`, which starts at a code point boundary. Small, to be
    /// inlined: short ASCII chunks end here.
    #[inline]
    fn feed_at_boundary(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if chunk.len() <= SHORT_MAX && is_ascii_short(chunk) {
            // Short ASCII chunk: nothing else to look at.
            self.validated += chunk.len() as u64;
            return Ok(());
        }
        if (PADDED_MIN..=BLOCK).contains(&chunk.len()) {
            return self.feed_padded(chunk);
        }
        self.feed_bulk(chunk)
    }

    /// Validates the carried bytes followed by `chunk` (together
    /// [`PADDED_MIN`] to [`BLOCK`] bytes, not all ASCII) as one SIMD block:
    /// simdutf8 hands inputs under 64 bytes to `core::str::from_utf8`, which
    /// is several times slower on non-ASCII text than one 64-byte SIMD
    /// block, so the bytes are copied into a block padded with ASCII spaces.
    /// An unfinished code point at the end is carried; on error, the exact
    /// position comes from the slow paths.
    fn feed_padded(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        let have = usize::from(self.carry_len);
        let len = have + chunk.len();
        let mut block = [b' '; BLOCK];
        block[..have].copy_from_slice(&self.carry[..have]);
        block[have..len].copy_from_slice(chunk);
        let split = incomplete_tail_start(&block[..len]);
        let mut tail = [0; 4];
        // At most 3 bytes: `incomplete_tail_start` looks at the last 3.
        tail[..len - split].copy_from_slice(&block[split..len]);
        block[split..len].fill(b' ');
        if simdutf8::basic::from_utf8(&block).is_err() {
            return self.feed_padded_failed(chunk);
        }
        self.validated += split as u64;
        self.carry_len = 0;
        if split == len {
            Ok(())
        } else {
            self.start_carry(&tail[..len - split])
        }
    }

    /// The padded block was invalid: locate the error exactly (the carried
    /// code point first, then `chunk` from a boundary).
    #[cold]
    #[inline(never)]
    fn feed_padded_failed(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.carry_len != 0 {
            self.feed_carried(chunk)
        } else {
            self.feed_slow(chunk)
        }
    }

    /// Validates `chunk`, which starts at a code point boundary, with
    /// simdutf8; an unfinished code point at the end is carried. Inlined:
    /// a call here costs a tenth of validating a 1 KiB chunk.
    #[inline]
    fn feed_bulk(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        let chunk = if chunk.len() > SHORT_MAX {
            // Skip the ASCII run at SIMD speed; the rest starts after an ASCII
            // byte, so at a code point boundary.
            let ascii = ascii::ascii_prefix(chunk);
            self.validated += ascii as u64;
            if ascii == chunk.len() {
                return Ok(());
            }
            &chunk[ascii..]
        } else {
            chunk
        };
        let split = incomplete_tail_start(chunk);
        let (head, tail) = chunk.split_at(split);
        if simdutf8::basic::from_utf8(head).is_err() {
            // Locate the error in the whole chunk: an unfinished sequence at
            // the end of `head` is invalid because of the lead byte that
            // starts `tail`.
            return self.feed_slow(chunk);
        }
        self.validated += head.len() as u64;
        if tail.is_empty() {
            Ok(())
        } else {
            self.start_carry(tail)
        }
    }

    /// `tail` (1 to 3 bytes) starts with a lead byte and is shorter than the
    /// sequence that lead announces: carry it if it is a valid beginning.
    fn start_carry(&mut self, tail: &[u8]) -> Result<(), Utf8Error> {
        match core::str::from_utf8(tail) {
            // Not possible for a tail found by `incomplete_tail_start`, but
            // harmless: it is valid.
            Ok(_) => {
                self.validated += tail.len() as u64;
                Ok(())
            }
            Err(e) => {
                let done = e.valid_up_to();
                if e.error_len().is_some() {
                    return Err(self.fail(Utf8Error::from_core(e, self.validated)));
                }
                let rest = &tail[done..];
                self.validated += done as u64;
                self.carry[..rest.len()].copy_from_slice(rest);
                self.carry_len = rest.len() as u8;
                Ok(())
            }
        }
    }

    /// Completes the carried code point with the start of `chunk`, then goes
    /// on with the rest of `chunk`. Also the path of a failed validator.
    #[inline(never)]
    fn feed_carried(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        if self.carry_len == FAILED {
            return Err(self.failure.unwrap_or(FALLBACK_ERROR));
        }
        // The carry is a valid, unfinished beginning of one code point (1 to
        // 3 bytes, as judged by `core::str::from_utf8`). With the next bytes
        // up to 4 in all, std's verdict on `buf` is exact: the carried code
        // point is either complete or invalid within those 4 bytes.
        let have = usize::from(self.carry_len);
        let take = (4 - have).min(chunk.len());
        let mut buf = self.carry;
        buf[have..have + take].copy_from_slice(&chunk[..take]);
        match core::str::from_utf8(&buf[..have + take]) {
            Ok(_) => {
                self.validated += (have + take) as u64;
                self.carry_len = 0;
                self.feed_at_boundary(&chunk[take..])
            }
            Err(e) if e.error_len().is_some() => {
                Err(self.fail(Utf8Error::from_core(e, self.validated)))
            }
            Err(e) if take == chunk.len() => {
                // All of `chunk` is in `buf`, which ends inside a code point
                // (the carried one, or one that starts after it): carry that.
                let done = e.valid_up_to();
                let rest = &buf[done..have + take];
                self.validated += done as u64;
                let mut carry = [0; 4];
                carry[..rest.len()].copy_from_slice(rest);
                self.carry = carry;
                self.carry_len = rest.len() as u8;
                Ok(())
            }
            Err(e) => {
                // `buf` is 4 bytes and ends inside a code point, so the
                // carried one was completed (`done` is past it, hence past
                // `have`): go on from the boundary `done`, inside `chunk`.
                let done = e.valid_up_to();
                self.validated += done as u64;
                self.carry_len = 0;
                self.feed_at_boundary(&chunk[done - have..])
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn finish_slow(&mut self) -> Utf8Error {
        if self.carry_len == FAILED {
            return self.failure.unwrap_or(FALLBACK_ERROR);
        }
        self.fail(Utf8Error {
            valid_up_to: self.validated,
            error_len: None,
        })
    }

    /// Validates `chunk` (starting at a code point boundary) with the
    /// std-compatible, error-locating check; the path of chunks that failed
    /// the fast check.
    #[cold]
    #[inline(never)]
    fn feed_slow(&mut self, chunk: &[u8]) -> Result<(), Utf8Error> {
        match simdutf8::compat::from_utf8(chunk) {
            Ok(_) => {
                self.validated += chunk.len() as u64;
                Ok(())
            }
            Err(e) => {
                let done = e.valid_up_to();
                if e.error_len().is_some() {
                    return Err(self.fail(Utf8Error::from_simdutf8(e, self.validated)));
                }
                // A valid but unfinished sequence at the end (at most 3
                // bytes, as std's semantics guarantee).
                self.validated += done as u64;
                self.start_carry(&chunk[done..])
            }
        }
    }

    #[cold]
    fn fail(&mut self, e: Utf8Error) -> Utf8Error {
        self.validated = e.valid_up_to;
        self.carry = [0; 4];
        self.carry_len = FAILED;
        self.failure = Some(e);
        e
    }
}

/// Never used: `failure` is always `Some` when `carry_len == FAILED`.
const FALLBACK_ERROR: Utf8Error = Utf8Error {
    valid_up_to: 0,
    error_len: Some(1),
};

/// Fast yes/no check: ASCII fast paths (word-at-a-time for short inputs, a
/// SIMD scan of the ASCII run for longer ones), then simdutf8's `basic`
/// flavour on what is left.
#[inline]
fn is_valid(bytes: &[u8]) -> bool {
    if bytes.len() <= SHORT_MAX {
        return is_ascii_short(bytes) || simdutf8::basic::from_utf8(bytes).is_ok();
    }
    let ascii = ascii::ascii_prefix(bytes);
    ascii == bytes.len() || simdutf8::basic::from_utf8(&bytes[ascii..]).is_ok()
}

/// Locates the first error of `bytes` (which failed [`is_valid`]) with
/// simdutf8's std-compatible flavour; positions are offset by `offset`.
#[cold]
#[inline(never)]
fn locate_error(bytes: &[u8], offset: u64) -> Result<(), Utf8Error> {
    match simdutf8::compat::from_utf8(bytes) {
        Ok(_) => Ok(()),
        Err(e) => Err(Utf8Error::from_simdutf8(e, offset)),
    }
}

/// Whether every byte is ASCII. Meant for short inputs: loads 16 bytes at a
/// time (as one `u128`, i.e. two 64-bit words), ORs everything together and
/// tests the high bits once at the end; the remainder is covered by one last,
/// overlapping 16-, 8- or 4-byte load.
#[inline]
fn is_ascii_short(bytes: &[u8]) -> bool {
    const HIGH_64: u64 = 0x8080_8080_8080_8080;
    const HIGH_128: u128 = ((HIGH_64 as u128) << 64) | HIGH_64 as u128;
    if let Some(last) = bytes.last_chunk::<16>() {
        let (blocks, _) = bytes.as_chunks::<16>();
        let mut acc = u128::from_le_bytes(*last);
        for block in blocks {
            acc |= u128::from_le_bytes(*block);
        }
        acc & HIGH_128 == 0
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        (u64::from_le_bytes(*first) | u64::from_le_bytes(*last)) & HIGH_64 == 0
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        (u32::from_le_bytes(*first) | u32::from_le_bytes(*last)) & (HIGH_64 as u32) == 0
    } else {
        bytes.iter().fold(0, |acc, &b| acc | b) & 0x80 == 0
    }
}

/// Length of the sequence announced by a lead byte (for a byte that cannot
/// lead, a length that makes it checked by the caller anyway).
#[inline]
const fn sequence_len(lead: u8) -> usize {
    if lead >= 0xF0 {
        4
    } else if lead >= 0xE0 {
        3
    } else if lead >= 0xC0 {
        2
    } else {
        1
    }
}

/// Where the last, unfinished sequence of `bytes` starts: the index of a lead
/// byte among the last 3 bytes, followed only by continuation bytes and
/// fewer of them than it announces. `bytes.len()` if there is none (the last
/// sequence is complete, or invalid in a way the bulk check will find).
#[inline]
fn incomplete_tail_start(bytes: &[u8]) -> usize {
    let len = bytes.len();
    match bytes.last() {
        None => return 0,
        Some(&b) if b < 0x80 => return len,
        Some(_) => {}
    }
    let mut i = len;
    let stop = len.saturating_sub(3);
    while i > stop {
        i -= 1;
        let b = bytes[i];
        if b & 0xC0 != 0x80 {
            return if len - i < sequence_len(b) { i } else { len };
        }
    }
    len
}
