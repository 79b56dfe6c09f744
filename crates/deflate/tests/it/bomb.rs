//! Decompression bombs: the output budget holds, memory stays near it, and nothing
//! spins.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrosocket_deflate::{Agreed, DeflateConfig, DeflateError, PerMessageDeflate, Role};

/// Deflate bits, least significant first.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn new() -> Self {
        Self {
            out: Vec::new(),
            acc: 0,
            n: 0,
        }
    }

    fn put(&mut self, value: u32, bits: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code goes out most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        self.put(code.reverse_bits() >> (32 - len), len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// The densest deflate there is, built by hand: one dynamic block whose codes are a
/// literal 0 (2 bits), "length 258" (1 bit), distance 1 (1 bit) and end of block
/// (2 bits), so every 258 zero bytes cost 2 bits. Inflates to `1 + 258 * runs`
/// zeros; ends as a sync-flushed message does, minus the `00 00 ff ff` tail.
fn zero_bomb(runs: usize) -> Vec<u8> {
    let mut b = Bits::new();
    b.put(0, 1); // BFINAL 0
    b.put(2, 2); // dynamic Huffman codes
    b.put(286 - 257, 5); // HLIT: literal/length codes 0..=285
    b.put(0, 5); // HDIST: one distance code
    b.put(18 - 4, 4); // HCLEN: 18 code length codes, up to symbol 1
    // Code length code lengths, in their odd order: 18 gets 1 bit, 1 and 2 get 2.
    const ORDER: [u8; 18] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1];
    for sym in ORDER {
        b.put(
            match sym {
                18 => 1,
                1 | 2 => 2,
                _ => 0,
            },
            3,
        );
    }
    // Canonical codes of that alphabet: 18 -> 0, 1 -> 10, 2 -> 11.
    let (one, two) = ((0b10, 2), (0b11, 2));
    let zeros = |b: &mut Bits, count: u32| {
        b.code(0, 1);
        b.put(count - 11, 7);
    };
    b.code(two.0, two.1); // literal 0: length 2
    zeros(&mut b, 138); // literals 1..=255: unused
    zeros(&mut b, 117);
    b.code(two.0, two.1); // 256, end of block: length 2
    zeros(&mut b, 28); // lengths 257..=284: unused
    b.code(one.0, one.1); // 285, length 258: length 1
    b.code(one.0, one.1); // distance code 0 (distance 1): length 1
    // Literal/length codes: 285 -> 0, 0 -> 10, 256 -> 11; distance 0 -> 0.
    b.code(0b10, 2);
    for _ in 0..runs {
        b.code(0, 1);
        b.code(0, 1);
    }
    b.code(0b11, 2);
    // The empty stored block of a sync flush, whose LEN/NLEN the receiver appends.
    b.put(0, 3);
    b.finish()
}

fn receiver() -> PerMessageDeflate {
    Agreed::default().into_codec(Role::Server, &DeflateConfig::new())
}

const LIMIT: usize = 16 << 20;

#[test]
fn the_bomb_is_valid_deflate() {
    let runs = 1000;
    let payload = zero_bomb(runs);
    let len = 1 + 258 * runs;
    let mut out = Vec::new();
    receiver()
        .decompress(&payload, true, &mut out, len)
        .unwrap();
    assert_eq!(out.len(), len);
    assert!(out.iter().all(|&b| b == 0));
    // One byte less of budget is too little.
    let mut out = Vec::new();
    assert_eq!(
        receiver().decompress(&payload, true, &mut out, len - 1),
        Err(DeflateError::TooBig)
    );
    assert!(out.len() < len);
}

#[test]
fn one_gib_of_zeros_stops_at_the_limit() {
    let runs = (1 << 30) / 258;
    let payload = zero_bomb(runs);
    assert!(
        payload.len() < 1_100_000,
        "1 GiB in {} bytes",
        payload.len()
    );
    let started = Instant::now();
    let mut out = Vec::new();
    let mut d = receiver();
    assert_eq!(
        d.decompress(&payload, true, &mut out, LIMIT),
        Err(DeflateError::TooBig)
    );
    assert!(out.len() <= LIMIT);
    assert!(
        out.capacity() <= LIMIT + (256 << 10),
        "capacity {}",
        out.capacity()
    );
    // Stopped at the limit rather than inflating the whole GiB (which takes many
    // seconds unoptimised): a generous bound, for a shared machine.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // The error sticks: the context is gone.
    assert_eq!(
        d.decompress(&[0x00], true, &mut Vec::new(), LIMIT),
        Err(DeflateError::TooBig)
    );

    // The same into a BytesMut, fed in 4 KiB frames with what is left of the limit.
    let mut d = receiver();
    let mut out = BytesMut::new();
    let mut result = Ok(());
    for (i, frame) in payload.chunks(4096).enumerate() {
        let last = (i + 1) * 4096 >= payload.len();
        let left = LIMIT - out.len();
        result = d.decompress(frame, last, &mut out, left);
        assert!(out.len() <= LIMIT);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(DeflateError::TooBig));
}

#[test]
fn our_own_zeros_stop_at_the_limit_too() {
    let config = DeflateConfig::new();
    let mut sender = Agreed::default().into_codec(Role::Client, &config);
    let zeros = vec![0u8; 1 << 20];
    let mut wire = Vec::new();
    assert!(sender.begin_message(None));
    for i in 0..17 {
        sender.compress_chunk(&zeros, i == 16, &mut wire).unwrap();
    }
    let mut out = Vec::new();
    assert_eq!(
        receiver().decompress(&wire, true, &mut out, LIMIT),
        Err(DeflateError::TooBig)
    );
    assert!(out.len() <= LIMIT);
    let mut out = Vec::new();
    receiver()
        .decompress(&wire, true, &mut out, 17 << 20)
        .unwrap();
    assert_eq!(out.len(), 17 << 20);
}

#[test]
fn the_budget_counts_this_call_only_and_zero_means_nothing() {
    let payload = zero_bomb(10); // 2581 zeros
    let mut out = vec![1u8; 100];
    let mut d = receiver();
    d.decompress(&payload, true, &mut out, 2581).unwrap();
    assert_eq!(out.len(), 2681);
    assert_eq!(&out[..100], [1; 100]);
    let mut out = Vec::new();
    assert_eq!(
        receiver().decompress(&payload, true, &mut out, 0),
        Err(DeflateError::TooBig)
    );
    assert!(out.is_empty());
    // The empty message fits in nothing.
    receiver().decompress(&[0x00], true, &mut out, 0).unwrap();
    assert!(out.is_empty());
}

#[test]
fn a_preallocated_vec_never_ends_over_budget() {
    // Spare capacity far beyond the budget: zlib may write into it, but the call
    // still fails and leaves at most the budget behind.
    let payload = zero_bomb(10_000);
    let mut out = Vec::with_capacity(4 << 20);
    assert_eq!(
        receiver().decompress(&payload, true, &mut out, 1000),
        Err(DeflateError::TooBig)
    );
    assert!(out.len() <= 1000);
}
