//! The sockets [`connect`](crate::connect) opens for a URL: TCP for `ws://`, TLS
//! over TCP for `wss://` (feature `tls`, rustls), a Unix socket for `ws+unix://`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ferrosocket_io::Error;
use ferrosocket_proto::handshake::{Scheme, Url};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// The socket under a [`WebSocketStream`](crate::WebSocketStream) that
/// [`connect`](crate::connect) opened, whichever the URL's scheme asked for.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`: plain TCP (`TCP_NODELAY` on).
    Plain(TcpStream),
    /// `wss://`: TLS over TCP (boxed: a TLS session is large beside a socket).
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// `ws+unix://`: a Unix domain socket.
    #[cfg(unix)]
    Unix(UnixStream),
}

impl MaybeTlsStream {
    /// Whether the connection is encrypted (`wss://`).
    pub fn is_secure(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Self::Tls(_) = self {
            return true;
        }
        false
    }

    /// The TCP socket (under TLS for `wss://`); `None` for a Unix socket.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Self::Plain(tcp) => Some(tcp),
            #[cfg(feature = "tls")]
            Self::Tls(tls) => Some(tls.get_ref().0),
            #[cfg(unix)]
            Self::Unix(_) => None,
        }
    }
}

/// Forwards a call to the socket of whichever variant this is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain($s) => $call,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls($s) => $call,
            #[cfg(unix)]
            MaybeTlsStream::Unix($s) => $call,
        }
    };
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTlsStream {
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

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.is_write_vectored(),
            #[cfg(unix)]
            Self::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// How `wss://` connections are made: rustls with the Mozilla root certificates
/// (webpki-roots) by default, or a configuration of the caller's.
#[derive(Clone, Default)]
pub(crate) enum Tls {
    #[default]
    Default,
    #[cfg(feature = "tls")]
    Config(std::sync::Arc<tokio_rustls::rustls::ClientConfig>),
}

/// Opens the socket `url` (parsed from `text`) asks for.
pub(crate) async fn open(text: &str, url: &Url, tls: &Tls) -> Result<MaybeTlsStream, Error> {
    match url.scheme() {
        Scheme::Ws => Ok(MaybeTlsStream::Plain(tcp(url).await?)),
        Scheme::Wss => wss(text, url, tls).await,
        Scheme::WsUnix => unix(text, url).await,
    }
}

async fn tcp(url: &Url) -> Result<TcpStream, Error> {
    let stream = TcpStream::connect(url.authority()).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(unix)]
async fn unix(_: &str, url: &Url) -> Result<MaybeTlsStream, Error> {
    let path = url.socket_path().unwrap_or_default();
    Ok(MaybeTlsStream::Unix(UnixStream::connect(path).await?))
}

#[cfg(not(unix))]
async fn unix(text: &str, _: &Url) -> Result<MaybeTlsStream, Error> {
    Err(Error::InvalidUrl(format!(
        "{text}: Unix sockets exist only on Unix"
    )))
}

#[cfg(feature = "tls")]
async fn wss(_: &str, url: &Url, tls: &Tls) -> Result<MaybeTlsStream, Error> {
    use ferrosocket_io::tls;

    let config = match tls {
        Tls::Default => tls::default_client_config(),
        Tls::Config(config) => config.clone(),
    };
    let name = tls::server_name(url)?;
    let tcp = tcp(url).await?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(MaybeTlsStream::Tls(Box::new(tls)))
}

#[cfg(not(feature = "tls"))]
async fn wss(text: &str, _: &Url, _: &Tls) -> Result<MaybeTlsStream, Error> {
    Err(Error::InvalidUrl(format!(
        "{text}: TLS needs ferrosocket-tokio's `tls` feature (or connect a TLS stream \
         yourself and use client_async)"
    )))
}
