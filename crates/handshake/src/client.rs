//! Client side: build the opening request, parse and check the answer.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::extension::{self, ExtensionOffer};
use crate::head::{self, HeadBuffer, ParseStats};
use crate::headers::{check_outgoing_name, check_outgoing_value, is_token, trim_ows, write_header};
use crate::{HandshakeError, Headers, Key, Limits, Status};

/// Builder of a client's opening request (RFC 6455 section 4.1).
///
/// ```
/// use ferrosocket_handshake::{ClientRequest, Key};
///
/// let key = Key::from_bytes(*b"the sample nonce");
/// let mut out = Vec::new();
/// let handshake = ClientRequest::new("example.com", "/chat?room=1", key)
///     .port(8080, false)
///     .origin("https://example.com")
///     .subprotocol("chat")
///     .write_to(&mut out)?;
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.starts_with("GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\n"));
/// assert!(text.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
/// # let _ = handshake;
/// # Ok::<(), ferrosocket_handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    host: String,
    target: String,
    key: Key,
    origin: Option<String>,
    subprotocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Vec<(String, Vec<u8>)>,
    limits: Limits,
}

/// Headers `write_to` writes itself; the application may not add them.
const RESERVED_REQUEST: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
    "Content-Length",
    "Transfer-Encoding",
];

impl ClientRequest {
    /// A request for `target` (origin-form: `/path?query`) on `host` (the
    /// `Host` header value: a name or IP literal, add the port with
    /// [`port`](Self::port)), using `key` as `Sec-WebSocket-Key`.
    #[must_use]
    pub fn new(host: impl Into<String>, target: impl Into<String>, key: Key) -> Self {
        Self {
            host: host.into(),
            target: target.into(),
            key,
            origin: None,
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// Appends `:port` to the host unless it is the default port of the
    /// scheme (80 for `ws`, 443 for `wss` when `secure`). Brackets an IPv6
    /// literal if needed.
    #[must_use]
    pub fn port(mut self, port: u16, secure: bool) -> Self {
        let default = if secure { 443 } else { 80 };
        if port != default {
            if self.host.contains(':') && !self.host.starts_with('[') {
                self.host = alloc::format!("[{}]", self.host);
            }
            self.host = alloc::format!("{}:{port}", self.host);
        }
        self
    }

    /// Sets `Origin` (e.g. `https://example.com`).
    #[must_use]
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers a subprotocol; call in order of preference.
    #[must_use]
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Offers an extension; call in order of preference.
    #[must_use]
    pub fn extension(mut self, extension: ExtensionOffer) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Adds a header (e.g. `Authorization`, `Cookie`).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Limits for parsing the server's answer.
    #[must_use]
    pub const fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The `Host` header value that will be sent.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    fn check(&self) -> Result<(), HandshakeError> {
        let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !visible(&self.host) || self.host.contains(['/', '?', '#', '@']) {
            return Err(HandshakeError::InvalidOutgoing {
                what: "Host".into(),
            });
        }
        if !self.target.starts_with('/') || !visible(&self.target) || self.target.contains('#') {
            return Err(HandshakeError::InvalidOutgoing {
                what: "request target".into(),
            });
        }
        if let Some(origin) = &self.origin {
            check_outgoing_value("Origin", origin.as_bytes())?;
        }
        for (i, p) in self.subprotocols.iter().enumerate() {
            // RFC 6455 4.1: unique tokens.
            if !is_token(p.as_bytes()) || self.subprotocols.get(..i).unwrap_or_default().contains(p)
            {
                return Err(HandshakeError::InvalidOutgoing {
                    what: alloc::format!("subprotocol {p:?}"),
                });
            }
        }
        for e in &self.extensions {
            e.check_outgoing()?;
        }
        for (name, value) in &self.headers {
            check_outgoing_name(name, RESERVED_REQUEST)?;
            check_outgoing_value(name, value)?;
        }
        Ok(())
    }

    /// Appends the request to `out` and returns the state needed to check
    /// the server's answer. Fails, leaving `out` untouched, if a value is
    /// invalid (CR/LF, non-token subprotocol, reserved header, ...).
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<ClientHandshake, HandshakeError> {
        self.check()?;
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_header(out, "Host", self.host.as_bytes());
        write_header(out, "Upgrade", b"websocket");
        write_header(out, "Connection", b"Upgrade");
        write_header(out, "Sec-WebSocket-Key", self.key.to_base64().as_bytes());
        write_header(out, "Sec-WebSocket-Version", b"13");
        if let Some(origin) = &self.origin {
            write_header(out, "Origin", origin.as_bytes());
        }
        if !self.subprotocols.is_empty() {
            write_header(
                out,
                "Sec-WebSocket-Protocol",
                self.subprotocols.join(", ").as_bytes(),
            );
        }
        if !self.extensions.is_empty() {
            write_header(
                out,
                "Sec-WebSocket-Extensions",
                extension::join_extensions(&self.extensions).as_bytes(),
            );
        }
        for (name, value) in &self.headers {
            write_header(out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        Ok(ClientHandshake {
            expected_accept: self.key.accept(),
            subprotocols: self.subprotocols.clone(),
            extensions: self.extensions.iter().map(|e| e.name.clone()).collect(),
            parser: ResponseParser::with_limits(self.limits),
        })
    }
}

/// A parsed HTTP response head (any status), owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase (empty if absent or not valid text).
    pub reason: String,
    /// Minor HTTP version: `1` for HTTP/1.1.
    pub minor_version: u8,
    /// Header fields in received order.
    pub headers: Headers,
    /// Length of the whole header block in bytes (over all feeds); a body,
    /// if any, starts right after it.
    pub header_len: usize,
}

/// Incremental parser for a response head, with the same linear-time
/// guarantee and limits as [`RequestParser`](crate::RequestParser).
#[derive(Debug)]
pub struct ResponseParser {
    head: HeadBuffer,
    limits: Limits,
    failed: Option<HandshakeError>,
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    /// A parser with the default [`Limits`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A parser with the given limits.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            head: HeadBuffer::new(limits.max_header_bytes),
            limits,
            failed: None,
        }
    }

    /// Feeds the next bytes received; see
    /// [`RequestParser::feed`](crate::RequestParser::feed) for the meaning
    /// of the result. Only HTTP syntax and limits are checked here.
    pub fn feed(&mut self, input: &[u8]) -> Result<Status<Response>, HandshakeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.feed_inner(input);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn feed_inner(&mut self, input: &[u8]) -> Result<Status<Response>, HandshakeError> {
        let Some(consumed) = self.head.push(input)? else {
            return Ok(Status::Partial);
        };
        let block = self.head.take();
        let raw = head::parse_response(&block, &self.limits, &mut self.head.stats)?;
        Ok(Status::Complete {
            value: Response {
                status: raw.status,
                reason: raw.reason,
                minor_version: raw.minor_version,
                headers: raw.headers,
                header_len: block.len(),
            },
            consumed,
        })
    }

    /// Bytes of an unfinished header block held so far.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.head.len()
    }

    /// Work counters, for tests of linear-time parsing.
    #[doc(hidden)]
    #[must_use]
    pub fn stats(&self) -> ParseStats {
        self.head.stats
    }
}

/// What the client remembers between sending its request and reading the
/// answer: the expected accept value and what it offered.
#[derive(Debug)]
pub struct ClientHandshake {
    expected_accept: String,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
    parser: ResponseParser,
}

/// The server's verdict on the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A valid `101 Switching Protocols`: the connection now speaks WebSocket.
    Accepted(Accepted),
    /// Any other status: the server refused (or redirects, or wants
    /// authentication). Read the body, if wanted, after the header block.
    Rejected(Rejected),
}

/// A validated `101` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol the server selected, one of those offered.
    pub subprotocol: Option<String>,
    /// The extensions the server agreed to, with their parameters, in the
    /// order they must be applied. Each was offered (by name); checking the
    /// parameters is the extension implementation's job.
    pub extensions: Vec<ExtensionOffer>,
    /// All header fields of the answer.
    pub headers: Headers,
}

/// A non-101 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields.
    pub headers: Headers,
    /// Length of the header block; the body starts right after it.
    pub header_len: usize,
}

impl Rejected {
    /// The body length announced by `Content-Length`, if present and valid
    /// (several equal values are accepted). `None` if absent, invalid or
    /// conflicting, or if `Transfer-Encoding` is present (then the body is
    /// delimited otherwise, or by closing the connection).
    #[must_use]
    pub fn content_length(&self) -> Option<u64> {
        if self.headers.contains("Transfer-Encoding") {
            return None;
        }
        let mut length = None;
        for value in self.headers.get_all("Content-Length") {
            for element in value.split(|&b| b == b',') {
                let element = trim_ows(element);
                if element.is_empty() || !element.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let n: u64 = core::str::from_utf8(element).ok()?.parse().ok()?;
                if length.is_some_and(|l| l != n) {
                    return None;
                }
                length = Some(n);
            }
        }
        length
    }
}

impl ClientHandshake {
    /// Feeds bytes received from the server.
    ///
    /// `Ok(Status::Complete { value, consumed })` carries the verdict; the
    /// first `consumed` bytes of `input` ended the header block and
    /// `&input[consumed..]` is untouched: WebSocket frames after an
    /// [`Outcome::Accepted`], the start of the body after an
    /// [`Outcome::Rejected`]. Errors mean the server's 101 answer is invalid:
    /// close the connection.
    pub fn feed(&mut self, input: &[u8]) -> Result<Status<Outcome>, HandshakeError> {
        match self.parser.feed(input)? {
            Status::Partial => Ok(Status::Partial),
            Status::Complete { value, consumed } => Ok(Status::Complete {
                value: self.check(value)?,
                consumed,
            }),
        }
    }

    /// Checks a response parsed by other means (any status).
    pub fn check(&self, response: Response) -> Result<Outcome, HandshakeError> {
        if response.status != 101 {
            return Ok(Outcome::Rejected(Rejected {
                status: response.status,
                reason: response.reason,
                headers: response.headers,
                header_len: response.header_len,
            }));
        }
        if response.minor_version < 1 {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        let headers = response.headers;
        if !headers.contains("Upgrade") {
            return Err(HandshakeError::MissingHeader { name: "Upgrade" });
        }
        if !headers.contains_token("Upgrade", "websocket") {
            return Err(HandshakeError::UpgradeNotWebSocket);
        }
        if !headers.contains("Connection") {
            return Err(HandshakeError::MissingHeader { name: "Connection" });
        }
        if !headers.contains_token("Connection", "Upgrade") {
            return Err(HandshakeError::ConnectionNotUpgrade);
        }
        let accept =
            headers
                .single("Sec-WebSocket-Accept")?
                .ok_or(HandshakeError::MissingHeader {
                    name: "Sec-WebSocket-Accept",
                })?;
        if accept != self.expected_accept.as_bytes() {
            return Err(HandshakeError::AcceptMismatch);
        }
        let subprotocol = match headers.single("Sec-WebSocket-Protocol")? {
            None => None,
            Some(p) => {
                if !is_token(p) {
                    return Err(HandshakeError::InvalidHeader {
                        name: "Sec-WebSocket-Protocol",
                    });
                }
                match self.subprotocols.iter().find(|o| o.as_bytes() == p) {
                    Some(offered) => Some(offered.clone()),
                    None => return Err(HandshakeError::UnexpectedSubprotocol),
                }
            }
        };
        let mut extensions = Vec::new();
        for value in headers.get_all("Sec-WebSocket-Extensions") {
            extension::parse_into(value, &mut extensions)?;
        }
        for e in &extensions {
            if !self
                .extensions
                .iter()
                .any(|o| o.eq_ignore_ascii_case(&e.name))
            {
                return Err(HandshakeError::UnexpectedExtension {
                    name: e.name.to_string(),
                });
            }
        }
        Ok(Outcome::Accepted(Accepted {
            subprotocol,
            extensions,
            headers,
        }))
    }

    /// The `Sec-WebSocket-Accept` value expected from the server.
    #[must_use]
    pub fn expected_accept(&self) -> &str {
        &self.expected_accept
    }

    /// Work counters of the response parser, for tests.
    #[doc(hidden)]
    #[must_use]
    pub fn stats(&self) -> ParseStats {
        self.parser.stats()
    }
}
