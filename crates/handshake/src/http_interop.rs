//! Interoperability with the `http` crate (feature `http`): validate a
//! request that hyper, axum & co. already parsed, and build their response
//! types.

use alloc::string::String;
use alloc::vec::Vec;

use crate::server::{Accept, Reject, Request};
use crate::{HandshakeError, Headers};

fn invalid_outgoing(what: &str) -> HandshakeError {
    HandshakeError::InvalidOutgoing { what: what.into() }
}

fn to_headers(map: &http::HeaderMap) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in map {
        headers.push(name.as_str(), crate::headers::trim_ows(value.as_bytes()));
    }
    headers
}

fn build<B>(
    status: u16,
    fields: &[(String, Vec<u8>)],
    body: B,
) -> Result<http::Response<B>, HandshakeError> {
    let mut response = http::Response::new(body);
    *response.status_mut() =
        http::StatusCode::from_u16(status).map_err(|_| HandshakeError::InvalidStatus { status })?;
    let map = response.headers_mut();
    for (name, value) in fields {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid_outgoing("header name"))?;
        let value =
            http::HeaderValue::from_bytes(value).map_err(|_| invalid_outgoing("header value"))?;
        map.append(name, value);
    }
    Ok(response)
}

/// Whether a request's header fields ask for a WebSocket upgrade (`Upgrade`
/// lists `websocket`, any case): what decides between the WebSocket handshake
/// and plain HTTP, with the same list rule as the handshake's own check. Whether
/// the rest of the request is a valid handshake is [`Request::from_http`]'s.
#[must_use]
pub fn is_websocket_upgrade(headers: &http::HeaderMap) -> bool {
    headers.get_all(http::header::UPGRADE).iter().any(|value| {
        crate::headers::list_elements(value.as_bytes())
            .any(|element| element.eq_ignore_ascii_case(b"websocket"))
    })
}

impl Request {
    /// Validates a request parsed by an HTTP library, with the same rules and
    /// errors as [`RequestParser`](crate::RequestParser). Only HTTP/1.1 is
    /// accepted: WebSocket over HTTP/2 (RFC 8441) is a different handshake.
    pub fn from_http<B>(request: &http::Request<B>) -> Result<Self, HandshakeError> {
        Self::from_http_components(
            request.method(),
            request.uri(),
            request.version(),
            request.headers(),
        )
    }

    /// Like [`from_http`](Self::from_http), from request parts.
    pub fn from_http_parts(parts: &http::request::Parts) -> Result<Self, HandshakeError> {
        Self::from_http_components(&parts.method, &parts.uri, parts.version, &parts.headers)
    }

    /// Like [`from_http`](Self::from_http), from the individual components.
    /// The target is the URI's path and query (`/` if it has none).
    pub fn from_http_components(
        method: &http::Method,
        uri: &http::Uri,
        version: http::Version,
        headers: &http::HeaderMap,
    ) -> Result<Self, HandshakeError> {
        let target = uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let target = if target.is_empty() { "/" } else { target };
        Self::validate(
            method.as_str(),
            target,
            version == http::Version::HTTP_11,
            to_headers(headers),
        )
    }

    /// The `101 Switching Protocols` answer as an `http::Response`, with the
    /// same checks as [`write_accept`](Self::write_accept).
    pub fn accept_http(&self, accept: &Accept) -> Result<http::Response<()>, HandshakeError> {
        let fields = self.accept_fields(accept)?;
        build(101, &fields, ())
    }
}

impl Reject {
    /// This rejection as an `http::Response` (with `Content-Length`).
    pub fn to_http_response(&self) -> Result<http::Response<Vec<u8>>, HandshakeError> {
        self.check()?;
        let mut fields = self.headers().to_vec();
        fields.push((
            "Content-Length".into(),
            alloc::format!("{}", self.body_bytes().len()).into_bytes(),
        ));
        build(self.status(), &fields, self.body_bytes().to_vec())
    }
}

impl HandshakeError {
    /// The error answer as an `http::Response` with a plain-text body; same
    /// status and headers as [`write_response`](Self::write_response).
    #[must_use]
    pub fn to_http_response(&self) -> http::Response<String> {
        let body = self.response_body();
        let mut response = http::Response::new(String::new());
        if let Ok(status) = http::StatusCode::from_u16(self.http_status()) {
            *response.status_mut() = status;
        }
        let map = response.headers_mut();
        map.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        map.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from(body.len()),
        );
        map.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static(self.connection_value()),
        );
        for (name, value) in self.response_headers() {
            map.append(*name, http::HeaderValue::from_static(value));
        }
        *response.body_mut() = body;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_upgrade_is_a_list_element_in_any_case() {
        let mut headers = http::HeaderMap::new();
        assert!(!is_websocket_upgrade(&headers));
        headers.append(http::header::UPGRADE, "h2c".parse().unwrap());
        assert!(!is_websocket_upgrade(&headers));
        headers.append(
            http::header::UPGRADE,
            "foo/2, \tWebSocket ,".parse().unwrap(),
        );
        assert!(is_websocket_upgrade(&headers));
        let mut near = http::HeaderMap::new();
        near.append(http::header::UPGRADE, "websockets".parse().unwrap());
        assert!(!is_websocket_upgrade(&near));
    }

    fn request() -> http::Request<()> {
        http::Request::builder()
            .uri("/chat?x=1")
            .header("Host", "example.com")
            .header("Upgrade", "websocket")
            .header("Connection", "keep-alive, Upgrade")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Protocol", "chat")
            .header("Sec-WebSocket-Protocol", "superchat")
            .body(())
            .unwrap()
    }

    #[test]
    fn validates_and_accepts() {
        let req = Request::from_http(&request()).unwrap();
        assert_eq!(req.target(), "/chat?x=1");
        assert_eq!(req.subprotocols(), ["chat", "superchat"]);
        let resp = req
            .accept_http(&Accept::new().subprotocol("superchat"))
            .unwrap();
        assert_eq!(resp.status(), 101);
        assert_eq!(
            resp.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(resp.headers()["sec-websocket-protocol"], "superchat");
        let (parts, ()) = request().into_parts();
        assert_eq!(Request::from_http_parts(&parts).unwrap(), req);
    }

    #[test]
    fn errors_map_to_responses() {
        let mut r = request();
        r.headers_mut().remove("sec-websocket-version");
        let e = Request::from_http(&r).unwrap_err();
        assert_eq!(e, HandshakeError::UnsupportedVersion);
        let resp = e.to_http_response();
        assert_eq!(resp.status(), 426);
        assert_eq!(resp.headers()["sec-websocket-version"], "13");

        let mut r = request();
        *r.method_mut() = http::Method::POST;
        let e = Request::from_http(&r).unwrap_err();
        assert_eq!(e.to_http_response().status(), 405);
        assert_eq!(e.to_http_response().headers()["allow"], "GET");

        let mut r = request();
        *r.version_mut() = http::Version::HTTP_2;
        assert_eq!(
            Request::from_http(&r),
            Err(HandshakeError::UnsupportedHttpVersion)
        );
    }

    #[test]
    fn reject_as_http() {
        let resp = Reject::new(403)
            .header("X-Reason", "nope")
            .body("forbidden")
            .to_http_response()
            .unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(resp.headers()["content-length"], "9");
        assert_eq!(resp.body(), b"forbidden");
        assert!(Reject::new(101).to_http_response().is_err());
    }
}
