//! Whole frames over `bytes`: a zero-copy decoder and an encoder.

use bytes::{Buf, Bytes, BytesMut};

use crate::{FrameError, FrameHeader, HeaderStatus, OpCode, apply_mask};

/// The default largest frame payload a [`FrameDecoder`] accepts: 16 MiB.
pub const DEFAULT_MAX_PAYLOAD_LEN: u64 = 16 << 20;

/// A frame with its payload unmasked.
///
/// `header.mask` still holds the key the frame arrived with, so a connection can check
/// who masked it and [`encode`](Frame::encode) reproduces the wire bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header; `header.payload_len` equals `payload.len()`.
    pub header: FrameHeader,
    /// The payload, unmasked.
    pub payload: Bytes,
}

impl Frame {
    /// A final, unmasked frame.
    pub fn new(opcode: OpCode, payload: impl Into<Bytes>) -> Self {
        let payload = payload.into();
        Self {
            header: FrameHeader::new(opcode, payload.len() as u64),
            payload,
        }
    }

    /// Appends the frame to `dst`, masking the payload on the way if the header has
    /// a key. `header.payload_len` is taken from the payload.
    pub fn encode(&self, dst: &mut BytesMut) {
        encode_frame(self.header, &self.payload, dst);
    }
}

/// A frame decoded in place by [`FrameDecoder::decode_in_place`]: its payload,
/// unmasked, borrowed from the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The header; `header.payload_len` equals `payload.len()`.
    pub header: FrameHeader,
    /// The payload, unmasked in the caller's buffer.
    pub payload: &'a mut [u8],
    wire_len: usize,
}

impl FrameRef<'_> {
    /// How many bytes the frame took at the front of the buffer, header included:
    /// what the caller removes before decoding the next frame.
    #[inline]
    pub const fn wire_len(&self) -> usize {
        self.wire_len
    }
}

/// Appends a frame with `header` (its `payload_len` replaced by `payload.len()`) and
/// `payload` to `dst`, masking the copy in `dst` if `header.mask` is set.
///
/// One reservation, one header write, one copy, and masking in place.
///
/// ```
/// use bytes::BytesMut;
/// use ferrosocket_codec::{FrameHeader, OpCode, encode_frame};
///
/// let mut out = BytesMut::new();
/// let header = FrameHeader { mask: Some([0x37, 0xfa, 0x21, 0x3d]), ..FrameHeader::new(OpCode::Text, 0) };
/// encode_frame(header, b"Hello", &mut out);
/// assert_eq!(&out[..], b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
/// ```
#[inline]
pub fn encode_frame(header: FrameHeader, payload: &[u8], dst: &mut BytesMut) {
    let header = FrameHeader {
        payload_len: payload.len() as u64,
        ..header
    };
    let encoded = header.encode();
    dst.reserve(encoded.len() + payload.len());
    dst.extend_from_slice(&encoded);
    let start = dst.len();
    dst.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut dst[start..], key, 0);
    }
}

/// Splits frames off the front of a [`BytesMut`], zero-copy.
///
/// Each call to [`decode`](FrameDecoder::decode) returns the next complete frame, its
/// payload split out of the input buffer as [`Bytes`] and unmasked in place, or
/// `Ok(None)` when the buffer holds only part of one. The header of a partial frame is
/// checked (and kept) as soon as it is complete, so an oversized or malformed frame is
/// refused before any of its payload is buffered; the decoder itself never allocates.
///
/// After an error the stream is broken: close the connection with
/// [`FrameError::close_code`].
///
/// ```
/// use bytes::BytesMut;
/// use ferrosocket_codec::{FrameDecoder, OpCode};
///
/// let mut decoder = FrameDecoder::new();
/// let mut buf = BytesMut::from(&b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f"[..]);
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None); // 3 payload bytes missing
/// buf.extend_from_slice(b"\x4d\x51\x58\x89\x00");
/// let frame = decoder.decode(&mut buf).unwrap().unwrap();
/// assert_eq!((frame.header.opcode, &frame.payload[..]), (OpCode::Text, &b"Hello"[..]));
/// let ping = decoder.decode(&mut buf).unwrap().unwrap();
/// assert_eq!(ping.header.opcode, OpCode::Ping);
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_payload_len: u64,
    /// The header of a frame whose payload has not fully arrived, and its length.
    pending: Option<(FrameHeader, usize)>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder accepting payloads up to [`DEFAULT_MAX_PAYLOAD_LEN`] (16 MiB).
    pub const fn new() -> Self {
        Self::with_max_payload_len(DEFAULT_MAX_PAYLOAD_LEN)
    }

    /// A decoder accepting payloads up to `max` bytes.
    pub const fn with_max_payload_len(max: u64) -> Self {
        Self {
            max_payload_len: max,
            pending: None,
        }
    }

    /// The largest payload accepted.
    pub const fn max_payload_len(&self) -> u64 {
        self.max_payload_len
    }

    /// Decodes the next frame from the front of `src`.
    ///
    /// `Ok(None)` means more bytes are needed; [`bytes_needed`](Self::bytes_needed)
    /// says how many at least.
    #[inline]
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some((header, header_len, payload_len)) = self.next_frame(src)? else {
            return Ok(None);
        };
        src.advance(header_len);
        let mut payload = src.split_to(payload_len);
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        Ok(Some(Frame {
            header,
            payload: payload.freeze(),
        }))
    }

    /// Decodes the next frame at the front of `src` in place: its payload is unmasked
    /// where it lies and lent out, nothing is split off, counted or allocated.
    ///
    /// This is the decoder for callers that own their read buffer and consume each
    /// frame before reading the next: no [`Bytes`] handle per frame (whose shared
    /// reference count costs two atomic operations), and no `bytes` buffer needed at
    /// all. It checks and remembers headers exactly as [`decode`](Self::decode) does,
    /// and the two can be mixed.
    ///
    /// **The caller removes the frame's [`wire_len`](FrameRef::wire_len) bytes from
    /// the front of its buffer before the next call** (`BytesMut::advance`, or moving
    /// the rest to the front). Calling again on the same bytes decodes the same
    /// header again and unmasks the already unmasked payload a second time.
    ///
    /// ```
    /// use bytes::{Buf, BytesMut};
    /// use ferrosocket_codec::{FrameDecoder, OpCode};
    ///
    /// let mut decoder = FrameDecoder::new();
    /// let mut buf = BytesMut::from(&b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\x89\x00"[..]);
    /// let mut seen = Vec::new();
    /// while let Some(frame) = decoder.decode_in_place(&mut buf).unwrap() {
    ///     seen.push((frame.header.opcode, frame.payload.to_vec()));
    ///     let used = frame.wire_len();
    ///     buf.advance(used);
    /// }
    /// assert_eq!(seen, [(OpCode::Text, b"Hello".to_vec()), (OpCode::Ping, Vec::new())]);
    /// assert!(buf.is_empty());
    /// ```
    #[inline]
    pub fn decode_in_place<'a>(
        &mut self,
        src: &'a mut [u8],
    ) -> Result<Option<FrameRef<'a>>, FrameError> {
        let Some((header, header_len, payload_len)) = self.next_frame(src)? else {
            return Ok(None);
        };
        let wire_len = header_len + payload_len;
        let payload = &mut src[header_len..wire_len];
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        Ok(Some(FrameRef {
            header,
            payload,
            wire_len,
        }))
    }

    /// The header, header length and payload length of the frame at the front of
    /// `src` if all of it is there; otherwise `None`, keeping a complete header
    /// as pending so it is parsed once.
    #[inline(always)]
    fn next_frame(
        &mut self,
        src: &[u8],
    ) -> Result<Option<(FrameHeader, usize, usize)>, FrameError> {
        let (header, header_len) = match self.pending {
            Some(pending) => pending,
            None => match FrameHeader::parse(src, self.max_payload_len)? {
                HeaderStatus::Complete { header, header_len } => (header, header_len),
                HeaderStatus::Partial { .. } => return Ok(None),
            },
        };
        // payload_len <= max_payload_len was checked; it may still not fit a 32-bit usize.
        let payload_len =
            usize::try_from(header.payload_len).map_err(|_| FrameError::FrameTooLarge {
                len: header.payload_len,
                max: usize::MAX as u64,
            })?;
        if src.len() - header_len < payload_len {
            self.pending = Some((header, header_len));
            return Ok(None);
        }
        self.pending = None;
        Ok(Some((header, header_len, payload_len)))
    }

    /// At least how many more bytes `src` needs before [`decode`](Self::decode) can
    /// return a frame (0 if it may return one now). Useful to size the next read,
    /// capped by the caller: the figure comes from a length the peer announced.
    pub fn bytes_needed(&self, src: &[u8]) -> usize {
        match self.pending {
            Some((header, header_len)) => {
                (header_len + header.payload_len as usize).saturating_sub(src.len())
            }
            None => match FrameHeader::parse(src, self.max_payload_len) {
                Ok(HeaderStatus::Partial { needed }) => needed,
                Ok(HeaderStatus::Complete { header, header_len }) => {
                    (header_len + header.payload_len as usize).saturating_sub(src.len())
                }
                Err(_) => 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    #[test]
    fn decode_byte_by_byte_equals_whole() {
        let mut wire = BytesMut::new();
        let key = Some([1, 2, 3, 4]);
        encode_frame(
            FrameHeader {
                mask: key,
                ..FrameHeader::new(OpCode::Text, 0)
            },
            b"Hello",
            &mut wire,
        );
        encode_frame(FrameHeader::new(OpCode::Ping, 0), b"", &mut wire);
        let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        encode_frame(
            FrameHeader {
                fin: false,
                mask: key,
                ..FrameHeader::new(OpCode::Binary, 0)
            },
            &big,
            &mut wire,
        );

        let mut decoder = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            assert!(decoder.bytes_needed(&buf) > 0 || !buf.is_empty());
            while let Some(f) = decoder.decode(&mut buf).unwrap() {
                frames.push(f);
            }
        }
        assert!(buf.is_empty());
        assert_eq!(frames.len(), 3);
        assert_eq!(&frames[0].payload[..], b"Hello");
        assert_eq!(frames[1].header.opcode, OpCode::Ping);
        assert_eq!(&frames[2].payload[..], &big[..]);
        assert!(!frames[2].header.fin);

        // Re-encoding reproduces the wire bytes exactly.
        let mut again = BytesMut::new();
        for f in &frames {
            f.encode(&mut again);
        }
        assert_eq!(again, wire);
    }

    #[test]
    fn oversized_frame_refused_from_its_header() {
        let mut decoder = FrameDecoder::with_max_payload_len(1000);
        let mut buf = BytesMut::from(&b"\x82\x7e\x03\xe9"[..]);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(FrameError::FrameTooLarge {
                len: 1001,
                max: 1000
            })
        );
        let mut decoder = FrameDecoder::with_max_payload_len(1000);
        let mut buf = BytesMut::from(&b"\x82\x7e\x03\xe8"[..]);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert_eq!(decoder.bytes_needed(&buf), 1000);
    }
}
