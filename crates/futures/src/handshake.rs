//! The opening handshake over a futures-io socket: [`accept`], [`accept_with`],
//! [`client_async`], and the runtime modules' `connect`; the drive loops are
//! [`ferrosocket_io::poll`]'s.

use std::future::{Future, poll_fn};
use std::io;

use ferrosocket_io::poll::{self, PollIo, timeout};
use ferrosocket_io::{ClientOptions, Decision, Error, Response, StreamConfig, parse_url};
use ferrosocket_proto::handshake::{Accept, Request};
use futures_io::{AsyncRead, AsyncWrite};

use crate::io::FuturesIo;
use crate::transport::{self, MaybeTlsStream, Tls};
use crate::{Timer, WebSocketStream};

/// Server: accepts any valid WebSocket request on `stream`, with the default
/// [`StreamConfig`]. See [`accept_with_config`].
///
/// Runtime-neutral: **no timeouts** (there is no timer here); the
/// [`smol`](crate::smol) and [`async_std`](crate::async_std) modules have the same
/// function with the handshake and close timeouts applied.
///
/// # Errors
///
/// As [`accept_with_config`].
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_inner(
        stream,
        StreamConfig::default(),
        async |_: &Request| Accept::new(),
        None,
    )
    .await
}

/// Server: reads the opening request, asks `callback` what to answer (it may be
/// async, e.g. to look a token up, and refuse: see [`Decision`]), and answers.
/// Default [`StreamConfig`]; see [`accept_with_config`].
///
/// ```no_run
/// use ferrosocket_futures::{Accept, Reject, Request, accept_with};
/// # #[allow(dead_code)]
/// # async fn run(socket: smol::net::TcpStream) -> Result<(), ferrosocket_futures::Error> {
/// let ws = accept_with(socket, async |request: &Request| {
///     match request.headers().get_str("Authorization") {
///         Some("Bearer secret") => Ok(Accept::new().header("X-Server", "demo")),
///         _ => Err(Reject::new(403).body("no entry")),
///     }
/// })
/// .await?;
/// println!("connected on {}", ws.request().unwrap().path());
/// # Ok(()) }
/// ```
///
/// Runtime-neutral: no timeouts, see [`accept`].
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
    accept_inner(stream, StreamConfig::default(), callback, None).await
}

/// Server: the opening handshake with `config`.
///
/// Runtime-neutral: [`StreamConfig::handshake_timeout`] and
/// [`StreamConfig::close_timeout`] are **not applied** (no timer; wrap the call in
/// your runtime's timeout, or use the [`smol`](crate::smol) /
/// [`async_std`](crate::async_std) function of the same name, which bounds the whole
/// handshake, callback included, and installs the timer for the close).
///
/// The request stays available on the stream ([`WebSocketStream::request`]).
///
/// # Errors
///
/// * [`Error::Handshake`] for an invalid request: its HTTP error answer (400, 405,
///   426 with `Sec-WebSocket-Version: 13`, 431) was written and the socket closed;
///   also for an [`Accept`] or [`Reject`](crate::Reject) the request does not allow (a subprotocol
///   not offered, a bad header): 500 was answered.
/// * [`Error::Rejected`] with the status and body the callback refused with (that
///   answer was written).
/// * [`Error::Timeout`] (runtime modules only); [`Error::Io`] (`UnexpectedEof` if
///   the peer left).
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
    accept_inner(stream, config, callback, None).await
}

pub(crate) async fn accept_inner<S, F, D>(
    stream: S,
    config: StreamConfig,
    callback: F,
    timer: Option<Timer>,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    let config = config.assembled();
    let mut io = FuturesIo(stream);
    // Boxed: the handshake state is on the heap only while it runs (small tasks).
    let result = Box::pin(poll::server_handshake(
        &mut io,
        &config,
        callback,
        timer.as_ref(),
    ))
    .await;
    let (conn, request) = match result {
        Ok(v) => v,
        Err(e) => {
            if matches!(e, Error::Timeout(_)) {
                let _ = poll_fn(|cx| io.poll_shutdown(cx)).await;
            }
            return Err(e);
        }
    };
    let inner = poll::server_stream(io, conn, request, config, timer);
    Ok(WebSocketStream::from_poll(inner))
}

/// Client: the opening handshake for `url` over `stream`, already connected (plain
/// TCP, TLS, a Unix socket...), with the default options.
///
/// Runtime-neutral: no timeouts, see [`client_async_with`].
///
/// # Errors
///
/// As [`client_async_with`].
pub async fn client_async<S>(url: &str, stream: S) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    client_inner(url, stream, ClientOptions::default(), None).await
}

/// Client: the opening handshake for `url` over `stream`. Any scheme is accepted:
/// the stream is assumed to be what the URL asks for (e.g. TLS for `wss://`).
///
/// Runtime-neutral: [`StreamConfig::handshake_timeout`] and
/// [`StreamConfig::close_timeout`] are **not applied** (no timer); the
/// [`smol`](crate::smol) / [`async_std`](crate::async_std) function of the same name
/// applies them.
///
/// # Errors
///
/// [`Error::InvalidUrl`]; [`Error::Rejected`] with the status and (the start of)
/// the body for an answer other than 101; [`Error::Handshake`] for an invalid 101
/// (wrong `Sec-WebSocket-Accept`, unexpected subprotocol...) or an invalid option;
/// [`Error::Timeout`] (runtime modules only); [`Error::Io`].
pub async fn client_async_with<S>(
    url: &str,
    stream: S,
    options: ClientOptions,
) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    client_inner(url, stream, options, None).await
}

pub(crate) async fn client_inner<S>(
    url: &str,
    stream: S,
    options: ClientOptions,
    timer: Option<Timer>,
) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let parsed = parse_url(url)?;
    let options = options.assembled();
    let mut io = FuturesIo(stream);
    let handshake = Box::pin(poll::client_handshake(
        &mut io,
        &parsed,
        &options,
        timer.as_ref(),
    ));
    let (conn, response) = handshake.await?;
    Ok(client_stream(io, conn, response, options.config, timer))
}

/// Client: opens the socket `url` asks for with the runtime's connectors (TLS on
/// top for `wss://`) and performs the handshake, all within the handshake timeout.
#[cfg_attr(not(any(feature = "smol", feature = "async-std")), allow(dead_code))]
pub(crate) async fn connect_inner<T, U, C, CF, D, DF>(
    url: &str,
    options: ClientOptions,
    timer: Timer,
    tls: &Tls,
    tcp_connect: C,
    unix_connect: D,
) -> Result<(WebSocketStream<MaybeTlsStream<T, U>>, Response), Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
    C: FnOnce(String) -> CF,
    CF: Future<Output = io::Result<T>>,
    D: FnOnce(String) -> DF,
    DF: Future<Output = io::Result<U>>,
{
    let parsed = parse_url(url)?;
    let options = options.assembled();
    timeout(
        Some(&timer),
        options.config.protocol.handshake_timeout,
        ferrosocket_io::Timer::Handshake,
        async {
            let stream = transport::open(url, &parsed, tls, tcp_connect, unix_connect).await?;
            let mut io = FuturesIo(stream);
            let handshake = Box::pin(poll::client_handshake(
                &mut io,
                &parsed,
                &options,
                None::<&Timer>,
            ));
            let (conn, response) = handshake.await?;
            Ok(client_stream(
                io,
                conn,
                response,
                options.config,
                Some(timer),
            ))
        },
    )
    .await
}

fn client_stream<S>(
    io: FuturesIo<S>,
    conn: ferrosocket_proto::Connection,
    response: Response,
    config: StreamConfig,
    timer: Option<Timer>,
) -> (WebSocketStream<S>, Response) {
    let (inner, response) = poll::client_stream(io, conn, response, config, timer);
    (WebSocketStream::from_poll(inner), response)
}
