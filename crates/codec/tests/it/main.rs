//! Integration tests for ferrosocket-codec: round trips under random chunking,
//! hostile input, and the RFC 6455 section 5.7 vectors.

use bytes::BytesMut;
use ferrosocket_codec::{
    CloseCode, Frame, FrameDecoder, FrameError, FrameHeader, HeaderStatus, OpCode, apply_mask,
    encode_frame, mask::apply_mask_bytewise,
};
use proptest::prelude::*;

fn opcode() -> impl Strategy<Value = OpCode> {
    prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
        Just(OpCode::Close),
        Just(OpCode::Ping),
        Just(OpCode::Pong),
    ]
}

prop_compose! {
    fn frame()(op in opcode(), fin in any::<bool>(), rsv in 0u8..8, mask in any::<Option<[u8; 4]>>(),
               len_class in 0u8..4, seed in any::<u8>())
        -> (FrameHeader, Vec<u8>)
    {
        let len = if op.is_control() {
            usize::from(seed) % 126
        } else {
            match len_class { 0 => usize::from(seed) % 126, 1 => 126 + usize::from(seed), 2 => 65_535 + usize::from(seed) % 3, _ => 70_000 }
        };
        let header = FrameHeader {
            fin: fin || op.is_control(),
            rsv1: rsv & 1 != 0,
            rsv2: rsv & 2 != 0,
            rsv3: rsv & 4 != 0,
            opcode: op,
            mask,
            payload_len: len as u64,
        };
        let payload = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        (header, payload)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Frames encoded back to back and fed to the decoder in random pieces come out
    /// whole, unmasked, in order, and re-encode to the same bytes.
    #[test]
    fn encode_decode_round_trip(frames in prop::collection::vec(frame(), 1..12),
                                cuts in prop::collection::vec(1usize..9000, 0..40)) {
        let mut wire = BytesMut::new();
        for (h, p) in &frames {
            encode_frame(*h, p, &mut wire);
        }
        let wire = wire.freeze();
        let mut decoder = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut at = 0;
        let mut cuts = cuts.into_iter();
        while at < wire.len() {
            let n = cuts.next().unwrap_or(usize::MAX).min(wire.len() - at);
            buf.extend_from_slice(&wire[at..at + n]);
            at += n;
            while let Some(f) = decoder.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out.len(), frames.len());
        let mut again = BytesMut::new();
        for (f, (h, p)) in out.iter().zip(&frames) {
            prop_assert_eq!(f.header, *h);
            prop_assert_eq!(&f.payload[..], &p[..]);
            f.encode(&mut again);
        }
        prop_assert_eq!(&again[..], &wire[..]);
    }

    /// The in-place decoder over a plain `Vec` (no `bytes` buffer), fed in random
    /// pieces, yields the same frames as [`FrameDecoder::decode`]; switching between
    /// the two at random frames changes nothing.
    #[test]
    fn in_place_equals_split(frames in prop::collection::vec(frame(), 1..12),
                             cuts in prop::collection::vec(1usize..9000, 0..40),
                             switches in any::<u16>()) {
        let mut wire = BytesMut::new();
        for (h, p) in &frames {
            encode_frame(*h, p, &mut wire);
        }
        let mut decoder = FrameDecoder::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut split_buf = BytesMut::new();
        let mut out: Vec<(FrameHeader, Vec<u8>, usize)> = Vec::new();
        let mut at = 0;
        let mut cuts = cuts.into_iter();
        while at < wire.len() {
            let n = cuts.next().unwrap_or(usize::MAX).min(wire.len() - at);
            buf.extend_from_slice(&wire[at..at + n]);
            at += n;
            loop {
                if switches >> (out.len() % 16) & 1 == 0 {
                    let Some(f) = decoder.decode_in_place(&mut buf).unwrap() else { break };
                    prop_assert_eq!(f.header.payload_len, f.payload.len() as u64);
                    let entry = (f.header, f.payload.to_vec(), f.wire_len());
                    buf.drain(..entry.2);
                    out.push(entry);
                } else {
                    split_buf.clear();
                    split_buf.extend_from_slice(&buf);
                    let Some(f) = decoder.decode(&mut split_buf).unwrap() else { break };
                    let used = buf.len() - split_buf.len();
                    buf.drain(..used);
                    out.push((f.header, f.payload.to_vec(), used));
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out.len(), frames.len());
        for ((h, p, used), (h0, p0)) in out.iter().zip(&frames) {
            prop_assert_eq!(h, h0);
            prop_assert_eq!(p, p0);
            prop_assert_eq!(*used, h0.encoded_len() + p0.len());
        }
    }

    /// Arbitrary bytes never panic the decoder, never yield a frame over the limit,
    /// and every accepted frame re-encodes to exactly the bytes it came from.
    #[test]
    fn hostile_bytes(data in prop::collection::vec(any::<u8>(), 0..600), max in 0u64..300) {
        let mut decoder = FrameDecoder::with_max_payload_len(max);
        let mut buf = BytesMut::from(&data[..]);
        let mut consumed = 0;
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Some(f)) => {
                    prop_assert!(f.header.payload_len <= max);
                    let mut re = BytesMut::new();
                    f.encode(&mut re);
                    prop_assert_eq!(&re[..], &data[consumed..consumed + before - buf.len()]);
                    consumed += before - buf.len();
                }
                Ok(None) => break,
                Err(e) => {
                    let code = e.close_code();
                    prop_assert!(code == CloseCode::PROTOCOL_ERROR || code == CloseCode::MESSAGE_TOO_BIG);
                    break;
                }
            }
        }
    }

    /// The dispatching mask equals the bytewise reference at any offset.
    #[test]
    fn mask_matches_reference(mut data in prop::collection::vec(any::<u8>(), 0..3000),
                              key in any::<[u8; 4]>(), offset in 0usize..8) {
        let mut expected = data.clone();
        apply_mask_bytewise(&mut expected, key, offset);
        apply_mask(&mut data, key, offset);
        prop_assert_eq!(data, expected);
    }
}

#[test]
fn rfc_6455_section_5_7_vectors() {
    let cases: [(&[u8], OpCode, bool, &[u8]); 5] = [
        (
            b"\x81\x05\x48\x65\x6c\x6c\x6f",
            OpCode::Text,
            true,
            b"Hello",
        ),
        (
            b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
            OpCode::Text,
            true,
            b"Hello",
        ),
        (b"\x01\x03\x48\x65\x6c", OpCode::Text, false, b"Hel"),
        (b"\x80\x02\x6c\x6f", OpCode::Continuation, true, b"lo"),
        (
            b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
            OpCode::Pong,
            true,
            b"Hello",
        ),
    ];
    for (wire, op, fin, payload) in cases {
        let mut buf = BytesMut::from(wire);
        let f = FrameDecoder::new().decode(&mut buf).unwrap().unwrap();
        assert_eq!(
            (f.header.opcode, f.header.fin, &f.payload[..]),
            (op, fin, payload)
        );
        let mut re = BytesMut::new();
        f.encode(&mut re);
        assert_eq!(&re[..], wire);
    }
    // 256 bytes and 64 KiB of binary in one unmasked frame.
    for len in [256usize, 65_536] {
        let mut wire = BytesMut::new();
        Frame::new(OpCode::Binary, vec![7u8; len]).encode(&mut wire);
        let expected: &[u8] = if len == 256 {
            b"\x82\x7e\x01\x00"
        } else {
            b"\x82\x7f\0\0\0\0\0\x01\0\0"
        };
        assert_eq!(&wire[..expected.len()], expected);
    }
}

#[test]
fn limits_are_checked_before_payload_arrives() {
    // A 2^62-byte frame announced: refused from its 10 header bytes, nothing allocated.
    let mut buf = BytesMut::from(&b"\x82\x7f\x40\0\0\0\0\0\0\0"[..]);
    let err = FrameDecoder::new().decode(&mut buf).unwrap_err();
    assert_eq!(
        err,
        FrameError::FrameTooLarge {
            len: 1 << 62,
            max: 16 << 20
        }
    );
    assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
    assert_eq!(buf.capacity(), 10);
    // The limit is inclusive.
    assert!(matches!(
        FrameHeader::parse(b"\x82\x7e\x00\x80", 128),
        Ok(HeaderStatus::Complete { .. })
    ));
}

#[test]
fn errors_map_to_rfc_close_codes() {
    let cases: [(&[u8], FrameError); 6] = [
        (b"\x84\x00", FrameError::ReservedOpCode(4)),
        (b"\x8f\x00", FrameError::ReservedOpCode(0xF)),
        (b"\x08\x00", FrameError::FragmentedControlFrame),
        (b"\x8a\x7e\x00\x7e", FrameError::ControlFrameTooLong(126)),
        (
            b"\x82\x7f\xff\0\0\0\0\0\0\0",
            FrameError::InvalidPayloadLength,
        ),
        (b"\x82\x7e\x00\x05", FrameError::NonMinimalLength),
    ];
    for (wire, expected) in cases {
        let mut buf = BytesMut::from(wire);
        let err = FrameDecoder::new().decode(&mut buf).unwrap_err();
        assert_eq!(err, expected);
        assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
        assert!(!err.to_string().is_empty());
    }
}
