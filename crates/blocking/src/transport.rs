//! The socket a [`WebSocketStream`](crate::WebSocketStream) runs over.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use ferrosocket_io::{NoSocket, Sockets};

/// Forwards a call to the socket of whichever variant this is.
macro_rules! each {
    ($self:expr, $s:ident => $call:expr) => {
        match $self {
            ferrosocket_io::MaybeTlsStream::Plain($s) => $call,
            ferrosocket_io::MaybeTlsStream::Tls($s) => $call,
            ferrosocket_io::MaybeTlsStream::Unix($s) => $call,
            _ => Err(io::ErrorKind::Unsupported.into()),
        }
    };
}

/// A byte stream with optional socket timeouts: what the handshake and close
/// deadlines need from a blocking socket.
///
/// `std::io::Read` cannot be interrupted, so a deadline (the handshake's, the
/// close's) is enforced by giving each read the time left as the socket's read
/// timeout. [`TcpStream`] and `UnixStream` implement this for real; for any other
/// `Read + Write` (a TLS stream, an in-memory pipe) either implement it on a newtype
/// that forwards to the underlying socket, or wrap the stream in [`NoTimeouts`]:
/// then deadlines are checked only between reads, so a peer that trickles bytes is
/// still dropped, but one that sends nothing at all blocks the read.
pub trait Transport: Read + Write {
    /// Sets the read timeout (`None`: block). Default: does nothing.
    ///
    /// # Errors
    ///
    /// As the socket's own setter.
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// The read timeout (to restore after a deadline). Default: `None`.
    ///
    /// # Errors
    ///
    /// As the socket's own getter.
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(None)
    }

    /// Sets the write timeout (`None`: block). Default: does nothing.
    ///
    /// # Errors
    ///
    /// As the socket's own setter.
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// The write timeout. Default: `None`.
    ///
    /// # Errors
    ///
    /// As the socket's own getter.
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(None)
    }

    /// Shuts the write direction (sends FIN) once the closing handshake is over.
    /// Default: does nothing (the socket closes when dropped).
    ///
    /// # Errors
    ///
    /// As the socket's own shutdown.
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for TcpStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        TcpStream::read_timeout(self)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        TcpStream::write_timeout(self)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout)
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        std::os::unix::net::UnixStream::read_timeout(self)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        std::os::unix::net::UnixStream::write_timeout(self)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).read_timeout()
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).write_timeout()
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).read_timeout()
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).write_timeout()
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
}

/// A [`Transport`] with a second handle on the same connection, for
/// [`WebSocketStream::split`](crate::WebSocketStream::split): the read half blocks
/// in `read` on one handle while the write half writes on the other, from another
/// thread, with no lock held around either.
///
/// Implemented by [`TcpStream`] and `UnixStream` (`try_clone`: a second file
/// descriptor on the same socket) and by [`MaybeTlsStream`] for those two. A TLS
/// stream has none: its session (rustls' `ClientConnection`) is one object that
/// both directions change, so reading and writing it at once needs it shared behind
/// a lock and the TCP socket cloned under it, which this crate does not do yet:
/// [`try_clone`](Self::try_clone) fails with [`io::ErrorKind::Unsupported`], and
/// `split` gives the stream back. Use one thread per TLS connection (or the tokio
/// adapter, whose halves share the TLS stream behind a lock held one poll at a
/// time).
pub trait SplitSocket: Transport + Sized {
    /// Another handle on the same connection: bytes written on either go to the
    /// same peer, reads on either take from the same input, and the socket's
    /// options (timeouts, shutdown) are one for both.
    ///
    /// # Errors
    ///
    /// As the socket's own `try_clone` (out of file descriptors), or
    /// `Unsupported` for a stream that cannot have two handles.
    fn try_clone(&self) -> io::Result<Self>;

    /// Shuts both directions of the connection down, so that a read blocked on
    /// another handle returns at once: how the write half's
    /// [`close`](crate::WriteHalf::close) wakes the read half when the close
    /// timeout runs out.
    ///
    /// # Errors
    ///
    /// As the socket's own shutdown.
    fn shutdown_both(&self) -> io::Result<()>;
}

impl SplitSocket for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }
    fn shutdown_both(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Both)
    }
}

#[cfg(unix)]
impl SplitSocket for std::os::unix::net::UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::os::unix::net::UnixStream::try_clone(self)
    }
    fn shutdown_both(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Both)
    }
}

impl<T: SplitSocket> SplitSocket for Box<T> {
    fn try_clone(&self) -> io::Result<Self> {
        (**self).try_clone().map(Box::new)
    }
    fn shutdown_both(&self) -> io::Result<()> {
        (**self).shutdown_both()
    }
}

#[cfg(feature = "tls")]
impl SplitSocket for TlsStream {
    fn try_clone(&self) -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a TLS stream cannot be split into threads: its session is one object for \
             both directions",
        ))
    }
    fn shutdown_both(&self) -> io::Result<()> {
        self.get_ref().shutdown(Shutdown::Both)
    }
}

impl SplitSocket for NoSocket {
    fn try_clone(&self) -> io::Result<Self> {
        match *self {}
    }
    fn shutdown_both(&self) -> io::Result<()> {
        match *self {}
    }
}

impl<K> SplitSocket for ferrosocket_io::MaybeTlsStream<K>
where
    K: Sockets<Tcp: SplitSocket, Tls: SplitSocket, Unix: SplitSocket>,
{
    fn try_clone(&self) -> io::Result<Self> {
        match self {
            Self::Plain(s) => s.try_clone().map(Self::Plain),
            Self::Tls(s) => s.try_clone().map(Self::Tls),
            Self::Unix(s) => s.try_clone().map(Self::Unix),
            _ => Err(io::ErrorKind::Unsupported.into()),
        }
    }
    fn shutdown_both(&self) -> io::Result<()> {
        each!(self, s => s.shutdown_both())
    }
}

/// Any `Read + Write` as a [`Transport`] without timeouts (see the trait's docs for
/// what deadlines can and cannot do then).
#[derive(Debug, Clone, Default)]
pub struct NoTimeouts<S>(pub S);

impl<S: Read> Read for NoTimeouts<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<S: Write> Write for NoTimeouts<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<S: Read + Write> Transport for NoTimeouts<S> {}

/// The standard library's sockets (and rustls' blocking stream) as the engine's
/// [`Sockets`], for [`MaybeTlsStream`].
#[derive(Debug, Clone, Copy)]
pub struct Std;

/// TLS over TCP with rustls (feature `tls`).
#[cfg(feature = "tls")]
pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

impl Sockets for Std {
    type Tcp = TcpStream;
    #[cfg(feature = "tls")]
    type Tls = TlsStream;
    #[cfg(not(feature = "tls"))]
    type Tls = NoSocket;
    #[cfg(unix)]
    type Unix = std::os::unix::net::UnixStream;
    #[cfg(not(unix))]
    type Unix = NoSocket;

    #[cfg(feature = "tls")]
    fn tls_tcp(tls: &TlsStream) -> &TcpStream {
        tls.get_ref()
    }

    #[cfg(not(feature = "tls"))]
    fn tls_tcp(tls: &NoSocket) -> &TcpStream {
        match *tls {}
    }
}

/// The socket under a [`WebSocketStream`](crate::WebSocketStream) that
/// [`connect`](crate::connect) opened, whichever the URL's scheme asked for: the
/// engine's [`ferrosocket_io::MaybeTlsStream`] with the standard library's sockets.
pub type MaybeTlsStream = ferrosocket_io::MaybeTlsStream<Std>;

impl<K> Transport for ferrosocket_io::MaybeTlsStream<K>
where
    K: Sockets<Tcp: Transport, Tls: Transport, Unix: Transport>,
{
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        each!(self, s => s.set_read_timeout(timeout))
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        each!(self, s => s.read_timeout())
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        each!(self, s => s.set_write_timeout(timeout))
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        each!(self, s => s.write_timeout())
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        each!(self, s => s.shutdown_write())
    }
}

#[cfg(feature = "tls")]
impl Transport for TlsStream {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.get_ref().set_read_timeout(timeout)
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.get_ref().read_timeout()
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.get_ref().set_write_timeout(timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.get_ref().write_timeout()
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        // close_notify first, so the peer can tell an end from a cut.
        self.conn.send_close_notify();
        self.flush()?;
        self.get_ref().shutdown(Shutdown::Write)
    }
}

impl Transport for NoSocket {}
