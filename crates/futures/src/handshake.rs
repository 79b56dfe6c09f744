//! The opening handshake over a futures-io socket: [`accept`], [`accept_with`],
//! [`client_async`], and the runtime modules' `connect`.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use ferrosocket_proto::handshake::{
    Accept, ClientRequest, Headers, Key, Limits, Reject, Request, Scheme, Url,
};
use ferrosocket_proto::stream::{Error, StreamConfig};
use ferrosocket_proto::{Connection, Event, WsConnection, WsError};
use futures_io::{AsyncRead, AsyncWrite};

use crate::conn::poll_read_spare;
use crate::stream::{Info, assembled};
use crate::timer::timeout;
use crate::{Timer, WebSocketStream};

/// How much of a refusal's body [`Error::Rejected`] keeps.
const MAX_REJECT_BODY: usize = Limits::DEFAULT_MAX_HEADER_BYTES;

/// The server application's answer to an opening request, from the callback of
/// [`accept_with`].
///
/// `Result<Accept, Reject>`, [`Accept`] and [`Reject`] convert into it, so a
/// callback can return any of them.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Upgrade, with this subprotocol, extensions and headers.
    Accept(Accept),
    /// Refuse with this status, headers and body.
    Reject(Reject),
}

impl From<Accept> for Decision {
    fn from(accept: Accept) -> Self {
        Self::Accept(accept)
    }
}

impl From<Reject> for Decision {
    fn from(reject: Reject) -> Self {
        Self::Reject(reject)
    }
}

impl From<Result<Accept, Reject>> for Decision {
    fn from(result: Result<Accept, Reject>) -> Self {
        match result {
            Ok(accept) => Self::Accept(accept),
            Err(reject) => Self::Reject(reject),
        }
    }
}

/// The server's `101 Switching Protocols` answer, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status: always 101 (a refusal is [`Error::Rejected`]).
    pub status: u16,
    /// The subprotocol the server selected, one of those offered.
    pub subprotocol: Option<String>,
    /// All header fields of the answer.
    pub headers: Headers,
}

/// Options of a client handshake: [`client_async_with`], and the runtime modules'
/// `connect_with`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Extra request headers (e.g. `Authorization`).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The `Origin` header, if any.
    pub origin: Option<String>,
    /// The stream settings; [`StreamConfig::handshake_timeout`] bounds the TCP
    /// connect and the handshake.
    pub config: StreamConfig,
}

impl ClientOptions {
    /// The defaults: no subprotocol, no extra header, default [`StreamConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Offers a subprotocol (call again for more, most preferred first).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Sets the stream settings.
    pub fn config(mut self, config: StreamConfig) -> Self {
        self.config = config;
        self
    }
}

/// Writes the handshake connection's output.
async fn write_output<S: AsyncWrite + Unpin>(ws: &mut WsConnection, io: &mut S) -> io::Result<()> {
    while ws.has_output() {
        // Only `&mut` borrows in the closure: the future stays `Send` (the connection
        // is `Send`, not `Sync`).
        let (w, s) = (&mut *ws, &mut *io);
        let n = poll_fn(move |cx| Pin::new(&mut *s).poll_write(cx, w.output())).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        ws.consume(n);
    }
    poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
}

/// Reads more bytes into the handshake connection (EOF is reported to it).
async fn read_more<S: AsyncRead + Unpin>(
    ws: &mut WsConnection,
    io: &mut S,
    chunk: usize,
) -> io::Result<()> {
    let buf = ws.read_buf();
    if poll_fn(|cx| poll_read_spare(io, cx, buf, chunk)).await? == 0 {
        ws.receive_eof();
    }
    Ok(())
}

/// Writes a last answer and closes the socket, ignoring errors (the handshake
/// failed already).
async fn answer_and_shutdown<S: AsyncWrite + Unpin>(io: &mut S, mut answer: &[u8]) {
    while !answer.is_empty() {
        match poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, answer)).await {
            Ok(n) if n > 0 => answer = &answer[n..],
            _ => return,
        }
    }
    let _ = poll_fn(|cx| Pin::new(&mut *io).poll_close(cx)).await;
}

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
///   also for an [`Accept`] or [`Reject`] the request does not allow (a subprotocol
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
    mut stream: S,
    config: StreamConfig,
    callback: F,
    timer: Option<Timer>,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    let config = assembled(config);
    let limit = config.handshake_timeout;
    let result = timeout(
        timer,
        limit,
        server_handshake(&mut stream, &config, callback),
    )
    .await;
    let (conn, request) = match result {
        Ok(v) => v,
        Err(e) => {
            if matches!(e, Error::Timeout) {
                let _ = poll_fn(|cx| Pin::new(&mut stream).poll_close(cx)).await;
            }
            return Err(e);
        }
    };
    let info = Info {
        request: Some(request),
        response: None,
    };
    let mut ws = WebSocketStream::new(stream, conn, config, info);
    ws.set_timer(timer);
    Ok(ws)
}

async fn server_handshake<S, F, D>(
    io: &mut S,
    config: &StreamConfig,
    callback: F,
) -> Result<(Connection, Box<Request>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    let mut ws = WsConnection::server(config.protocol);
    let request = loop {
        match ws.next_event() {
            Some(Ok(Event::Request(request))) => break request,
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                // A bad request: the connection queued its HTTP error answer.
                let answer = ws.take_output();
                answer_and_shutdown(io, &answer).await;
                return Err(e.into());
            }
            None => read_more(&mut ws, io, config.read_chunk).await?,
        }
    };
    match callback(&request).await.into() {
        Decision::Accept(accept) => {
            if let Err(e) = ws.accept(&accept) {
                return Err(refuse_invalid(io, e).await);
            }
        }
        Decision::Reject(reject) => {
            if let Err(e) = ws.reject(&reject) {
                return Err(refuse_invalid(io, e).await);
            }
            let answer = ws.take_output();
            answer_and_shutdown(io, &answer).await;
            return Err(Error::Rejected {
                status: reject.status(),
                body: Bytes::copy_from_slice(reject.body_bytes()),
            });
        }
    }
    write_output(&mut ws, io).await?;
    let conn = ws
        .into_connection()
        .ok_or(Error::Local(ferrosocket_proto::LocalError::InvalidState))?;
    Ok((conn, request))
}

/// The application's answer was invalid: answer 500 (nothing was queued).
async fn refuse_invalid<S: AsyncWrite + Unpin>(io: &mut S, e: WsError) -> Error {
    if let WsError::Handshake(h) = &e {
        answer_and_shutdown(io, &h.to_response()).await;
    }
    e.into()
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
    mut stream: S,
    options: ClientOptions,
    timer: Option<Timer>,
) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let parsed = parse_url(url)?;
    let options = ClientOptions {
        config: assembled(options.config),
        ..options
    };
    let (conn, response) = timeout(
        timer,
        options.config.handshake_timeout,
        client_handshake(&parsed, &mut stream, &options),
    )
    .await?;
    Ok(client_stream(stream, conn, response, options.config, timer))
}

/// Client over TCP: connects with `tcp_connect` (the runtime's) and performs the
/// handshake, both within the handshake timeout.
#[cfg_attr(not(any(feature = "smol", feature = "async-std")), allow(dead_code))]
pub(crate) async fn connect_inner<T, C, Fut>(
    url: &str,
    options: ClientOptions,
    timer: Timer,
    tcp_connect: C,
) -> Result<(WebSocketStream<T>, Response), Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
    C: FnOnce(String) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let parsed = parse_url(url)?;
    match parsed.scheme() {
        Scheme::Ws => {}
        Scheme::Wss => {
            return Err(Error::InvalidUrl(format!(
                "{url}: wss:// needs TLS, which ferrosocket-futures does not provide yet; \
                 connect a TLS stream and use client_async"
            )));
        }
        _ => {
            return Err(Error::InvalidUrl(format!(
                "{url}: connect supports only ws:// (use client_async over your own stream)"
            )));
        }
    }
    let options = ClientOptions {
        config: assembled(options.config),
        ..options
    };
    timeout(Some(timer), options.config.handshake_timeout, async {
        let mut stream = tcp_connect(parsed.authority()).await?;
        let (conn, response) = client_handshake(&parsed, &mut stream, &options).await?;
        Ok(client_stream(
            stream,
            conn,
            response,
            options.config,
            Some(timer),
        ))
    })
    .await
}

fn parse_url(url: &str) -> Result<Url, Error> {
    Url::parse(url).map_err(|e| Error::InvalidUrl(format!("{url}: {e}")))
}

fn client_stream<S>(
    stream: S,
    conn: Connection,
    response: Response,
    config: StreamConfig,
    timer: Option<Timer>,
) -> (WebSocketStream<S>, Response) {
    let info = Info {
        request: None,
        response: Some(Box::new(response.clone())),
    };
    let mut ws = WebSocketStream::new(stream, conn, config, info);
    ws.set_timer(timer);
    (ws, response)
}

async fn client_handshake<S>(
    url: &Url,
    io: &mut S,
    options: &ClientOptions,
) -> Result<(Connection, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request: ClientRequest = url.client_request(Key::generate()?);
    for protocol in &options.subprotocols {
        request = request.subprotocol(protocol.clone());
    }
    for (name, value) in &options.headers {
        request = request.header(name.clone(), value.clone());
    }
    if let Some(origin) = &options.origin {
        request = request.origin(origin.clone());
    }
    let chunk = options.config.read_chunk;
    let mut ws = WsConnection::client(&request, options.config.protocol)?;
    write_output(&mut ws, io).await?;
    let mut rejected: Option<(u16, BytesMut)> = None;
    loop {
        match ws.next_event() {
            Some(Ok(Event::Accept(accepted))) => {
                let response = Response {
                    status: 101,
                    subprotocol: accepted.subprotocol,
                    headers: accepted.headers,
                };
                let conn = ws
                    .into_connection()
                    .ok_or(Error::Local(ferrosocket_proto::LocalError::InvalidState))?;
                return Ok((conn, response));
            }
            Some(Ok(Event::Reject(r))) => rejected = Some((r.status, BytesMut::new())),
            Some(Ok(Event::RejectData {
                data,
                body_finished,
            })) => {
                if let Some((status, body)) = &mut rejected {
                    let room = MAX_REJECT_BODY.saturating_sub(body.len());
                    body.extend_from_slice(&data[..data.len().min(room)]);
                    if body_finished || body.len() >= MAX_REJECT_BODY {
                        return Err(Error::Rejected {
                            status: *status,
                            body: std::mem::take(body).freeze(),
                        });
                    }
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => read_more(&mut ws, io, chunk).await?,
        }
    }
}
