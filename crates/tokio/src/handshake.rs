//! The opening handshake over a tokio socket: [`accept`], [`accept_with`],
//! [`connect`], [`client_async`]; the drive loops are
//! [`ferrosocket_io::poll`]'s.

use ferrosocket_io::poll::{self, timeout};
use ferrosocket_io::{ClientOptions, Decision, Error, Response, StreamConfig, parse_url};
use ferrosocket_proto::handshake::{Accept, Request};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::WebSocketStream;
use crate::io::{TokioIo, TokioTimer};
use crate::transport::{self, MaybeTlsStream, Tls};

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

/// Server: the opening handshake with `config`; the whole of it (reading the
/// request, the callback, writing the answer) is bounded by
/// [`StreamConfig::handshake_timeout`].
///
/// The request stays available on the stream ([`WebSocketStream::request`]).
///
/// # Errors
///
/// * [`Error::Handshake`] for an invalid request: its HTTP error answer (400, 405,
///   426 with `Sec-WebSocket-Version: 13`, 431) was written and the socket shut
///   down; also for an [`Accept`] or [`Reject`](crate::Reject) the request does not allow (a
///   subprotocol not offered, a bad header): 500 was answered.
/// * [`Error::Rejected`] with the status and body the callback refused with (that
///   answer was written).
/// * [`Error::Timeout`]; [`Error::Io`] (`UnexpectedEof` if the peer left).
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
    let config = config.assembled();
    let mut io = TokioIo(stream);
    // Boxed: the handshake's state lives on the heap only while it runs, so the
    // future of a task that accepts and then serves stays small for its lifetime.
    let (conn, request) = Box::pin(poll::server_handshake(
        &mut io,
        &config,
        callback,
        Some(&TokioTimer),
    ))
    .await?;
    let inner = poll::server_stream(io, conn, request, config, Some(TokioTimer));
    Ok(WebSocketStream::from_poll(inner))
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

/// Client: opens the socket the URL asks for and performs the opening handshake;
/// connecting, TLS and the handshake together are bounded by
/// [`StreamConfig::handshake_timeout`].
///
/// * `ws://host[:port]/path`: TCP, `TCP_NODELAY` on.
/// * `wss://host[:port]/path`: TLS over TCP with rustls (feature `tls`), the
///   server's certificate checked against the Mozilla roots (webpki-roots) for
///   `host`. For other roots or client certificates, see `connect_tls_with`.
/// * `ws+unix:///path/to/socket[:/resource]`: a Unix domain socket (ws4py's form).
///
/// [`MaybeTlsStream::is_secure`] tells which it was.
///
/// # Errors
///
/// [`Error::InvalidUrl`] (also for `wss://` without the `tls` feature),
/// [`Error::Io`] (connect or TLS failed: a certificate that does not verify is an
/// `InvalidData` I/O error from rustls), and those of [`client_async_with`].
pub async fn connect_with(
    url: &str,
    options: ClientOptions,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    connect_over(url, options, &Tls::Default).await
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
    connect_over(url, options, &Tls::Config(config)).await
}

async fn connect_over(
    url: &str,
    options: ClientOptions,
    tls: &Tls,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    let parsed = parse_url(url)?;
    let options = options.assembled();
    timeout(
        Some(&TokioTimer),
        options.config.protocol.handshake_timeout,
        ferrosocket_io::Timer::Handshake,
        async {
            let mut io = TokioIo(transport::open(url, &parsed, tls).await?);
            let handshake = Box::pin(poll::client_handshake(
                &mut io,
                &parsed,
                &options,
                None::<&TokioTimer>,
            ));
            let (conn, response) = handshake.await?;
            Ok(client_stream(io, conn, response, options.config))
        },
    )
    .await
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
/// [`Error::InvalidUrl`]; [`Error::Rejected`] with the status and (the start of)
/// the body for an answer other than 101; [`Error::Handshake`] for an invalid 101
/// (wrong `Sec-WebSocket-Accept`, unexpected subprotocol...) or an invalid option;
/// [`Error::Timeout`]; [`Error::Io`].
pub async fn client_async_with<S>(
    url: &str,
    stream: S,
    options: ClientOptions,
) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let parsed = parse_url(url)?;
    let options = options.assembled();
    let mut io = TokioIo(stream);
    let handshake = Box::pin(poll::client_handshake(
        &mut io,
        &parsed,
        &options,
        Some(&TokioTimer),
    ));
    let (conn, response) = handshake.await?;
    Ok(client_stream(io, conn, response, options.config))
}

fn client_stream<S>(
    io: TokioIo<S>,
    conn: ferrosocket_proto::Connection,
    response: Response,
    config: StreamConfig,
) -> (WebSocketStream<S>, Response) {
    let (inner, response) = poll::client_stream(io, conn, response, config, Some(TokioTimer));
    (WebSocketStream::from_poll(inner), response)
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
