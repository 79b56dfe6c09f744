//! Arbitrary bytes as the server's answer to a fixed client request, fed whole and in
//! arbitrary pieces: never panics, the outcome does not depend on the chunking, and
//! the bytes after the header block are left to the caller.
#![no_main]

use ferrosocket_handshake::{ClientRequest, Key, Outcome, Status};
use libfuzzer_sys::fuzz_target;

fn parse(data: &[u8], step: usize) -> String {
    let request = ClientRequest::new(
        "example.com",
        "/chat",
        Key::from_bytes(*b"the sample nonce"),
    )
    .subprotocol("chat")
    .header("X-Test", "1");
    let mut wire = Vec::new();
    let mut client = request.write_to(&mut wire).expect("a valid request");
    for chunk in data.chunks(step) {
        match client.feed(chunk) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete { value, consumed }) => {
                assert!(consumed <= chunk.len());
                if let Outcome::Rejected(rejected) = &value {
                    let _ = rejected.content_length();
                }
                return format!("complete {value:?}");
            }
            Err(err) => return format!("error {err:?}"),
        }
    }
    String::from("partial")
}

fuzz_target!(|input: &[u8]| {
    let [step, data @ ..] = input else { return };
    let whole = parse(data, data.len().max(1));
    let pieces = parse(data, usize::from(*step).max(1));
    assert_eq!(whole, pieces);
});
