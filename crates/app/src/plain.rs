//! Plain HTTP for the server's fallback: the request as hyper parsed it (with its
//! body) and a simple response, which hyper sends.

use bytes::Bytes;
use http_body_util::Full;

use crate::Headers;

/// A plain HTTP request, as the server's fallback sees it
/// ([`ServerBuilder::fallback`](super::ServerBuilder::fallback)): the head and
/// the body (`Content-Length` or chunked, at most
/// [`max_request_body`](super::ServerBuilder::max_request_body)).
#[derive(Debug, Clone)]
pub struct HttpRequest {
    method: String,
    target: String,
    headers: Headers,
    body: Bytes,
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

    /// The body (empty if there was none).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The request hyper parsed, with its body.
    pub(crate) fn from_parts(parts: &http::request::Parts, body: Bytes) -> Self {
        let mut headers = Headers::new();
        for (name, value) in &parts.headers {
            headers.push(name.as_str(), value.as_bytes());
        }
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        Self {
            method: parts.method.as_str().to_owned(),
            target: if target.is_empty() { "/" } else { target }.to_owned(),
            headers,
            body,
        }
    }
}

/// A plain HTTP response from the server's fallback, sent by hyper with
/// `Content-Length` (`Content-Length` and `Connection` headers set here are
/// ignored: hyper decides whether the connection is kept).
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

    /// The response for hyper: `Content-Length` from the body, `Connection`
    /// left to hyper (it keeps the connection when the client may send another
    /// request). An invalid status or header is a 500.
    pub(crate) fn into_http(self) -> http::Response<Full<Bytes>> {
        let mut response = http::Response::new(Full::new(self.body));
        let Ok(status) = http::StatusCode::from_u16(self.status) else {
            return internal_error();
        };
        *response.status_mut() = status;
        for (name, value) in self.headers {
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("connection")
            {
                continue;
            }
            let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_bytes(&value),
            ) else {
                return internal_error();
            };
            response.headers_mut().append(name, value);
        }
        response
    }
}

/// The answer to a response that could not be sent as it was.
/// 426 for an upgrade the HTTP server cannot perform (a connection not served
/// `with_upgrades`, or HTTP/2), the same from the server and from the axum
/// extractor.
pub(crate) fn not_upgradable() -> http::Response<Bytes> {
    let mut response =
        http::Response::new(Bytes::from_static(b"this connection cannot be upgraded\n"));
    *response.status_mut() = http::StatusCode::UPGRADE_REQUIRED;
    response.headers_mut().insert(
        http::header::UPGRADE,
        http::HeaderValue::from_static("websocket"),
    );
    response
}

pub(crate) fn internal_error() -> http::Response<Full<Bytes>> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(b"invalid response\n")));
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses() {
        let (parts, ()) = http::Request::get("http://example.com/a?b=1")
            .header("X-Token", "t")
            .body(())
            .unwrap()
            .into_parts();
        let request = HttpRequest::from_parts(&parts, Bytes::from_static(b"body"));
        assert_eq!(
            (request.method(), request.path(), request.query()),
            ("GET", "/a", Some("b=1"))
        );
        assert_eq!(request.headers().get_str("x-token"), Some("t"));
        assert_eq!(&request.body()[..], b"body");

        let response = HttpResponse::text("hi").header("X-A", "1").into_http();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-a"], "1");
        let bad = HttpResponse::new(200).header("X", "a\r\nb").into_http();
        assert_eq!(bad.status(), 500);
        assert_eq!(HttpResponse::new(42).into_http().status(), 500);
    }
}
