//! [`WebSocketStream`] and its halves [`ReadHalf`] / [`WriteHalf`]: messages over
//! any `AsyncRead + AsyncWrite`, the shared driver of
//! [`ferrosocket_io::poll`] over [`FuturesIo`].

use futures_io::{AsyncRead, AsyncWrite};

use crate::Timer;
use crate::io::FuturesIo;

ferrosocket_io::__poll_adapter_types! {
    io = FuturesIo,
    timer = Timer,
    raw_timer = None,
    bounds = { AsyncRead + AsyncWrite + Unpin },
    connect_docs = {
        /// (server), `connect` (in the runtime modules) / [`client_async`](crate::client_async)
    },
    close_docs = {
        /// [`StreamConfig::close_timeout`] when the stream has a [`Timer`] (streams from
        /// the runtime modules do; see [`set_timer`](Self::set_timer)): [`Error::Timeout`]
        /// if the peer does not answer
    },
    split_docs = {
        /// (The socket is not split with `futures_util::io::split`: reads go straight into
        /// the core's buffer, which needs the core's lock anyway.)
    },
    timer_docs = {
        /// (when the stream has a [`Timer`](crate::Timer))
    },
}

impl<S> WebSocketStream<S> {
    /// Sets the timer that bounds the closing handshake
    /// ([`StreamConfig::close_timeout`]); the runtime modules' functions set theirs,
    /// the runtime-neutral ones none (then the close waits for the peer unbounded).
    pub fn set_timer(&mut self, timer: Option<Timer>) {
        self.inner.set_timer(timer);
    }
}
