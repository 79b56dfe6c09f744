//! `connect` for each URL scheme on both runtimes: `wss://` over futures-rustls
//! (feature `tls`) against a local TLS server with the tokio adapter's test CA,
//! and `ws+unix://` over each runtime's Unix socket.

#[cfg(feature = "tls")]
pub(crate) use tls::{wss_refuses_an_untrusted_certificate, wss_round_trip_with_a_private_ca};

#[cfg(feature = "tls")]
mod tls {
    use std::io;
    use std::sync::Arc;

    use ferrosocket_futures::futures_rustls::TlsAcceptor;
    use ferrosocket_futures::rustls;
    use ferrosocket_futures::{ClientOptions, Error, Message, accept, client_config};
    use futures_util::future::join;

    use crate::{Rt, test_ca};

    fn acceptor() -> TlsAcceptor {
        TlsAcceptor::from(test_ca::server_config())
    }

    fn trusting_test_ca() -> Arc<rustls::ClientConfig> {
        Arc::new(client_config(test_ca::test_roots()))
    }

    fn wss_url(ws_url: &str) -> String {
        let port = ws_url
            .rsplit_once(':')
            .unwrap()
            .1
            .split('/')
            .next()
            .unwrap();
        format!("wss://localhost:{port}/echo")
    }

    pub(crate) async fn wss_round_trip_with_a_private_ca<R: Rt>() {
        let (listener, url) = R::listen().await;
        let server = async {
            let tcp = R::accept_tcp(&listener).await;
            let tls = acceptor().accept(tcp).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
            let mut ws = accept(tls).await.unwrap();
            while let Some(Ok(message)) = ws.recv().await {
                if message.is_data() {
                    ws.send(message).await.unwrap();
                }
            }
        };
        let client = async {
            let (mut ws, response) =
                R::connect_tls_with(wss_url(&url), ClientOptions::new(), trusting_test_ca())
                    .await
                    .unwrap();
            assert_eq!(response.status, 101);
            assert!(R::is_secure(ws.get_ref()));
            for size in [0usize, 20, 70_000, 1 << 20] {
                let body: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
                ws.send(Message::binary(body.clone())).await.unwrap();
                match ws.recv().await {
                    Some(Ok(Message::Binary(echo))) => assert_eq!(&echo[..], &body[..], "{size}"),
                    other => panic!("{size}: {other:?}"),
                }
            }
            ws.close(None).await.unwrap();
            while ws.recv().await.is_some() {}
        };
        join(server, client).await;
    }

    pub(crate) async fn wss_refuses_an_untrusted_certificate<R: Rt>() {
        let (listener, url) = R::listen().await;
        let server = async {
            let tcp = R::accept_tcp(&listener).await;
            assert!(acceptor().accept(tcp).await.is_err());
        };
        let client = async {
            match R::connect_with(wss_url(&url), ClientOptions::new()).await {
                Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}"),
                other => panic!("{:?}", other.map(|_| ())),
            }
        };
        join(server, client).await;
    }
}

#[cfg(unix)]
mod unix {
    use std::path::PathBuf;

    use ferrosocket_futures::{ClientOptions, Message};

    fn socket_path(runtime: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ferrosocket-futures-{runtime}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ws.sock");
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn smol_ws_unix() {
        let path = socket_path("smol");
        let listener = smol::net::unix::UnixListener::bind(&path).unwrap();
        smol::block_on(async {
            let server = smol::spawn(async move {
                let (socket, _) = listener.accept().await.unwrap();
                let mut ws = ferrosocket_futures::smol::accept(socket).await.unwrap();
                let target = ws.request().unwrap().target().to_owned();
                while let Some(Ok(message)) = ws.recv().await {
                    if message.is_data() {
                        ws.send(message).await.unwrap();
                    }
                }
                target
            });
            let url = format!("ws+unix://{}:/chat?room=1", path.display());
            let (mut ws, _) = ferrosocket_futures::smol::connect_with(&url, ClientOptions::new())
                .await
                .unwrap();
            assert!(ws.get_ref().tcp().is_none());
            ws.send(Message::text("over a unix socket")).await.unwrap();
            assert!(
                matches!(ws.recv().await, Some(Ok(Message::Text(t))) if t == "over a unix socket")
            );
            ws.close(None).await.unwrap();
            while ws.recv().await.is_some() {}
            assert_eq!(server.await, "/chat?room=1");
        });
    }

    #[test]
    fn async_std_ws_unix() {
        let path = socket_path("async-std");
        async_std::task::block_on(async {
            let listener = async_std::os::unix::net::UnixListener::bind(&path)
                .await
                .unwrap();
            let server = async_std::task::spawn(async move {
                let (socket, _) = listener.accept().await.unwrap();
                let mut ws = ferrosocket_futures::async_std::accept(socket)
                    .await
                    .unwrap();
                let target = ws.request().unwrap().target().to_owned();
                while let Some(Ok(message)) = ws.recv().await {
                    if message.is_data() {
                        ws.send(message).await.unwrap();
                    }
                }
                target
            });
            let url = format!("ws+unix://{}:/chat?room=1", path.display());
            let (mut ws, _) =
                ferrosocket_futures::async_std::connect_with(&url, ClientOptions::new())
                    .await
                    .unwrap();
            assert!(!ws.get_ref().is_secure());
            ws.send(Message::text("over a unix socket")).await.unwrap();
            assert!(
                matches!(ws.recv().await, Some(Ok(Message::Text(t))) if t == "over a unix socket")
            );
            ws.close(None).await.unwrap();
            while ws.recv().await.is_some() {}
            assert_eq!(server.await, "/chat?room=1");
        });
    }
}
