//! Arbitrary bytes and an arbitrary maximum frame size through `FrameDecoder`, fed in
//! arbitrary pieces: it never panics, never yields a frame over the limit, never
//! grows the buffer beyond what was fed, and every frame it accepts re-encodes to
//! exactly the bytes it was decoded from. `decode_in_place` over a plain `Vec`, fed
//! the same pieces, yields the same frames and the same verdict.
#![no_main]

use bytes::BytesMut;
use ferrosocket_codec::{CloseFrame, FrameDecoder, OpCode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let [m0, m1, step, data @ ..] = input else {
        return;
    };
    let max = u64::from(u16::from_le_bytes([*m0, *m1]));
    let step = usize::from(*step).max(1);
    let mut decoder = FrameDecoder::with_max_payload_len(max);
    let mut buf = BytesMut::new();
    let mut in_place = FrameDecoder::with_max_payload_len(max);
    let mut flat: Vec<u8> = Vec::new();
    let mut consumed = 0usize;
    let mut fed = 0usize;
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        flat.extend_from_slice(piece);
        fed += piece.len();
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.header.payload_len <= max);
                    assert_eq!(frame.payload.len() as u64, frame.header.payload_len);
                    let used = before - buf.len();
                    let mut again = BytesMut::new();
                    frame.encode(&mut again);
                    assert_eq!(&again[..], &data[consumed..consumed + used]);
                    consumed += used;
                    let other = in_place
                        .decode_in_place(&mut flat)
                        .expect("in place accepts what decode accepts")
                        .expect("and has the whole frame");
                    assert_eq!(other.header, frame.header);
                    assert_eq!(other.wire_len(), used);
                    assert_eq!(&other.payload[..], &frame.payload[..]);
                    flat.drain(..used);
                    if frame.header.opcode == OpCode::Close {
                        // Close payloads parse or fail cleanly, never panic.
                        if let Ok(Some(close)) = CloseFrame::parse(&frame.payload) {
                            assert!(close.code().is_sendable());
                        }
                    }
                }
                Ok(None) => {
                    assert_eq!(in_place.decode_in_place(&mut flat), Ok(None));
                    break;
                }
                Err(err) => {
                    assert_eq!(in_place.decode_in_place(&mut flat), Err(err));
                    let _ = err.close_code();
                    return;
                }
            }
        }
        // The decoder buffers nothing of its own: what is left is exactly what was
        // fed and not yet decoded, so memory never tracks an announced length.
        assert_eq!(buf.len(), fed - consumed);
    }
});
