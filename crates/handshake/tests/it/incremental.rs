//! Incremental parsing: chunking independence, linear work, size limits.

use ferrosocket_handshake::{
    Accept, ClientRequest, HandshakeError, Key, Limits, Outcome, Request, RequestParser,
    ResponseParser, Status,
};
use proptest::prelude::*;

use crate::{RFC_REQUEST, parse};

/// Feeds `input` cut at the given (sorted, in-range) points.
fn feed_chunks(
    parser: &mut RequestParser,
    input: &[u8],
    cuts: &[usize],
) -> Result<(Request, usize), HandshakeError> {
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        let chunk = &input[start..end];
        if let Status::Complete { value, consumed } = parser.feed(chunk)? {
            assert!(consumed <= chunk.len());
            return Ok((value, start + consumed));
        }
        start = end;
    }
    panic!("never completed");
}

fn request_with_frames() -> Vec<u8> {
    let mut input = RFC_REQUEST.as_bytes().to_vec();
    input.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4, b'\r', b'\n', b'\r', b'\n']);
    input
}

#[test]
fn every_split_point_matches_one_piece() {
    let input = request_with_frames();
    let (whole, consumed) = parse(&input).unwrap();
    assert_eq!(consumed, RFC_REQUEST.len());
    for split in 0..=input.len() {
        let (req, at) = feed_chunks(&mut RequestParser::new(), &input, &[split]).unwrap();
        assert_eq!(req, whole, "split at {split}");
        assert_eq!(at, consumed, "split at {split}");
    }
}

#[test]
fn every_split_point_of_an_error_matches_one_piece() {
    let input = crate::variant("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 12");
    let input = input.as_bytes();
    let whole = parse(input).unwrap_err();
    for split in 0..=input.len() {
        let err = feed_chunks(&mut RequestParser::new(), input, &[split]).unwrap_err();
        assert_eq!(err, whole);
    }
}

proptest! {
    #[test]
    fn random_chunking_matches_one_piece(mut cuts in proptest::collection::vec(0usize..=220, 0..40)) {
        let input = request_with_frames();
        cuts.iter_mut().for_each(|c| *c = (*c).min(input.len()));
        cuts.sort_unstable();
        let (whole, consumed) = parse(&input).unwrap();
        let mut parser = RequestParser::new();
        let (req, at) = feed_chunks(&mut parser, &input, &cuts).unwrap();
        prop_assert_eq!(req, whole);
        prop_assert_eq!(at, consumed);
        prop_assert_eq!(parser.stats().httparse_calls, 1);
        prop_assert_eq!(parser.stats().bytes_scanned, consumed as u64);
    }

    #[test]
    fn random_chunking_of_the_response(cuts in proptest::collection::vec(0usize..=200, 0..30)) {
        let key = Key::from_bytes([7; 16]);
        let mut request = Vec::new();
        let client = ClientRequest::new("h", "/", key).subprotocol("p");
        let mut handshake = client.write_to(&mut request).unwrap();
        let (req, _) = parse(&request).unwrap();
        let mut answer = Vec::new();
        req.write_accept(&Accept::new().subprotocol("p"), &mut answer).unwrap();
        let head_len = answer.len();
        answer.extend_from_slice(b"\x82\x00");
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(answer.len())).collect();
        cuts.sort_unstable();
        let mut start = 0;
        let mut done = None;
        for end in cuts.into_iter().chain(std::iter::once(answer.len())) {
            if let Status::Complete { value, consumed } = handshake.feed(&answer[start..end]).unwrap() {
                done = Some((value, start + consumed));
                break;
            }
            start = end;
        }
        let (outcome, at) = done.unwrap();
        prop_assert_eq!(at, head_len);
        let Outcome::Accepted(accepted) = outcome else { panic!("rejected") };
        prop_assert_eq!(accepted.subprotocol.as_deref(), Some("p"));
        prop_assert_eq!(handshake.stats().httparse_calls, 1);
    }

    #[test]
    fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..64), 0..16)
    ) {
        let mut req = RequestParser::with_limits(Limits::default().max_header_bytes(512));
        let mut resp = ResponseParser::with_limits(Limits::default().max_header_bytes(512));
        for chunk in &chunks {
            let _ = req.feed(chunk);
            let _ = resp.feed(chunk);
            prop_assert!(req.buffered() <= 512 && resp.buffered() <= 512);
        }
    }

    #[test]
    fn mutated_requests_never_panic(pos in 0usize..200, byte in any::<u8>()) {
        let mut input = RFC_REQUEST.as_bytes().to_vec();
        let pos = pos % input.len();
        input[pos] = byte;
        let _ = RequestParser::new().feed(&input);
    }
}

/// A request whose header block is exactly `len` bytes.
fn big_request(len: usize) -> Vec<u8> {
    let base = RFC_REQUEST.trim_end_matches("\r\n");
    let filler = len - base.len() - "\r\nX-Pad: ".len() - 4;
    let mut req = format!("{base}\r\nX-Pad: {}\r\n\r\n", "a".repeat(filler)).into_bytes();
    assert_eq!(req.len(), len);
    req.extend_from_slice(b"after");
    req
}

/// The CVE-2023-43669 scenario: a 16 KiB header block arriving one byte at a
/// time costs the same work as arriving in one piece: every byte scanned
/// once and a single httparse call.
#[test]
fn byte_at_a_time_is_linear() {
    let len = Limits::DEFAULT_MAX_HEADER_BYTES;
    let input = big_request(len);

    let mut one = RequestParser::new();
    let Status::Complete { consumed, .. } = one.feed(&input).unwrap() else {
        panic!()
    };
    assert_eq!(consumed, len);
    let one = one.stats();
    assert_eq!(one.httparse_calls, 1);
    assert_eq!(one.bytes_scanned, len as u64);

    let mut parser = RequestParser::new();
    let mut completed_at = None;
    for (i, b) in input.iter().enumerate() {
        match parser.feed(std::slice::from_ref(b)).unwrap() {
            Status::Partial => assert_eq!(parser.stats().httparse_calls, 0),
            Status::Complete { consumed, .. } => {
                assert_eq!(consumed, 1);
                completed_at = Some(i + 1);
                break;
            }
        }
    }
    assert_eq!(completed_at, Some(len));
    let stats = parser.stats();
    assert_eq!(stats.feeds, len as u64);
    assert_eq!(stats.httparse_calls, 1, "httparse runs once");
    assert_eq!(
        stats.bytes_scanned, one.bytes_scanned,
        "each byte scanned once"
    );
    assert!(stats.peak_capacity <= len);
}

#[test]
fn byte_at_a_time_response_is_linear() {
    let pad = "b".repeat(10_000);
    let answer = format!("HTTP/1.1 403 Forbidden\r\nX-Pad: {pad}\r\nContent-Length: 0\r\n\r\n");
    let mut parser = ResponseParser::new();
    let mut done = false;
    for b in answer.as_bytes() {
        if parser.feed(std::slice::from_ref(b)).unwrap().is_complete() {
            done = true;
        }
    }
    assert!(done);
    assert_eq!(parser.stats().httparse_calls, 1);
    assert_eq!(parser.stats().bytes_scanned, answer.len() as u64);
}

#[test]
fn size_limit_exact_boundary() {
    let len = Limits::DEFAULT_MAX_HEADER_BYTES;
    assert!(parse(&big_request(len)).is_ok());
    let err = parse(&big_request(len + 1)).unwrap_err();
    assert_eq!(err, HandshakeError::HeadersTooLarge { limit: len });
    assert_eq!(err.http_status(), 431);
}

#[test]
fn size_limit_without_buffering_beyond_it() {
    let limit = 1024;
    let limits = Limits::default().max_header_bytes(limit);

    // One huge chunk: refused before anything is buffered.
    let huge = vec![b'a'; 1 << 20];
    let mut parser = RequestParser::with_limits(limits);
    assert_eq!(
        parser.feed(&huge),
        Err(HandshakeError::HeadersTooLarge { limit })
    );
    assert_eq!(parser.buffered(), 0);
    assert_eq!(parser.stats().peak_capacity, 0);
    assert!(parser.stats().bytes_scanned <= limit as u64);

    // Byte by byte: fails on the byte that reaches the limit without ending
    // the block, having never held more than the limit.
    let mut parser = RequestParser::with_limits(limits);
    let mut failed_at = None;
    for i in 0..2 * limit {
        let byte = b"GET /".get(i).copied().unwrap_or(b'a');
        match parser.feed(&[byte]) {
            Ok(Status::Partial) => assert!(parser.buffered() < limit),
            Ok(Status::Complete { .. }) => panic!("no terminator was sent"),
            Err(e) => {
                assert_eq!(e, HandshakeError::HeadersTooLarge { limit });
                failed_at = Some(i + 1);
                break;
            }
        }
    }
    assert_eq!(failed_at, Some(limit));
    assert!(parser.stats().peak_capacity <= limit);

    // A chunk that straddles the limit is refused, nothing of it buffered.
    let mut parser = RequestParser::with_limits(limits);
    assert!(parser.feed(&huge[..limit - 10]).unwrap().is_partial());
    assert!(parser.feed(&huge[..20]).is_err());
    assert_eq!(parser.buffered(), limit - 10);
}

#[test]
fn a_block_within_the_limit_followed_by_much_data_is_fine() {
    // Bytes after the terminator do not count toward the limit.
    let limits = Limits::default().max_header_bytes(RFC_REQUEST.len());
    let mut input = RFC_REQUEST.as_bytes().to_vec();
    input.extend(std::iter::repeat_n(0x82, 100_000));
    let Status::Complete { consumed, .. } =
        RequestParser::with_limits(limits).feed(&input).unwrap()
    else {
        panic!()
    };
    assert_eq!(consumed, RFC_REQUEST.len());
}

#[test]
fn response_size_limit() {
    let limits = Limits::default().max_header_bytes(64);
    let mut handshake = ClientRequest::new("h", "/", Key::from_bytes([1; 16]))
        .limits(limits)
        .write_to(&mut Vec::new())
        .unwrap();
    let long = format!(
        "HTTP/1.1 101 Switching Protocols\r\nX: {}\r\n\r\n",
        "y".repeat(64)
    );
    assert_eq!(
        handshake.feed(long.as_bytes()),
        Err(HandshakeError::HeadersTooLarge { limit: 64 })
    );
}
