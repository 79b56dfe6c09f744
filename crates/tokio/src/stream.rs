//! [`WebSocketStream`] and its halves [`ReadHalf`] / [`WriteHalf`]: messages over
//! any `AsyncRead + AsyncWrite`, the shared driver of
//! [`ferrosocket_io::poll`] over [`TokioIo`].

use crate::TokioTimer;
use ferrosocket_io::TokioIo;

/// A WebSocket connection over a tokio socket `S`, after the opening handshake: the
/// engine's [`ferrosocket_io::WebSocketStream`] (see there for every method) with
/// tokio's socket glue and timer.
pub type WebSocketStream<S> = ferrosocket_io::WebSocketStream<TokioIo<S>, TokioTimer>;

/// The reading half of a split [`WebSocketStream`] ([`ferrosocket_io::ReadHalf`]).
pub type ReadHalf<S> = ferrosocket_io::ReadHalf<TokioIo<S>, TokioTimer>;

/// The writing half of a split [`WebSocketStream`] ([`ferrosocket_io::WriteHalf`]).
pub type WriteHalf<S> = ferrosocket_io::WriteHalf<TokioIo<S>, TokioTimer>;

/// Halves of different streams given to `reunite` ([`ferrosocket_io::ReuniteError`]).
pub type ReuniteError<S> = ferrosocket_io::ReuniteError<TokioIo<S>, TokioTimer>;

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadBuf};

    use std::pin::Pin;
    use std::task::{Context, Poll};

    use ferrosocket_io::{Message, StreamConfig};
    use ferrosocket_proto::Role;
    use futures_core::Stream;
    use tokio::io::{AsyncRead, AsyncWrite};

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

    #[tokio::test]
    async fn queued_messages_go_out_in_one_write() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let writes = Arc::new(AtomicUsize::new(0));
        let io = Counting {
            inner: a,
            writes: writes.clone(),
        };
        let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, StreamConfig::default());
        for i in 0..10 {
            ws.feed(Message::text(format!("message {i}")))
                .await
                .unwrap();
        }
        ws.flush().await.unwrap();
        assert_eq!(writes.load(Ordering::Relaxed), 1);
        let mut got = vec![0; 10 * 11];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..11], b"\x81\x09message 0");
    }

    #[tokio::test]
    async fn read_buffer_is_released_when_idle() {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut ws = WebSocketStream::from_raw_socket(a, Role::Server, StreamConfig::default());
        // A masked text frame "hi" (mask 0).
        b.write_all(b"\x81\x82\0\0\0\0hi").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
        // The buffer grew for that read...
        assert!(ws.read_buffer_capacity() > 0);
        // ...and is released once a read finds nothing to do.
        let poll = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut ws).poll_next(cx))).await;
        assert!(poll.is_pending());
        assert_eq!(ws.read_buffer_capacity(), 0);
    }
}
