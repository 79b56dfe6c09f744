//! Integration tests over loopback TCP: every test body runs on smol and on
//! async-std.

use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use std::time::{Duration, Instant};

use ferrosocket_futures::{
    Accept, ClientOptions, CloseCode, CloseFrame, Decision, Error, Message, OpCode, Reject,
    Request, Response, StreamConfig, WebSocketStream, proto::Timer,
};
use futures_io::{AsyncRead, AsyncWrite};
use futures_util::future::join;
use futures_util::{AsyncReadExt, AsyncWriteExt, SinkExt, StreamExt};

mod behaviour;
#[cfg(feature = "tls")]
#[path = "../../../tokio/tests/certs/test_ca.rs"]
mod test_ca;
mod timers;
mod transport;

#[cfg(feature = "tls")]
use ferrosocket_futures::rustls;

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Connected<T> = Result<(WebSocketStream<T>, Response), Error>;

/// What a test needs from a runtime.
trait Rt: 'static {
    type Tcp: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// What `connect` gives: the runtime's `MaybeTlsStream`.
    type Client: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    type Listener: Send + 'static;
    /// `MaybeTlsStream::is_secure` of the client's socket.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    fn is_secure(client: &Self::Client) -> bool;
    /// A listener on 127.0.0.1:0 and the `ws://` URL to reach it.
    fn listen() -> impl Future<Output = (Self::Listener, String)>;
    fn accept_tcp(listener: &Self::Listener) -> impl Future<Output = Self::Tcp>;
    fn tcp(url: String) -> impl Future<Output = Self::Tcp>;
    fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Boxed<T>;
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;
    fn connect_with(
        url: String,
        options: ClientOptions,
    ) -> impl Future<Output = Connected<Self::Client>>;
    #[cfg(feature = "tls")]
    fn connect_tls_with(
        url: String,
        options: ClientOptions,
        config: std::sync::Arc<ferrosocket_futures::rustls::ClientConfig>,
    ) -> impl Future<Output = Connected<Self::Client>>;
    fn accept(
        tcp: Self::Tcp,
        config: StreamConfig,
        decision: Decision,
    ) -> impl Future<Output = Result<WebSocketStream<Self::Tcp>, Error>> + Send;
}

fn addr(url: &str) -> String {
    url.trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

struct Smol;

impl Rt for Smol {
    type Tcp = smol::net::TcpStream;
    type Client = ferrosocket_futures::smol::MaybeTlsStream;
    fn is_secure(client: &Self::Client) -> bool {
        client.is_secure() && client.tcp().is_some()
    }
    type Listener = smol::net::TcpListener;
    async fn listen() -> (Self::Listener, String) {
        let l = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/chat?x=1", l.local_addr().unwrap());
        (l, url)
    }
    async fn accept_tcp(listener: &Self::Listener) -> Self::Tcp {
        listener.accept().await.unwrap().0
    }
    async fn tcp(url: String) -> Self::Tcp {
        smol::net::TcpStream::connect(addr(&url)).await.unwrap()
    }
    fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Boxed<T> {
        Box::pin(smol::spawn(f))
    }
    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }
    async fn connect_with(url: String, options: ClientOptions) -> Connected<Self::Client> {
        ferrosocket_futures::smol::connect_with(&url, options).await
    }
    #[cfg(feature = "tls")]
    async fn connect_tls_with(
        url: String,
        options: ClientOptions,
        config: std::sync::Arc<ferrosocket_futures::rustls::ClientConfig>,
    ) -> Connected<Self::Client> {
        ferrosocket_futures::smol::connect_tls_with(&url, options, config).await
    }
    fn accept(
        tcp: Self::Tcp,
        config: StreamConfig,
        decision: Decision,
    ) -> impl Future<Output = Result<WebSocketStream<Self::Tcp>, Error>> + Send {
        ferrosocket_futures::smol::accept_with_config(tcp, config, async move |_: &Request| {
            decision
        })
    }
}

struct AsyncStd;

impl Rt for AsyncStd {
    type Tcp = async_std::net::TcpStream;
    type Client = ferrosocket_futures::async_std::MaybeTlsStream;
    fn is_secure(client: &Self::Client) -> bool {
        client.is_secure() && client.tcp().is_some()
    }
    type Listener = async_std::net::TcpListener;
    async fn listen() -> (Self::Listener, String) {
        let l = async_std::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let url = format!("ws://{}/chat?x=1", l.local_addr().unwrap());
        (l, url)
    }
    async fn accept_tcp(listener: &Self::Listener) -> Self::Tcp {
        listener.accept().await.unwrap().0
    }
    async fn tcp(url: String) -> Self::Tcp {
        async_std::net::TcpStream::connect(addr(&url))
            .await
            .unwrap()
    }
    fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Boxed<T> {
        Box::pin(async_std::task::spawn(f))
    }
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(d)
    }
    async fn connect_with(url: String, options: ClientOptions) -> Connected<Self::Client> {
        ferrosocket_futures::async_std::connect_with(&url, options).await
    }
    #[cfg(feature = "tls")]
    async fn connect_tls_with(
        url: String,
        options: ClientOptions,
        config: std::sync::Arc<ferrosocket_futures::rustls::ClientConfig>,
    ) -> Connected<Self::Client> {
        ferrosocket_futures::async_std::connect_tls_with(&url, options, config).await
    }
    fn accept(
        tcp: Self::Tcp,
        config: StreamConfig,
        decision: Decision,
    ) -> impl Future<Output = Result<WebSocketStream<Self::Tcp>, Error>> + Send {
        ferrosocket_futures::async_std::accept_with_config(tcp, config, async move |_: &Request| {
            decision
        })
    }
}

/// Accepts one connection with the default config, accepting the request.
async fn accept_one<R: Rt>(listener: &R::Listener) -> WebSocketStream<R::Tcp> {
    let tcp = R::accept_tcp(listener).await;
    R::accept(tcp, StreamConfig::default(), Accept::new().into())
        .await
        .unwrap()
}

async fn connect<R: Rt>(url: &str) -> WebSocketStream<R::Client> {
    R::connect_with(url.to_owned(), ClientOptions::new())
        .await
        .unwrap()
        .0
}

/// Echoes data messages until the close.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocketStream<S>) {
    while let Some(message) = ws.recv().await {
        match message.unwrap() {
            m if m.is_data() => ws.send(m).await.unwrap(),
            _ => {}
        }
    }
}

async fn echo_text_binary_large<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async { echo(accept_one::<R>(&listener).await).await };
    let client = async {
        let mut ws = connect::<R>(&url).await;
        ws.send(Message::text("héllo")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("héllo"));
        ws.send(Message::binary(vec![0, 1, 255])).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::binary(vec![0, 1, 255])
        );
        let large: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        ws.send(Message::binary(large.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(large));
        ws.send(Message::Ping("p".into())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Pong("p".into()));
        let text = "κόσμε".as_bytes();
        ws.send_fragments(OpCode::Text, [&text[..1], &text[1..5], &text[5..]])
            .await
            .unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("κόσμε"));
        ws.close(None).await.unwrap();
        assert!(ws.recv().await.is_none());
    };
    join(server, client).await;
}

async fn stream_and_sink<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        // Echo through Stream + Sink: forward everything the stream yields.
        let ws = accept_one::<R>(&listener).await;
        let (mut sink, mut stream) = futures_util::StreamExt::split(ws);
        while let Some(message) = stream.next().await {
            let message = message.unwrap();
            if message.is_data() {
                sink.send(message).await.unwrap();
            }
        }
    };
    let client = async {
        let mut ws = connect::<R>(&url).await;
        let messages: Vec<Message> = (0..50).map(|i| Message::text(format!("m{i}"))).collect();
        let mut items = futures_util::stream::iter(messages.clone().into_iter().map(Ok));
        ws.send_all(&mut items).await.unwrap();
        let got: Vec<Message> = (&mut ws)
            .take(50)
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .await;
        assert_eq!(got, messages);
        SinkExt::close(&mut ws).await.unwrap(); // sends the close frame
        match ws.next().await {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code(), CloseCode::NORMAL),
            other => panic!("{other:?}"),
        }
        assert!(ws.next().await.is_none());
    };
    join(server, client).await;
}

async fn split_in_two_tasks<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let mut ws = accept_one::<R>(&listener).await;
        // A ping first: the client's read half must answer it by itself.
        ws.send(Message::Ping("are you there".into()))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Pong("are you there".into())
        );
        echo(ws).await;
    };
    let client = async {
        let ws = connect::<R>(&url).await;
        let (mut read, mut write) = ws.split();
        let reader = R::spawn(async move {
            let mut n = 0;
            while let Some(message) = read.recv().await {
                match message.unwrap() {
                    Message::Text(t) => {
                        assert_eq!(t, format!("m{n}").as_str());
                        n += 1;
                    }
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            assert!(read.recv().await.is_none());
            (n, read)
        });
        // The write half idles while the ping is answered.
        R::sleep(Duration::from_millis(50)).await;
        let writer = R::spawn(async move {
            for i in 0..200 {
                write.send(Message::text(format!("m{i}"))).await.unwrap();
            }
            R::sleep(Duration::from_millis(100)).await;
            write.close(None).await.unwrap();
            write
        });
        let write = writer.await;
        let (n, read) = reader.await;
        assert_eq!(n, 200);
        let ws = read.reunite(write).unwrap();
        assert_eq!(ws.state(), ferrosocket_futures::State::Closed);
    };
    join(server, client).await;
}

async fn reject_403_with_body<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let tcp = R::accept_tcp(&listener).await;
        let decision = Reject::new(403).body("go away").into();
        match R::accept(tcp, StreamConfig::default(), decision).await {
            Err(Error::Rejected { status: 403, .. }) => {}
            other => panic!("{:?}", other.map(|_| ())),
        }
    };
    let client = async {
        match R::connect_with(url.clone(), ClientOptions::new()).await {
            Err(Error::Rejected { status, body }) => {
                assert_eq!(status, 403);
                assert_eq!(&body[..], b"go away");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    };
    join(server, client).await;
}

async fn subprotocol_and_request<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let tcp = R::accept_tcp(&listener).await;
        // The runtime-neutral function, with an async callback.
        let mut ws = ferrosocket_futures::accept_with(tcp, async |request: &Request| {
            if request.headers().get_str("x-token") == Some("t") {
                Ok(Accept::new().subprotocol("v2"))
            } else {
                Err(Reject::new(401))
            }
        })
        .await
        .unwrap();
        let request = ws.request().unwrap();
        assert_eq!((request.path(), request.query()), ("/chat", Some("x=1")));
        ws.send(Message::text("hi")).await.unwrap();
        assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
    };
    let client = async {
        let tcp = R::tcp(url.clone()).await;
        let options = ClientOptions::new()
            .subprotocol("v1")
            .subprotocol("v2")
            .header("X-Token", "t");
        let (mut ws, response) = ferrosocket_futures::client_async_with(&url, tcp, options)
            .await
            .unwrap();
        assert_eq!(response.subprotocol.as_deref(), Some("v2"));
        assert_eq!(ws.response().unwrap().status, 101);
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
        ws.close(None).await.unwrap();
    };
    join(server, client).await;
}

async fn bad_request_gets_400<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let tcp = R::accept_tcp(&listener).await;
        match R::accept(tcp, StreamConfig::default(), Accept::new().into()).await {
            Err(Error::Handshake(e)) => assert_eq!(e.http_status(), 400),
            other => panic!("{:?}", other.map(|_| ())),
        }
    };
    let client = async {
        let mut raw = R::tcp(url.clone()).await;
        raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        raw.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 400"), "{answer:?}");
    };
    join(server, client).await;
}

async fn server_closes<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let mut ws = accept_one::<R>(&listener).await;
        ws.close(Some(CloseFrame::new(CloseCode::NORMAL, "done").unwrap()))
            .await
            .unwrap();
        assert!(matches!(
            ws.send(Message::text("late")).await,
            Err(Error::Local(_))
        ));
    };
    let client = async {
        let mut ws = connect::<R>(&url).await;
        match ws.recv().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!((frame.code(), frame.reason()), (CloseCode::NORMAL, "done"));
            }
            other => panic!("{other:?}"),
        }
        assert!(ws.recv().await.is_none());
        let mut raw = ws.into_inner();
        assert_eq!(raw.read(&mut [0; 8]).await.unwrap(), 0);
    };
    join(server, client).await;
}

async fn peer_vanishing_is_unexpected_eof<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let mut ws = accept_one::<R>(&listener).await;
        match ws.recv().await {
            Some(Err(Error::Io(e))) => assert_eq!(e.kind(), ErrorKind::UnexpectedEof),
            other => panic!("{other:?}"),
        }
        assert!(ws.recv().await.is_none());
    };
    let client = async {
        let ws = connect::<R>(&url).await;
        drop(ws.into_inner());
    };
    join(server, client).await;
}

async fn protocol_error_sends_1002<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let mut ws = accept_one::<R>(&listener).await;
        match ws.recv().await {
            Some(Err(Error::Protocol(e))) => assert_eq!(e.close_code(), CloseCode::PROTOCOL_ERROR),
            other => panic!("{other:?}"),
        }
        assert!(ws.recv().await.is_none());
    };
    let client = async {
        let mut raw = connect::<R>(&url).await.into_inner();
        raw.write_all(b"\x81\x00").await.unwrap(); // unmasked, from a client
        let mut answer = Vec::new();
        raw.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"\x88\x02\x03\xea");
    };
    join(server, client).await;
}

async fn trickling_handshake_times_out<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let tcp = R::accept_tcp(&listener).await;
        let config = StreamConfig::default().handshake_timeout(Some(Duration::from_millis(300)));
        let start = Instant::now();
        let result = R::accept(tcp, config, Accept::new().into()).await;
        assert!(
            matches!(result, Err(Error::Timeout(Timer::Handshake))),
            "{:?}",
            result.map(|_| ())
        );
        assert!(start.elapsed() < Duration::from_secs(2));
    };
    let client = async {
        let mut raw = R::tcp(url.clone()).await;
        // One byte every 50 ms: only a deadline stops it.
        for b in b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if raw.write_all(&[*b]).await.is_err() {
                break;
            }
            R::sleep(Duration::from_millis(50)).await;
        }
    };
    join(server, client).await;
}

async fn close_times_out_on_silent_peer<R: Rt>() {
    let (listener, url) = R::listen().await;
    let server = async {
        let tcp = R::accept_tcp(&listener).await;
        let config = StreamConfig::default().close_timeout(Some(Duration::from_millis(200)));
        let mut ws = R::accept(tcp, config, Accept::new().into()).await.unwrap();
        let start = Instant::now();
        assert!(matches!(
            ws.close(None).await,
            Err(Error::Timeout(Timer::Close))
        ));
        assert!(start.elapsed() < Duration::from_secs(2));
    };
    let client = async {
        let raw = connect::<R>(&url).await.into_inner(); // never answers
        R::sleep(Duration::from_millis(600)).await;
        drop(raw);
    };
    join(server, client).await;
}

async fn write_back_pressure<R: Rt>() {
    let (listener, url) = R::listen().await;
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let server = async {
        let mut ws = accept_one::<R>(&listener).await;
        // Do not read until the client saw back-pressure.
        while go_rx.try_recv().is_err() {
            R::sleep(Duration::from_millis(10)).await;
        }
        let mut n = 0;
        while let Some(m) = ws.recv().await {
            if m.unwrap().is_data() {
                n += 1;
            }
        }
        n
    };
    let client = async {
        let limit = 16 * 1024;
        // Uncompressed, so that the socket buffers fill with the messages' own bytes.
        let options = ClientOptions::new().config(
            StreamConfig::default()
                .write_buffer_limit(limit)
                .compression(None),
        );
        let mut ws = R::connect_with(url.clone(), options).await.unwrap().0;
        let chunk = vec![7u8; 4096];
        let mut sent = 0;
        // Feed until a feed stalls (socket buffers full, nobody reads).
        loop {
            let outcome = {
                let feed = ws.feed(Message::binary(chunk.clone()));
                match futures_util::future::select(
                    Box::pin(feed),
                    Box::pin(R::sleep(Duration::from_millis(200))),
                )
                .await
                {
                    futures_util::future::Either::Left((result, _)) => Some(result),
                    futures_util::future::Either::Right(_) => None,
                }
            };
            match outcome {
                Some(result) => {
                    result.unwrap();
                    sent += 1;
                    assert!(ws.write_buffer_len() <= limit + chunk.len() + 16);
                }
                None => break,
            }
            assert!(sent < 100_000, "no back-pressure");
        }
        go_tx.send(()).unwrap();
        // A cancelled feed did not queue: send the rest, then close.
        for _ in 0..10 {
            ws.send(Message::binary(chunk.clone())).await.unwrap();
            sent += 1;
        }
        ws.close(None).await.unwrap();
        sent
    };
    let (received, sent) = join(server, client).await;
    assert_eq!(received, sent);
}

async fn invalid_urls<R: Rt>() {
    let mut invalid = vec!["http://x/", "ws://", "ws+unix://"];
    if !cfg!(feature = "tls") {
        invalid.push("wss://example.com/");
    }
    for url in invalid {
        match R::connect_with(url.to_owned(), ClientOptions::new()).await {
            Err(Error::InvalidUrl(msg)) => assert!(msg.contains(url), "{msg}"),
            other => panic!("{url}: {:?}", other.map(|_| ())),
        }
    }
}

macro_rules! on_both_runtimes {
    ($($name:ident),* $(,)?) => {
        mod smol_rt {
            $(
                #[test]
                fn $name() {
                    smol::block_on(super::$name::<super::Smol>());
                }
            )*
        }
        mod async_std_rt {
            $(
                #[test]
                fn $name() {
                    async_std::task::block_on(super::$name::<super::AsyncStd>());
                }
            )*
        }
    };
}

on_both_runtimes!(
    echo_text_binary_large,
    stream_and_sink,
    split_in_two_tasks,
    reject_403_with_body,
    subprotocol_and_request,
    bad_request_gets_400,
    server_closes,
    peer_vanishing_is_unexpected_eof,
    protocol_error_sends_1002,
    trickling_handshake_times_out,
    close_times_out_on_silent_peer,
    write_back_pressure,
    invalid_urls,
);

#[cfg(feature = "tls")]
mod tls {
    use super::{AsyncStd, Smol};
    use crate::transport::{
        wss_refuses_an_untrusted_certificate, wss_round_trip_with_a_private_ca,
    };

    on_both_runtimes!(
        wss_round_trip_with_a_private_ca,
        wss_refuses_an_untrusted_certificate
    );
}
