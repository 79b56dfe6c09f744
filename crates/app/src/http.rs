//! Plain HTTP for the server's fallback: the request head, parsed before
//! deciding between WebSocket and HTTP, and a simple response.

use bytes::Bytes;

use crate::Headers;

/// A plain HTTP request, as the server's fallback sees it
/// ([`ServerBuilder::fallback`](super::ServerBuilder::fallback)): the head and
/// the body (`Content-Length` bytes, at most
/// [`max_request_body`](super::ServerBuilder::max_request_body)).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    method: String,
    target: String,
    headers: Headers,
    /// The minor version: `HTTP/1.0` or `HTTP/1.1`.
    minor_version: u8,
    body: Bytes,
}

/// What the head says of the body that follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLength {
    /// `Content-Length` (0 without one).
    Known(usize),
    /// `Transfer-Encoding`: not supported (501).
    Chunked,
    /// A `Content-Length` that is not one number, or several that differ (400).
    Invalid,
}

impl HttpRequest {
    /// The method (`GET`, `HEAD`, ...).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent (path and query).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The query, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Whether it asks for a WebSocket upgrade (`Upgrade: websocket`).
    pub(crate) fn is_upgrade(&self) -> bool {
        self.headers.contains_token("Upgrade", "websocket")
    }

    /// Whether the client wants the connection kept for another request
    /// (RFC 9112 section 9.3): HTTP/1.1 unless it says `Connection: close`,
    /// HTTP/1.0 only with `Connection: keep-alive`.
    pub(crate) fn wants_keep_alive(&self) -> bool {
        if self.minor_version >= 1 {
            !self.headers.contains_token("Connection", "close")
        } else {
            self.headers.contains_token("Connection", "keep-alive")
        }
    }

    /// The body (empty without `Content-Length`).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    pub(crate) fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// The body's framing (RFC 9112 section 6.3): `Transfer-Encoding` wins, then
    /// `Content-Length`, which must be a plain number (repeated only with the
    /// same value).
    pub(crate) fn body_length(&self) -> BodyLength {
        if self.headers.get("Transfer-Encoding").is_some() {
            return BodyLength::Chunked;
        }
        let mut length = None;
        for (name, value) in self.headers.iter() {
            if !name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            let parsed = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok());
            match (parsed, length) {
                (None, _) => return BodyLength::Invalid,
                (Some(n), Some(m)) if n != m => return BodyLength::Invalid,
                (Some(n), _) => length = Some(n),
            }
        }
        BodyLength::Known(length.unwrap_or(0))
    }
}

/// A plain HTTP response from the server's fallback. It is sent with
/// `Content-Length`, and `Connection: keep-alive` when the server keeps the
/// connection for the client's next request (HTTP/1.1 without `Connection:
/// close`, no request body), else `Connection: close`.
///
/// ```
/// use ferrosocket_app::HttpResponse;
/// let page = HttpResponse::html("<h1>hi</h1>");
/// assert_eq!(page.status(), 200);
/// let missing = HttpResponse::not_found();
/// assert_eq!(missing.status(), 404);
/// ```
#[derive(Debug, Clone)]
pub struct HttpResponse {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
}

impl HttpResponse {
    /// A response with `status` and no body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// 404 Not Found, with a short text body.
    pub fn not_found() -> Self {
        Self::text("not found\n").status_code(404)
    }

    /// 200 with an HTML body (`text/html; charset=utf-8`).
    pub fn html(body: impl Into<Bytes>) -> Self {
        Self::new(200)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(body)
    }

    /// 200 with a plain-text body (`text/plain; charset=utf-8`).
    pub fn text(body: impl Into<Bytes>) -> Self {
        Self::new(200)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body)
    }

    /// Sets the status.
    #[must_use]
    pub fn status_code(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a header (one with CR or LF in it, or a name that is not a token,
    /// makes the server answer 500 instead).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers set.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// The response on the wire (no body for `HEAD`).
    pub(crate) fn to_bytes(&self, head_only: bool, keep_alive: bool) -> Vec<u8> {
        let valid = self.headers.iter().all(|(name, value)| {
            !name.is_empty()
                && name.bytes().all(is_token_byte)
                && !value.iter().any(|&b| b == b'\r' || b == b'\n')
        }) && (100..=999).contains(&self.status);
        if !valid {
            return Self::new(500)
                .body("invalid response\n")
                .to_bytes(head_only, keep_alive);
        }
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("connection")
            {
                continue;
            }
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: {}\r\n\r\n",
                self.body.len(),
                if keep_alive { "keep-alive" } else { "close" }
            )
            .as_bytes(),
        );
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// The end of a request head: the index just past the first empty line, looked
/// for from `from` (where the last search stopped, minus 3 bytes for a split
/// terminator), so the whole search stays linear.
pub(crate) fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    buf[start..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| start + i + 4)
}

/// Parses a complete request head (up to and including the empty line).
pub(crate) fn parse_head(head: &[u8]) -> Result<HttpRequest, ()> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut fields);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(()),
    }
    let mut headers = Headers::new();
    for field in request.headers.iter() {
        headers.push(field.name, field.value.trim_ascii());
    }
    Ok(HttpRequest {
        method: request.method.ok_or(())?.to_owned(),
        target: request.path.ok_or(())?.to_owned(),
        headers,
        minor_version: request.version.ok_or(())?,
        body: Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_responses() {
        let raw = b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n\r\nrest";
        assert_eq!(head_end(&raw[..10], 0), None);
        let end = head_end(raw, 8).unwrap();
        assert_eq!(&raw[end..], b"rest");
        let request = parse_head(&raw[..end]).unwrap();
        assert_eq!(
            (request.method(), request.path(), request.query()),
            ("GET", "/a", Some("b=1"))
        );
        assert!(request.is_upgrade());
        assert!(parse_head(b"\x01\x02 nonsense\r\n\r\n").is_err());

        let wire = HttpResponse::text("hi")
            .header("X-A", "1")
            .to_bytes(false, false);
        let wire = String::from_utf8(wire).unwrap();
        assert!(wire.starts_with("HTTP/1.1 200 OK\r\n"), "{wire}");
        assert!(wire.contains("Content-Length: 2\r\n") && wire.ends_with("\r\n\r\nhi"));
        let bad = HttpResponse::new(200)
            .header("X", "a\r\nb")
            .to_bytes(true, false);
        assert!(bad.starts_with(b"HTTP/1.1 500 "));
        assert!(bad.ends_with(b"\r\n\r\n"));
    }
}
