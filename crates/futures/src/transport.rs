//! The sockets the runtime modules' `connect` opens for a URL: TCP for `ws://`,
//! TLS over TCP for `wss://` (feature `tls`, rustls through futures-rustls), a
//! Unix socket for `ws+unix://`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ferrosocket_io::Error;
use ferrosocket_proto::handshake::{Scheme, Url};
use futures_io::{AsyncRead, AsyncWrite};

/// The socket under a [`WebSocketStream`](crate::WebSocketStream) that a runtime's
/// `connect` opened, whichever the URL's scheme asked for: `T` is the runtime's
/// TCP stream, `U` its Unix stream. Each runtime module names it with its types
/// (`smol::MaybeTlsStream`, `async_std::MaybeTlsStream`).
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<T, U> {
    /// `ws://`: plain TCP (`TCP_NODELAY` on).
    Plain(T),
    /// `wss://`: TLS over TCP (boxed: a TLS session is large beside a socket).
    #[cfg(feature = "tls")]
    Tls(Box<futures_rustls::client::TlsStream<T>>),
    /// `ws+unix://`: a Unix domain socket.
    Unix(U),
}

impl<T, U> MaybeTlsStream<T, U> {
    /// Whether the connection is encrypted (`wss://`).
    pub fn is_secure(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Self::Tls(_) = self {
            return true;
        }
        false
    }

    /// The TCP socket (under TLS for `wss://`); `None` for a Unix socket.
    pub fn tcp(&self) -> Option<&T> {
        match self {
            Self::Plain(tcp) => Some(tcp),
            #[cfg(feature = "tls")]
            Self::Tls(tls) => Some(tls.get_ref().0),
            Self::Unix(_) => None,
        }
    }
}

/// Forwards a poll to the socket of whichever variant this is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain($s) => $call,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls($s) => $call,
            MaybeTlsStream::Unix($s) => $call,
        }
    };
}

impl<T, U> AsyncRead for MaybeTlsStream<T, U>
where
    T: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl<T, U> AsyncWrite for MaybeTlsStream<T, U>
where
    T: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_close(cx))
    }
}

/// How `wss://` connections are made: the shared default (Mozilla roots) or a
/// configuration of the caller's.
#[derive(Clone, Default)]
pub(crate) enum Tls {
    #[default]
    Default,
    #[cfg(feature = "tls")]
    Config(std::sync::Arc<futures_rustls::rustls::ClientConfig>),
}

/// Opens the socket `url` (parsed from `text`) asks for, with the runtime's
/// connectors.
#[cfg_attr(not(any(feature = "smol", feature = "async-std")), allow(dead_code))]
pub(crate) async fn open<T, U, C, CF, D, DF>(
    text: &str,
    url: &Url,
    tls: &Tls,
    tcp_connect: C,
    unix_connect: D,
) -> Result<MaybeTlsStream<T, U>, Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
    C: FnOnce(String) -> CF,
    CF: Future<Output = io::Result<T>>,
    D: FnOnce(String) -> DF,
    DF: Future<Output = io::Result<U>>,
{
    match url.scheme() {
        Scheme::Ws => Ok(MaybeTlsStream::Plain(tcp_connect(url.authority()).await?)),
        Scheme::Wss => {
            #[cfg(feature = "tls")]
            {
                use ferrosocket_io::tls;

                let _ = text;
                let config = match tls {
                    Tls::Default => tls::default_client_config(),
                    Tls::Config(config) => config.clone(),
                };
                let name = tls::server_name(url)?;
                let tcp = tcp_connect(url.authority()).await?;
                let tls = futures_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok(MaybeTlsStream::Tls(Box::new(tls)))
            }
            #[cfg(not(feature = "tls"))]
            {
                let _ = tls;
                Err(Error::InvalidUrl(format!(
                    "{text}: TLS needs ferrosocket-futures' `tls` feature (or connect a TLS \
                     stream yourself and use client_async)"
                )))
            }
        }
        Scheme::WsUnix => {
            if cfg!(unix) {
                let path = url.socket_path().unwrap_or_default().to_owned();
                Ok(MaybeTlsStream::Unix(unix_connect(path).await?))
            } else {
                Err(Error::InvalidUrl(format!(
                    "{text}: Unix sockets exist only on Unix"
                )))
            }
        }
    }
}

/// Stands in for a Unix stream where there is none (not Unix): no value exists.
#[cfg(not(unix))]
#[derive(Debug)]
pub enum NoUnix {}

#[cfg(not(unix))]
impl AsyncRead for NoUnix {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match *self {}
    }
}

#[cfg(not(unix))]
impl AsyncWrite for NoUnix {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        match *self {}
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        match *self {}
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        match *self {}
    }
}
