//! Linear-time accumulation of an HTTP/1.x header block.
//!
//! Bytes are scanned exactly once, as they arrive, for the empty line that
//! ends the header block; the scanner keeps the last two bytes seen so a
//! terminator split across feeds is still found. `httparse` is called once,
//! on the complete block. This avoids the quadratic behaviour of re-parsing
//! the whole buffer on every partial read (CVE-2023-43669).

use alloc::vec;
use alloc::vec::Vec;

use crate::{HandshakeError, Headers, Limits};

/// Work counters of a parser, for tests that check parsing is linear.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// Bytes examined by the end-of-header-block scanner, over all feeds.
    pub bytes_scanned: u64,
    /// Number of `httparse` invocations.
    pub httparse_calls: u64,
    /// Number of feed calls.
    pub feeds: u64,
    /// Largest capacity the internal buffer ever had.
    pub peak_capacity: usize,
}

/// Accumulates one header block, bounded by `max_bytes`.
#[derive(Debug)]
pub(crate) struct HeadBuffer {
    buf: Vec<u8>,
    max_bytes: usize,
    /// Whether a byte other than CR/LF has been seen (httparse skips empty
    /// lines before the start line, so they cannot end the block).
    started: bool,
    /// The last two scanned bytes, most recent last.
    tail: [u8; 2],
    pub(crate) stats: ParseStats,
}

impl HeadBuffer {
    pub(crate) const fn new(max_bytes: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_bytes,
            started: false,
            tail: [0; 2],
            stats: ParseStats {
                bytes_scanned: 0,
                httparse_calls: 0,
                feeds: 0,
                peak_capacity: 0,
            },
        }
    }

    /// Bytes buffered so far.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Scans `input` and buffers what belongs to the header block.
    ///
    /// Returns `Ok(Some(n))` when the block is complete and the first `n`
    /// bytes of `input` belonged to it (the block is then in
    /// [`take`](Self::take)); `Ok(None)` when all of `input` was buffered and
    /// more is needed. Never buffers more than `max_bytes`.
    pub(crate) fn push(&mut self, input: &[u8]) -> Result<Option<usize>, HandshakeError> {
        self.stats.feeds += 1;
        let room = self.max_bytes.saturating_sub(self.buf.len());
        let (window, _) = input.split_at(input.len().min(room));
        if let Some(end) = self.scan(window) {
            let (head, _) = window.split_at(end);
            self.extend(head);
            return Ok(Some(end));
        }
        if input.len() >= room {
            // Either the input does not fit, or it fills the buffer to the
            // limit without ending the block: no continuation can fit.
            return Err(HandshakeError::HeadersTooLarge {
                limit: self.max_bytes,
            });
        }
        self.extend(window);
        Ok(None)
    }

    /// Returns the offset just past the end of the header block in `window`.
    fn scan(&mut self, window: &[u8]) -> Option<usize> {
        for (i, &b) in window.iter().enumerate() {
            self.stats.bytes_scanned += 1;
            if !self.started {
                if b == b'\r' || b == b'\n' {
                    continue;
                }
                self.started = true;
            }
            // An empty line: "\n" preceded by "\n" or by "\n\r".
            let end = b == b'\n'
                && (self.tail[1] == b'\n' || (self.tail[1] == b'\r' && self.tail[0] == b'\n'));
            self.tail = [self.tail[1], b];
            if end {
                return Some(i + 1);
            }
        }
        None
    }

    /// Appends without letting the capacity exceed `max_bytes`.
    fn extend(&mut self, bytes: &[u8]) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            let target = (self.buf.capacity() * 2)
                .max(needed)
                .max(256)
                .min(self.max_bytes.max(needed));
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
        self.stats.peak_capacity = self.stats.peak_capacity.max(self.buf.capacity());
    }

    /// Hands out the completed block and resets the scanner for a new one.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.started = false;
        self.tail = [0; 2];
        core::mem::take(&mut self.buf)
    }
}

/// A request head as parsed by httparse, owned.
#[derive(Debug)]
pub(crate) struct RawRequest {
    pub(crate) method: alloc::string::String,
    pub(crate) target: alloc::string::String,
    /// Minor version of HTTP/1.x.
    pub(crate) minor_version: u8,
    pub(crate) headers: Headers,
}

/// A response head as parsed by httparse, owned.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) minor_version: u8,
    pub(crate) status: u16,
    pub(crate) reason: alloc::string::String,
    pub(crate) headers: Headers,
}

/// A header array large enough for any block of `len` bytes (a field takes
/// at least 3 bytes: `a:\n`), capped by the configured limit.
fn header_array(len: usize, limits: &Limits) -> Vec<httparse::Header<'static>> {
    vec![httparse::EMPTY_HEADER; limits.max_headers.min(len / 3 + 1)]
}

fn map_error(e: httparse::Error, limits: &Limits) -> HandshakeError {
    let reason = match e {
        httparse::Error::TooManyHeaders => {
            return HandshakeError::TooManyHeaders {
                limit: limits.max_headers,
            };
        }
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status code",
        httparse::Error::Token => "invalid token",
        httparse::Error::Version => "invalid HTTP version",
    };
    HandshakeError::MalformedHttp { reason }
}

fn checked_len(status: httparse::Status<usize>, block_len: usize) -> Result<(), HandshakeError> {
    match status {
        httparse::Status::Complete(n) if n == block_len => Ok(()),
        // The scanner found an empty line httparse does not see as the end
        // of the block; cannot happen with a well-formed head.
        _ => Err(HandshakeError::MalformedHttp {
            reason: "unexpected end of header block",
        }),
    }
}

fn owned_headers(headers: &[httparse::Header<'_>]) -> Headers {
    let mut out = Headers::new();
    for h in headers {
        out.push(h.name, crate::headers::trim_ows(h.value));
    }
    out
}

/// Parses a complete request header block (one httparse call).
pub(crate) fn parse_request(
    block: &[u8],
    limits: &Limits,
    stats: &mut ParseStats,
) -> Result<RawRequest, HandshakeError> {
    let mut headers = header_array(block.len(), limits);
    let mut req = httparse::Request::new(&mut headers);
    stats.httparse_calls += 1;
    let status = req.parse(block).map_err(|e| map_error(e, limits))?;
    checked_len(status, block.len())?;
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(HandshakeError::MalformedHttp {
            reason: "incomplete request line",
        });
    };
    Ok(RawRequest {
        method: method.into(),
        target: target.into(),
        minor_version,
        headers: owned_headers(req.headers),
    })
}

/// Parses a complete response header block (one httparse call).
pub(crate) fn parse_response(
    block: &[u8],
    limits: &Limits,
    stats: &mut ParseStats,
) -> Result<RawResponse, HandshakeError> {
    let mut headers = header_array(block.len(), limits);
    let mut resp = httparse::Response::new(&mut headers);
    stats.httparse_calls += 1;
    let status = resp.parse(block).map_err(|e| map_error(e, limits))?;
    checked_len(status, block.len())?;
    let (Some(minor_version), Some(code)) = (resp.version, resp.code) else {
        return Err(HandshakeError::MalformedHttp {
            reason: "incomplete status line",
        });
    };
    Ok(RawResponse {
        minor_version,
        status: code,
        reason: resp.reason.unwrap_or_default().into(),
        headers: owned_headers(resp.headers),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(h: &mut HeadBuffer, input: &[u8]) -> Result<Option<usize>, HandshakeError> {
        h.push(input)
    }

    #[test]
    fn finds_every_terminator_form() {
        for (input, end) in [
            (&b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest"[..], 24),
            (b"GET / HTTP/1.1\nA: b\n\nrest", 21),
            (b"GET / HTTP/1.1\r\nA: b\r\n\nrest", 23),
            (b"GET / HTTP/1.1\nA: b\n\r\nrest", 22),
            (b"\r\n\r\n\nGET / HTTP/1.1\n\n", 21),
        ] {
            let mut h = HeadBuffer::new(1024);
            assert_eq!(feed_all(&mut h, input), Ok(Some(end)), "{input:?}");
            // Same split at every point.
            for split in 0..input.len() {
                let mut h = HeadBuffer::new(1024);
                let (a, b) = input.split_at(split);
                let got = match h.push(a).unwrap() {
                    Some(n) => n,
                    None => split + h.push(b).unwrap().unwrap(),
                };
                assert_eq!(got, end);
            }
        }
    }

    #[test]
    fn limit_is_exact() {
        let block = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        let mut h = HeadBuffer::new(block.len());
        assert_eq!(h.push(block), Ok(Some(block.len())));
        let mut h = HeadBuffer::new(block.len() - 1);
        assert_eq!(
            h.push(block),
            Err(HandshakeError::HeadersTooLarge {
                limit: block.len() - 1
            })
        );
        assert_eq!(h.len(), 0, "nothing buffered past the limit");
    }
}
