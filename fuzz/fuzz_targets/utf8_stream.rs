//! Arbitrary bytes split at arbitrary points through `Utf8Validator`: the first error
//! (from `feed` or `finish`) equals `std::str::from_utf8` on the whole input, in both
//! position and length, an invalid sequence is reported by `feed` (fail fast), and the
//! whole-buffer `validate` agrees too.
#![no_main]

use ferrosocket_utf8::{Utf8Validator, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let [seed, data @ ..] = input else { return };
    let expected = std::str::from_utf8(data)
        .map(drop)
        .map_err(|e| (e.valid_up_to() as u64, e.error_len()));
    // Chunk sizes from a small xorshift seeded by the first byte: 1 to 80 bytes,
    // empty chunks included now and then.
    let mut state = u32::from(*seed) | 0x100;
    let mut validator = Utf8Validator::new();
    let mut rest = data;
    let mut got = Ok(());
    let mut from_feed = false;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state % 81) as usize;
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        if let Err(e) = validator.feed(chunk) {
            got = Err(e);
            from_feed = true;
            break;
        }
    }
    if got.is_ok() {
        got = validator.finish();
    }
    let got = got.map_err(|e| (e.valid_up_to(), e.error_len().map(usize::from)));
    assert_eq!(got, expected);
    if let Err((_, Some(_))) = expected {
        assert!(
            from_feed,
            "an invalid sequence must fail in feed, not wait for finish"
        );
    }
    let whole = validate(data).map_err(|e| (e.valid_up_to(), e.error_len().map(usize::from)));
    assert_eq!(whole, expected);
});
