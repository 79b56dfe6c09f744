//! The runtime modules: the handshake functions with the runtime's timer and TCP.

#![cfg_attr(
    not(any(feature = "smol", feature = "async-std")),
    allow(unused_macros)
)]

/// Defines, in a runtime module, the handshake functions with that runtime's
/// timer (`TIMER`) and `connect` over its `TcpStream`.
macro_rules! runtime_functions {
    (
        name = $name:literal,
        tcp = $tcp:ty,
        connect = $connect:expr,
        unix = $unix:ty,
        timer = $timer:expr $(,)?
    ) => {
        /// The runtime's Unix stream (none where there are no Unix sockets).
        #[cfg(unix)]
        type Unix = $unix;
        #[cfg(not(unix))]
        type Unix = crate::transport::NoUnix;

        #[cfg(unix)]
        async fn unix_connect(path: String) -> std::io::Result<Unix> {
            Unix::connect(path).await
        }
        #[cfg(not(unix))]
        async fn unix_connect(_: String) -> std::io::Result<Unix> {
            Err(std::io::ErrorKind::Unsupported.into())
        }

        use futures_io::{AsyncRead, AsyncWrite};

        use crate::handshake::{accept_inner, client_inner, connect_inner};
        use crate::transport::Tls;
        use crate::{
            Accept, ClientOptions, Decision, Error, Request, Response, StreamConfig, Timer,
            WebSocketStream,
        };

        #[doc = concat!("The ", $name, " timer, for [`WebSocketStream::set_timer`].")]
        pub const TIMER: Timer = $timer;

        /// Server: accepts any valid WebSocket request on `stream` (default
        /// [`StreamConfig`]); the handshake is bounded by
        /// [`StreamConfig::handshake_timeout`], the close by
        /// [`StreamConfig::close_timeout`].
        ///
        /// # Errors
        ///
        /// As [`crate::accept_with_config`], and [`Error::Timeout`].
        pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
        {
            accept_inner(
                stream,
                StreamConfig::default(),
                async |_: &Request| Accept::new(),
                Some(TIMER),
            )
            .await
        }

        /// Server: [`accept`] with a callback deciding the answer (see
        /// [`crate::accept_with`]); timeouts as [`accept`] (the callback's time
        /// counts).
        ///
        /// # Errors
        ///
        /// As [`crate::accept_with_config`], and [`Error::Timeout`].
        pub async fn accept_with<S, F, D>(
            stream: S,
            callback: F,
        ) -> Result<WebSocketStream<S>, Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
            F: AsyncFnOnce(&Request) -> D,
            D: Into<Decision>,
        {
            accept_inner(stream, StreamConfig::default(), callback, Some(TIMER)).await
        }

        /// Server: [`accept_with`] with a configuration, whose timeouts are applied.
        ///
        /// # Errors
        ///
        /// As [`crate::accept_with_config`], and [`Error::Timeout`].
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
            accept_inner(stream, config, callback, Some(TIMER)).await
        }

        /// Client: the handshake for `url` over a connected `stream` (e.g. TLS for
        /// `wss://`), default options, with the timeouts applied.
        ///
        /// # Errors
        ///
        /// As [`crate::client_async_with`], and [`Error::Timeout`].
        pub async fn client_async<S>(
            url: &str,
            stream: S,
        ) -> Result<(WebSocketStream<S>, Response), Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
        {
            client_inner(url, stream, ClientOptions::default(), Some(TIMER)).await
        }

        /// Client: [`client_async`] with options, whose timeouts are applied.
        ///
        /// # Errors
        ///
        /// As [`crate::client_async_with`], and [`Error::Timeout`].
        pub async fn client_async_with<S>(
            url: &str,
            stream: S,
            options: ClientOptions,
        ) -> Result<(WebSocketStream<S>, Response), Error>
        where
            S: AsyncRead + AsyncWrite + Unpin,
        {
            client_inner(url, stream, options, Some(TIMER)).await
        }

        #[doc = concat!("The socket under a stream that [`connect`] opened: ", $name, "'s TCP,")]
        /// TLS over it, or its Unix stream.
        pub type MaybeTlsStream = crate::MaybeTlsStream<$tcp, Unix>;

        /// Client: connects to a `ws://`, `wss://` or `ws+unix://` URL with the
        /// default options. See [`connect_with`].
        ///
        /// # Errors
        ///
        /// As [`connect_with`].
        pub async fn connect(
            url: &str,
        ) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
            connect_with(url, ClientOptions::default()).await
        }

        #[doc = concat!("Client: opens the socket the URL asks for with ", $name, "'s types and")]
        /// performs the opening handshake; connecting, TLS and the handshake together
        /// are bounded by [`StreamConfig::handshake_timeout`].
        ///
        /// * `ws://`: TCP, `TCP_NODELAY` on.
        /// * `wss://`: TLS over TCP with rustls (feature `tls`), the certificate
        ///   checked against the Mozilla roots; `connect_tls_with` for others.
        /// * `ws+unix:///path/to/socket[:/resource]`: a Unix domain socket.
        ///
        /// # Errors
        ///
        /// [`Error::InvalidUrl`] (also for `wss://` without the `tls` feature),
        /// [`Error::Io`] (connect or TLS failed; an unverified certificate is an
        /// `InvalidData` I/O error), [`Error::Timeout`], and those of
        /// [`crate::client_async_with`].
        pub async fn connect_with(
            url: &str,
            options: ClientOptions,
        ) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
            connect_inner(url, options, TIMER, &Tls::Default, $connect, unix_connect).await
        }

        /// Client: [`connect_with`] with `config` for `wss://` (a private CA,
        /// client certificates): [`client_config`](crate::client_config) builds one
        /// like the default around other roots. Keep ALPN empty or `http/1.1`.
        ///
        /// # Errors
        ///
        /// As [`connect_with`].
        #[cfg(feature = "tls")]
        pub async fn connect_tls_with(
            url: &str,
            options: ClientOptions,
            config: std::sync::Arc<crate::rustls::ClientConfig>,
        ) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
            let tls = Tls::Config(config);
            connect_inner(url, options, TIMER, &tls, $connect, unix_connect).await
        }
    };
}

/// smol: the handshake functions with smol's timer and TCP.
///
/// The same functions as the crate root, with [`StreamConfig`](crate::StreamConfig)'s
/// timeouts applied (smol's `Timer`), plus [`connect`](crate::smol::connect)
/// over `smol::net::TcpStream`.
#[cfg(feature = "smol")]
pub mod smol {
    runtime_functions! {
        name = "smol",
        tcp = ::smol::net::TcpStream,
        connect = |authority: String| async move {
            let stream = ::smol::net::TcpStream::connect(authority).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        },
        unix = ::smol::net::unix::UnixStream,
        timer = Timer::new(|d| {
            Box::pin(async move {
                ::smol::Timer::after(d).await;
            })
        }),
    }
}

/// async-std: the handshake functions with async-std's timer and TCP.
///
/// **async-std is discontinued upstream** (RUSTSEC-2025-0052); smol is its
/// successor: prefer [`crate::smol`]. This module stays for existing async-std
/// applications.
///
/// The same functions as the crate root, with [`StreamConfig`](crate::StreamConfig)'s
/// timeouts applied (`async_std::task::sleep`), plus
/// [`connect`](crate::async_std::connect) over `async_std::net::TcpStream`.
#[cfg(feature = "async-std")]
pub mod async_std {
    runtime_functions! {
        name = "async-std",
        tcp = ::async_std::net::TcpStream,
        connect = |authority: String| async move {
            let stream = ::async_std::net::TcpStream::connect(authority).await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        },
        unix = ::async_std::os::unix::net::UnixStream,
        timer = Timer::new(|d| Box::pin(::async_std::task::sleep(d))),
    }
}
