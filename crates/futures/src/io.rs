//! The futures-io glue of the shared driver: [`PollIo`] for a futures-io socket.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use ferrosocket_io::poll::PollIo;
use ferrosocket_io::read_into_spare;
use futures_io::{AsyncRead, AsyncWrite};

/// A futures-io socket, as the engine's driver polls it (the `IO` of
/// [`WebSocketStream`](crate::WebSocketStream)).
#[derive(Debug)]
pub struct FuturesIo<S>(pub S);

impl<S: AsyncRead + AsyncWrite + Unpin> PollIo for FuturesIo<S> {
    type Socket = S;

    fn from_socket(socket: S) -> Self {
        Self(socket)
    }

    fn socket(&self) -> &S {
        &self.0
    }

    fn socket_mut(&mut self) -> &mut S {
        &mut self.0
    }

    fn into_socket(self) -> S {
        self.0
    }

    /// `AsyncRead::poll_read` needs an initialized slice: at most `chunk`
    /// ([`StreamConfig::read_chunk`], 8 KiB by default) bytes are zeroed per poll,
    /// never the whole (possibly large) buffer.
    ///
    /// [`StreamConfig::read_chunk`]: ferrosocket_io::StreamConfig::read_chunk
    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        chunk: usize,
    ) -> Poll<io::Result<usize>> {
        read_into_spare(buf, chunk, |spare| {
            Pin::new(&mut self.0).poll_read(cx, spare)
        })
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
