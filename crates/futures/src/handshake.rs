//! The opening handshake over a futures-io socket: the engine's entry points
//! ([`ferrosocket_io::accept`], [`ferrosocket_io::client`]) with this crate's socket
//! glue, at the crate root without a timer and in the runtime modules with theirs.

/// Defines `accept`, `accept_with`, `accept_with_config`, `client_async` and
/// `client_async_with` in the calling module, each one call of the engine with
/// [`FuturesIo`](crate::FuturesIo) and the timer `$timer` (an
/// `Option<crate::Timer>`); `$timeouts` documents what that means.
macro_rules! entry_points {
    (timer = $timer:expr, timeouts = $timeouts:expr $(,)?) => {
        use futures_io::{AsyncRead, AsyncWrite};

        use crate::{
            Accept, ClientOptions, Decision, Error, FuturesIo, Request, Response, StreamConfig,
            WebSocketStream,
        };

        #[doc = concat!("Server: accepts any valid WebSocket request on `stream` (default [`StreamConfig`]). ", $timeouts)]
        ///
        /// # Errors
        ///
        /// As [`ferrosocket_io::accept`].
        pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
        {
            accept_with_config(stream, StreamConfig::default(), async |_: &Request| {
                Accept::new()
            })
            .await
        }

        #[doc = concat!("Server: reads the request, asks `callback` what to answer (it may be async and refuse: see [`Decision`]), answers (default [`StreamConfig`]). ", $timeouts)]
        ///
        /// # Errors
        ///
        /// As [`ferrosocket_io::accept`].
        pub async fn accept_with<S, F, D>(stream: S, callback: F) -> Result<WebSocketStream<S>, Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
            F: AsyncFnOnce(&Request) -> D,
            D: Into<Decision>,
        {
            accept_with_config(stream, StreamConfig::default(), callback).await
        }

        #[doc = concat!("Server: [`accept_with`] with `config`. ", $timeouts)]
        ///
        /// # Errors
        ///
        /// As [`ferrosocket_io::accept`].
        pub async fn accept_with_config<S, F, D>(
            stream: S,
            config: StreamConfig,
            callback: F,
        ) -> Result<WebSocketStream<S>, Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
            F: AsyncFnOnce(&Request) -> D,
            D: Into<Decision>,
        {
            ferrosocket_io::accept(FuturesIo(stream), config, callback, $timer).await
        }

        #[doc = concat!("Client: the handshake for `url` over a connected `stream` (e.g. TLS for `wss://`), default options. ", $timeouts)]
        ///
        /// # Errors
        ///
        /// As [`ferrosocket_io::client`].
        pub async fn client_async<S>(url: &str, stream: S) -> Result<(WebSocketStream<S>, Response), Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
        {
            client_async_with(url, stream, ClientOptions::default()).await
        }

        #[doc = concat!("Client: [`client_async`] with `options`. ", $timeouts)]
        ///
        /// # Errors
        ///
        /// As [`ferrosocket_io::client`].
        pub async fn client_async_with<S>(
            url: &str,
            stream: S,
            options: ClientOptions,
        ) -> Result<(WebSocketStream<S>, Response), Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
        {
            ferrosocket_io::client(url, FuturesIo(stream), options, $timer).await
        }
    };
}

#[cfg_attr(
    not(any(feature = "smol", feature = "async-std")),
    allow(unused_imports)
)]
pub(crate) use entry_points;

mod root {
    entry_points! {
        timer = None,
        timeouts = "Runtime-neutral: **no timers** (no handshake timeout, no keepalive; there is no timer here): the `smol` and `async_std` modules have the same function with them.",
    }
}

pub use root::{accept, accept_with, accept_with_config, client_async, client_async_with};
