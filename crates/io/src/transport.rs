//! [`MaybeTlsStream`]: the socket a `connect` opened, whichever the URL's scheme
//! asked for, defined once for every runtime over its [`Sockets`]. It forwards the
//! I/O traits of the runtime (tokio's with feature `tokio`, futures-io's with
//! feature `futures-io`, `std::io`'s always) to the socket inside.

use core::fmt;
use std::io;

/// A runtime's sockets, as [`MaybeTlsStream`] holds them.
pub trait Sockets {
    /// Its TCP stream.
    type Tcp;
    /// TLS over its TCP stream ([`NoSocket`] without TLS support).
    type Tls;
    /// Its Unix stream ([`NoSocket`] where there are none).
    type Unix;

    /// The TCP stream under a TLS stream.
    fn tls_tcp(tls: &Self::Tls) -> &Self::Tcp;
}

/// The socket under a stream that `connect` opened: plain TCP for `ws://`, TLS over
/// TCP for `wss://`, a Unix socket for `ws+unix://`. Each runtime binding names it
/// with its [`Sockets`] (`ferrosocket_tokio::MaybeTlsStream`, ...).
#[non_exhaustive]
pub enum MaybeTlsStream<K: Sockets> {
    /// `ws://`: plain TCP (`TCP_NODELAY` on).
    Plain(K::Tcp),
    /// `wss://`: TLS over TCP (boxed: a TLS session is large beside a socket).
    Tls(Box<K::Tls>),
    /// `ws+unix://`: a Unix domain socket.
    Unix(K::Unix),
}

impl<K: Sockets> fmt::Debug for MaybeTlsStream<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "MaybeTlsStream::Plain",
            Self::Tls(_) => "MaybeTlsStream::Tls",
            Self::Unix(_) => "MaybeTlsStream::Unix",
        })
    }
}

impl<K: Sockets> MaybeTlsStream<K> {
    /// Whether the connection is encrypted (`wss://`).
    pub fn is_secure(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// The TCP socket (under TLS for `wss://`); `None` for a Unix socket.
    pub fn tcp(&self) -> Option<&K::Tcp> {
        match self {
            Self::Plain(tcp) => Some(tcp),
            Self::Tls(tls) => Some(K::tls_tcp(tls)),
            Self::Unix(_) => None,
        }
    }
}

/// A socket that cannot exist: the TLS stream of a build without TLS, the Unix
/// stream where there are none.
#[derive(Debug)]
pub enum NoSocket {}

/// Forwards a call to the socket of whichever variant this is.
macro_rules! each {
    ($self:expr, $s:ident => $call:expr) => {
        match $self {
            MaybeTlsStream::Plain($s) => $call,
            MaybeTlsStream::Tls($s) => $call,
            MaybeTlsStream::Unix($s) => $call,
        }
    };
}

impl<K> io::Read for MaybeTlsStream<K>
where
    K: Sockets<Tcp: io::Read, Tls: io::Read, Unix: io::Read>,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each!(self, s => s.read(buf))
    }
}

impl<K> io::Write for MaybeTlsStream<K>
where
    K: Sockets<Tcp: io::Write, Tls: io::Write, Unix: io::Write>,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        each!(self, s => s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        each!(self, s => s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        each!(self, s => s.flush())
    }
}

impl io::Read for NoSocket {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match *self {}
    }
}

impl io::Write for NoSocket {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        match *self {}
    }

    fn flush(&mut self) -> io::Result<()> {
        match *self {}
    }
}

#[cfg(feature = "tokio")]
mod tokio_io {
    use core::pin::Pin;
    use core::task::{Context, Poll};

    use super::*;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    impl<K> AsyncRead for MaybeTlsStream<K>
    where
        K: Sockets<Tcp: AsyncRead + Unpin, Tls: AsyncRead + Unpin, Unix: AsyncRead + Unpin>,
    {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            each!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
        }
    }

    impl<K> AsyncWrite for MaybeTlsStream<K>
    where
        K: Sockets<Tcp: AsyncWrite + Unpin, Tls: AsyncWrite + Unpin, Unix: AsyncWrite + Unpin>,
    {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            each!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            each!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
        }

        fn is_write_vectored(&self) -> bool {
            each!(self, s => s.is_write_vectored())
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            each!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            each!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
        }
    }

    impl AsyncRead for NoSocket {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match *self {}
        }
    }

    impl AsyncWrite for NoSocket {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            match *self {}
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }
    }
}

#[cfg(feature = "futures-io")]
mod futures_io_impls {
    use core::pin::Pin;
    use core::task::{Context, Poll};

    use super::*;
    use futures_io::{AsyncRead, AsyncWrite};

    impl<K> AsyncRead for MaybeTlsStream<K>
    where
        K: Sockets<Tcp: AsyncRead + Unpin, Tls: AsyncRead + Unpin, Unix: AsyncRead + Unpin>,
    {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            each!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
        }
    }

    impl<K> AsyncWrite for MaybeTlsStream<K>
    where
        K: Sockets<Tcp: AsyncWrite + Unpin, Tls: AsyncWrite + Unpin, Unix: AsyncWrite + Unpin>,
    {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            each!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            each!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            each!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            each!(self.get_mut(), s => Pin::new(s).poll_close(cx))
        }
    }

    impl AsyncRead for NoSocket {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            match *self {}
        }
    }

    impl AsyncWrite for NoSocket {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            match *self {}
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }
    }
}
