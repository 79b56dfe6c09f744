//! Arbitrary bytes as a client's upgrade request, under arbitrary small limits, fed
//! whole and in arbitrary pieces: never panics, the outcome does not depend on the
//! chunking, a complete request never exceeds the header limit, and every error has
//! an HTTP status of 400 or more and a response that serializes.
#![no_main]

use ferrosocket_handshake::{Accept, Limits, RequestParser, Status};
use libfuzzer_sys::fuzz_target;

fn parse(limits: Limits, data: &[u8], step: usize) -> String {
    let mut parser = RequestParser::with_limits(limits);
    let mut before = 0;
    for chunk in data.chunks(step) {
        match parser.feed(chunk) {
            Ok(Status::Partial) => before += chunk.len(),
            Ok(Status::Complete { value, consumed }) => {
                assert!(consumed <= chunk.len());
                assert!(before + consumed <= limits.max_header_bytes);
                let mut out = Vec::new();
                let accepted = value.write_accept(&Accept::new(), &mut out);
                assert!(
                    accepted.is_ok(),
                    "a validated request can always be accepted"
                );
                return format!("complete at {} {value:?}", before + consumed);
            }
            Err(err) => {
                assert!(err.http_status() >= 400);
                assert!(!err.to_response().is_empty());
                return format!("error {err:?}");
            }
        }
    }
    String::from("partial")
}

fuzz_target!(|input: &[u8]| {
    let [step, limit, data @ ..] = input else {
        return;
    };
    let mut limits = Limits::new();
    limits.max_header_bytes = 32 + usize::from(*limit) * 8;
    limits.max_headers = 1 + usize::from(*limit % 16);
    let whole = parse(limits, data, data.len().max(1));
    let pieces = parse(limits, data, usize::from(*step).max(1));
    assert_eq!(whole, pieces);
});
