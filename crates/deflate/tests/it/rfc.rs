//! The examples of RFC 7692 section 7.2.3, byte for byte.

use ferrosocket_deflate::{Agreed, DeflateConfig, DeflateError, PerMessageDeflate, Role};

/// A codec for `role` with context takeover both ways, compressing everything.
fn codec(role: Role, level: u32) -> PerMessageDeflate {
    let config = DeflateConfig::new().threshold(0).level(level).unwrap();
    Agreed::default().into_codec(role, &config)
}

fn inflate(codec: &mut PerMessageDeflate, payload: &[u8]) -> Result<Vec<u8>, DeflateError> {
    let mut out = Vec::new();
    codec.decompress(payload, true, &mut out, 1 << 20)?;
    Ok(out)
}

const HELLO: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
const HELLO_AGAIN: &[u8] = &[0xf2, 0x00, 0x11, 0x00, 0x00];

#[test]
fn hello_compresses_as_in_7_2_3_1_and_7_2_3_2() {
    // zlib's default matcher (level 6) finds the second "Hello" 5 bytes back, as the
    // RFC's example does.
    let mut sender = codec(Role::Server, 6);
    let mut wire = Vec::new();
    assert!(sender.compress(b"Hello", true, &mut wire).unwrap());
    assert_eq!(wire, HELLO);
    wire.clear();
    assert!(sender.compress(b"Hello", true, &mut wire).unwrap());
    assert_eq!(wire, HELLO_AGAIN);
    // Level 1 compresses the first the same way.
    let mut fast = codec(Role::Server, 1);
    wire.clear();
    fast.compress(b"Hello", true, &mut wire).unwrap();
    assert_eq!(wire, HELLO);
}

#[test]
fn hello_decompresses_as_in_7_2_3_1_and_7_2_3_2() {
    let mut receiver = codec(Role::Client, 1);
    assert_eq!(inflate(&mut receiver, HELLO).unwrap(), b"Hello");
    // With context takeover the second message refers back to the first.
    assert_eq!(inflate(&mut receiver, HELLO_AGAIN).unwrap(), b"Hello");
    // Without the first message's context the second is invalid.
    let mut fresh = codec(Role::Client, 1);
    assert_eq!(inflate(&mut fresh, HELLO_AGAIN), Err(DeflateError::Corrupt));
}

#[test]
fn hello_split_over_frames_decompresses() {
    // 7.2.3.1's fragmented form: "f2 48 cd" then "c9 c9 07 00".
    let mut receiver = codec(Role::Client, 1);
    let mut out = Vec::new();
    receiver
        .decompress(&HELLO[..3], false, &mut out, 100)
        .unwrap();
    receiver
        .decompress(&HELLO[3..], true, &mut out, 100)
        .unwrap();
    assert_eq!(out, b"Hello");
}

#[test]
fn no_compression_block_7_2_3_3() {
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    let mut receiver = codec(Role::Server, 1);
    assert_eq!(inflate(&mut receiver, &stored).unwrap(), b"Hello");
    // The context goes on: the next message may refer to the stored "Hello".
    assert_eq!(inflate(&mut receiver, HELLO_AGAIN).unwrap(), b"Hello");
}

#[test]
fn bfinal_block_7_2_3_4() {
    let final_block = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut receiver = codec(Role::Server, 1);
    assert_eq!(inflate(&mut receiver, &final_block).unwrap(), b"Hello");
    // The peer's stream ended; the next message starts a new one.
    assert_eq!(inflate(&mut receiver, HELLO).unwrap(), b"Hello");
    assert_eq!(inflate(&mut receiver, &final_block).unwrap(), b"Hello");
    // Anything after the final block within the message is not deflate data.
    let mut trailing = final_block.to_vec();
    trailing.push(0x00);
    assert_eq!(
        inflate(&mut receiver, &trailing),
        Err(DeflateError::Corrupt)
    );
    // Nor is a later frame of the same message.
    let mut receiver = codec(Role::Server, 1);
    let mut out = Vec::new();
    receiver
        .decompress(&final_block, false, &mut out, 100)
        .unwrap();
    assert_eq!(
        receiver.decompress(HELLO, true, &mut out, 100),
        Err(DeflateError::Corrupt)
    );
}

#[test]
fn two_blocks_7_2_3_5() {
    let two = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    let mut receiver = codec(Role::Client, 1);
    assert_eq!(inflate(&mut receiver, &two).unwrap(), b"Hello");
}

#[test]
fn empty_message_7_2_3_6() {
    for level in [0, 1, 6, 9] {
        let mut sender = codec(Role::Client, level);
        let mut receiver = codec(Role::Server, level);
        for _ in 0..2 {
            let mut wire = Vec::new();
            assert!(sender.compress(b"", true, &mut wire).unwrap());
            assert_eq!(wire, [0x00]);
            assert_eq!(inflate(&mut receiver, &wire).unwrap(), b"");
        }
        // A message that was all empty frames is the same.
        let mut wire = Vec::new();
        assert!(sender.begin_message(None));
        sender.compress_chunk(b"", false, &mut wire).unwrap();
        sender.compress_chunk(b"", true, &mut wire).unwrap();
        assert_eq!(wire, [0x00]);
        // The context survives empty messages.
        wire.clear();
        sender.compress(b"Hello", true, &mut wire).unwrap();
        assert_eq!(inflate(&mut receiver, &wire).unwrap(), b"Hello");
        wire.clear();
        sender.compress(b"", true, &mut wire).unwrap();
        assert_eq!(inflate(&mut receiver, &wire).unwrap(), b"");
        wire.clear();
        sender.compress(b"Hello", true, &mut wire).unwrap();
        assert_eq!(inflate(&mut receiver, &wire).unwrap(), b"Hello");
    }
    // The last frame of a fragmented message may be empty (7.2.3.6 again).
    let mut sender = codec(Role::Client, 6);
    let mut receiver = codec(Role::Server, 6);
    let (mut first, mut last) = (Vec::new(), Vec::new());
    sender.begin_message(None);
    sender.compress_chunk(b"Hello", false, &mut first).unwrap();
    sender.compress_chunk(b"", true, &mut last).unwrap();
    let mut out = Vec::new();
    receiver.decompress(&first, false, &mut out, 100).unwrap();
    receiver.decompress(&last, true, &mut out, 100).unwrap();
    assert_eq!(out, b"Hello");
    // And a payload that is empty altogether is taken as the empty message, leaving
    // the context alone.
    assert_eq!(inflate(&mut receiver, b"").unwrap(), b"");
    let mut wire = Vec::new();
    sender.compress(b"Hello", true, &mut wire).unwrap();
    assert_eq!(inflate(&mut receiver, &wire).unwrap(), b"Hello");
}
