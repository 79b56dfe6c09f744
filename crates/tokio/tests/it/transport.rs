//! `connect` for each URL scheme: `wss://` over rustls (feature `tls`) against a
//! local TLS server with a test CA, and `ws+unix://` over a Unix socket.

use ferrosocket_tokio::{ClientOptions, Message, accept};

use crate::within;

#[cfg(feature = "tls")]
mod tls {
    use std::io;
    use std::sync::Arc;

    use ferrosocket_tokio::rustls;
    use ferrosocket_tokio::tokio_rustls::TlsAcceptor;
    use ferrosocket_tokio::{
        ClientOptions, Error, Message, accept, client_config, connect, connect_tls_with,
    };
    use tokio::net::TcpListener;

    use crate::{test_ca, within};

    fn acceptor() -> TlsAcceptor {
        TlsAcceptor::from(test_ca::server_config())
    }

    fn trusting_test_ca() -> Arc<rustls::ClientConfig> {
        Arc::new(client_config(test_ca::test_roots()))
    }

    /// A TLS echo server on loopback; it serves `connections` clients in turn
    /// and reports, per connection, the ALPN protocol the client offered and
    /// whether the WebSocket handshake went through.
    async fn tls_echo_server(
        connections: usize,
    ) -> (u16, tokio::task::JoinHandle<Vec<Option<Vec<u8>>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = acceptor();
        let server = tokio::spawn(async move {
            let mut alpn = Vec::new();
            for _ in 0..connections {
                let (tcp, _) = listener.accept().await.unwrap();
                let Ok(tls) = acceptor.accept(tcp).await else {
                    alpn.push(None);
                    continue;
                };
                alpn.push(Some(
                    tls.get_ref().1.alpn_protocol().unwrap_or_default().to_vec(),
                ));
                let mut ws = accept(tls).await.unwrap();
                while let Some(Ok(message)) = ws.recv().await {
                    if let m @ (Message::Text(_) | Message::Binary(_)) = message {
                        ws.send(m).await.unwrap();
                    }
                }
            }
            alpn
        });
        (port, server)
    }

    #[tokio::test]
    async fn wss_round_trip_with_a_private_ca() {
        let (port, server) = tls_echo_server(1).await;
        let url = format!("wss://localhost:{port}/echo");
        let (mut ws, response) = within(connect_tls_with(
            &url,
            ClientOptions::new(),
            trusting_test_ca(),
        ))
        .await
        .unwrap();
        assert_eq!(response.status, 101);
        assert!(ws.get_ref().is_secure());
        assert!(ws.get_ref().tcp().is_some());
        // Small and large (the vectored-write path) messages through TLS.
        for size in [0usize, 20, 70_000, 1 << 20] {
            let body: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
            within(ws.send(Message::binary(body.clone())))
                .await
                .unwrap();
            match within(ws.recv()).await {
                Some(Ok(Message::Binary(echo))) => assert_eq!(&echo[..], &body[..], "{size}"),
                other => panic!("{size}: {other:?}"),
            }
        }
        within(ws.send(Message::text("done"))).await.unwrap();
        assert!(matches!(within(ws.recv()).await, Some(Ok(Message::Text(t))) if t == "done"));
        within(ws.close(None)).await.unwrap();
        while within(ws.recv()).await.is_some() {}
        let alpn = within(server).await.unwrap();
        assert_eq!(alpn, [Some(b"http/1.1".to_vec())]);
    }

    #[tokio::test]
    async fn wss_by_ip_address_verifies_the_ip_san() {
        let (port, server) = tls_echo_server(1).await;
        let url = format!("wss://127.0.0.1:{port}/");
        let (mut ws, _) = within(connect_tls_with(
            &url,
            ClientOptions::new(),
            trusting_test_ca(),
        ))
        .await
        .unwrap();
        within(ws.close(None)).await.unwrap();
        while within(ws.recv()).await.is_some() {}
        assert_eq!(within(server).await.unwrap().len(), 1);
    }

    /// The default configuration trusts only the Mozilla roots: the test CA's
    /// certificate is refused, as an I/O error of kind `InvalidData`, before any
    /// HTTP is sent.
    #[tokio::test]
    async fn wss_refuses_an_untrusted_certificate() {
        let (port, server) = tls_echo_server(1).await;
        let url = format!("wss://localhost:{port}/echo");
        match within(connect(&url)).await {
            Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}"),
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert_eq!(within(server).await.unwrap(), [None]);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn ws_unix_connects_to_the_socket_path_and_sends_the_resource() {
    let dir = std::env::temp_dir().join(format!("ferrosocket-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ws.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut ws = accept(socket).await.unwrap();
        let target = ws.request().unwrap().target().to_owned();
        while let Some(Ok(message)) = ws.recv().await {
            if let m @ Message::Text(_) = message {
                ws.send(m).await.unwrap();
            }
        }
        target
    });
    let url = format!("ws+unix://{}:/chat?room=1", path.display());
    let (mut ws, _) = within(ferrosocket_tokio::connect_with(&url, ClientOptions::new()))
        .await
        .unwrap();
    assert!(!ws.get_ref().is_secure());
    assert!(ws.get_ref().tcp().is_none());
    within(ws.send(Message::text("over a unix socket")))
        .await
        .unwrap();
    assert!(
        matches!(within(ws.recv()).await, Some(Ok(Message::Text(t))) if t == "over a unix socket")
    );
    within(ws.close(None)).await.unwrap();
    while within(ws.recv()).await.is_some() {}
    assert_eq!(within(server).await.unwrap(), "/chat?room=1");
    let _ = std::fs::remove_dir_all(&dir);
}
