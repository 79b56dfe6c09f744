//! The read buffer: a big frame arriving in pieces is buffered in one place.

use ferrosocket_proto::{Config, Event};

use crate::testkit::*;

/// A 1 MiB frame and a small one behind it, fed in 64 KiB pieces (the last piece
/// of the big frame also brings the start of the next): once the big frame's header
/// has said how long it is, the buffer holding it never moves, so it is copied into
/// the buffer once and never again.
#[test]
fn big_frame_is_never_moved_while_it_arrives() {
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7) as u8).collect();
    let wire = cat(&[masked(BIN, &big), masked(BIN, b"next")]);
    let mut s = server_with(Config::new().max_frame_size(4 << 20));
    let mut got = Vec::new();
    let mut starts = Vec::new();
    for piece in wire.chunks(64 << 10) {
        s.receive_data(piece);
        if s.frame_bytes_wanted() > 0 || got.is_empty() {
            starts.push(s.read_buf().as_ptr());
        }
        got.extend(events(&mut s));
    }
    // The first piece came before the header was read: from the second on, one place.
    assert!(starts.len() > 10, "{}", starts.len());
    assert!(
        starts[1..].windows(2).all(|w| w[0] == w[1]),
        "the buffer moved while the frame arrived"
    );
    assert_eq!(got.len(), 2);
    assert!(matches!(&got[0], Event::Binary { data, .. } if data[..] == big[..]));
    assert!(matches!(&got[1], Event::Binary { data, .. } if &data[..] == b"next"));
}
