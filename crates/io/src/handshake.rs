//! The opening handshake for the adapters, sans-IO: the types their public API
//! shares ([`Decision`], [`Response`], [`ClientOptions`]), URL checks, and the drive
//! loops ([`ServerHandshake`], [`ClientHandshake`]) an adapter feeds with bytes.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::{Bytes, BytesMut};
use ferrosocket_proto::handshake::{Accept, ClientRequest, Headers, Key, Reject, Request, Url};

use super::{Error, StreamConfig};
use ferrosocket_proto::{Connection, Event, LocalError, WsConnection, WsError};

/// The server application's answer to an opening request, from the callback of
/// `accept_with`.
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

/// Options of a client handshake (the adapters' `client_*_with` and
/// `connect_with`).
///
/// ```
/// use ferrosocket_io::{ClientOptions, StreamConfig};
/// let options = ClientOptions::new()
///     .config(StreamConfig::default().write_buffer_limit(64 * 1024))
///     .subprotocol("chat.v1")
///     .header("Authorization", "Bearer t0ken");
/// # let _ = options;
/// ```
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

    /// The opening request for `url` with these options and `key`.
    pub fn client_request(&self, url: &Url, key: Key) -> ClientRequest {
        let mut request = url.client_request(key);
        for protocol in &self.subprotocols {
            request = request.subprotocol(protocol.clone());
        }
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        if let Some(origin) = &self.origin {
            request = request.origin(origin.clone());
        }
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.config.compression {
            request = request.extension(ferrosocket_proto::deflate::client_offer(deflate));
        }
        request
    }

    /// These options with whole-message delivery forced (see
    /// [`StreamConfig::assembled`]).
    #[must_use]
    pub fn assembled(self) -> Self {
        Self {
            config: self.config.assembled(),
            ..self
        }
    }
}

/// Parses a WebSocket URL; [`Error::InvalidUrl`] names it.
///
/// # Errors
///
/// [`Error::InvalidUrl`] if it does not parse.
pub fn parse_url(url: &str) -> Result<Url, Error> {
    Url::parse(url).map_err(|e| Error::InvalidUrl(format!("{url}: {e}")))
}

/// A failed server handshake: the HTTP answer to write (empty: none) before
/// closing the socket, and the error to report.
#[derive(Debug)]
pub struct Refusal {
    /// The answer (an HTTP error or the application's refusal).
    pub answer: Bytes,
    /// What the adapter returns.
    pub error: Error,
}

/// The byte buffers of a handshake in progress ([`ServerHandshake`],
/// [`ClientHandshake`]), for the adapter's I/O loop.
pub trait HandshakeIo {
    /// The bytes to write.
    fn output(&self) -> &[u8];
    /// Marks `n` bytes of [`output`](Self::output) as written.
    fn consume(&mut self, n: usize);
    /// The buffer to read into, with room for [`StreamConfig::read_chunk`] bytes.
    fn read_buf(&mut self) -> &mut BytesMut;
    /// The socket reached EOF.
    fn receive_eof(&mut self);
}

/// Grows `buf` by at least `chunk` bytes of spare room before a handshake read.
fn reserve(buf: &mut BytesMut, chunk: usize) -> &mut BytesMut {
    if buf.capacity() - buf.len() < chunk {
        buf.reserve(chunk);
    }
    buf
}

impl HandshakeIo for ServerHandshake {
    fn output(&self) -> &[u8] {
        self.ws.output()
    }
    fn consume(&mut self, n: usize) {
        self.ws.consume(n);
    }
    fn read_buf(&mut self) -> &mut BytesMut {
        reserve(self.ws.read_buf(), self.read_chunk)
    }
    fn receive_eof(&mut self) {
        self.ws.receive_eof();
    }
}

impl HandshakeIo for ClientHandshake {
    fn output(&self) -> &[u8] {
        self.ws.as_ref().map_or(&[], WsConnection::output)
    }
    fn consume(&mut self, n: usize) {
        self.ws().consume(n);
    }
    fn read_buf(&mut self) -> &mut BytesMut {
        let chunk = self.read_chunk;
        reserve(self.ws().read_buf(), chunk)
    }
    fn receive_eof(&mut self) {
        self.ws().receive_eof();
    }
}

/// The server's opening handshake, sans-IO.
///
/// 1. [`next_request`](Self::next_request) until it gives the request, reading
///    into [`read_buf`](HandshakeIo::read_buf) while it gives `Ok(None)` (EOF:
///    [`receive_eof`](HandshakeIo::receive_eof));
/// 2. the application decides; [`decide`](Self::decide);
/// 3. write [`output`](HandshakeIo::output) (the `101`), then
///    [`into_connection`](Self::into_connection).
///
/// On a [`Refusal`], write its answer (errors are moot), close the socket, and
/// return its error.
#[derive(Debug)]
pub struct ServerHandshake {
    ws: WsConnection,
    read_chunk: usize,
    /// permessage-deflate as configured, then as negotiated with the request.
    #[cfg(feature = "deflate")]
    deflate: Deflate,
}

/// Where permessage-deflate is in a server handshake.
#[cfg(feature = "deflate")]
#[derive(Debug)]
enum Deflate {
    /// Configured (or not): the request has not come yet.
    Configured(Option<ferrosocket_proto::deflate::DeflateConfig>),
    /// The offer accepted: the answer's element and the extension.
    Agreed(
        Box<(
            ferrosocket_proto::handshake::ExtensionOffer,
            ferrosocket_proto::deflate::Deflate,
        )>,
    ),
    /// Off, or every offer declined.
    Declined,
}

impl ServerHandshake {
    /// Starts with `config`'s protocol settings.
    pub fn new(config: &StreamConfig) -> Self {
        Self {
            ws: WsConnection::server(config.protocol),
            read_chunk: config.read_chunk,
            #[cfg(feature = "deflate")]
            deflate: Deflate::Configured(config.compression.clone()),
        }
    }

    /// The request, `Ok(None)` while more input is needed, or the refusal of an
    /// invalid request (400, 405, 426, 431 answer).
    ///
    /// # Errors
    ///
    /// A [`Refusal`] for an invalid request or a peer gone before its end.
    pub fn next_request(&mut self) -> Result<Option<Box<Request>>, Refusal> {
        loop {
            match self.ws.next_event() {
                Some(Ok(Event::Request(request))) => {
                    #[cfg(feature = "deflate")]
                    if let Deflate::Configured(config) = &self.deflate {
                        self.deflate = config
                            .as_ref()
                            .and_then(|c| {
                                ferrosocket_proto::deflate::server_negotiate(
                                    c,
                                    request.extensions(),
                                )
                            })
                            .map_or(Deflate::Declined, |agreed| {
                                Deflate::Agreed(Box::new(agreed))
                            });
                    }
                    return Ok(Some(request));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return Err(Refusal {
                        answer: self.ws.take_output(),
                        error: e.into(),
                    });
                }
                None => return Ok(None),
            }
        }
    }

    /// Answers the request with the application's decision: the `101` is queued,
    /// or a refusal.
    ///
    /// # Errors
    ///
    /// The [`Reject`] (its answer, [`Error::Rejected`]); an [`Accept`] or [`Reject`]
    /// the request does not allow: a 500 answer and [`Error::Handshake`].
    pub fn decide(&mut self, decision: Decision) -> Result<(), Refusal> {
        match decision {
            Decision::Accept(accept) => self.accept(accept),
            Decision::Reject(reject) => {
                self.ws.reject(&reject).map_err(invalid)?;
                Err(Refusal {
                    answer: self.ws.take_output(),
                    error: Error::Rejected {
                        status: reject.status(),
                        body: Bytes::copy_from_slice(reject.body_bytes()),
                    },
                })
            }
        }
    }

    /// Accepts, with permessage-deflate if it was agreed and the application's
    /// answer does not name an extension of that name itself.
    fn accept(&mut self, accept: Accept) -> Result<(), Refusal> {
        #[cfg(feature = "deflate")]
        if let Deflate::Agreed(..) = self.deflate
            && let Deflate::Agreed(agreed) =
                core::mem::replace(&mut self.deflate, Deflate::Declined)
            && !names_permessage_deflate(&accept)
        {
            let (answer, ext) = *agreed;
            let accept = accept.extension(answer);
            return self.ws.accept_with_extension(&accept, ext).map_err(invalid);
        }
        self.ws.accept(&accept).map_err(invalid)
    }

    /// The open connection, after [`decide`](Self::decide) accepted (bytes that
    /// followed the request stay in its read buffer).
    ///
    /// # Errors
    ///
    /// [`Error::Local`] if the request was not accepted.
    pub fn into_connection(self) -> Result<Connection, Error> {
        self.ws
            .into_connection()
            .ok_or(Error::Local(LocalError::InvalidState))
    }
}

/// Whether the application's `accept` agrees to permessage-deflate itself: then
/// the configured negotiation stays out of it.
#[cfg(feature = "deflate")]
pub(crate) fn names_permessage_deflate(accept: &Accept) -> bool {
    accept
        .agreed_extensions()
        .iter()
        .any(|e| ferrosocket_proto::deflate::is_permessage_deflate(&e.name))
}

/// The application's answer was invalid: answer 500 (nothing was queued).
fn invalid(e: WsError) -> Refusal {
    let answer = match &e {
        WsError::Handshake(h) => h.to_response().into(),
        _ => Bytes::new(),
    };
    Refusal {
        answer,
        error: e.into(),
    }
}

/// The client's opening handshake, sans-IO.
///
/// Write [`output`](HandshakeIo::output) (the request), then
/// [`next_response`](Self::next_response) until it gives the outcome, reading into
/// [`read_buf`](HandshakeIo::read_buf) while it gives `None`. An answer other than 101
/// becomes [`Error::Rejected`] with its body, kept up to a limit.
#[derive(Debug)]
pub struct ClientHandshake {
    ws: Option<WsConnection>,
    read_chunk: usize,
    body_limit: usize,
    rejected: Option<(u16, BytesMut)>,
    /// What permessage-deflate offer went out.
    #[cfg(feature = "deflate")]
    deflate: Option<ferrosocket_proto::deflate::DeflateConfig>,
}

impl ClientHandshake {
    /// The request for `url` with `options` (a fresh key), queued; the body of a
    /// refusal is kept up to `body_limit` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] for an invalid option (e.g. a bad header), or when the
    /// OS random source fails.
    pub fn new(url: &Url, options: &ClientOptions, body_limit: usize) -> Result<Self, Error> {
        let request = options.client_request(url, Key::generate()?);
        Ok(Self {
            ws: Some(WsConnection::client(&request, options.config.protocol)?),
            read_chunk: options.config.read_chunk,
            body_limit,
            rejected: None,
            #[cfg(feature = "deflate")]
            deflate: options.config.compression.clone(),
        })
    }

    fn ws(&mut self) -> &mut WsConnection {
        self.ws.as_mut().expect("the handshake is not over")
    }

    /// The outcome, or `None` while more input is needed: the open connection and
    /// the answer, or the error ([`Error::Rejected`] for a refusal: once its status
    /// is known, an error just ends the body).
    pub fn next_response(&mut self) -> Option<Result<(Connection, Response), Error>> {
        loop {
            let event = self.ws().next_event()?;
            match event {
                Ok(Event::Accept(accepted)) => {
                    #[cfg(feature = "deflate")]
                    if let Err(e) = self.install_deflate(&accepted.extensions) {
                        return Some(Err(e));
                    }
                    let response = Response {
                        status: 101,
                        subprotocol: accepted.subprotocol,
                        headers: accepted.headers,
                    };
                    let conn = self.ws.take().and_then(WsConnection::into_connection);
                    return Some(
                        conn.map(|conn| (conn, response))
                            .ok_or(Error::Local(LocalError::InvalidState)),
                    );
                }
                Ok(Event::Reject(r)) => self.rejected = Some((r.status, BytesMut::new())),
                Ok(Event::RejectData {
                    data,
                    body_finished,
                }) => {
                    let limit = self.body_limit;
                    if let Some((status, body)) = &mut self.rejected {
                        let room = limit.saturating_sub(body.len());
                        body.extend_from_slice(&data[..data.len().min(room)]);
                        if body_finished || body.len() >= limit {
                            let (status, body) = (*status, core::mem::take(body).freeze());
                            self.rejected = None;
                            return Some(Err(Error::Rejected { status, body }));
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => return Some(Err(self.read_failed(e.into()))),
            }
        }
    }

    /// Checks the extensions the server agreed to against our offer and installs
    /// permessage-deflate if it was agreed. Frames that followed the `101` are not
    /// parsed yet, so they go through it too.
    #[cfg(feature = "deflate")]
    fn install_deflate(
        &mut self,
        agreed: &[ferrosocket_proto::handshake::ExtensionOffer],
    ) -> Result<(), Error> {
        let Some(config) = &self.deflate else {
            return Ok(());
        };
        match ferrosocket_proto::deflate::client_confirm(config, agreed) {
            Ok(Some(ext)) => {
                self.ws().set_extension(ext);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                self.ws = None;
                Err(Error::Extension(e))
            }
        }
    }

    /// Reading failed with `error` (or timed out): the error to report, which is
    /// [`Error::Rejected`] with the body so far if the server refused already.
    pub fn read_failed(&mut self, error: Error) -> Error {
        match self.rejected.take() {
            Some((status, body)) => Error::Rejected {
                status,
                body: body.freeze(),
            },
            None => error,
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

    #[test]
    fn server_and_client_drive_loops() {
        let url = parse_url("ws://localhost/chat").unwrap();
        let options = ClientOptions::new().subprotocol("p").assembled();
        let mut client = ClientHandshake::new(&url, &options, 16).unwrap();
        let mut server = ServerHandshake::new(&StreamConfig::default());
        assert!(matches!(server.next_request(), Ok(None)));
        let request = client.output().to_vec();
        client.consume(request.len());
        server.read_buf().extend_from_slice(&request);
        let got = server.next_request().ok().flatten().unwrap();
        assert_eq!(got.path(), "/chat");
        server
            .decide(Accept::new().subprotocol("p").into())
            .unwrap();
        client.read_buf().extend_from_slice(server.output());
        let (_, response) = client.next_response().unwrap().unwrap();
        assert_eq!(response.subprotocol.as_deref(), Some("p"));
        assert!(server.into_connection().is_ok());

        // A refusal, its body capped; an invalid accept gets a 500.
        let mut client = ClientHandshake::new(&url, &options, 4).unwrap();
        let mut server = ServerHandshake::new(&StreamConfig::default());
        server.read_buf().extend_from_slice(client.output());
        server.next_request().unwrap().unwrap();
        let refusal = server
            .decide(Reject::new(403).body("forbidden").into())
            .unwrap_err();
        client.read_buf().extend_from_slice(&refusal.answer);
        match client.next_response() {
            Some(Err(Error::Rejected { status: 403, body })) => assert_eq!(&body[..], b"forb"),
            other => panic!("{other:?}"),
        }
        let mut server = ServerHandshake::new(&StreamConfig::default());
        server.read_buf().extend_from_slice(&request);
        server.next_request().unwrap().unwrap();
        let refusal = server
            .decide(Accept::new().subprotocol("not offered").into())
            .unwrap_err();
        assert!(refusal.answer.starts_with(b"HTTP/1.1 500 "));
        assert!(matches!(refusal.error, Error::Handshake(_)));
    }
}
