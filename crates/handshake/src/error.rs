//! The error type shared by every part of the handshake.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Everything that can go wrong during an opening handshake.
///
/// One enum serves both sides. Variants fall into three groups:
///
/// * **peer errors found in a request** (server side): each knows the HTTP
///   status a server answers with, see [`http_status`](Self::http_status) and
///   [`write_response`](Self::write_response);
/// * **peer errors found in a response** (client side): nothing is answered,
///   the client closes the connection; `http_status` returns 502 (what a proxy
///   relaying the response would say) for the client-only variants;
/// * **local errors**: a value the application asked us to send is invalid
///   (would allow response splitting, is not a token, ...); `http_status`
///   returns 500 for them.
///
/// Choices: a non-`GET` method is answered with 405 (and `Allow: GET`); too
/// many header fields is 431 like an oversized header block; a missing or
/// unsupported `Sec-WebSocket-Version` is 426 with `Sec-WebSocket-Version: 13`
/// (RFC 6455 section 4.2.2); everything else malformed or missing is 400.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The header block is larger than [`Limits::max_header_bytes`](crate::Limits).
    /// HTTP 431.
    HeadersTooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The header block has more fields than [`Limits::max_headers`](crate::Limits).
    /// HTTP 431.
    TooManyHeaders {
        /// The configured limit, in header fields.
        limit: usize,
    },
    /// The bytes are not a syntactically valid HTTP/1.x message head
    /// (as judged by `httparse`). HTTP 400.
    MalformedHttp {
        /// A short description of the syntax error.
        reason: &'static str,
    },
    /// The request method is not `GET`. HTTP 405 (the answer carries `Allow: GET`).
    MethodNotAllowed,
    /// The message is not HTTP/1.1 (HTTP/1.0 is too old for the upgrade;
    /// HTTP/2 and HTTP/3 use RFC 8441/9220 extended CONNECT, which this crate
    /// does not implement). HTTP 400.
    UnsupportedHttpVersion,
    /// The request target is neither origin-form (`/path?query`) nor
    /// absolute-form (`scheme://authority/path`). HTTP 400.
    InvalidTarget,
    /// A required header field is absent. HTTP 400.
    MissingHeader {
        /// The canonical name of the missing header.
        name: &'static str,
    },
    /// A header field that may appear only once appeared several times. HTTP 400.
    DuplicateHeader {
        /// The canonical name of the repeated header.
        name: &'static str,
    },
    /// A header field's value does not follow its grammar (for instance a
    /// malformed `Sec-WebSocket-Extensions` list, or a non-UTF-8 `Origin`). HTTP 400.
    InvalidHeader {
        /// The canonical name of the offending header.
        name: &'static str,
    },
    /// `Upgrade` does not list the `websocket` token. HTTP 400.
    UpgradeNotWebSocket,
    /// `Connection` does not list the `Upgrade` token. HTTP 400.
    ConnectionNotUpgrade,
    /// `Sec-WebSocket-Key` is not the base64 encoding of exactly 16 bytes. HTTP 400.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or is not `13`. HTTP 426; the
    /// answer carries `Sec-WebSocket-Version: 13`.
    UnsupportedVersion,
    /// Client side: the server's `Sec-WebSocket-Accept` does not match the key
    /// we sent. (502)
    AcceptMismatch,
    /// Client side: the server selected a subprotocol we did not offer (or
    /// selected one although we offered none). (502)
    UnexpectedSubprotocol,
    /// Client side: the server agreed to an extension we did not offer. (502)
    UnexpectedExtension {
        /// The extension name the server sent.
        name: String,
    },
    /// Local: the server application chose a subprotocol the client did not
    /// offer. HTTP 500.
    SubprotocolNotOffered,
    /// Local: the server application agreed to an extension the client did not
    /// offer. HTTP 500.
    ExtensionNotOffered {
        /// The extension name the application chose.
        name: String,
    },
    /// Local: a value we were asked to send is invalid: a header value with
    /// CR, LF, NUL or another control byte (response splitting), a header name
    /// or subprotocol that is not an HTTP token, a header this crate writes
    /// itself, a malformed host or request target. HTTP 500.
    InvalidOutgoing {
        /// What was refused (a header name, "Host", "request target", ...).
        what: String,
    },
    /// Local: a rejection must use a final status other than 101
    /// (200..=999). HTTP 500.
    InvalidStatus {
        /// The refused status code.
        status: u16,
    },
    /// Local: the operating system's random number generator failed while
    /// generating a client key. HTTP 500.
    RandomUnavailable,
}

impl HandshakeError {
    /// The HTTP status a server answers with when this error is found in a
    /// request: 400, 405, 426, 431, or 500 for local errors; 502 for the
    /// client-only variants (see the type documentation).
    #[must_use]
    pub const fn http_status(&self) -> u16 {
        match self {
            Self::HeadersTooLarge { .. } | Self::TooManyHeaders { .. } => 431,
            Self::MethodNotAllowed => 405,
            Self::UnsupportedVersion => 426,
            Self::MalformedHttp { .. }
            | Self::UnsupportedHttpVersion
            | Self::InvalidTarget
            | Self::MissingHeader { .. }
            | Self::DuplicateHeader { .. }
            | Self::InvalidHeader { .. }
            | Self::UpgradeNotWebSocket
            | Self::ConnectionNotUpgrade
            | Self::InvalidKey => 400,
            Self::AcceptMismatch
            | Self::UnexpectedSubprotocol
            | Self::UnexpectedExtension { .. } => 502,
            Self::SubprotocolNotOffered
            | Self::ExtensionNotOffered { .. }
            | Self::InvalidOutgoing { .. }
            | Self::InvalidStatus { .. }
            | Self::RandomUnavailable => 500,
        }
    }

    /// Extra header fields the error answer must carry, as `(name, value)`:
    /// `Sec-WebSocket-Version: 13` and `Upgrade: websocket` for 426 (RFC 6455
    /// section 4.2.2, RFC 9110 section 15.5.22), `Allow: GET` for 405.
    #[must_use]
    pub fn response_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::UnsupportedVersion => {
                &[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
            }
            Self::MethodNotAllowed => &[("Allow", "GET")],
            _ => &[],
        }
    }

    /// The `Connection` header value of the error answer: `Upgrade, close`
    /// for 426 (a sender of `Upgrade` must list it in `Connection`), `close`
    /// otherwise.
    pub(crate) fn connection_value(&self) -> &'static str {
        match self {
            Self::UnsupportedVersion => "Upgrade, close",
            _ => "close",
        }
    }

    /// The short plain-text body of the error answer (the `Display` text
    /// followed by a newline). It never contains bytes sent by the peer.
    #[must_use]
    pub fn response_body(&self) -> String {
        alloc::format!("{self}\n")
    }

    /// Appends the complete HTTP/1.1 error answer for this error to `out`:
    /// status line, `Content-Type`, `Content-Length`, `Connection: close`
    /// (`Upgrade, close` for 426), the headers of
    /// [`response_headers`](Self::response_headers), and a short text body.
    /// The server should close the connection after sending it.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        let status = self.http_status();
        let body = self.response_body();
        out.extend_from_slice(b"HTTP/1.1 ");
        push_u64(out, u64::from(status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(status).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
        push_u64(out, body.len() as u64);
        out.extend_from_slice(b"\r\nConnection: ");
        out.extend_from_slice(self.connection_value().as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.response_headers() {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
    }

    /// The complete HTTP/1.1 error answer as a new buffer; see
    /// [`write_response`](Self::write_response).
    #[must_use]
    pub fn to_response(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_response(&mut out);
        out
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadersTooLarge { limit } => {
                write!(f, "header block larger than {limit} bytes")
            }
            Self::TooManyHeaders { limit } => write!(f, "more than {limit} header fields"),
            Self::MalformedHttp { reason } => write!(f, "malformed HTTP message: {reason}"),
            Self::MethodNotAllowed => f.write_str("WebSocket handshake method must be GET"),
            Self::UnsupportedHttpVersion => f.write_str("WebSocket handshake requires HTTP/1.1"),
            Self::InvalidTarget => f.write_str("invalid request target"),
            Self::MissingHeader { name } => write!(f, "missing {name} header"),
            Self::DuplicateHeader { name } => write!(f, "{name} header appears more than once"),
            Self::InvalidHeader { name } => write!(f, "invalid {name} header"),
            Self::UpgradeNotWebSocket => f.write_str("Upgrade header does not contain websocket"),
            Self::ConnectionNotUpgrade => f.write_str("Connection header does not contain Upgrade"),
            Self::InvalidKey => {
                f.write_str("Sec-WebSocket-Key is not the base64 encoding of 16 bytes")
            }
            Self::UnsupportedVersion => {
                f.write_str("missing or unsupported Sec-WebSocket-Version (13 is supported)")
            }
            Self::AcceptMismatch => f.write_str("Sec-WebSocket-Accept does not match the key"),
            Self::UnexpectedSubprotocol => {
                f.write_str("server selected a subprotocol the client did not offer")
            }
            Self::UnexpectedExtension { name } => {
                write!(
                    f,
                    "server agreed to extension {name:?} the client did not offer"
                )
            }
            Self::SubprotocolNotOffered => {
                f.write_str("chosen subprotocol was not offered by the client")
            }
            Self::ExtensionNotOffered { name } => {
                write!(f, "chosen extension {name:?} was not offered by the client")
            }
            Self::InvalidOutgoing { what } => write!(f, "refusing to send invalid {what}"),
            Self::InvalidStatus { status } => {
                write!(f, "invalid status {status} for a rejection")
            }
            Self::RandomUnavailable => f.write_str("operating system randomness unavailable"),
        }
    }
}

impl core::error::Error for HandshakeError {}

/// The canonical reason phrase for the statuses this crate deals with;
/// `"Unknown"` for others.
#[must_use]
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Appends the decimal digits of `n`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(i..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits() {
        for n in [0u64, 7, 10, 431, 16384, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, alloc::format!("{n}").into_bytes());
        }
    }

    #[test]
    fn version_answer_carries_version_header() {
        let resp = String::from_utf8(HandshakeError::UnsupportedVersion.to_response()).unwrap();
        assert!(resp.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(resp.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        let body = HandshakeError::UnsupportedVersion.response_body();
        assert!(resp.ends_with(&alloc::format!("\r\n\r\n{body}")));
        assert!(resp.contains(&alloc::format!("Content-Length: {}\r\n", body.len())));
    }
}
