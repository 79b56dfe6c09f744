//! Shared inputs for the criterion benchmarks in `benches/`.
//!
//! Run them with `cargo bench -p ferrosocket-benches` (or `--bench mask`,
//! `--bench utf8`, `--bench frame_decode`). Every comparison runs the competitors on
//! the same bytes in the same run; read ratios, not absolute times.
#![forbid(unsafe_code)]

use bytes::BytesMut;
use ferrosocket_codec::{FrameHeader, OpCode, encode_frame};

/// `count` masked binary frames of `payload_len` bytes each, back to back, as a
/// client would send them (each with its own key).
pub fn masked_frames(count: usize, payload_len: usize) -> Vec<u8> {
    masked_frames_of(OpCode::Binary, count, payload_len)
}

/// `count` masked single-frame messages with `opcode`, each of `payload_len` bytes
/// (ASCII letters for text, a byte pattern for binary), each with its own key.
pub fn masked_frames_of(opcode: OpCode, count: usize, payload_len: usize) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(count * (payload_len + 14));
    let payload: Vec<u8> = if opcode == OpCode::Text {
        (0..payload_len).map(|i| b'a' + (i % 26) as u8).collect()
    } else {
        (0..payload_len).map(|i| (i * 7 + 3) as u8).collect()
    };
    let mut seed = 0x2545_f491_u32;
    for _ in 0..count {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let header = FrameHeader {
            mask: Some(seed.to_le_bytes()),
            ..FrameHeader::new(opcode, 0)
        };
        encode_frame(header, &payload, &mut out);
    }
    out.to_vec()
}

/// A buffer of `len` bytes whose data starts `misalign` bytes past a 64-byte boundary,
/// returned with that start index.
pub fn aligned_buffer(len: usize, misalign: usize) -> (Vec<u8>, usize) {
    let buf = vec![0x5au8; len + 128];
    let start = buf.as_ptr().align_offset(64) + misalign;
    (buf, start)
}

/// Text of about `len` bytes: ASCII (`multibyte == false`) or a mix of Greek, CJK and
/// emoji (2-, 3- and 4-byte sequences), cut at a character boundary.
pub fn text(len: usize, multibyte: bool) -> String {
    let unit = if multibyte {
        "κόσμε 世界 🦀 Ωμέγα 日本語 ✓ "
    } else {
        "The quick brown fox jumps over the lazy dog. 0123456789 "
    };
    let mut s = String::with_capacity(len + unit.len());
    while s.len() < len {
        s.push_str(unit);
    }
    let mut end = len.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_have_the_promised_shape() {
        assert_eq!(masked_frames(3, 20).len(), 3 * (20 + 6));
        let (buf, start) = aligned_buffer(100, 6);
        assert_eq!((buf.as_ptr() as usize + start) % 64, 6);
        let t = text(125, true);
        assert!(t.len() <= 125 && t.len() > 110 && !t.is_ascii());
        assert!(text(61, false).is_ascii());
        let text_frames = masked_frames_of(OpCode::Text, 2, 5);
        assert_eq!(text_frames[0], 0x81, "text frames carry the text opcode");
        assert_eq!(masked_frames(1, 5)[0], 0x82);
    }
}
