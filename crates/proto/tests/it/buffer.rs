//! The read buffer: a big frame arriving in pieces is buffered in one place, and
//! the buffer lent for reads cannot reach the bytes received before.

use bytes::BytesMut;
use proptest::prelude::*;

use ferrosocket_proto::handshake::{Accept, ClientRequest, Key};
use ferrosocket_proto::{Config, Connection, Delivery, Error, Event, WsConnection};

use crate::testkit::*;

/// Where the received bytes not yet parsed start: the room lent next begins right
/// after them.
fn input_start(s: &mut Connection) -> usize {
    let lent = s.lend_read_buf(0);
    let start = lent.as_ptr() as usize - s.buffered_input_len();
    s.receive_buf(lent);
    start
}

/// A 1 MiB frame and a small one behind it, fed in 64 KiB pieces (the last piece
/// of the big frame also brings the start of the next): once the big frame's header
/// has said how long it is, the buffer holding it never moves, so it is copied into
/// the buffer once and never again.
#[test]
fn big_frame_is_never_moved_while_it_arrives() {
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7) as u8).collect();
    let wire = [masked(BINARY, &big), masked(BINARY, b"next")].concat();
    let mut s = server_with(Config::new().max_frame_size(4 << 20));
    let mut got = Vec::new();
    let mut starts = Vec::new();
    for piece in wire.chunks(64 << 10) {
        s.receive_data(piece);
        if s.frame_bytes_wanted() > 0 || got.is_empty() {
            starts.push(input_start(&mut s));
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

/// Bytes read into the lent room are taken back in place: a message in one frame
/// is still handed out without a copy, from the memory the read went into.
#[test]
fn lent_room_is_taken_back_without_a_copy() {
    let mut s = server();
    let wire = masked(TEXT, b"hello");
    let mut lent = s.lend_read_buf(64);
    assert!(lent.is_empty() && lent.capacity() >= 64);
    let at = lent.as_ptr() as usize;
    lent.extend_from_slice(&wire);
    s.receive_buf(lent);
    let got = events(&mut s);
    let [Event::Text { data, .. }] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(data.as_bytes().as_ptr() as usize, at + 6);
    assert_eq!(s.read_into(0, |lent| lent.len()), 0);
}

/// A text frame cut inside a code point, whose first part was already unmasked and
/// checked in place, then every misuse of the lent buffer we can think of: none
/// reaches those bytes, so the message comes out whole and valid.
#[test]
fn lent_buffer_cannot_reach_what_was_received() {
    let text = "héllo wörld, ça va? €€€ 𝄞".repeat(4);
    let wire = masked(TEXT, text.as_bytes());
    assert!((126..=0xffff).contains(&text.len()));
    // The header (a 16-bit length and the key), then "h" and the first byte of "é".
    let cut = 8 + 2;
    let (first, rest) = wire.split_at(cut);
    let (mid, last) = rest.split_at(rest.len() / 2);

    let expect = vec![Event::Text {
        data: text.as_str().into(),
        frame_finished: true,
        message_finished: true,
    }];
    type Misuse = fn(&mut Connection, &[u8], &[u8]);
    let misuses: [(&str, Misuse); 7] = [
        (
            "clear, truncate and shrink the lent buffer",
            |s, mid, last| {
                let mut lent = s.lend_read_buf(256);
                lent.clear();
                lent.truncate(0);
                lent.resize(0, 0xff);
                assert!(lent.is_empty(), "nothing received before is in it");
                lent.extend_from_slice(mid);
                lent.extend_from_slice(b"junk");
                lent.truncate(mid.len()); // only its own bytes can go
                s.receive_buf(lent);
                s.receive_data(last);
            },
        ),
        ("split the lent buffer and drop a half", |s, mid, last| {
            let mut lent = s.lend_read_buf(256);
            lent.extend_from_slice(mid);
            lent.extend_from_slice(b"junk");
            drop(lent.split_off(mid.len()));
            let front = lent.split_to(0);
            assert!(front.is_empty());
            s.receive_buf(lent);
            s.receive_data(last);
        }),
        ("drop it and lend again", |s, mid, last| {
            drop(s.lend_read_buf(256));
            s.read_into(0, |lent| lent.extend_from_slice(mid));
            s.receive_data(last);
        }),
        ("grow it past its room (it moves)", |s, mid, last| {
            let mut lent = s.lend_read_buf(4);
            lent.reserve(1 << 16);
            lent.extend_from_slice(mid);
            s.receive_buf(lent);
            s.receive_data(last);
        }),
        ("give back a buffer of its own", |s, mid, last| {
            drop(s.lend_read_buf(256));
            s.receive_buf(BytesMut::from(mid));
            s.receive_buf(BytesMut::from(last));
        }),
        ("lend twice, give back in arrival order", |s, mid, last| {
            let mut a = s.lend_read_buf(256);
            let mut b = s.lend_read_buf(256);
            b.extend_from_slice(mid);
            a.extend_from_slice(last);
            s.receive_buf(b);
            s.receive_buf(a);
        }),
        ("parse and receive while it is lent", |s, mid, last| {
            let mut lent = s.lend_read_buf(256);
            s.receive_data(mid);
            assert!(s.next_event().is_none());
            lent.extend_from_slice(last);
            s.receive_buf(lent);
        }),
    ];
    for (what, misuse) in misuses {
        let mut s = server();
        s.receive_data(first);
        assert!(s.next_event().is_none(), "{what}");
        misuse(&mut s, mid, last);
        assert_eq!(events(&mut s), expect, "{what}");
        assert_eq!(s.buffered_input_len(), 0, "{what}");
    }
}

/// `WsConnection::read_buf` lends an empty buffer each time and takes it back at
/// the next call: emptying it after the handshake was read changes nothing.
#[test]
fn ws_read_buf_is_always_empty() {
    let mut ws = WsConnection::server(Config::default());
    let mut request = Vec::new();
    ClientRequest::new("example.com", "/", Key::from_bytes([1; 16]))
        .write_to(&mut request)
        .unwrap();
    let frames = [masked(TEXT, "héllo".as_bytes()), masked(BINARY, b"x")].concat();
    let wire = [request.clone(), frames].concat();
    let (head, tail) = wire.split_at(request.len() + 4);
    ws.read_buf().extend_from_slice(head);
    let buf = ws.read_buf();
    assert!(buf.is_empty(), "the bytes given before were taken in");
    buf.clear();
    assert!(matches!(ws.next_event(), Some(Ok(Event::Request(_)))));
    ws.accept(&Accept::new()).unwrap();
    ws.read_buf().extend_from_slice(&tail[..3]);
    ws.read_buf().truncate(0);
    ws.read_buf().extend_from_slice(&tail[3..]);
    let got: Vec<Event> = ws.events().map(Result::unwrap).collect();
    assert_eq!(got, vec![text("héllo"), binary(b"x")]);
}

/// An event, with the pieces of a streamed message joined (how a message is cut
/// into pieces depends on how its bytes arrived).
#[derive(Debug, PartialEq)]
enum Joined {
    /// A whole data message (text?, bytes), where its first piece came.
    Message(bool, Vec<u8>),
    Other(Result<Event, Error>),
}

fn joined(events: Vec<Result<Event, Error>>) -> Vec<Joined> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for event in events {
        let (text, data, finished) = match event {
            Ok(Event::Text {
                data,
                message_finished,
                ..
            }) => (true, data.into_bytes(), message_finished),
            Ok(Event::Binary {
                data,
                message_finished,
                ..
            }) => (false, data, message_finished),
            other => {
                out.push(Joined::Other(other));
                continue;
            }
        };
        match open {
            Some(i) => {
                if let Joined::Message(_, acc) = &mut out[i] {
                    acc.extend_from_slice(&data);
                }
            }
            None => {
                out.push(Joined::Message(text, data.to_vec()));
                open = Some(out.len() - 1);
            }
        }
        if finished {
            open = None;
        }
    }
    out
}

/// How a piece of input reaches the connection.
#[derive(Debug, Clone, Copy)]
enum Via {
    Copy,
    Lent,
    Foreign,
    /// Lent, grown past its room first.
    Grown,
}

proptest! {
    /// Input delivered in any pieces, through any mix of `receive_data`, the lent
    /// buffer and buffers of the caller's own, gives the same events as in one piece.
    #[test]
    fn any_way_in_gives_the_same_events(
        cuts in proptest::collection::vec((0usize..400, 0u8..4), 1..20),
        streaming: bool,
    ) {
        let delivery = if streaming { Delivery::Streaming } else { Delivery::Assembled };
        let config = Config::default().delivery(delivery);
        let wire = [
            masked_fragment(false, TEXT, "héllo wö".as_bytes()),
            masked(PING, b"p"),
            masked_fragment(true, CONTINUATION, "rld €𝄞".repeat(20).as_bytes()),
            masked(BINARY, &[7; 300]),
        ].concat();
        let mut whole = server_with(config);
        whole.receive_data(&wire);
        let expect = drain(&mut whole);

        let mut s = server_with(config);
        let mut got = Vec::new();
        let mut at = 0;
        for (len, via) in cuts.into_iter().chain([(wire.len(), 0)]) {
            let piece = &wire[at..(at + len).min(wire.len())];
            at += piece.len();
            match [Via::Copy, Via::Lent, Via::Foreign, Via::Grown][usize::from(via)] {
                Via::Copy => s.receive_data(piece),
                Via::Lent => s.read_into(piece.len(), |b| b.extend_from_slice(piece)),
                Via::Foreign => s.receive_buf(BytesMut::from(piece)),
                Via::Grown => s.read_into(0, |b| {
                    b.reserve(1 << 12);
                    b.extend_from_slice(piece);
                }),
            }
            got.extend(drain(&mut s));
        }
        prop_assert_eq!(joined(got), joined(expect));
    }
}
