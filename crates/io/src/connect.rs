//! The entry points of the async engine, written once for every runtime:
//! [`accept`] (server), [`client`] (over a connected socket) and [`connect`] (opens
//! the socket a URL asks for through a [`Runtime`]). A binding calls them with its
//! socket glue and timer; its public `accept*`, `client_async*` and `connect*` are
//! one line each.

use alloc::boxed::Box;
use alloc::format;
use core::future::{Future, poll_fn};
use std::io;

use ferrosocket_proto::Timer;
use ferrosocket_proto::handshake::{Request, Scheme, Url};

use crate::poll::{self, AsyncTimer, PollIo, timeout};
use crate::transport::{MaybeTlsStream, Sockets};
use crate::{ClientOptions, Decision, Error, Response, StreamConfig, WebSocketStream, parse_url};

/// A runtime, as [`connect`] needs it: its timer and how to open the sockets a URL
/// asks for. A binding implements it on a marker type in about thirty lines.
pub trait Runtime: Sockets + Sized {
    /// The runtime's timer.
    type Timer: AsyncTimer;
    /// The driver's view of a [`MaybeTlsStream`] of this runtime.
    type Io: PollIo<Socket = MaybeTlsStream<Self>>;

    /// The timer streams of this runtime get.
    fn timer() -> Option<Self::Timer>;

    /// A TCP connection to `authority` (`host:port`), `TCP_NODELAY` on.
    fn connect_tcp(authority: &str) -> impl Future<Output = io::Result<Self::Tcp>>;

    /// A Unix socket connection to `path`.
    fn connect_unix(path: &str) -> impl Future<Output = io::Result<Self::Unix>>;

    /// TLS over a new TCP connection to `url`'s host, with `tls`'s configuration
    /// (`text` is the URL as given, for errors). A binding built without TLS fails
    /// with [`Error::InvalidUrl`] at once.
    fn connect_tls(
        text: &str,
        url: &Url,
        tls: &ClientTls,
    ) -> impl Future<Output = Result<Self::Tls, Error>>;
}

/// How `wss://` connections are made: rustls with the Mozilla roots by default, or
/// a client configuration of the caller's (feature `tls`).
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    #[cfg(feature = "tls")]
    config: Option<alloc::sync::Arc<rustls::ClientConfig>>,
}

#[cfg(feature = "tls")]
impl ClientTls {
    /// TLS with `config` (keep its ALPN empty or `http/1.1`).
    pub fn new(config: alloc::sync::Arc<rustls::ClientConfig>) -> Self {
        Self {
            config: Some(config),
        }
    }

    /// The client configuration: the caller's, or the default
    /// ([`tls::default_client_config`](crate::tls::default_client_config)).
    pub fn client_config(&self) -> alloc::sync::Arc<rustls::ClientConfig> {
        self.config
            .clone()
            .unwrap_or_else(crate::tls::default_client_config)
    }
}

/// Server: the opening handshake over `io` with `config`: reads the request, asks
/// `callback` what to answer (it may be async, e.g. to look a token up, and refuse:
/// see [`Decision`]), and answers. With a `timer`, the whole of it (the callback
/// included) is bounded by [`StreamConfig::handshake_timeout`], and the stream
/// runs its timers.
///
/// # Errors
///
/// * [`Error::Handshake`] for an invalid request: its HTTP error answer (400, 405,
///   426 with `Sec-WebSocket-Version: 13`, 431) was written and the socket shut
///   down; also for an `Accept` or `Reject` the request does not allow (a
///   subprotocol not offered, a bad header): 500 was answered.
/// * [`Error::Rejected`] with the status and body the callback refused with (that
///   answer was written).
/// * [`Error::Timeout`] ([`Timer::Handshake`]); [`Error::Io`] (`UnexpectedEof` if
///   the peer left).
pub fn accept<IO, T, F, D>(
    io: IO,
    config: StreamConfig,
    callback: F,
    timer: Option<T>,
) -> impl Future<Output = Result<WebSocketStream<IO, T>, Error>>
where
    IO: PollIo,
    T: AsyncTimer,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    // Boxed: the handshake's state (the connection being built, the stream
    // assembled from it) lives on the heap only while it runs, so the future of a
    // task that accepts and then serves holds a pointer here, not two streams'
    // worth of bytes, for its whole life (an idle connection's memory).
    Box::pin(accept_boxed(io, config, callback, timer))
}

async fn accept_boxed<IO, T, F, D>(
    mut io: IO,
    config: StreamConfig,
    callback: F,
    timer: Option<T>,
) -> Result<WebSocketStream<IO, T>, Error>
where
    IO: PollIo,
    T: AsyncTimer,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    let config = config.assembled();
    let result = poll::server_handshake(&mut io, &config, callback, timer.as_ref()).await;
    match result {
        Ok((conn, request)) => Ok(WebSocketStream::from_poll(poll::server_stream(
            io, conn, request, config, timer,
        ))),
        Err(e) => {
            if matches!(e, Error::Timeout(_)) {
                // Best effort: the peer learns at once that we gave up.
                let _ = poll_fn(|cx| io.poll_shutdown(cx)).await;
            }
            Err(e)
        }
    }
}

/// Client: the opening handshake for `url` over `io`, already connected (plain TCP,
/// TLS, a Unix socket, an in-memory pipe...). Any scheme is accepted: the socket is
/// assumed to be what the URL asks for. With a `timer`, bounded by
/// [`StreamConfig::handshake_timeout`], and the stream runs its timers.
///
/// # Errors
///
/// [`Error::InvalidUrl`]; [`Error::Rejected`] with the status and (the start of)
/// the body for an answer other than 101; [`Error::Handshake`] for an invalid 101
/// (wrong `Sec-WebSocket-Accept`, unexpected subprotocol...) or an invalid option;
/// [`Error::Timeout`]; [`Error::Io`].
pub fn client<IO: PollIo, T: AsyncTimer>(
    url: &str,
    io: IO,
    options: ClientOptions,
    timer: Option<T>,
) -> impl Future<Output = Result<(WebSocketStream<IO, T>, Response), Error>> {
    // Boxed, as `accept`: the caller's future stays small.
    Box::pin(client_boxed(url, io, options, timer))
}

async fn client_boxed<IO: PollIo, T: AsyncTimer>(
    url: &str,
    mut io: IO,
    options: ClientOptions,
    timer: Option<T>,
) -> Result<(WebSocketStream<IO, T>, Response), Error> {
    let parsed = parse_url(url)?;
    let options = options.assembled();
    let (conn, response) =
        poll::client_handshake(&mut io, &parsed, &options, timer.as_ref()).await?;
    Ok(client_stream(io, conn, response, options.config, timer))
}

/// Client: opens the socket `url` asks for with `R`'s types and performs the
/// opening handshake; connecting, TLS and the handshake together are bounded by
/// [`StreamConfig::handshake_timeout`].
///
/// * `ws://host[:port]/path`: TCP, `TCP_NODELAY` on.
/// * `wss://host[:port]/path`: TLS over TCP with rustls (the binding's feature
///   `tls`), the certificate checked against the Mozilla roots for `host`, or
///   `tls`'s configuration.
/// * `ws+unix:///path/to/socket[:/resource]`: a Unix domain socket (ws4py's form).
///
/// [`MaybeTlsStream::is_secure`] tells which it was.
///
/// # Errors
///
/// [`Error::InvalidUrl`] (also for `wss://` without TLS support), [`Error::Io`]
/// (connect or TLS failed: a certificate that does not verify is an `InvalidData`
/// I/O error from rustls), and those of [`client`].
pub async fn connect<R: Runtime>(
    url: &str,
    options: ClientOptions,
    tls: &ClientTls,
) -> Result<(WebSocketStream<R::Io, R::Timer>, Response), Error> {
    let parsed = parse_url(url)?;
    let options = options.assembled();
    let timer = R::timer();
    let limit = options.config.protocol.handshake_timeout;
    timeout(timer.as_ref(), limit, Timer::Handshake, async {
        let mut io = R::Io::from_socket(open::<R>(url, &parsed, tls).await?);
        let handshake = Box::pin(poll::client_handshake(
            &mut io,
            &parsed,
            &options,
            None::<&R::Timer>,
        ));
        let (conn, response) = handshake.await?;
        Ok(client_stream(
            io,
            conn,
            response,
            options.config,
            timer.clone(),
        ))
    })
    .await
}

/// Opens the socket `url` (parsed from `text`) asks for.
async fn open<R: Runtime>(
    text: &str,
    url: &Url,
    tls: &ClientTls,
) -> Result<MaybeTlsStream<R>, Error> {
    match url.scheme() {
        Scheme::Ws => Ok(MaybeTlsStream::Plain(
            R::connect_tcp(&url.authority()).await?,
        )),
        Scheme::Wss => Ok(MaybeTlsStream::Tls(Box::new(
            R::connect_tls(text, url, tls).await?,
        ))),
        Scheme::WsUnix if cfg!(unix) => {
            let path = url.socket_path().unwrap_or_default();
            Ok(MaybeTlsStream::Unix(R::connect_unix(path).await?))
        }
        Scheme::WsUnix => Err(Error::InvalidUrl(format!(
            "{text}: Unix sockets exist only on Unix"
        ))),
    }
}

/// The stream a client handshake gives, and the answer.
fn client_stream<IO, T: AsyncTimer>(
    io: IO,
    conn: ferrosocket_proto::Connection,
    response: Response,
    config: StreamConfig,
    timer: Option<T>,
) -> (WebSocketStream<IO, T>, Response) {
    let (inner, response) = poll::client_stream(io, conn, response, config, timer);
    (WebSocketStream::from_poll(inner), response)
}
