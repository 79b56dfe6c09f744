//! Integration tests over loopback TCP.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use ferrosocket_blocking::{
    Accept, ClientOptions, CloseCode, CloseFrame, Decision, Error, Message, OpCode, Reject,
    StreamConfig, Timer, WebSocketStream, accept, accept_with, accept_with_config, connect,
    connect_with,
};

mod behaviour;
mod split;
#[cfg(feature = "tls")]
#[path = "../../../tokio/tests/certs/test_ca.rs"]
mod test_ca;
mod timers;
mod transport;

#[cfg(feature = "tls")]
use ferrosocket_blocking::rustls;

type ServerResult = thread::JoinHandle<Result<(), Error>>;

/// A server running `f` on the first accepted socket; the URL to reach it.
fn serve<F>(f: F) -> (String, ServerResult)
where
    F: FnOnce(TcpStream) -> Result<(), Error> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/chat?x=1", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (socket, _) = listener.accept()?;
        f(socket)
    });
    (url, handle)
}

fn echo(socket: TcpStream) -> Result<(), Error> {
    let mut ws = accept(socket)?;
    while let Some(message) = ws.recv() {
        match message? {
            m if m.is_data() => ws.send(m)?,
            _ => {}
        }
    }
    Ok(())
}

#[test]
fn echo_text_binary_large() {
    let (url, server) = serve(echo);
    let (mut ws, response) = connect(&url).unwrap();
    assert_eq!(response.subprotocol, None);
    ws.send(Message::text("héllo")).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("héllo"));
    ws.send(Message::binary(vec![0, 1, 2, 255])).unwrap();
    assert_eq!(
        ws.recv().unwrap().unwrap(),
        Message::binary(vec![0, 1, 2, 255])
    );
    let large: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(large.clone())).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::binary(large));
    // Pings are answered by the peer's stream itself.
    ws.send(Message::Ping("p".into())).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::Pong("p".into()));
    ws.close(None).unwrap();
    assert!(ws.recv().is_none());
    server.join().unwrap().unwrap();
}

#[test]
fn queue_flush_fragments_and_iterator() {
    let (url, server) = serve(|socket| {
        let mut ws = accept(socket)?;
        let got: Vec<Message> = (&mut ws).collect::<Result<_, _>>()?;
        assert_eq!(
            got,
            [
                Message::text("a"),
                Message::text("b"),
                Message::text("κόσμε"),
                Message::binary(Vec::new()),
                Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye").unwrap())),
            ]
        );
        Ok(())
    });
    let (mut ws, _) = connect(&url).unwrap();
    ws.feed(Message::text("a")).unwrap();
    ws.feed(Message::text("b")).unwrap();
    ws.flush().unwrap();
    // "κόσμε" split inside a code point.
    let text = "κόσμε".as_bytes();
    ws.send_fragments(OpCode::Text, [&text[..1], &text[1..5], &text[5..]])
        .unwrap();
    ws.send_fragments(OpCode::Binary, std::iter::empty::<&[u8]>())
        .unwrap();
    ws.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye").unwrap()))
        .unwrap();
    server.join().unwrap().unwrap();
}

#[test]
fn accept_with_subprotocol_and_request() {
    let (url, server) = serve(|socket| {
        let mut ws = accept_with(socket, |request| {
            assert_eq!(request.headers().get_str("x-token"), Some("t"));
            Decision::Accept(Accept::new().subprotocol("v2"))
        })?;
        let request = ws.request().unwrap();
        assert_eq!((request.path(), request.query()), ("/chat", Some("x=1")));
        ws.send(Message::text("hi"))?;
        assert!(matches!(ws.recv(), Some(Ok(Message::Close(_)))));
        Ok(())
    });
    let options = ClientOptions::new()
        .subprotocol("v1")
        .subprotocol("v2")
        .header("X-Token", "t");
    let (mut ws, response) = connect_with(&url, options).unwrap();
    assert_eq!(response.subprotocol.as_deref(), Some("v2"));
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("hi"));
    ws.close(None).unwrap();
    server.join().unwrap().unwrap();
}

#[test]
fn reject_403_with_body() {
    let (url, server) = serve(|socket| {
        match accept_with(socket, |_| {
            Decision::Reject(Reject::new(403).body("go away"))
        }) {
            Err(Error::Rejected { status: 403, .. }) => Ok(()),
            other => panic!("{other:?}"),
        }
    });
    match connect(&url) {
        Err(Error::Rejected { status, body }) => {
            assert_eq!(status, 403);
            assert_eq!(&body[..], b"go away");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    server.join().unwrap().unwrap();
}

#[test]
fn bad_request_gets_400() {
    let (url, server) = serve(|socket| match accept(socket) {
        Err(Error::Handshake(e)) => {
            assert_eq!(e.http_status(), 400);
            Ok(())
        }
        other => panic!("{:?}", other.map(|_| ())),
    });
    let addr = url.trim_start_matches("ws://").split('/').next().unwrap();
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 400"), "{answer:?}");
    server.join().unwrap().unwrap();
}

#[test]
fn server_closes() {
    let (url, server) = serve(|socket| {
        let mut ws = accept(socket)?;
        ws.close(Some(CloseFrame::new(CloseCode::NORMAL, "done").unwrap()))?;
        // Sending after close is a local error.
        assert!(matches!(
            ws.send(Message::text("late")),
            Err(Error::Local(_))
        ));
        Ok(())
    });
    let (mut ws, _) = connect(&url).unwrap();
    match ws.recv() {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!((frame.code(), frame.reason()), (CloseCode::NORMAL, "done"));
        }
        other => panic!("{other:?}"),
    }
    assert!(ws.recv().is_none());
    // The server shut its side: EOF.
    assert_eq!(ws.get_mut().read(&mut [0; 8]).unwrap(), 0);
    server.join().unwrap().unwrap();
}

#[test]
fn peer_vanishing_is_unexpected_eof() {
    let (url, server) = serve(|socket| {
        let mut ws = accept(socket)?;
        match ws.recv() {
            Some(Err(Error::Io(e))) => assert_eq!(e.kind(), ErrorKind::UnexpectedEof),
            other => panic!("{other:?}"),
        }
        assert!(ws.recv().is_none());
        Ok(())
    });
    let (ws, _) = connect(&url).unwrap();
    drop(ws.into_inner());
    server.join().unwrap().unwrap();
}

#[test]
fn protocol_error_sends_1002() {
    let (url, server) = serve(|socket| {
        let mut ws = accept(socket)?;
        match ws.recv() {
            Some(Err(Error::Protocol(e))) => assert_eq!(e.close_code(), CloseCode::PROTOCOL_ERROR),
            other => panic!("{other:?}"),
        }
        Ok(())
    });
    let (ws, _) = connect(&url).unwrap();
    let mut raw = ws.into_inner();
    raw.write_all(b"\x81\x00").unwrap(); // unmasked, from a client
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"\x88\x02\x03\xea");
    server.join().unwrap().unwrap();
}

#[test]
fn trickling_handshake_times_out() {
    let config = StreamConfig::default().handshake_timeout(Some(Duration::from_millis(300)));
    let (url, server) = serve(move |socket| {
        let start = Instant::now();
        let result = accept_with_config(socket, config, |_| Decision::Accept(Accept::new()));
        assert!(
            matches!(result, Err(Error::Timeout(Timer::Handshake))),
            "{:?}",
            result.map(|_| ())
        );
        assert!(start.elapsed() < Duration::from_secs(2));
        Ok(())
    });
    let addr = url.trim_start_matches("ws://").split('/').next().unwrap();
    let mut raw = TcpStream::connect(addr).unwrap();
    // One byte every 50 ms: every read succeeds, only a deadline stops it.
    for b in b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if raw.write_all(&[*b]).is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    server.join().unwrap().unwrap();
}

#[test]
fn close_times_out_on_silent_peer() {
    let (url, server) = serve(|socket| {
        let config = StreamConfig::default().close_timeout(Some(Duration::from_millis(200)));
        let mut ws = accept_with_config(socket, config, |_| Decision::Accept(Accept::new()))?;
        let start = Instant::now();
        assert!(matches!(ws.close(None), Err(Error::Timeout(Timer::Close))));
        assert!(start.elapsed() < Duration::from_secs(2));
        Ok(())
    });
    let (ws, _) = connect(&url).unwrap();
    let raw = ws.into_inner(); // never answers the close
    server.join().unwrap().unwrap();
    drop(raw);
}

#[test]
fn small_write_buffer_and_read_timeout() {
    let (url, server) = serve(|socket| {
        let mut ws = accept(socket)?;
        let mut n = 0;
        while let Some(m) = ws.recv() {
            if m?.is_data() {
                n += 1;
            }
        }
        assert_eq!(n, 200);
        Ok(())
    });
    let options = ClientOptions::new().config(StreamConfig::default().write_buffer_limit(1024));
    let (mut ws, _) = connect_with(&url, options).unwrap();
    for _ in 0..200 {
        ws.feed(Message::binary(vec![7; 300])).unwrap();
    }
    ws.flush().unwrap();
    // Nothing comes back: a read timeout is an error that leaves the stream usable.
    ws.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    match ws.recv() {
        Some(Err(Error::Io(e))) => {
            assert!(matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut
            ));
        }
        other => panic!("{other:?}"),
    }
    ws.close(None).unwrap();
    server.join().unwrap().unwrap();
}

#[test]
fn invalid_urls() {
    assert!(matches!(connect("http://x/"), Err(Error::InvalidUrl(_))));
    assert!(matches!(connect("ws+unix://"), Err(Error::InvalidUrl(_))));
    if !cfg!(feature = "tls") {
        assert!(matches!(connect("wss://x/"), Err(Error::InvalidUrl(_))));
    }
}

#[test]
fn generic_stream_without_timeouts() {
    let (url, server) = serve(echo);
    let addr = url.trim_start_matches("ws://").split('/').next().unwrap();
    let raw = TcpStream::connect(addr).unwrap();
    let (mut ws, _): (WebSocketStream<_>, _) =
        ferrosocket_blocking::client(&url, ferrosocket_blocking::NoTimeouts(raw)).unwrap();
    ws.send(Message::text("x")).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("x"));
    ws.close(None).unwrap();
    server.join().unwrap().unwrap();
}
