//! The socket trait families as the driver polls them ([`PollIo`]): tokio's
//! `AsyncRead`/`AsyncWrite` ([`TokioIo`], feature `tokio`) and futures-io's
//! ([`FuturesIo`], feature `futures-io`, for smol and async-std). Only the I/O
//! traits: no runtime is needed here; the bindings add their timer.
//!
//! [`PollIo`]: crate::poll::PollIo

#[cfg(feature = "tokio")]
pub use tokio_io::TokioIo;

#[cfg(feature = "futures-io")]
pub use futures_io_impl::FuturesIo;

#[cfg(feature = "tokio")]
mod tokio_io {
    use core::future::Future;
    use core::pin::{Pin, pin};
    use core::task::{Context, Poll};
    use std::io;

    use bytes::BytesMut;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

    use crate::poll::PollIo;

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
}

#[cfg(feature = "futures-io")]
mod futures_io_impl {
    use core::pin::Pin;
    use core::task::{Context, Poll};
    use std::io;

    use bytes::BytesMut;
    use futures_io::{AsyncRead, AsyncWrite};

    use crate::poll::PollIo;
    use crate::read_into_spare;

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
        /// [`StreamConfig::read_chunk`]: crate::StreamConfig::read_chunk
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
}
