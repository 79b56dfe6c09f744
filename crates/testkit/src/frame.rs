//! Frames built byte by byte from RFC 6455 section 5.2, independent of the codec.

/// Opcode numbers (RFC 6455 section 5.2).
pub const CONTINUATION: u8 = 0x0;
/// Text.
pub const TEXT: u8 = 0x1;
/// Binary.
pub const BINARY: u8 = 0x2;
/// Close.
pub const CLOSE: u8 = 0x8;
/// Ping.
pub const PING: u8 = 0x9;
/// Pong.
pub const PONG: u8 = 0xA;

/// The masking key [`masked`] uses.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame: fin, rsv bits (`0x40` = RSV1, ...), opcode, optional masking key,
/// payload (masked here if a key is given).
#[must_use]
pub fn frame(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | rsv | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A final frame masked with [`KEY`] (what a client sends).
#[must_use]
pub fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, 0, opcode, Some(KEY), payload)
}

/// A masked frame with an explicit fin bit (fragments).
#[must_use]
pub fn masked_fragment(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, Some(KEY), payload)
}

/// A final unmasked frame (what a server sends).
#[must_use]
pub fn unmasked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, 0, opcode, None, payload)
}

/// A frame as read back from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The fin bit.
    pub fin: bool,
    /// The opcode number.
    pub opcode: u8,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The close code of a close frame (`None` for another frame or a close
    /// without a code).
    #[must_use]
    pub fn close_code(&self) -> Option<u16> {
        match (self.opcode, self.payload.get(..2)) {
            (CLOSE, Some(code)) => Some(u16::from_be_bytes([code[0], code[1]])),
            _ => None,
        }
    }
}

/// Parses one frame from the start of `buf`: the frame and the bytes it took, or
/// `None` if `buf` does not hold a whole frame yet.
#[must_use]
pub fn parse(buf: &[u8]) -> Option<(Frame, usize)> {
    let [b0, b1, ..] = *buf else { return None };
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            usize::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (
            usize::try_from(u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?)).ok()?,
            10,
        ),
        n => (usize::from(n), 2),
    };
    let key = if b1 & 0x80 != 0 {
        let key: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    let mut payload = buf.get(at..at + len)?.to_vec();
    if let Some(key) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    let frame = Frame {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        payload,
    };
    Some((frame, at + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_back() {
        for len in [0, 5, 125, 126, 65535, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for bytes in [masked(BINARY, &payload), unmasked(BINARY, &payload)] {
                let (frame, used) = parse(&bytes).unwrap();
                assert_eq!(used, bytes.len());
                assert_eq!(frame.payload, payload);
                assert!(parse(&bytes[..bytes.len() - 1]).is_none() || len == 0);
            }
        }
        let close = unmasked(CLOSE, &1008u16.to_be_bytes());
        assert_eq!(parse(&close).unwrap().0.close_code(), Some(1008));
    }
}
