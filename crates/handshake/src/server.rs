//! Server side: parse and validate the client's request, answer it.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::{push_u64, reason_phrase};
use crate::extension::{self, ExtensionOffer};
use crate::head::{self, HeadBuffer, ParseStats};
use crate::headers::{check_outgoing_name, check_outgoing_value, write_header};
use crate::{HandshakeError, Headers, Key, Limits, Status};

/// A validated WebSocket opening request (RFC 6455 section 4.2.1).
///
/// Obtained from [`RequestParser::feed`] or, with the `http` feature, from
/// [`Request::from_http`]. Answer it with [`Request::write_accept`] or reject
/// it with [`Reject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Headers,
    pub(crate) host: String,
    pub(crate) key: Key,
    pub(crate) origin: Option<String>,
    pub(crate) subprotocols: Vec<String>,
    pub(crate) extensions: Vec<ExtensionOffer>,
}

impl Request {
    /// The request method (always `GET` once validated).
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent: `/path?query` (origin-form) or, rarely,
    /// an absolute URI.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The target up to the first `?`.
    #[must_use]
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(p, _)| p)
    }

    /// The target after the first `?`, if any.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// All header fields, in received order.
    #[must_use]
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The `Host` header value.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The decoded `Sec-WebSocket-Key`.
    #[must_use]
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` value that answers this request's key.
    #[must_use]
    pub fn accept_key(&self) -> String {
        self.key.accept()
    }

    /// The `Origin` header, if present (browsers always send it; check it
    /// against an allow-list to stop cross-site WebSocket hijacking).
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The offered subprotocols, in the client's order of preference, from
    /// all `Sec-WebSocket-Protocol` fields.
    #[must_use]
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The offered extensions, in order, from all `Sec-WebSocket-Extensions`
    /// fields.
    #[must_use]
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// Validates an already parsed request (shared by the byte parser and
    /// the `http` interop). `http11` tells whether the version is HTTP/1.1.
    pub(crate) fn validate(
        method: &str,
        target: &str,
        http11: bool,
        headers: Headers,
    ) -> Result<Self, HandshakeError> {
        if method != "GET" {
            return Err(HandshakeError::MethodNotAllowed);
        }
        if !http11 {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        if !(target.starts_with('/') || target.contains("://")) {
            return Err(HandshakeError::InvalidTarget);
        }
        let host = headers
            .single("Host")?
            .ok_or(HandshakeError::MissingHeader { name: "Host" })?;
        let host = match core::str::from_utf8(host) {
            Ok(h) if !h.is_empty() => h.to_string(),
            _ => return Err(HandshakeError::InvalidHeader { name: "Host" }),
        };
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
        match headers.single("Sec-WebSocket-Version")? {
            Some(v) if crate::headers::trim_ows(v) == b"13" => {}
            _ => return Err(HandshakeError::UnsupportedVersion),
        }
        let key = headers
            .single("Sec-WebSocket-Key")?
            .ok_or(HandshakeError::MissingHeader {
                name: "Sec-WebSocket-Key",
            })?;
        let key = Key::from_base64(key)?;
        let origin = match headers.single("Origin")? {
            None => None,
            Some(o) => Some(
                core::str::from_utf8(o)
                    .map_err(|_| HandshakeError::InvalidHeader { name: "Origin" })?
                    .to_string(),
            ),
        };
        let mut subprotocols = Vec::new();
        for value in headers.get_all("Sec-WebSocket-Protocol") {
            extension::parse_subprotocols(value, &mut subprotocols)?;
        }
        let mut extensions = Vec::new();
        for value in headers.get_all("Sec-WebSocket-Extensions") {
            extension::parse_into(value, &mut extensions)?;
        }
        Ok(Self {
            method: method.to_string(),
            target: target.to_string(),
            headers,
            host,
            key,
            origin,
            subprotocols,
            extensions,
        })
    }

    /// Checks `accept` against this request and returns the header fields of
    /// the 101 answer, in order.
    pub(crate) fn accept_fields(
        &self,
        accept: &Accept,
    ) -> Result<Vec<(String, Vec<u8>)>, HandshakeError> {
        let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
        fields.push(("Upgrade".into(), b"websocket".to_vec()));
        fields.push(("Connection".into(), b"Upgrade".to_vec()));
        fields.push((
            "Sec-WebSocket-Accept".into(),
            self.accept_key().into_bytes(),
        ));
        if let Some(p) = &accept.subprotocol {
            if !self.subprotocols.iter().any(|o| o == p) {
                return Err(HandshakeError::SubprotocolNotOffered);
            }
            fields.push(("Sec-WebSocket-Protocol".into(), p.clone().into_bytes()));
        }
        if !accept.extensions.is_empty() {
            for e in &accept.extensions {
                e.check_outgoing()?;
                if !self
                    .extensions
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&e.name))
                {
                    return Err(HandshakeError::ExtensionNotOffered {
                        name: e.name.clone(),
                    });
                }
            }
            fields.push((
                "Sec-WebSocket-Extensions".into(),
                extension::join_extensions(&accept.extensions).into_bytes(),
            ));
        }
        for (name, value) in &accept.headers {
            check_outgoing_name(name, RESERVED_101)?;
            check_outgoing_value(name, value)?;
            fields.push((name.clone(), value.clone()));
        }
        Ok(fields)
    }

    /// Appends the `101 Switching Protocols` answer to `out`: `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Accept`, the chosen subprotocol and
    /// extensions, then the application's extra headers.
    ///
    /// Fails, leaving `out` untouched, if the subprotocol or an extension was
    /// not offered by the client, or a header is invalid (CR/LF in a value,
    /// a name that is not a token, or a header this method writes itself).
    pub fn write_accept(&self, accept: &Accept, out: &mut Vec<u8>) -> Result<(), HandshakeError> {
        let fields = self.accept_fields(accept)?;
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        for (name, value) in &fields {
            write_header(out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// Headers `write_accept` writes itself; the application may not add them.
const RESERVED_101: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// The server application's decision to accept a request: the chosen
/// subprotocol, the agreed extensions and extra headers (e.g. `Set-Cookie`).
///
/// Extension negotiation is the application's business: inspect
/// [`Request::extensions`], pick and parameterise, and list the result here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accept {
    subprotocol: Option<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Vec<(String, Vec<u8>)>,
}

impl Accept {
    /// Accept with no subprotocol, no extension, no extra header.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Selects a subprotocol; it must be one of [`Request::subprotocols`].
    #[must_use]
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocol = Some(protocol.into());
        self
    }

    /// Agrees to an extension (with the parameters of the answer); its
    /// name must be one the client offered.
    #[must_use]
    pub fn extension(mut self, extension: ExtensionOffer) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Adds a header to the answer.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The selected subprotocol.
    #[must_use]
    pub fn selected_subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The agreed extensions.
    #[must_use]
    pub fn agreed_extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }
}

/// A refusal of the handshake with any final status (not 101), headers and
/// a body, like wsproto's `RejectConnection` + `RejectData`.
///
/// `Content-Length` is always written from the body; the application may
/// not set it (nor `Transfer-Encoding`). For an answer derived from a
/// [`HandshakeError`], see [`HandshakeError::write_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    status: u16,
    reason: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Reject {
    /// A rejection with `status` (200..=999, checked when written), the
    /// canonical reason phrase, no header and an empty body.
    #[must_use]
    pub fn new(status: u16) -> Self {
        Self {
            status,
            reason: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Overrides the reason phrase.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status code.
    #[must_use]
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase that will be sent.
    #[must_use]
    pub fn reason_phrase(&self) -> &str {
        self.reason
            .as_deref()
            .unwrap_or_else(|| reason_phrase(self.status))
    }

    /// The extra headers.
    #[must_use]
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The body.
    #[must_use]
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    pub(crate) fn check(&self) -> Result<(), HandshakeError> {
        if !(200..=999).contains(&self.status) {
            return Err(HandshakeError::InvalidStatus {
                status: self.status,
            });
        }
        check_outgoing_value("reason phrase", self.reason_phrase().as_bytes())?;
        for (name, value) in &self.headers {
            check_outgoing_name(name, &["Content-Length", "Transfer-Encoding"])?;
            check_outgoing_value(name, value)?;
        }
        Ok(())
    }

    /// Appends the complete answer (head and body) to `out`. Fails, leaving
    /// `out` untouched, on a 1xx status or an invalid header.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), HandshakeError> {
        self.check()?;
        out.extend_from_slice(b"HTTP/1.1 ");
        push_u64(out, u64::from(self.status));
        out.push(b' ');
        out.extend_from_slice(self.reason_phrase().as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            write_header(out, name, value);
        }
        out.extend_from_slice(b"Content-Length: ");
        push_u64(out, self.body.len() as u64);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&self.body);
        Ok(())
    }
}

/// Incremental parser for the client's opening request.
///
/// Feed it bytes as they arrive, in any chunking. Each byte is scanned
/// once; `httparse` runs once, when the empty line ending the header block
/// has arrived, so total work is linear in the input whatever the chunking.
/// At most [`Limits::max_header_bytes`] bytes are buffered.
///
/// After [`Status::Complete`] the parser is reset and may parse another
/// request; after an error it keeps returning that error.
#[derive(Debug)]
pub struct RequestParser {
    head: HeadBuffer,
    limits: Limits,
    failed: Option<HandshakeError>,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
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

    /// Feeds the next bytes received.
    ///
    /// * `Ok(Status::Partial)`: all of `input` was taken, send more;
    /// * `Ok(Status::Complete { value, consumed })`: the request is valid;
    ///   the first `consumed` bytes of `input` ended its header block and
    ///   `&input[consumed..]` (possibly WebSocket frames) was not touched;
    /// * `Err(e)`: answer with [`HandshakeError::write_response`] and close.
    pub fn feed(&mut self, input: &[u8]) -> Result<Status<Request>, HandshakeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.feed_inner(input);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn feed_inner(&mut self, input: &[u8]) -> Result<Status<Request>, HandshakeError> {
        let Some(consumed) = self.head.push(input)? else {
            return Ok(Status::Partial);
        };
        let block = self.head.take();
        let raw = head::parse_request(&block, &self.limits, &mut self.head.stats)?;
        let request = Request::validate(
            &raw.method,
            &raw.target,
            raw.minor_version >= 1,
            raw.headers,
        )?;
        Ok(Status::Complete {
            value: request,
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
