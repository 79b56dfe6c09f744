//! The opening handshake over a blocking socket: `accept*`, `client*`, `connect*`.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Instant;

use ferrosocket_io::Timer;

use ferrosocket_io::{
    ClientHandshake, ClientOptions, Decision, Error, HandshakeIo, Response, ServerHandshake,
    StreamConfig, StreamCore, parse_url,
};
use ferrosocket_proto::handshake::{Accept, Request, Scheme, Url};

use crate::stream::{Deadline, Dir, SavedTimeouts, read_spare, with_deadline, write_deadline};
use crate::{MaybeTlsStream, Transport, WebSocketStream};

/// Most bytes of a rejection's body kept for [`Error::Rejected`]: the async
/// engine's, so that a refused client sees the same body on every runtime.
use ferrosocket_io::poll::MAX_REJECT_BODY;

fn deadline(config: &StreamConfig) -> Option<Deadline> {
    Deadline::after(config.protocol.handshake_timeout, Timer::Handshake)
}

/// Reads once (bounded by `deadline`) into the handshake's input.
fn read_handshake<S: Transport>(
    socket: &mut S,
    hs: &mut impl HandshakeIo,
    chunk: usize,
    deadline: Option<Deadline>,
) -> Result<(), Error> {
    let buf = hs.read_buf();
    let n = with_deadline(socket, deadline, Dir::Read, |s| read_spare(s, buf, chunk))?;
    if n == 0 {
        hs.receive_eof();
    }
    Ok(())
}

/// Server side: performs the opening handshake on `stream`, accepting any valid
/// request, with the default [`StreamConfig`].
///
/// # Errors
///
/// See [`accept_with_config`].
pub fn accept<S: Transport>(stream: S) -> Result<WebSocketStream<S>, Error> {
    accept_with_config(stream, StreamConfig::default(), |_| Accept::new())
}

/// Server side: reads the request, lets `callback` decide (subprotocol, extra
/// headers, or a refusal with any status and body), answers.
///
/// # Errors
///
/// See [`accept_with_config`].
pub fn accept_with<S, F, D>(stream: S, callback: F) -> Result<WebSocketStream<S>, Error>
where
    S: Transport,
    F: FnOnce(&Request) -> D,
    D: Into<Decision>,
{
    accept_with_config(stream, StreamConfig::default(), callback)
}

/// [`accept_with`] with a configuration.
///
/// The whole handshake (reading the request, writing the answer) must finish within
/// [`StreamConfig::handshake_timeout`]: this is a deadline, so a client trickling its
/// request byte by byte is dropped too (see [`Transport`] for streams without
/// timeouts). The socket's own timeouts are restored afterwards.
///
/// # Errors
///
/// * [`Error::Handshake`]: the request was not a valid WebSocket upgrade; the HTTP
///   error answer (400, 405, 426, 431) was written.
/// * [`Error::Rejected`]: `callback` refused; its answer was written.
/// * [`Error::Timeout`], [`Error::Io`]: the client was too slow, or went away.
pub fn accept_with_config<S, F, D>(
    mut stream: S,
    config: StreamConfig,
    callback: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: Transport,
    F: FnOnce(&Request) -> D,
    D: Into<Decision>,
{
    let config = config.assembled();
    let deadline = deadline(&config);
    let saved = SavedTimeouts::save(&stream);
    let result = server_handshake(&mut stream, &config, deadline, callback);
    saved.restore(&mut stream);
    match result {
        Ok((hs, request)) => {
            let conn = hs.into_connection()?;
            let core = StreamCore::new(conn, config);
            Ok(WebSocketStream::from_core(
                stream,
                core,
                Some(request),
                None,
            ))
        }
        Err(e) => {
            let _ = stream.shutdown_write();
            Err(e)
        }
    }
}

fn server_handshake<S: Transport, F: FnOnce(&Request) -> D, D: Into<Decision>>(
    stream: &mut S,
    config: &StreamConfig,
    deadline: Option<Deadline>,
    callback: F,
) -> Result<(ServerHandshake, Box<Request>), Error> {
    let mut hs = ServerHandshake::new(config);
    let refusal = 'refused: {
        let request = loop {
            match hs.next_request() {
                Ok(Some(request)) => break request,
                Ok(None) => read_handshake(stream, &mut hs, config.read_chunk, deadline)?,
                Err(refusal) => break 'refused refusal,
            }
        };
        if let Err(refusal) = hs.decide(callback(&request).into()) {
            break 'refused refusal;
        }
        write_deadline(stream, &mut hs, deadline)?;
        return Ok((hs, request));
    };
    // The answer to a bad request or a refusal; the error is what matters.
    let mut answer = refusal.answer;
    let _ = write_deadline(stream, &mut answer, deadline);
    Err(refusal.error)
}

/// Client side: performs the opening handshake for `url` (`ws://host[:port]/path`)
/// over an already connected `stream` (TCP, TLS for `wss://`, a Unix socket...).
///
/// # Errors
///
/// See [`client_with`].
pub fn client<S: Transport>(url: &str, stream: S) -> Result<(WebSocketStream<S>, Response), Error> {
    client_with(url, stream, ClientOptions::default())
}

/// [`client`] with options: configuration, subprotocols, origin, extra headers.
///
/// The handshake is bounded by [`StreamConfig::handshake_timeout`] (a deadline; see
/// [`Transport`]); the socket's own timeouts are restored afterwards.
///
/// # Errors
///
/// * [`Error::InvalidUrl`]: `url` does not parse.
/// * [`Error::Rejected`]: the server answered with another status than 101 (its
///   status and the start of the body, at most
///   [`MAX_REJECT_BODY`](ferrosocket_io::poll::MAX_REJECT_BODY) bytes, 16 KiB, as
///   on every runtime).
/// * [`Error::Handshake`]: the answer is not a valid WebSocket acceptance.
/// * [`Error::Timeout`], [`Error::Io`].
pub fn client_with<S: Transport>(
    url: &str,
    stream: S,
    options: ClientOptions,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let parsed = parse_url(url)?;
    let deadline = deadline(&options.config);
    client_inner(&parsed, stream, options, deadline)
}

fn client_inner<S: Transport>(
    url: &Url,
    mut stream: S,
    options: ClientOptions,
    deadline: Option<Deadline>,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let options = options.assembled();
    let saved = SavedTimeouts::save(&stream);
    let result = client_handshake(url, &mut stream, &options, deadline);
    saved.restore(&mut stream);
    match result {
        Ok((conn, response)) => {
            let core = StreamCore::new(conn, options.config);
            let stream = WebSocketStream::from_core(stream, core, None, Some(response.clone()));
            Ok((stream, response))
        }
        Err(e) => {
            let _ = stream.shutdown_write();
            Err(e)
        }
    }
}

fn client_handshake<S: Transport>(
    url: &Url,
    stream: &mut S,
    options: &ClientOptions,
    deadline: Option<Deadline>,
) -> Result<(ferrosocket_proto::Connection, Response), Error> {
    let mut hs = ClientHandshake::new(url, options, MAX_REJECT_BODY)?;
    let chunk = options.config.read_chunk;
    write_deadline(stream, &mut hs, deadline)?;
    loop {
        if let Some(outcome) = hs.next_response() {
            return outcome;
        }
        // A timeout or error while reading a refusal's body just ends it.
        if let Err(e) = read_handshake(stream, &mut hs, chunk, deadline) {
            return Err(hs.read_failed(e));
        }
    }
}

/// Connects to a `ws://`, `wss://` or `ws+unix://` URL and performs the handshake,
/// with the default options.
///
/// # Errors
///
/// See [`connect_with`].
pub fn connect(url: &str) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    connect_with(url, ClientOptions::default())
}

/// [`connect`] with options: opens the socket the URL asks for (TCP with
/// `TCP_NODELAY` for `ws://`; TLS over TCP with rustls for `wss://`, feature `tls`,
/// the certificate checked against the Mozilla roots; a Unix socket for
/// `ws+unix:///path[:/resource]`) and performs the handshake. Connecting, TLS and
/// the handshake together are bounded by [`StreamConfig::handshake_timeout`] (name
/// resolution is not: it is the system resolver's blocking call).
///
/// # Errors
///
/// [`Error::InvalidUrl`] (also for `wss://` without the `tls` feature;
/// for other TLS stacks, open the stream yourself and use [`client_with`]);
/// [`Error::Io`] when connecting or TLS fails (an unverified certificate is an
/// `InvalidData` I/O error); otherwise as [`client_with`].
pub fn connect_with(
    url: &str,
    options: ClientOptions,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    connect_over(url, options, None)
}

/// [`connect_with`] with `config` for `wss://` (a private CA, client certificates):
/// [`client_config`](crate::client_config) builds one like the default around
/// other roots. Keep ALPN empty or `http/1.1`.
///
/// # Errors
///
/// As [`connect_with`].
#[cfg(feature = "tls")]
pub fn connect_tls_with(
    url: &str,
    options: ClientOptions,
    config: std::sync::Arc<rustls::ClientConfig>,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    connect_over(url, options, Some(config))
}

#[cfg(feature = "tls")]
type TlsConfig = Option<std::sync::Arc<rustls::ClientConfig>>;
#[cfg(not(feature = "tls"))]
type TlsConfig = Option<core::convert::Infallible>;

fn connect_over(
    url: &str,
    options: ClientOptions,
    tls: TlsConfig,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    let parsed = parse_url(url)?;
    let deadline = deadline(&options.config);
    let stream = match parsed.scheme() {
        Scheme::Ws => MaybeTlsStream::Plain(tcp(url, &parsed, deadline)?),
        Scheme::Wss => wss(url, &parsed, deadline, tls)?,
        Scheme::WsUnix => unix(url, &parsed)?,
    };
    client_inner(&parsed, stream, options, deadline)
}

#[cfg(feature = "tls")]
fn wss(
    url: &str,
    parsed: &Url,
    deadline: Option<Deadline>,
    config: TlsConfig,
) -> Result<MaybeTlsStream, Error> {
    use ferrosocket_io::tls;

    let config = config.unwrap_or_else(tls::default_client_config);
    let name = tls::server_name(parsed)?;
    let session = rustls::ClientConnection::new(config, name)
        .map_err(|e| Error::InvalidUrl(format!("{url}: {e}")))?;
    // The TLS handshake runs within the first write (the opening request), under
    // the socket timeouts the deadline sets.
    let tcp = tcp(url, parsed, deadline)?;
    Ok(MaybeTlsStream::Tls(Box::new(rustls::StreamOwned::new(
        session, tcp,
    ))))
}

#[cfg(not(feature = "tls"))]
fn wss(url: &str, _: &Url, _: Option<Deadline>, _: TlsConfig) -> Result<MaybeTlsStream, Error> {
    Err(Error::InvalidUrl(format!(
        "{url}: TLS needs ferrosocket-blocking's `tls` feature (or open a TLS stream \
         yourself and use client_with)"
    )))
}

#[cfg(unix)]
fn unix(_: &str, parsed: &Url) -> Result<MaybeTlsStream, Error> {
    let path = parsed.socket_path().unwrap_or_default();
    Ok(MaybeTlsStream::Unix(
        std::os::unix::net::UnixStream::connect(path)?,
    ))
}

#[cfg(not(unix))]
fn unix(url: &str, _: &Url) -> Result<MaybeTlsStream, Error> {
    Err(Error::InvalidUrl(format!(
        "{url}: Unix sockets exist only on Unix"
    )))
}

/// A TCP connection to the URL's host, trying each address within the deadline.
fn tcp(url: &str, parsed: &Url, deadline: Option<Deadline>) -> Result<TcpStream, Error> {
    let mut last = None;
    let mut connected = None;
    for addr in parsed.authority().to_socket_addrs()? {
        let attempt = match deadline {
            Some(d) => {
                let left = d.at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout(d.timer));
                }
                TcpStream::connect_timeout(&addr, left)
            }
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(s) => {
                connected = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = match (connected, last) {
        (Some(s), _) => s,
        (None, Some(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            return Err(Error::Timeout(Timer::Handshake));
        }
        (None, Some(e)) => return Err(e.into()),
        (None, None) => {
            return Err(Error::InvalidUrl(format!("{url}: the host has no address")));
        }
    };
    stream.set_nodelay(true)?;
    Ok(stream)
}
