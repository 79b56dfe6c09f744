//! `connect` for each URL scheme: `wss://` over rustls (feature `tls`) against a
//! TLS server on a thread, with the tokio adapter's test CA, and `ws+unix://`.

use std::thread;

use ferrosocket_blocking::{ClientOptions, Message, accept, connect_with};

#[cfg(feature = "tls")]
mod tls {
    use std::io;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::thread;

    use ferrosocket_blocking::rustls::{self, ServerConnection};
    use ferrosocket_blocking::{
        ClientOptions, Error, Message, NoTimeouts, accept, client_config, connect, connect_tls_with,
    };

    use crate::test_ca;

    /// One TLS connection, echoed; the result says whether TLS and the WebSocket
    /// handshake went through, and which ALPN protocol was agreed.
    fn tls_echo_server() -> (u16, thread::JoinHandle<Result<Vec<u8>, String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
            let session = ServerConnection::new(test_ca::server_config()).unwrap();
            let mut tls = rustls::StreamOwned::new(session, tcp);
            // Finish the TLS handshake before the WebSocket one, to report it.
            while tls.conn.is_handshaking() {
                tls.conn
                    .complete_io(&mut tls.sock)
                    .map_err(|e| e.to_string())?;
            }
            let alpn = tls.conn.alpn_protocol().unwrap_or_default().to_vec();
            let mut ws = accept(NoTimeouts(tls)).map_err(|e| e.to_string())?;
            while let Some(Ok(message)) = ws.recv() {
                if message.is_data() {
                    ws.send(message).map_err(|e| e.to_string())?;
                }
            }
            Ok(alpn)
        });
        (port, handle)
    }

    fn trusting_test_ca() -> Arc<rustls::ClientConfig> {
        Arc::new(client_config(test_ca::test_roots()))
    }

    #[test]
    fn wss_round_trip_with_a_private_ca() {
        let (port, server) = tls_echo_server();
        let url = format!("wss://localhost:{port}/echo");
        let (mut ws, response) =
            connect_tls_with(&url, ClientOptions::new(), trusting_test_ca()).unwrap();
        assert_eq!(response.status, 101);
        assert!(ws.get_ref().is_secure());
        for size in [0usize, 20, 70_000, 1 << 20] {
            let body: Vec<u8> = (0..size).map(|i| (i * 7) as u8).collect();
            ws.send(Message::binary(body.clone())).unwrap();
            match ws.recv() {
                Some(Ok(Message::Binary(echo))) => assert_eq!(&echo[..], &body[..], "{size}"),
                other => panic!("{size}: {other:?}"),
            }
        }
        ws.close(None).unwrap();
        while ws.recv().is_some() {}
        assert_eq!(server.join().unwrap().unwrap(), b"http/1.1");
    }

    #[test]
    fn wss_cannot_be_split_and_the_stream_comes_back() {
        let (port, server) = tls_echo_server();
        let url = format!("wss://localhost:{port}/echo");
        let (ws, _) = connect_tls_with(&url, ClientOptions::new(), trusting_test_ca()).unwrap();
        let refused = ws.split().unwrap_err();
        assert_eq!(refused.error().kind(), io::ErrorKind::Unsupported);
        let mut ws = refused.into_stream();
        ws.send(Message::text("still whole")).unwrap();
        assert!(matches!(ws.recv(), Some(Ok(Message::Text(t))) if t == "still whole"));
        ws.close(None).unwrap();
        assert_eq!(server.join().unwrap().unwrap(), b"http/1.1");
    }

    #[test]
    fn wss_refuses_an_untrusted_certificate() {
        let (port, server) = tls_echo_server();
        match connect(&format!("wss://localhost:{port}/")) {
            Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}"),
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert!(server.join().unwrap().is_err());
    }
}

#[cfg(unix)]
#[test]
fn ws_unix_connects_to_the_socket_path_and_sends_the_resource() {
    use std::os::unix::net::UnixListener;

    let dir = std::env::temp_dir().join(format!("ferrosocket-blocking-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ws.sock");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let server = thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        let mut ws = accept(socket).unwrap();
        let target = ws.request().unwrap().target().to_owned();
        while let Some(Ok(message)) = ws.recv() {
            if message.is_data() {
                ws.send(message).unwrap();
            }
        }
        target
    });
    let url = format!("ws+unix://{}:/chat?room=1", path.display());
    let (mut ws, _) = connect_with(&url, ClientOptions::new()).unwrap();
    assert!(!ws.get_ref().is_secure());
    assert!(ws.get_ref().tcp().is_none());
    ws.send(Message::text("over a unix socket")).unwrap();
    assert!(matches!(ws.recv(), Some(Ok(Message::Text(t))) if t == "over a unix socket"));
    // A Unix socket splits like TCP: a second handle on the same socket.
    let (mut reader, mut writer) = ws.split().unwrap();
    writer.send(Message::text("split")).unwrap();
    assert!(matches!(reader.recv(), Some(Ok(Message::Text(t))) if t == "split"));
    let mut ws = reader.reunite(writer).unwrap();
    ws.close(None).unwrap();
    while ws.recv().is_some() {}
    assert_eq!(server.join().unwrap(), "/chat?room=1");
    let _ = std::fs::remove_dir_all(&dir);
}
