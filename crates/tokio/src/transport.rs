//! tokio as the engine's [`Runtime`]: its sockets for [`MaybeTlsStream`], its
//! timer, and how `connect` opens TCP, TLS (tokio-rustls) and Unix sockets.

use std::io;

use ferrosocket_io::{ClientTls, Error, Runtime, Sockets};
use ferrosocket_proto::handshake::Url;
use tokio::net::TcpStream;

use crate::TokioTimer;
use ferrosocket_io::TokioIo;

/// tokio, as the engine's [`Runtime`].
#[derive(Debug, Clone, Copy)]
pub struct Tokio;

/// The socket under a [`WebSocketStream`](crate::WebSocketStream) that
/// [`connect`](crate::connect) opened, whichever the URL's scheme asked for
/// ([`ferrosocket_io::MaybeTlsStream`] with tokio's sockets).
pub type MaybeTlsStream = ferrosocket_io::MaybeTlsStream<Tokio>;

impl Sockets for Tokio {
    type Tcp = TcpStream;
    #[cfg(feature = "tls")]
    type Tls = tokio_rustls::client::TlsStream<TcpStream>;
    #[cfg(not(feature = "tls"))]
    type Tls = ferrosocket_io::NoSocket;
    #[cfg(unix)]
    type Unix = tokio::net::UnixStream;
    #[cfg(not(unix))]
    type Unix = ferrosocket_io::NoSocket;

    #[cfg(feature = "tls")]
    fn tls_tcp(tls: &Self::Tls) -> &TcpStream {
        tls.get_ref().0
    }

    #[cfg(not(feature = "tls"))]
    fn tls_tcp(tls: &ferrosocket_io::NoSocket) -> &TcpStream {
        match *tls {}
    }
}

impl Runtime for Tokio {
    type Timer = TokioTimer;
    type Io = TokioIo<MaybeTlsStream>;

    fn timer() -> Option<TokioTimer> {
        Some(TokioTimer)
    }

    async fn connect_tcp(authority: &str) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    #[cfg(unix)]
    async fn connect_unix(path: &str) -> io::Result<Self::Unix> {
        tokio::net::UnixStream::connect(path).await
    }

    #[cfg(not(unix))]
    async fn connect_unix(_: &str) -> io::Result<Self::Unix> {
        Err(io::ErrorKind::Unsupported.into())
    }

    #[cfg(feature = "tls")]
    async fn connect_tls(_: &str, url: &Url, tls: &ClientTls) -> Result<Self::Tls, Error> {
        let name = ferrosocket_io::tls::server_name(url)?;
        let tcp = Self::connect_tcp(&url.authority()).await?;
        let connector = tokio_rustls::TlsConnector::from(tls.client_config());
        Ok(connector.connect(name, tcp).await?)
    }

    #[cfg(not(feature = "tls"))]
    async fn connect_tls(text: &str, _: &Url, _: &ClientTls) -> Result<Self::Tls, Error> {
        Err(Error::InvalidUrl(format!(
            "{text}: TLS needs ferrosocket-tokio's `tls` feature (or connect a TLS stream \
             yourself and use client_async)"
        )))
    }
}
