//! Upgrades answered by another HTTP server (hyper, axum): the request arrives as
//! an `http::Request`, the `101` leaves as an `http::Response`, and the socket
//! comes back from the server's upgrade machinery (`hyper::upgrade::on`).
//!
//! [`Upgrade::accept`] makes the same decisions as the engine's own
//! [`accept`](crate::accept): the request checked by the same rules, the
//! subprotocol and headers of the [`Accept`], and permessage-deflate negotiated
//! from [`StreamConfig::compression`] (unless the `Accept` names it itself).
//! [`WebSocketStream::from_upgrade`] then runs the connection over the upgraded
//! socket.
//!
//! ```
//! use ferrosocket_io::upgrade::Upgrade;
//! use ferrosocket_io::StreamConfig;
//! use ferrosocket_io::proto::handshake::Accept;
//!
//! let request = http::Request::get("/chat")
//!     .header("Host", "example.com")
//!     .header("Upgrade", "websocket")
//!     .header("Connection", "Upgrade")
//!     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("Sec-WebSocket-Version", "13")
//!     .header("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
//!     .body(())
//!     .unwrap();
//! let (response, upgrade) =
//!     Upgrade::from_http(&request, Accept::new(), StreamConfig::default()).unwrap();
//! assert_eq!(response.status(), 101);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! assert!(upgrade.is_compressed());
//! ```

use alloc::boxed::Box;

use ferrosocket_proto::handshake::{Accept, Request};
use ferrosocket_proto::{Connection, Role};

use crate::poll::{AsyncTimer, PollIo, server_stream};
use crate::{Error, StreamConfig, WebSocketStream};

/// An accepted upgrade waiting for its socket: the open connection (with the
/// negotiated extension) and the request, until
/// [`WebSocketStream::from_upgrade`].
#[derive(Debug)]
pub struct Upgrade {
    conn: Connection,
    request: Box<Request>,
    config: StreamConfig,
    compressed: bool,
}

impl Upgrade {
    /// Accepts a request already checked with [`Request::from_http`]: the `101`
    /// answer to send, and the upgrade to run once the socket is handed over.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] if `accept` is invalid for this request (a subprotocol
    /// the client did not offer, a bad header value): answer 500.
    #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
    pub fn accept(
        request: Request,
        accept: Accept,
        config: StreamConfig,
    ) -> Result<(http::Response<()>, Self), Error> {
        let config = config.assembled();
        let mut conn = Connection::new(Role::Server, config.protocol);
        let mut accept = accept;
        let mut compressed = false;
        #[cfg(feature = "deflate")]
        {
            let named = crate::handshake::names_permessage_deflate(&accept);
            let agreed = config
                .compression
                .as_ref()
                .filter(|_| !named)
                .and_then(|c| {
                    ferrosocket_proto::deflate::server_negotiate(c, request.extensions())
                });
            if let Some((answer, extension)) = agreed {
                accept = accept.extension(answer);
                conn = conn.with_extension(extension);
                compressed = true;
            }
        }
        let response = request.accept_http(&accept).map_err(Error::Handshake)?;
        Ok((
            response,
            Self {
                conn,
                request: Box::new(request),
                config,
                compressed,
            },
        ))
    }

    /// [`accept`](Self::accept) for an `http::Request`, checked first.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] for a request that is not a valid WebSocket upgrade
    /// (its [`http_status`](ferrosocket_proto::handshake::HandshakeError::http_status)
    /// is the answer: 400, 405, 426), or as [`accept`](Self::accept).
    pub fn from_http<B>(
        request: &http::Request<B>,
        accept: Accept,
        config: StreamConfig,
    ) -> Result<(http::Response<()>, Self), Error> {
        let request = Request::from_http(request).map_err(Error::Handshake)?;
        Self::accept(request, accept, config)
    }

    /// The client's request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Whether permessage-deflate was agreed.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }
}

impl<IO: PollIo, T: AsyncTimer> WebSocketStream<IO, T> {
    /// The stream of an [`Upgrade`] over the socket the HTTP server handed over,
    /// with `read`: bytes the server had already read past the request (hyper's
    /// `Parts::read_buf`; empty for an `Upgraded` used as it is). Its timers run
    /// with the runtime's ambient timer (tokio's); others give one with
    /// [`set_timer`](Self::set_timer).
    pub fn from_upgrade(socket: IO::Socket, upgrade: Upgrade, read: &[u8]) -> Self {
        let Upgrade {
            mut conn,
            request,
            config,
            ..
        } = upgrade;
        conn.receive_data(read);
        Self::from_poll(server_stream(
            IO::from_socket(socket),
            conn,
            request,
            config,
            T::ambient(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extensions: Option<&str>) -> http::Request<()> {
        let mut builder = http::Request::get("ws://example.com/chat?room=1")
            .header("Host", "example.com")
            .header("Upgrade", "websocket")
            .header("Connection", "keep-alive, Upgrade")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Protocol", "chat.v1");
        if let Some(extensions) = extensions {
            builder = builder.header("Sec-WebSocket-Extensions", extensions);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn absolute_form_target_and_subprotocol() {
        let accept = Accept::new().subprotocol("chat.v1");
        let (response, upgrade) =
            Upgrade::from_http(&request(None), accept, StreamConfig::default()).unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
        assert_eq!(upgrade.request().path(), "/chat");
        assert!(!upgrade.is_compressed());
    }

    #[test]
    fn unoffered_subprotocol_is_a_handshake_error() {
        let accept = Accept::new().subprotocol("other");
        let error = Upgrade::from_http(&request(None), accept, StreamConfig::default());
        assert!(matches!(error, Err(Error::Handshake(_))), "{error:?}");
    }

    #[test]
    fn not_an_upgrade_names_its_status() {
        let plain = http::Request::get("/").body(()).unwrap();
        match Upgrade::from_http(&plain, Accept::new(), StreamConfig::default()) {
            Err(Error::Handshake(e)) => assert!(matches!(e.http_status(), 400 | 426), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn deflate_negotiated_unless_configured_off() {
        let offer = Some("permessage-deflate; client_max_window_bits");
        let (response, upgrade) =
            Upgrade::from_http(&request(offer), Accept::new(), StreamConfig::default()).unwrap();
        assert!(upgrade.is_compressed());
        let answer = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(answer.starts_with("permessage-deflate"), "{answer}");

        let off = StreamConfig::default().compression(None);
        let (response, upgrade) = Upgrade::from_http(&request(offer), Accept::new(), off).unwrap();
        assert!(!upgrade.is_compressed());
        assert!(!response.headers().contains_key("sec-websocket-extensions"));
    }
}
