//! The runtime modules: smol and async-std as the engine's
//! [`Runtime`](ferrosocket_io::Runtime) (their TCP, Unix sockets and timer; TLS
//! through futures-rustls), and the entry points with their timer.

#![cfg_attr(
    not(any(feature = "smol", feature = "async-std")),
    allow(unused_macros)
)]

/// Defines, in a runtime module, the runtime's marker type `$marker` as the
/// engine's `Runtime`, its `MaybeTlsStream`, `TIMER`, and the entry points with
/// that timer.
macro_rules! runtime {
    (
        name = $name:literal,
        marker = $marker:ident,
        tcp = $tcp:ty,
        unix = $unix:ty,
        timer = $timer:expr $(,)?
    ) => {
        use std::io;

        use ferrosocket_io::{ClientTls, Runtime, Sockets};
        use ferrosocket_proto::handshake::Url;

        use crate::Timer;

        #[doc = concat!("The ", $name, " timer, for [`WebSocketStream::set_timer`](ferrosocket_io::WebSocketStream::set_timer).")]
        pub const TIMER: Timer = $timer;

        #[doc = concat!($name, ", as the engine's [`Runtime`].")]
        #[derive(Debug, Clone, Copy)]
        pub struct $marker;

        #[doc = concat!("The socket under a stream that [`connect`] opened, with ", $name, "'s sockets.")]
        pub type MaybeTlsStream = ferrosocket_io::MaybeTlsStream<$marker>;

        impl Sockets for $marker {
            type Tcp = $tcp;
            #[cfg(feature = "tls")]
            type Tls = futures_rustls::client::TlsStream<$tcp>;
            #[cfg(not(feature = "tls"))]
            type Tls = ferrosocket_io::NoSocket;
            #[cfg(unix)]
            type Unix = $unix;
            #[cfg(not(unix))]
            type Unix = ferrosocket_io::NoSocket;

            #[cfg(feature = "tls")]
            fn tls_tcp(tls: &Self::Tls) -> &$tcp {
                tls.get_ref().0
            }

            #[cfg(not(feature = "tls"))]
            fn tls_tcp(tls: &ferrosocket_io::NoSocket) -> &$tcp {
                match *tls {}
            }
        }

        impl Runtime for $marker {
            type Timer = Timer;
            type Io = FuturesIo<MaybeTlsStream>;

            fn timer() -> Option<Timer> {
                Some(TIMER)
            }

            async fn connect_tcp(authority: &str) -> io::Result<$tcp> {
                let stream = <$tcp>::connect(authority).await?;
                stream.set_nodelay(true)?;
                Ok(stream)
            }

            #[cfg(unix)]
            async fn connect_unix(path: &str) -> io::Result<Self::Unix> {
                <$unix>::connect(path).await
            }

            #[cfg(not(unix))]
            async fn connect_unix(_: &str) -> io::Result<Self::Unix> {
                Err(io::ErrorKind::Unsupported.into())
            }

            #[cfg(feature = "tls")]
            async fn connect_tls(_: &str, url: &Url, tls: &ClientTls) -> Result<Self::Tls, Error> {
                let name = ferrosocket_io::tls::server_name(url)?;
                let tcp = Self::connect_tcp(&url.authority()).await?;
                let connector = futures_rustls::TlsConnector::from(tls.client_config());
                Ok(connector.connect(name, tcp).await?)
            }

            #[cfg(not(feature = "tls"))]
            async fn connect_tls(text: &str, _: &Url, _: &ClientTls) -> Result<Self::Tls, Error> {
                Err(Error::InvalidUrl(format!(
                    "{text}: TLS needs ferrosocket-futures' `tls` feature (or connect a TLS \
                     stream yourself and use client_async)"
                )))
            }
        }

        crate::handshake::entry_points! {
            timer = Some(TIMER),
            timeouts = concat!("With ", $name, "'s timer: the handshake is bounded by [`StreamConfig::handshake_timeout`] and the stream runs its timers."),
        }

        /// Client: connects to a `ws://`, `wss://` or `ws+unix://` URL with the
        /// default options. See [`connect_with`].
        ///
        /// # Errors
        ///
        /// As [`connect_with`].
        pub async fn connect(url: &str) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
            connect_with(url, ClientOptions::default()).await
        }

        #[doc = concat!("Client: opens the socket the URL asks for with ", $name, "'s types (`ws://`: TCP; `wss://`: TLS with rustls, feature `tls`; `ws+unix://`: a Unix socket) and performs the opening handshake, all bounded by [`StreamConfig::handshake_timeout`](crate::StreamConfig::handshake_timeout).")]
        ///
        /// # Errors
        ///
        /// As [`ferrosocket_io::connect`].
        pub async fn connect_with(
            url: &str,
            options: ClientOptions,
        ) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
            ferrosocket_io::connect::<$marker>(url, options, &ClientTls::default()).await
        }

        /// Client: [`connect_with`] with `config` for `wss://` (a private CA, client
        /// certificates): [`client_config`](crate::client_config) builds one like the
        /// default around other roots. Keep ALPN empty or `http/1.1`.
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
            ferrosocket_io::connect::<$marker>(url, options, &ClientTls::new(config)).await
        }
    };
}

/// smol: the entry points with smol's timer, TCP and Unix sockets.
#[cfg(feature = "smol")]
pub mod smol {
    runtime! {
        name = "smol",
        marker = Smol,
        tcp = ::smol::net::TcpStream,
        unix = ::smol::net::unix::UnixStream,
        timer = Timer::new(|d| {
            Box::pin(async move {
                ::smol::Timer::after(d).await;
            })
        }),
    }
}

/// async-std: the entry points with async-std's timer, TCP and Unix sockets.
///
/// **async-std is discontinued upstream** (RUSTSEC-2025-0052); smol is its
/// successor: prefer [`crate::smol`]. This module stays for existing async-std
/// applications.
#[cfg(feature = "async-std")]
pub mod async_std {
    runtime! {
        name = "async-std",
        marker = AsyncStd,
        tcp = ::async_std::net::TcpStream,
        unix = ::async_std::os::unix::net::UnixStream,
        timer = Timer::new(|d| Box::pin(::async_std::task::sleep(d))),
    }
}
