//! The I/O glue shared by [`WebSocketStream`](crate::WebSocketStream) and the split
//! halves: poll functions that move bytes between a socket and a [`StreamCore`].
//!
//! Nothing here knows the protocol; it only follows the adapter loop documented on
//! [`StreamCore`]. Every function is a non-blocking `poll_*`: the split halves call
//! them with a `std::sync::Mutex` held for the duration of one poll, never across a
//! `Pending`.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use ferrosocket_proto::stream::{Error, Message, StreamCore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::{Instant, Sleep};

/// A socket and the protocol state that goes with it.
#[derive(Debug)]
pub(crate) struct Conn<S> {
    pub(crate) io: S,
    pub(crate) core: StreamCore,
    /// Bytes were written since the last successful `poll_flush`.
    unflushed: bool,
    /// `poll_shutdown` completed (or failed): the write side is over.
    shut_down: bool,
}

/// What the reading side remembers between polls.
#[derive(Debug, Default)]
pub(crate) struct ReadState {
    /// The stream ended (close delivered, error, or timeout): only `None` follows.
    pub(crate) done: bool,
    /// `None` was returned.
    pub(crate) ended: bool,
    /// Bounds the wait for the peer's close (and for the last flush), started when
    /// we sent our close.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl ReadState {
    /// Starts the close deadline if `timeout` is set and it is not running yet.
    fn start_deadline(&mut self, timeout: Option<Duration>) {
        if self.deadline.is_none()
            && let Some(timeout) = timeout
        {
            self.deadline = Some(Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        }
    }

    /// Polls the close deadline (registering the waker): `true` once it expired.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.deadline {
            Some(sleep) => sleep.as_mut().poll(cx).is_ready(),
            None => false,
        }
    }
}

impl<S> Conn<S> {
    pub(crate) fn new(io: S, core: StreamCore) -> Self {
        Self {
            io,
            core,
            unflushed: false,
            shut_down: false,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Writes all queued output, each batch in **one** write call (many messages
    /// queued before a flush go out together), then flushes the socket.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.core.output().is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, self.core.output()))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.core.consume(n);
            self.unflushed = true;
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Waits (writing) until the output is below the write-buffer limit.
    pub(crate) fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while self.core.write_buffer_full() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, self.core.output()))?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(io::ErrorKind::WriteZero.into())));
            }
            self.core.consume(n);
            self.unflushed = true;
        }
        Poll::Ready(Ok(()))
    }

    /// Shuts the write side of the socket down, once.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shut_down {
            return Poll::Ready(Ok(()));
        }
        let result = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
        self.shut_down = true;
        Poll::Ready(result)
    }

    /// Writes the output, then shuts down if the closing handshake is over.
    pub(crate) fn poll_flush_and_maybe_shutdown(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx))?;
        if self.core.is_closed() {
            ready!(self.poll_shutdown(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// The end of the stream: the last output (close echo, error close) is written
    /// and the socket shut down, bounded by the close timeout; errors are moot now.
    fn poll_finish(
        &mut self,
        rs: &mut ReadState,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Poll<()> {
        let written = with_write_cx(cx, write_waker, |wcx| {
            match ready!(self.poll_write_out(wcx)) {
                Ok(()) => self.poll_shutdown(wcx).map(|_| ()),
                Err(_) => Poll::Ready(()),
            }
        });
        if written.is_ready() {
            rs.deadline = None;
            return Poll::Ready(());
        }
        rs.start_deadline(self.core.config().close_timeout);
        if rs.poll_deadline(cx) {
            rs.deadline = None;
            self.shut_down = true; // give up; dropping the socket closes it
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// The next message: the adapter loop of [`StreamCore`].
    ///
    /// Reads only when no message is buffered; protocol replies (pongs, the close
    /// echo) are written before reading (waiting for the socket only while the output
    /// is over the write-buffer limit) and right after the message that caused them.
    /// `write_waker` is the waker for write readiness (the split halves share one);
    /// `None` means `cx`'s.
    ///
    /// Cancel safe: all progress lives in `self` and `rs`.
    pub(crate) fn poll_recv(
        &mut self,
        rs: &mut ReadState,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if rs.done {
                ready!(self.poll_finish(rs, cx, write_waker));
                rs.ended = true;
                return Poll::Ready(None);
            }
            if let Some(result) = self.core.next_message() {
                if !self.core.output().is_empty() {
                    // Best effort: answer now (pong, close echo, error close); what
                    // does not fit goes with the next write.
                    let _ = with_write_cx(cx, write_waker, |wcx| self.poll_write_out(wcx));
                }
                return Poll::Ready(Some(result));
            }
            if self.core.is_finished() {
                rs.done = true;
                continue;
            }
            if self.core.is_closing() {
                rs.start_deadline(self.core.config().close_timeout);
                if rs.deadline.as_ref().is_some_and(|d| d.is_elapsed()) {
                    rs.done = true;
                    return Poll::Ready(Some(Err(Error::Timeout)));
                }
            }
            match with_write_cx(cx, write_waker, |wcx| self.poll_write_out(wcx)) {
                Poll::Ready(Err(e)) => {
                    rs.done = true;
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
                // Replies wait for the socket: stop reading while they pile up.
                Poll::Pending if self.core.write_buffer_full() => return self.pending(rs, cx),
                _ => {}
            }
            let buf = self.core.prepare_read();
            // `read_buf` reads into the spare capacity (not zero-filled); the future
            // holds no state, so polling a fresh one each time is fine.
            match pin!(self.io.read_buf(buf)).poll(cx) {
                Poll::Pending => {
                    self.core.release_idle_buffers();
                    return self.pending(rs, cx);
                }
                Poll::Ready(Ok(0)) => self.core.receive_eof(),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    rs.done = true;
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
            }
        }
    }

    /// Returns `Pending`, unless the close deadline expired.
    fn pending(
        &mut self,
        rs: &mut ReadState,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        if self.core.is_closing() && rs.poll_deadline(cx) {
            rs.done = true;
            return Poll::Ready(Some(Err(Error::Timeout)));
        }
        Poll::Pending
    }
}

/// Runs `f` with a context for write readiness: `write_waker`'s, or `cx` itself.
fn with_write_cx<T>(
    cx: &mut Context<'_>,
    write_waker: Option<&Waker>,
    f: impl FnOnce(&mut Context<'_>) -> T,
) -> T {
    match write_waker {
        Some(waker) => f(&mut Context::from_waker(waker)),
        None => f(cx),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ferrosocket_proto::stream::StreamConfig;
    use ferrosocket_proto::{Connection, Role};
    use tokio::io::{AsyncWriteExt, DuplexStream, ReadBuf};

    use super::*;

    /// A duplex end that counts write calls.
    struct Counting {
        inner: DuplexStream,
        writes: Arc<AtomicUsize>,
    }

    impl AsyncRead for Counting {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Counting {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes.fetch_add(1, Ordering::Relaxed);
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    fn server_conn<S>(io: S) -> Conn<S> {
        Conn::new(
            io,
            StreamCore::new(
                Connection::new(Role::Server, Default::default()),
                StreamConfig::default(),
            ),
        )
    }

    #[tokio::test]
    async fn queued_messages_go_out_in_one_write() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let writes = Arc::new(AtomicUsize::new(0));
        let mut conn = server_conn(Counting {
            inner: a,
            writes: writes.clone(),
        });
        for i in 0..10 {
            conn.core
                .send(Message::text(format!("message {i}")))
                .unwrap();
        }
        std::future::poll_fn(|cx| conn.poll_write_out(cx))
            .await
            .unwrap();
        assert_eq!(writes.load(Ordering::Relaxed), 1);
        let mut got = vec![0; 10 * 11];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..11], b"\x81\x09message 0");
    }

    #[tokio::test]
    async fn read_buffer_is_released_when_idle() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut conn = server_conn(a);
        let mut rs = ReadState::default();
        // A masked text frame "hi" (mask 0).
        b.write_all(b"\x81\x82\0\0\0\0hi").await.unwrap();
        let msg = std::future::poll_fn(|cx| conn.poll_recv(&mut rs, cx, None))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg, Message::text("hi"));
        // The buffer grew for that read...
        assert!(conn.core.read_buf().capacity() > 0);
        // ...and is released once a read finds nothing to do.
        let poll = std::future::poll_fn(|cx| Poll::Ready(conn.poll_recv(&mut rs, cx, None))).await;
        assert!(poll.is_pending());
        assert_eq!(conn.core.read_buf().capacity(), 0);
    }
}
