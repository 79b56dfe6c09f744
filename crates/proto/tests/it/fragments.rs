//! A million empty continuation frames: linear time, no memory per frame.

use ferrosocket_proto::{Config, Delivery, Event};

use crate::testkit::*;

/// One million (fast enough in debug builds too).
const FRAMES: usize = 1_000_000;

fn run(delivery: Delivery) {
    let mut s = server_with(Config::default().delivery(delivery));
    let empty = masked_fragment(false, CONTINUATION, b"");
    let mut chunk = Vec::new();
    for _ in 0..10_000 {
        chunk.extend_from_slice(&empty);
    }
    s.receive_data(&masked_fragment(false, BINARY, b"start"));
    let mut pieces = 0usize;
    let collect = |s: &mut ferrosocket_proto::Connection, pieces: &mut usize| {
        for e in events(s) {
            match e {
                Event::Binary { .. } => *pieces += 1,
                other => panic!("{other:?}"),
            }
        }
    };
    for _ in 0..FRAMES / 10_000 {
        s.receive_data(&chunk);
        collect(&mut s, &mut pieces);
        // Nothing accumulates: the read buffer is drained, the message holds 5 bytes.
        assert_eq!(s.buffered_input_len(), 0);
        assert!(s.buffered_message_len() <= 5);
        assert!(
            s.read_buffer_capacity() <= 2 * chunk.len() + 64,
            "{}",
            s.read_buffer_capacity()
        );
    }
    s.receive_data(&masked_fragment(true, CONTINUATION, b"end"));
    let last = events(&mut s);
    match delivery {
        Delivery::Assembled => {
            assert_eq!(pieces, 0);
            assert_eq!(last, vec![binary(b"startend")]);
        }
        _ => {
            // One event per frame (empty ones included) in streaming mode.
            assert_eq!(pieces, FRAMES + 1);
            assert_eq!(last.len(), 1);
        }
    }
}

#[test]
fn million_empty_continuations_assembled() {
    run(Delivery::Assembled);
}

#[test]
fn million_empty_continuations_streaming() {
    run(Delivery::Streaming);
}
