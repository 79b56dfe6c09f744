//! The tokio glue of the shared driver: [`PollIo`] for a tokio socket and
//! [`AsyncTimer`] with tokio's sleep.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use bytes::BytesMut;
use ferrosocket_io::poll::{AsyncTimer, PollIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// A tokio socket, as the engine's driver polls it (the `IO` of
/// [`WebSocketStream`](crate::WebSocketStream)).
#[derive(Debug)]
pub struct TokioIo<S>(pub S);

impl<S: AsyncRead + AsyncWrite + Unpin> PollIo for TokioIo<S> {
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

    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        _chunk: usize,
    ) -> Poll<io::Result<usize>> {
        // `read_buf` reads into the spare capacity (not zero-filled); the future
        // holds no state, so polling a fresh one each time is fine.
        pin!(self.0.read_buf(buf)).poll(cx)
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
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// tokio's timer (needs the time driver: `enable_time`), the `T` of
/// [`WebSocketStream`](crate::WebSocketStream).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl AsyncTimer for TokioTimer {
    type Sleep = Pin<Box<tokio::time::Sleep>>;

    fn ambient() -> Option<Self> {
        Some(Self)
    }

    // tokio's clock, so that tests with a paused clock drive the timers too.
    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Self::Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn reset(&self, sleep: &mut Self::Sleep, deadline: std::time::Instant) {
        sleep.as_mut().reset(deadline.into());
    }
}
