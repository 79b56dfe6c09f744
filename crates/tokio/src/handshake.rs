//! The opening handshake over a tokio socket: [`accept`], [`accept_with`],
//! [`connect`], [`client_async`].

use std::future::Future;
use std::io;

use bytes::{Bytes, BytesMut};
use ferrosocket_proto::handshake::{
    Accept, ClientRequest, Headers, Key, Limits, Reject, Request, Scheme, Url,
};
use ferrosocket_proto::stream::{Error, StreamConfig};
use ferrosocket_proto::{Connection, Event, WsConnection, WsError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::WebSocketStream;
use crate::stream::{Info, assembled};

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

/// Options of a client handshake: [`connect_with`], [`client_async_with`].
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

/// Runs `fut` within `limit`, or fails with [`Error::Timeout`].
pub(crate) async fn timeout<T>(
    limit: Option<std::time::Duration>,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .unwrap_or(Err(Error::Timeout)),
        None => fut.await,
    }
}

/// Writes the handshake connection's output.
async fn write_output<S: AsyncWrite + Unpin>(ws: &mut WsConnection, io: &mut S) -> io::Result<()> {
    while ws.has_output() {
        let n = io.write(ws.output()).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        ws.consume(n);
    }
    io.flush().await
}

/// Reads more bytes into the handshake connection (EOF is reported to it).
async fn read_more<S: AsyncRead + Unpin>(
    ws: &mut WsConnection,
    io: &mut S,
    chunk: usize,
) -> io::Result<()> {
    let buf = ws.read_buf();
    buf.reserve(chunk);
    if io.read_buf(buf).await? == 0 {
        ws.receive_eof();
    }
    Ok(())
}

/// Writes a last answer and shuts the socket down, ignoring errors (the handshake
/// failed already).
async fn answer_and_shutdown<S: AsyncWrite + Unpin>(io: &mut S, answer: &[u8]) {
    if io.write_all(answer).await.is_ok() {
        let _ = io.shutdown().await;
    }
}

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
///   down; also for an [`Accept`] or [`Reject`] the request does not allow (a
///   subprotocol not offered, a bad header): 500 was answered.
/// * [`Error::Rejected`] with the status and body the callback refused with (that
///   answer was written).
/// * [`Error::Timeout`]; [`Error::Io`] (`UnexpectedEof` if the peer left).
pub async fn accept_with_config<S, F, D>(
    mut stream: S,
    config: StreamConfig,
    callback: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: AsyncFnOnce(&Request) -> D,
    D: Into<Decision>,
{
    let config = assembled(config);
    let limit = config.handshake_timeout;
    let (conn, request) = timeout(limit, server_handshake(&mut stream, &config, callback)).await?;
    let info = Info {
        request: Some(request),
        response: None,
    };
    Ok(WebSocketStream::new(stream, conn, config, info))
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

/// Client: connects to a `ws://` URL over TCP (`TCP_NODELAY` on) with the default
/// options. See [`connect_with`].
///
/// # Errors
///
/// As [`connect_with`].
pub async fn connect(url: &str) -> Result<(WebSocketStream<TcpStream>, Response), Error> {
    connect_with(url, ClientOptions::default()).await
}

/// Client: connects to a `ws://` URL over TCP (`TCP_NODELAY` on) and performs the
/// opening handshake; connecting and the handshake are bounded by
/// [`StreamConfig::handshake_timeout`].
///
/// `wss://` needs TLS, which this crate does not do yet: connect a TLS stream
/// yourself and use [`client_async_with`].
///
/// # Errors
///
/// [`Error::InvalidUrl`] (also for `wss://` and `ws+unix://`), [`Error::Io`] (connect
/// failed), and those of [`client_async_with`].
pub async fn connect_with(
    url: &str,
    options: ClientOptions,
) -> Result<(WebSocketStream<TcpStream>, Response), Error> {
    let parsed = parse_url(url)?;
    match parsed.scheme() {
        Scheme::Ws => {}
        Scheme::Wss => {
            return Err(Error::InvalidUrl(format!(
                "{url}: wss:// needs TLS, which ferrosocket-tokio does not provide yet; \
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
    timeout(options.config.handshake_timeout, async {
        let mut stream = TcpStream::connect(parsed.authority()).await?;
        stream.set_nodelay(true)?;
        let (conn, response) = client_handshake(&parsed, &mut stream, &options).await?;
        Ok(client_stream(stream, conn, response, options.config))
    })
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
    mut stream: S,
    options: ClientOptions,
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
        options.config.handshake_timeout,
        client_handshake(&parsed, &mut stream, &options),
    )
    .await?;
    Ok(client_stream(stream, conn, response, options.config))
}

fn parse_url(url: &str) -> Result<Url, Error> {
    Url::parse(url).map_err(|e| Error::InvalidUrl(format!("{url}: {e}")))
}

fn client_stream<S>(
    stream: S,
    conn: Connection,
    response: Response,
    config: StreamConfig,
) -> (WebSocketStream<S>, Response) {
    let info = Info {
        request: None,
        response: Some(Box::new(response.clone())),
    };
    (WebSocketStream::new(stream, conn, config, info), response)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_convert() {
        assert!(matches!(Decision::from(Accept::new()), Decision::Accept(_)));
        let refused: Result<Accept, Reject> = Err(Reject::new(401));
        assert!(matches!(Decision::from(refused), Decision::Reject(r) if r.status() == 401));
    }

    #[tokio::test]
    async fn urls_connect_refuses() {
        for url in ["wss://example.com/", "ws+unix:///tmp/x.sock", "http://x/"] {
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
