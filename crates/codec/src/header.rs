//! Frame headers, RFC 6455 section 5.2.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use core::ops::Deref;

use bytes::BufMut;

use crate::{FrameError, OpCode};

/// The longest header: 2 bytes, 8 of extended length, 4 of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD_LEN: usize = 125;

/// A parsed or to-be-encoded frame header.
///
/// RSV bits are reported as they are, not judged: whether they are allowed depends on
/// the negotiated extensions, which the connection layer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final frame of a message.
    pub fin: bool,
    /// RSV1 (permessage-deflate uses it to flag a compressed message).
    pub rsv1: bool,
    /// RSV2.
    pub rsv2: bool,
    /// RSV3.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

/// The outcome of [`FrameHeader::parse`] on a buffer that holds no error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum HeaderStatus {
    /// The whole header is present.
    Complete {
        /// The header.
        header: FrameHeader,
        /// How many bytes it took; the payload starts there.
        header_len: usize,
    },
    /// More bytes are needed before the header can be parsed (at least `needed`).
    Partial {
        /// How many more bytes are needed for the header (not the payload).
        needed: usize,
    },
}

impl FrameHeader {
    /// A header for a final, unmasked frame without RSV bits.
    #[inline]
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        Self {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Parses a header from the start of `buf`, checking it before anything is
    /// allocated or buffered.
    ///
    /// `max_payload_len` is the largest payload accepted; a frame announcing more is
    /// [`FrameError::FrameTooLarge`] as soon as its length is readable. Errors are also
    /// returned for reserved opcodes, fragmented or over-long control frames, a 64-bit
    /// length with its top bit set, and a length not minimally encoded. A reserved
    /// opcode or a bad control frame is reported from the first two bytes alone.
    ///
    /// ```
    /// use ferrosocket_codec::{FrameHeader, HeaderStatus, OpCode};
    ///
    /// // A masked "Hello" text frame from RFC 6455 section 5.7.
    /// let wire = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    /// assert_eq!(FrameHeader::parse(&wire[..1], u64::MAX), Ok(HeaderStatus::Partial { needed: 1 }));
    /// let HeaderStatus::Complete { header, header_len } = FrameHeader::parse(wire, 1024).unwrap() else {
    ///     unreachable!()
    /// };
    /// assert_eq!((header.opcode, header.payload_len, header_len), (OpCode::Text, 5, 6));
    /// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    /// ```
    #[inline(always)]
    pub fn parse(buf: &[u8], max_payload_len: u64) -> Result<HeaderStatus, FrameError> {
        let (b0, b1) = match *buf {
            [b0, b1, ..] => (b0, b1),
            _ => {
                return Ok(HeaderStatus::Partial {
                    needed: 2 - buf.len(),
                });
            }
        };
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let len_code = b1 & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(FrameError::FragmentedControlFrame);
            }
            if len_code as usize > MAX_CONTROL_PAYLOAD_LEN {
                return Err(FrameError::ControlFrameTooLong(len_code));
            }
        }
        let ext_len = match len_code {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + ext_len + if masked { 4 } else { 0 };
        if buf.len() < header_len {
            return Ok(HeaderStatus::Partial {
                needed: header_len - buf.len(),
            });
        }
        let payload_len = match ext_len {
            0 => u64::from(len_code),
            2 => {
                let len = u64::from(u16::from_be_bytes([buf[2], buf[3]]));
                if len < 126 {
                    return Err(FrameError::NonMinimalLength);
                }
                len
            }
            _ => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&buf[2..10]);
                let len = u64::from_be_bytes(be);
                if len >> 63 != 0 {
                    return Err(FrameError::InvalidPayloadLength);
                }
                if len <= u64::from(u16::MAX) {
                    return Err(FrameError::NonMinimalLength);
                }
                len
            }
        };
        if payload_len > max_payload_len {
            return Err(FrameError::FrameTooLarge {
                len: payload_len,
                max: max_payload_len,
            });
        }
        let mask = if masked {
            let at = 2 + ext_len;
            Some([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(HeaderStatus::Complete { header, header_len })
    }

    /// How many bytes [`encode`](FrameHeader::encode) writes: 2 to 14.
    #[inline]
    pub const fn encoded_len(&self) -> usize {
        let ext = if self.payload_len < 126 {
            0
        } else if self.payload_len <= u16::MAX as u64 {
            2
        } else {
            8
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes the header with the minimal length form (7, 16 or 64 bits).
    ///
    /// The encoder does not judge the header: a control frame over 125 bytes or a
    /// payload length at or above 2^63 would encode as given, so build those only from
    /// values you checked (the connection layer does).
    ///
    /// ```
    /// use ferrosocket_codec::{FrameHeader, OpCode};
    /// let header = FrameHeader::new(OpCode::Binary, 256);
    /// assert_eq!(&*header.encode(), &[0x82, 0x7e, 0x01, 0x00]);
    /// ```
    #[inline]
    pub fn encode(&self) -> EncodedHeader {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        bytes[0] = (u8::from(self.fin) << 7)
            | (u8::from(self.rsv1) << 6)
            | (u8::from(self.rsv2) << 5)
            | (u8::from(self.rsv3) << 4)
            | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        if self.payload_len < 126 {
            bytes[1] = mask_bit | self.payload_len as u8;
        } else if self.payload_len <= u64::from(u16::MAX) {
            bytes[1] = mask_bit | 126;
            bytes[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            len = 4;
        } else {
            bytes[1] = mask_bit | 127;
            bytes[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            len = 10;
        }
        if let Some(key) = self.mask {
            bytes[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        EncodedHeader {
            bytes,
            len: len as u8,
        }
    }

    /// Appends the encoded header to `dst`.
    #[inline]
    pub fn write(&self, dst: &mut impl BufMut) {
        dst.put_slice(&self.encode());
    }
}

/// An encoded header on the stack; dereferences to its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedHeader {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl Deref for EncodedHeader {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for EncodedHeader {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<HeaderStatus, FrameError> {
        FrameHeader::parse(buf, u64::MAX >> 1)
    }

    fn complete(buf: &[u8]) -> (FrameHeader, usize) {
        match parse(buf).unwrap() {
            HeaderStatus::Complete { header, header_len } => (header, header_len),
            other => panic!("expected complete, got {other:?}"),
        }
    }

    #[test]
    fn rfc_5_7_examples() {
        // Unmasked "Hello".
        let (h, n) = complete(b"\x81\x05Hello");
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        // Fragmented unmasked "Hel" + "lo".
        let (h, _) = complete(b"\x01\x03Hel");
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, _) = complete(b"\x80\x02lo");
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // Unmasked ping "Hello", masked pong.
        assert_eq!(complete(b"\x89\x05Hello").0.opcode, OpCode::Ping);
        let (h, n) = complete(b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
        assert_eq!(
            (h.opcode, h.mask, n),
            (OpCode::Pong, Some([0x37, 0xfa, 0x21, 0x3d]), 6)
        );
        // 256 bytes and 64 KiB binary, unmasked.
        assert_eq!(complete(b"\x82\x7e\x01\x00").0.payload_len, 256);
        assert_eq!(complete(b"\x82\x7f\0\0\0\0\0\x01\0\0").0.payload_len, 65536);
    }

    #[test]
    fn partial_says_how_much_more() {
        let wire = FrameHeader {
            mask: Some([1, 2, 3, 4]),
            ..FrameHeader::new(OpCode::Binary, 70_000)
        }
        .encode();
        assert_eq!(wire.len(), 14);
        for cut in 0..wire.len() {
            let expected = if cut < 2 { 2 - cut } else { 14 - cut };
            assert_eq!(
                parse(&wire[..cut]),
                Ok(HeaderStatus::Partial { needed: expected }),
                "{cut}"
            );
        }
        assert!(matches!(
            parse(&wire),
            Ok(HeaderStatus::Complete { header_len: 14, .. })
        ));
    }

    #[test]
    fn rejects_before_reading_more() {
        assert_eq!(parse(b"\x83\x00"), Err(FrameError::ReservedOpCode(3)));
        assert_eq!(parse(b"\x8b"), Ok(HeaderStatus::Partial { needed: 1 }));
        assert_eq!(parse(b"\x8b\x00"), Err(FrameError::ReservedOpCode(0xB)));
        assert_eq!(parse(b"\x09\x00"), Err(FrameError::FragmentedControlFrame));
        assert_eq!(
            parse(b"\x89\x7e"),
            Err(FrameError::ControlFrameTooLong(126))
        );
        assert_eq!(
            parse(b"\x88\xff"),
            Err(FrameError::ControlFrameTooLong(127))
        );
        assert_eq!(
            parse(b"\x82\x7f\x80\0\0\0\0\0\0\0"),
            Err(FrameError::InvalidPayloadLength)
        );
        assert_eq!(
            parse(b"\x82\x7e\x00\x7d"),
            Err(FrameError::NonMinimalLength)
        );
        assert_eq!(
            parse(b"\x82\x7f\0\0\0\0\0\0\xff\xff"),
            Err(FrameError::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::parse(b"\x82\x7e\x01\x00", 255),
            Err(FrameError::FrameTooLarge { len: 256, max: 255 })
        );
        assert!(FrameHeader::parse(b"\x82\x7e\x01\x00", 256).is_ok());
    }

    #[test]
    fn rsv_bits_are_reported_not_judged() {
        let (h, _) = complete(b"\xf2\x00");
        assert!(h.rsv1 && h.rsv2 && h.rsv3);
        let (h, _) = complete(b"\xc1\x00");
        assert!(h.rsv1 && !h.rsv2 && !h.rsv3);
    }

    #[test]
    fn encode_is_minimal_and_round_trips() {
        let lens = [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 32, (1 << 63) - 1];
        for &len in &lens {
            for mask in [None, Some([9, 8, 7, 6])] {
                for (fin, rsv1) in [(true, false), (false, true)] {
                    let h = FrameHeader {
                        fin,
                        rsv1,
                        mask,
                        ..FrameHeader::new(OpCode::Binary, len)
                    };
                    let wire = h.encode();
                    assert_eq!(wire.len(), h.encoded_len());
                    let expected_ext = if len < 126 {
                        0
                    } else if len < 65536 {
                        2
                    } else {
                        8
                    };
                    assert_eq!(
                        wire.len(),
                        2 + expected_ext + if mask.is_some() { 4 } else { 0 }
                    );
                    assert_eq!(complete(&wire), (h, wire.len()));
                }
            }
        }
    }
}
