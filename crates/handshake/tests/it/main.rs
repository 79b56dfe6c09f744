//! Integration tests of the opening handshake.

mod client;
mod incremental;
mod server;

use ferrosocket_handshake::{HandshakeError, Request, RequestParser, Status};

/// The example request of RFC 6455 section 1.2.
pub(crate) const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

/// Feeds `bytes` in one piece and expects a complete header block.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Request, usize), HandshakeError> {
    match RequestParser::new().feed(bytes)? {
        Status::Complete { value, consumed } => Ok((value, consumed)),
        Status::Partial => panic!("incomplete request: {:?}", String::from_utf8_lossy(bytes)),
    }
}

/// The RFC request with header line `from` replaced by `to` (removed if empty).
pub(crate) fn variant(from: &str, to: &str) -> String {
    assert!(RFC_REQUEST.contains(from), "{from}");
    RFC_REQUEST.replacen(from, to, 1)
}
