//! Arbitrary bytes as permessage-deflate payloads, cut into arbitrary frames and
//! messages, inflated under an arbitrary small budget: never panics, never appends
//! more than the budget in a call (error or not), an error sticks, and the outcome
//! does not depend on the cutting: each message, fed whole with the same budget,
//! inflates to the same bytes or fails with the same error. Without context
//! takeover, the codec releases its context between messages at random (as an
//! adapter does when the connection waits), so contexts go through the shared
//! pool, across messages and runs: what a pooled context inflated before must not
//! change any outcome.
#![no_main]

use bytes::BytesMut;
use ferrosocket_deflate::{Agreed, DeflateConfig, DeflateError, PerMessageDeflate, Role};
use libfuzzer_sys::fuzz_target;

fn codec(reset: bool) -> PerMessageDeflate {
    let agreed = Agreed {
        client_no_context_takeover: reset,
        ..Agreed::default()
    };
    let config = DeflateConfig::new().release_idle_contexts(reset);
    agreed.into_codec(Role::Server, &config)
}

/// One message's outcome.
type Outcome = Result<Vec<u8>, DeflateError>;

fuzz_target!(|input: &[u8]| {
    let [flags, lo, hi, seed, data @ ..] = input else {
        return;
    };
    let max_len = usize::from(u16::from_le_bytes([*lo, *hi]) % 8192);
    let reset = flags & 1 != 0;
    let bytes_mut = flags & 2 != 0;
    // Frame and message boundaries from a small xorshift: frames of 0 to 63 bytes,
    // about one in four finishing its message.
    let mut state = u32::from(*seed) | 0x100;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut messages: Vec<Vec<&[u8]>> = vec![Vec::new()];
    let mut rest = data;
    while !rest.is_empty() {
        let r = next();
        let (frame, tail) = rest.split_at((r as usize % 64).min(rest.len()));
        rest = tail;
        messages.last_mut().unwrap().push(frame);
        if r % 4 == 0 {
            messages.push(Vec::new());
        }
    }

    // Frame by frame, with what is left of the budget for the message.
    let mut chunked: Vec<Outcome> = Vec::new();
    let mut d = codec(reset);
    let mut vec_out = Vec::new();
    let mut bytes_out = BytesMut::new();
    'messages: for frames in &messages {
        vec_out.clear();
        bytes_out.clear();
        let count = frames.len().max(1);
        for i in 0..count {
            let frame = frames.get(i).copied().unwrap_or(b"");
            let last = i + 1 == count;
            let before = if bytes_mut {
                bytes_out.len()
            } else {
                vec_out.len()
            };
            let budget = max_len - before;
            let result = if bytes_mut {
                d.decompress(frame, last, &mut bytes_out, budget)
            } else {
                d.decompress(frame, last, &mut vec_out, budget)
            };
            let after = if bytes_mut {
                bytes_out.len()
            } else {
                vec_out.len()
            };
            assert!(after - before <= budget, "appended beyond the budget");
            if let Err(e) = result {
                assert_eq!(d.decompress(b"\x00", true, &mut Vec::new(), 100), Err(e));
                chunked.push(Err(e));
                break 'messages;
            }
        }
        chunked.push(Ok(if bytes_mut {
            bytes_out.to_vec()
        } else {
            vec_out.clone()
        }));
        if next() % 2 == 0 {
            d.release_idle_contexts();
        }
    }

    // Each message whole.
    let mut d = codec(reset);
    for (i, frames) in messages.iter().enumerate().take(chunked.len()) {
        let whole = frames.concat();
        let mut out = Vec::new();
        let result = d.decompress(&whole, true, &mut out, max_len).map(|()| out);
        assert_eq!(result, chunked[i], "message {i}");
        if result.is_err() {
            break;
        }
    }
});
