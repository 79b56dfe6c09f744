//! The opening handshake over a tokio socket: [`accept`], [`accept_with`],
//! [`accept_with_config`], [`client_async`], [`client_async_with`], [`connect`],
//! [`connect_with`]: each is the engine's ([`ferrosocket_io::accept`],
//! [`ferrosocket_io::client`], [`ferrosocket_io::connect`]) with tokio's socket glue
//! and timer.

use ferrosocket_io::{ClientOptions, ClientTls, Decision, Error, Response, StreamConfig};
use ferrosocket_proto::handshake::{Accept, Request};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::TokioTimer;
use crate::WebSocketStream;
use crate::transport::{MaybeTlsStream, Tokio};
use ferrosocket_io::TokioIo;

/// Server: accepts any valid WebSocket request on `stream`, with the default
/// [`StreamConfig`]. See [`accept_with_config`].
///
/// # Errors
///
/// As [`accept_with_config`].
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with_config(stream, StreamConfig::default(), async |_: &Request| {
        Accept::new()
    })
    .await
}

/// Server: reads the opening request, asks `callback` what to answer (it may be
/// async, e.g. to look a token up, and refuse: see [`Decision`]), and answers.
/// Default [`StreamConfig`]; see [`accept_with_config`].
///
/// ```
/// use ferrosocket_tokio::{Accept, ClientOptions, Error, Reject, Request, accept_with};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (socket, peer) = tokio::io::duplex(4096);
/// let server = tokio::spawn(accept_with(socket, async |request: &Request| {
///     // e.g. look the token up in a database
///     match request.headers().get_str("Authorization") {
///         Some("Bearer secret") => Ok(Accept::new().header("X-Server", "demo")),
///         _ => Err(Reject::new(403).body("no entry")),
///     }
/// }));
/// let options = ClientOptions::new().header("Authorization", "Bearer nope");
/// let refused = ferrosocket_tokio::client_async_with("ws://localhost/", peer, options).await;
/// assert!(matches!(refused, Err(Error::Rejected { status: 403, .. })));
/// assert!(matches!(server.await.unwrap(), Err(Error::Rejected { status: 403, .. })));
/// # }
/// ```
///
/// # Errors
///
/// As [`accept_with_config`].
pub async fn accept_with<S, F, D>(stream: S, callback: F) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    accept_with_config(stream, StreamConfig::default(), callback).await
}

/// Server: the opening handshake with `config`, bounded by
/// [`StreamConfig::handshake_timeout`]; the request stays available on the stream
/// ([`WebSocketStream::request`](ferrosocket_io::WebSocketStream::request)).
///
/// # Errors
///
/// As [`ferrosocket_io::accept`].
pub async fn accept_with_config<S, F, D>(
    stream: S,
    config: StreamConfig,
    callback: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    ferrosocket_io::accept(TokioIo(stream), config, callback, Some(TokioTimer)).await
}

/// Client: connects to a `ws://`, `wss://` or `ws+unix://` URL with the default
/// options. See [`connect_with`].
///
/// # Errors
///
/// As [`connect_with`].
pub async fn connect(url: &str) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    connect_with(url, ClientOptions::default()).await
}

/// Client: opens the socket the URL asks for (`ws://`: TCP; `wss://`: TLS with
/// rustls, feature `tls`, the Mozilla roots; `ws+unix://`: a Unix socket) and
/// performs the opening handshake, all bounded by
/// [`StreamConfig::handshake_timeout`]. See [`ferrosocket_io::connect`].
///
/// # Errors
///
/// As [`ferrosocket_io::connect`].
pub async fn connect_with(
    url: &str,
    options: ClientOptions,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    ferrosocket_io::connect::<Tokio>(url, options, &ClientTls::default()).await
}

/// Client: as [`connect_with`], with `config` for `wss://` (a private CA, client
/// certificates, another crypto provider...). [`client_config`](crate::client_config)
/// builds one like the default around other roots. Keep ALPN empty or `http/1.1`:
/// the opening handshake is HTTP/1.1.
///
/// # Errors
///
/// As [`connect_with`].
#[cfg(feature = "tls")]
pub async fn connect_tls_with(
    url: &str,
    options: ClientOptions,
    config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    ferrosocket_io::connect::<Tokio>(url, options, &ClientTls::new(config)).await
}

/// Client: the opening handshake for `url` over `stream`, already connected (plain
/// TCP, TLS, a Unix socket, an in-memory duplex...), with the default options.
///
/// # Errors
///
/// As [`client_async_with`].
pub async fn client_async<S>(url: &str, stream: S) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    client_async_with(url, stream, ClientOptions::default()).await
}

/// Client: the opening handshake for `url` over `stream`, bounded by
/// [`StreamConfig::handshake_timeout`]. Any scheme is accepted: the stream is
/// assumed to be what the URL asks for (e.g. TLS for `wss://`).
///
/// # Errors
///
/// As [`ferrosocket_io::client`].
pub async fn client_async_with<S>(
    url: &str,
    stream: S,
    options: ClientOptions,
) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ferrosocket_io::client(url, TokioIo(stream), options, Some(TokioTimer)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_connect_refuses() {
        let mut refused = vec!["http://x/", "ws://"];
        if !cfg!(feature = "tls") {
            refused.push("wss://example.com/");
        }
        for url in refused {
            match connect(url).await {
                Err(Error::InvalidUrl(msg)) => assert!(msg.contains(url), "{msg}"),
                other => panic!("{url}: {:?}", other.map(|_| ())),
            }
        }
    }

    #[tokio::test]
    async fn handshake_over_duplex() {
        let (a, b) = tokio::io::duplex(4096);
        let server = tokio::spawn(async move {
            let ws = accept(a).await.unwrap();
            ws.request().unwrap().target().to_owned()
        });
        let (ws, response) = client_async("ws://localhost/chat?x=1", b).await.unwrap();
        assert_eq!(response.status, 101);
        assert!(ws.response().is_some());
        assert_eq!(server.await.unwrap(), "/chat?x=1");
    }
}
