use alloc::vec::Vec;

use super::*;

fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    let mut out = alloc::vec![(u8::from(fin) << 7) | opcode, 0x80 | payload.len() as u8];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn server() -> Connection {
    Connection::with_random(Role::Server, Config::default(), |_: &mut [u8]| {})
}

#[test]
fn single_frame_message_is_not_copied() {
    let mut s = server();
    s.receive_data(&masked(true, 2, b"payload"));
    let start = s.read.as_ptr() as usize;
    let Some(Ok(Event::Binary { data, .. })) = s.next_event() else {
        panic!("binary")
    };
    // The payload is the read buffer's memory, right after the 6 header bytes.
    assert_eq!(data.as_ptr() as usize, start + 6);
    assert_eq!(&data[..], b"payload");
}

#[test]
fn single_frame_split_across_reads_is_not_copied() {
    let mut s = server();
    let wire = masked(true, 1, b"hello world");
    s.read.reserve(64);
    s.receive_data(&wire[..8]);
    assert!(s.next_event().is_none());
    let start = s.read.as_ptr() as usize;
    s.receive_data(&wire[8..]);
    let Some(Ok(Event::Text { data, .. })) = s.next_event() else {
        panic!("text")
    };
    assert_eq!(data.as_bytes().as_ptr() as usize, start);
    assert_eq!(data, "hello world");
}

#[test]
fn empty_continuations_hold_no_memory() {
    let mut s = server();
    s.receive_data(&masked(false, 2, b"x"));
    assert!(s.next_event().is_none());
    let one = masked(false, 0, b"");
    let mut chunk = Vec::new();
    for _ in 0..1000 {
        chunk.extend_from_slice(&one);
    }
    for _ in 0..100 {
        s.receive_data(&chunk);
        assert!(s.next_event().is_none());
        assert_eq!(s.read.len(), 0);
        assert!(
            s.msg.assembly.capacity() <= 64,
            "{}",
            s.msg.assembly.capacity()
        );
    }
    assert_eq!(s.msg.fragments, 100_001);
    s.receive_data(&masked(true, 0, b"y"));
    let Some(Ok(Event::Binary { data, .. })) = s.next_event() else {
        panic!("binary")
    };
    assert_eq!(&data[..], b"xy");
    assert_eq!(s.msg.fragments, 0);
}

/// All the events the buffered input makes.
fn drain(conn: &mut Connection) -> Vec<Event> {
    conn.events().map(Result::unwrap).collect()
}

/// A message in three frames (`ab`, `cd`, `ef`) with a ping between the second and
/// the third.
fn three_frames() -> [Vec<u8>; 4] {
    [
        masked(false, 2, b"ab"),
        masked(false, 0, b"cd"),
        masked(true, 9, b"p"),
        masked(true, 0, b"ef"),
    ]
}

fn bin(data: &[u8], frame_finished: bool, message_finished: bool) -> Event {
    Event::Binary {
        data: Bytes::copy_from_slice(data),
        frame_finished,
        message_finished,
    }
}

#[test]
fn delivery_switch_waits_for_the_message_boundary() {
    // Assembled -> Streaming, asked for after the first frame: the message ends
    // assembled (the ping between fragments is no boundary), the next streams.
    let mut s = server();
    assert_eq!(s.delivery(), Delivery::Assembled);
    let [first, second, ping, third] = three_frames();
    s.receive_data(&first);
    assert!(drain(&mut s).is_empty());
    s.set_delivery(Delivery::Streaming);
    assert_eq!(
        s.delivery(),
        Delivery::Assembled,
        "not before the message ends"
    );
    s.receive_data(&[second, ping].concat());
    assert_eq!(drain(&mut s), [Event::Ping(Bytes::from_static(b"p"))]);
    assert_eq!(s.delivery(), Delivery::Assembled);
    s.receive_data(&third);
    assert_eq!(drain(&mut s), [bin(b"abcdef", true, true)]);
    assert_eq!(s.delivery(), Delivery::Streaming);
    assert_eq!(s.config().delivery, Delivery::Streaming);
    let [first, second, ping, third] = three_frames();
    s.receive_data(&[first, second].concat());
    assert_eq!(
        drain(&mut s),
        [bin(b"ab", true, false), bin(b"cd", true, false)]
    );

    // Streaming -> Assembled, asked for in the middle of that message: it ends in
    // pieces, the next one comes whole.
    s.set_delivery(Delivery::Assembled);
    assert_eq!(s.delivery(), Delivery::Streaming);
    s.receive_data(&[ping, third].concat());
    assert_eq!(
        drain(&mut s),
        [
            Event::Ping(Bytes::from_static(b"p")),
            bin(b"ef", true, true)
        ]
    );
    assert_eq!(s.delivery(), Delivery::Assembled);
    s.receive_data(&three_frames().concat());
    assert_eq!(
        drain(&mut s),
        [
            Event::Ping(Bytes::from_static(b"p")),
            bin(b"abcdef", true, true)
        ]
    );
}

#[test]
fn delivery_switch_applies_at_once_between_messages() {
    let mut s = server();
    // Nothing received, or a whole message buffered but not parsed: at once.
    s.set_delivery(Delivery::Streaming);
    assert_eq!(s.delivery(), Delivery::Streaming);
    let wire = masked(true, 2, b"abcdef");
    s.receive_data(&wire);
    s.set_delivery(Delivery::Assembled);
    s.set_delivery(Delivery::Streaming);
    assert_eq!(s.delivery(), Delivery::Streaming);
    // Part of a frame in Streaming: the switch back waits for its end.
    s.receive_data(&wire[..8]);
    assert_eq!(drain(&mut s).len(), 2);
    s.set_delivery(Delivery::Assembled);
    assert_eq!(s.delivery(), Delivery::Streaming);
    // A later call replaces the switch not made yet.
    s.set_delivery(Delivery::Streaming);
    s.receive_data(&wire[8..]);
    assert_eq!(drain(&mut s), [bin(b"cdef", true, true)]);
    assert_eq!(s.delivery(), Delivery::Streaming);
    // A single-frame message cut in two in Assembled (not the fast path): the
    // switch is made when it ends.
    s.set_delivery(Delivery::Assembled);
    s.receive_data(&wire[..7]);
    assert!(drain(&mut s).is_empty());
    s.set_delivery(Delivery::Streaming);
    s.receive_data(&wire[7..]);
    assert_eq!(drain(&mut s), [bin(b"abcdef", true, true)]);
    assert_eq!(s.delivery(), Delivery::Streaming);
}

#[test]
fn streaming_reserves_no_room_for_a_whole_frame() {
    // A 10 MiB frame announced: assembled delivery makes room for it at once,
    // streaming only holds what arrived.
    let mut header = alloc::vec![0x82, 0xff];
    header.extend_from_slice(&(10u64 << 20).to_be_bytes());
    header.extend_from_slice(&[0; 4]);
    let piece = [7u8; 1000];
    for delivery in [Delivery::Assembled, Delivery::Streaming] {
        let mut s = server();
        s.set_delivery(delivery);
        s.receive_data(&header);
        s.receive_data(&piece);
        let events = drain(&mut s);
        match delivery {
            Delivery::Assembled => {
                assert!(events.is_empty());
                assert_eq!(s.frame_bytes_wanted(), (10 << 20) - 1000);
                s.receive_data(&piece);
                assert!(s.read_buffer_capacity() >= 10 << 20);
            }
            Delivery::Streaming => {
                assert_eq!(events, [bin(&piece, false, false)]);
                assert_eq!(s.frame_bytes_wanted(), 0);
                for _ in 0..100 {
                    s.receive_data(&piece);
                    assert_eq!(drain(&mut s), [bin(&piece, false, false)]);
                    assert!(s.read_buffer_capacity() < 8 * 1024);
                }
            }
        }
    }
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use crate::deflate::{DeflateConfig, client_confirm, client_offer, server_negotiate};

    /// A client and a server that agreed on permessage-deflate.
    fn pair() -> (Connection, Connection) {
        let config = DeflateConfig::default();
        let (answer, server_ext) =
            server_negotiate(&config, &[client_offer(&config)]).expect("accepted");
        let client_ext = client_confirm(&config, &[answer]).unwrap().unwrap();
        let client = Connection::with_random(Role::Client, Config::default(), |_: &mut [u8]| {})
            .with_extension(client_ext);
        (client, server().with_extension(server_ext))
    }

    /// The data of data events, and whether the last one ended a message.
    fn pieces(events: &[Event]) -> (Vec<Bytes>, bool) {
        let mut out = Vec::new();
        let mut finished = false;
        for e in events {
            if let Event::Binary {
                data,
                message_finished,
                ..
            } = e
            {
                out.push(data.clone());
                finished = *message_finished;
            }
        }
        (out, finished)
    }

    #[test]
    fn delivery_switch_with_compressed_fragments() {
        let (mut c, mut s) = pair();
        let chunk = [b'x'; 300];
        // The wire of a message in three compressed frames with a ping before the
        // last: its first frame, then the rest.
        let message = |c: &mut Connection| {
            c.send_frame(OpCode::Binary, &chunk, false).unwrap();
            let first = c.take_output();
            c.send_frame(OpCode::Continuation, &chunk, false).unwrap();
            c.ping(b"p").unwrap();
            c.send_frame(OpCode::Continuation, &chunk, true).unwrap();
            (first, c.take_output())
        };
        let (first, rest) = message(&mut c);
        assert_eq!(first[0], 0x40 | 0x02, "RSV1 on the first frame");
        // Assembled -> Streaming asked for after the first frame arrived.
        s.receive_data(&first);
        assert!(drain(&mut s).is_empty());
        s.set_delivery(Delivery::Streaming);
        s.receive_data(&rest);
        let events = drain(&mut s);
        assert_eq!(events[0], Event::Ping(Bytes::from_static(b"p")));
        assert_eq!(events[1], bin(&[b'x'; 900], true, true));
        assert_eq!(s.delivery(), Delivery::Streaming);
        // The next message streams; Streaming -> Assembled asked for in it.
        let (first, rest) = message(&mut c);
        s.receive_data(&first);
        let mut events = drain(&mut s);
        s.set_delivery(Delivery::Assembled);
        s.receive_data(&rest);
        events.extend(drain(&mut s));
        let (got, finished) = pieces(&events);
        assert!(finished && got.len() >= 3, "{events:?}");
        assert_eq!(got.concat(), [b'x'; 900]);
        assert_eq!(s.delivery(), Delivery::Assembled);
        let (first, rest) = message(&mut c);
        s.receive_data(&[first, rest].concat());
        assert_eq!(drain(&mut s)[1], bin(&[b'x'; 900], true, true));
    }

    #[test]
    fn inflated_pieces_are_bounded() {
        // 8 MiB of zeros compress a hundredfold or more: one frame, all buffered at
        // once, is handed out in pieces of about 64 KiB, each made by one
        // next_event without more input.
        let (mut c, mut s) = pair();
        s.set_delivery(Delivery::Streaming);
        let message = alloc::vec![0u8; 8 << 20];
        c.send_binary(&message).unwrap();
        let wire = c.take_output();
        assert!(wire.len() < 128 * 1024, "{}", wire.len());
        s.receive_data(&wire);
        let events = drain(&mut s);
        let (got, finished) = pieces(&events);
        assert!(finished);
        let largest = got.iter().map(Bytes::len).max().unwrap();
        assert!(largest <= DECODED_PIECE_MAX, "{largest}");
        assert!(got.len() <= (8 << 20) / (DECODED_PIECE_MAX / 2));
        assert!(got.iter().all(|p| p.iter().all(|&b| b == 0)));
        assert_eq!(got.iter().map(Bytes::len).sum::<usize>(), 8 << 20);
        // Text that compresses well: every piece valid UTF-8, the whole intact.
        let text = "ünïcödé ".repeat(200_000);
        c.send_text(&text).unwrap();
        s.receive_data(&c.take_output());
        let mut joined = alloc::string::String::new();
        for e in drain(&mut s) {
            let Event::Text { data, .. } = e else {
                panic!("{e:?}")
            };
            // A piece may start with the end of a code point held back.
            assert!(data.len() <= DECODED_PIECE_MAX + 3);
            joined.push_str(data.as_str());
        }
        assert_eq!(joined, text);
        // Invalid UTF-8 at the end of a large compressed text message (sent as
        // binary, the opcode changed on the wire): valid pieces, then 1007.
        let mut bad = text.clone().into_bytes();
        bad.extend_from_slice(b"\xc3(");
        c.send_binary(&bad).unwrap();
        let mut wire = BytesMut::from(&c.take_output()[..]);
        wire[0] = (wire[0] & !0x0f) | 0x01;
        s.receive_data(&wire);
        let mut valid = 0;
        let error = loop {
            match s.next_event() {
                Some(Ok(Event::Text { data, .. })) => valid += data.as_str().len(),
                Some(Err(e)) => break e,
                other => panic!("{other:?}"),
            }
        };
        assert!(valid > 0 && valid <= text.len());
        assert_eq!(error.close_code(), Some(CloseCode::INVALID_PAYLOAD));
    }
}

#[test]
fn ws_connection_delivery_before_and_after_the_handshake() {
    use crate::WsConnection;
    use crate::handshake::{Accept, ClientRequest, Key};

    let mut request = Vec::new();
    ClientRequest::new("example.com", "/", Key::from_bytes([7; 16]))
        .write_to(&mut request)
        .unwrap();
    // Set during the handshake: the connection opens with it.
    let mut ws = WsConnection::server(Config::default());
    ws.set_delivery(Delivery::Streaming);
    assert_eq!(ws.delivery(), Delivery::Streaming);
    ws.receive_data(&request);
    assert!(matches!(ws.next_event(), Some(Ok(Event::Request(_)))));
    ws.accept(&Accept::new()).unwrap();
    let [first, second, ping, third] = three_frames();
    ws.receive_data(&first);
    assert_eq!(
        ws.events().map(Result::unwrap).collect::<Vec<_>>(),
        [bin(b"ab", true, false)]
    );
    // Open: forwarded to the connection, made at the message's end.
    ws.set_delivery(Delivery::Assembled);
    assert_eq!(ws.delivery(), Delivery::Streaming);
    ws.receive_data(&[second, ping, third].concat());
    assert_eq!(ws.events().count(), 3);
    assert_eq!(ws.delivery(), Delivery::Assembled);
    ws.receive_data(&three_frames().concat());
    assert_eq!(
        ws.events().map(Result::unwrap).collect::<Vec<_>>(),
        [
            Event::Ping(Bytes::from_static(b"p")),
            bin(b"abcdef", true, true)
        ]
    );
}

#[test]
fn timers_settle_once_activity_is_stamped() {
    let t = |ms| Instant::from_millis(ms);
    // Default timers (keepalive, message timeout; no idle timeout): whole messages
    // received between two calls leave nothing to stamp.
    let mut s = server();
    assert!(!s.timers_settled(), "never given the time");
    s.handle_timeout(t(0));
    assert!(s.timers_settled());
    let ping_at = s.poll_timeout();
    s.receive_data(&masked(true, 2, b"whole"));
    drain(&mut s);
    assert!(s.timers_settled());
    // A message begun but not finished starts the message timer: not settled
    // until stamped, and the deadline then comes earlier.
    s.receive_data(&masked(false, 2, b"part"));
    drain(&mut s);
    assert!(!s.timers_settled());
    s.handle_timeout(t(10));
    assert!(s.timers_settled());
    assert!(s.poll_timeout() <= ping_at);

    // With an idle timeout, every byte received needs its stamp.
    let config = Config::default().idle_timeout(Some(core::time::Duration::from_secs(5)));
    let mut s = Connection::with_random(Role::Server, config, |_: &mut [u8]| {});
    s.handle_timeout(t(0));
    assert!(s.timers_settled());
    s.receive_data(&masked(true, 2, b"x"));
    drain(&mut s);
    assert!(!s.timers_settled());
    s.handle_timeout(t(1));
    assert!(s.timers_settled());
}
