//! Allocation counts, in a test binary of its own (the counting allocator is global,
//! and nothing else may run in parallel with the measured section).

use std::alloc::System;

use bytes::BytesMut;
use ferrosocket_codec::{FrameDecoder, FrameHeader, OpCode, encode_frame};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const FRAMES: usize = 10_000;

/// `FRAMES` masked binary frames of 20 bytes.
fn small_masked_frames() -> BytesMut {
    let mut wire = BytesMut::new();
    for i in 0..FRAMES {
        let header = FrameHeader {
            mask: Some((i as u32).to_le_bytes()),
            ..FrameHeader::new(OpCode::Binary, 0)
        };
        encode_frame(header, &[0x5a; 20], &mut wire);
    }
    wire
}

/// Decoding small masked frames allocates nothing per frame: payloads are split out
/// of the input buffer (one shared allocation, reference-counted) and unmasked in place.
#[test]
fn decoding_does_not_allocate_per_frame() {
    let mut wire = small_masked_frames();
    let mut decoder = FrameDecoder::new();
    let mut decoded = 0;
    let region = Region::new(GLOBAL);
    while let Some(frame) = decoder.decode(&mut wire).expect("valid frames") {
        assert_eq!(frame.payload.len(), 20);
        decoded += 1;
    }
    let stats = region.change();
    assert_eq!(decoded, FRAMES);
    // `BytesMut` promotes its vector to a shared buffer once, on the first split.
    assert!(
        stats.allocations <= 1,
        "{} allocations for {FRAMES} frames",
        stats.allocations
    );
    assert!(
        stats.bytes_allocated <= 64,
        "{} bytes allocated",
        stats.bytes_allocated
    );
    decoding_in_place_does_not_allocate();
}

/// The in-place decoder allocates nothing at all: no shared buffer, no handle.
///
/// Called from the one test above: libtest's own threads allocate while a second
/// test runs, and the counts are global.
fn decoding_in_place_does_not_allocate() {
    use bytes::Buf;

    let mut wire = small_masked_frames();
    let mut decoder = FrameDecoder::new();
    let mut decoded = 0;
    let region = Region::new(GLOBAL);
    while let Some(frame) = decoder.decode_in_place(&mut wire).expect("valid frames") {
        assert_eq!(frame.payload, &[0x5a; 20]);
        let used = frame.wire_len();
        wire.advance(used);
        decoded += 1;
    }
    let stats = region.change();
    assert_eq!(decoded, FRAMES);
    assert_eq!(stats.allocations, 0, "{stats:?}");
}
