//! The application layer on smol and on threads, over real loopback sockets: the
//! same `Server`, `Handler`s and `Client` as on tokio (whose own tests are in
//! `app_server.rs`), with each runtime's listener and client entry point.
//!
//! One scenario per runtime: plain HTTP through hyper (a GET, a chunked POST with
//! `Expect: 100-continue`), an async `on_handshake` that waits before refusing
//! (401) or accepting, two client handlers in a room whose broadcasts both see,
//! the server's heartbeat timing pongs, the manager reaching connections that
//! sit idle in `read` (on threads: blocked in a `read` syscall), and a shutdown
//! that closes everything with 1001 and ends `serve`.

#![cfg(any(feature = "smol", feature = "blocking"))]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use ferrosocket::CloseCode;
use ferrosocket::app::{
    Captures, Client, Context, Handler, Handshake, HandshakeRequest, HandshakeResponse, Heartbeat,
    HttpResponse, Item, Server,
};

const WAIT: Duration = Duration::from_secs(10);

/// A future that completes after `delay`, woken by a thread of its own: no
/// runtime's timer, so the handshake check below waits the same on every runtime.
struct After {
    state: Arc<Mutex<(bool, Option<Waker>)>>,
}

fn after(delay: Duration) -> After {
    let state: Arc<Mutex<(bool, Option<Waker>)>> = Arc::default();
    let shared = state.clone();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let mut s = shared.lock().unwrap();
        s.0 = true;
        if let Some(w) = s.1.take() {
            w.wake();
        }
    });
    After { state }
}

impl Future for After {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let mut s = self.state.lock().unwrap();
        if s.0 {
            return Poll::Ready(());
        }
        s.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// What the server side reports.
#[derive(Debug)]
enum Seen {
    Pong(Option<Duration>),
    Closed(u16),
}

/// A room member: checks the token (asynchronously), broadcasts what it reads as
/// `name: text`, reports pongs and its end.
struct Member {
    name: String,
    seen: Sender<Seen>,
}

impl Handler for Member {
    fn on_handshake(
        &mut self,
        request: &HandshakeRequest,
        _answer: &mut HandshakeResponse,
    ) -> Handshake {
        let ok = request.headers().get_str("x-token") == Some("let-me-in");
        Handshake::wait(async move {
            after(Duration::from_millis(20)).await;
            if ok {
                Handshake::Accept
            } else {
                Handshake::Reject(401, b"bad token".to_vec())
            }
        })
    }

    fn on_connect(&mut self, _: &mut Context, captures: &Captures) {
        self.name = captures.str("name").unwrap_or("?").to_owned();
    }

    fn on_read(&mut self, ctx: &mut Context, item: Item) {
        if let Item::Text(text) = item {
            ctx.manager().broadcast(format!("{}: {text}", self.name));
        }
    }

    fn on_pong(&mut self, _: &mut Context, _: bytes::Bytes, rtt: Option<Duration>) {
        let _ = self.seen.send(Seen::Pong(rtt));
    }

    fn on_close(&mut self, _: &mut Context, code: CloseCode, _: &str) {
        let _ = self.seen.send(Seen::Closed(code.as_u16()));
    }
}

/// A client: says hello on connect, reports every text, closes on `bye`.
struct Bot {
    name: &'static str,
    got: Sender<(&'static str, String)>,
    closed: Option<u16>,
}

impl Handler for Bot {
    fn on_connect(&mut self, ctx: &mut Context, _: &Captures) {
        ctx.write(format!("hello from {}", self.name)).unwrap();
    }

    fn on_read(&mut self, ctx: &mut Context, item: Item) {
        if let Item::Text(text) = item {
            if text == "bye" {
                let _ = ctx.close(CloseCode::NORMAL, "bye");
            } else {
                let _ = self.got.send((self.name, text.to_string()));
            }
        }
    }

    fn on_close(&mut self, _: &mut Context, code: CloseCode, _: &str) {
        self.closed = Some(code.as_u16());
    }
}

fn server(seen: Sender<Seen>) -> Server {
    let seen = Mutex::new(seen);
    Server::builder()
        .route("/room/<name>", move || Member {
            name: String::new(),
            seen: seen.lock().unwrap().clone(),
        })
        .fallback(|request| {
            HttpResponse::text(format!(
                "{} {} bytes",
                request.method(),
                request.body().len()
            ))
        })
        .heartbeat(Heartbeat::new(
            Duration::from_millis(50),
            Duration::from_secs(5),
        ))
        .build()
}

/// One plain request on a fresh connection; the whole response.
fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = tcp.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn next<T>(rx: &Receiver<T>) -> T {
    rx.recv_timeout(WAIT).expect("nothing came in time")
}

/// How a runtime connects a client to a URL (or, with `Some(addr)`, over a TCP
/// stream the test connected to `addr` itself: `Client::connect_stream_on`):
/// the handshake's result, then a way to wait for the handler back.
type Connect = dyn Fn(
    &str,
    Option<SocketAddr>,
    Client,
    Bot,
) -> Result<Box<dyn FnOnce() -> Bot>, ferrosocket::Error>;

/// The scenario, for a server already serving on `addr`; `serving` waits for
/// `serve` to return.
fn scenario(
    server: &Server,
    addr: SocketAddr,
    seen: &Receiver<Seen>,
    serving: Box<dyn FnOnce() -> std::io::Result<()>>,
    connect: &Connect,
) {
    // Plain HTTP: hyper over this runtime's sockets.
    let get = http(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(get.starts_with("HTTP/1.1 200"), "{get}");
    assert!(get.ends_with("GET 0 bytes"), "{get}");
    let post = http(
        addr,
        b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    assert!(
        post.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"),
        "{post}"
    );
    assert!(post.ends_with("POST 11 bytes"), "{post}");

    let with_token =
        || Client::new().options(ferrosocket::ClientOptions::new().header("x-token", "let-me-in"));
    let (got_tx, got) = channel();

    // The async handshake check refuses a wrong token after waiting.
    let started = Instant::now();
    let refused = connect(
        &format!("ws://{addr}/room/eve"),
        None,
        Client::new(),
        Bot {
            name: "eve",
            got: got_tx.clone(),
            closed: None,
        },
    );
    match refused {
        Err(ferrosocket::Error::Rejected { status, .. }) => assert_eq!(status, 401),
        Err(other) => panic!("refused with {other}"),
        Ok(_) => panic!("a wrong token was accepted"),
    }
    assert!(started.elapsed() >= Duration::from_millis(20));

    // Two members: each one's broadcast reaches both.
    let b = connect(
        &format!("ws://{addr}/room/b"),
        None,
        with_token(),
        Bot {
            name: "b",
            got: got_tx.clone(),
            closed: None,
        },
    )
    .unwrap();
    assert_eq!(next(&got), ("b", "b: hello from b".to_owned()));
    let a = connect(
        &format!("ws://{addr}/room/a"),
        None,
        with_token(),
        Bot {
            name: "a",
            got: got_tx.clone(),
            closed: None,
        },
    )
    .unwrap();
    let mut heard: Vec<(&str, String)> = vec![next(&got), next(&got)];
    heard.sort();
    assert_eq!(
        heard,
        [
            ("a", "a: hello from a".to_owned()),
            ("b", "a: hello from a".to_owned())
        ]
    );

    // The heartbeat: pings go out and pongs come back timed.
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no timed pong");
        if let Seen::Pong(Some(rtt)) = next(seen) {
            assert!(rtt < WAIT);
            break;
        }
    }

    // The manager reaches both idle connections; the bots close on "bye".
    assert_eq!(server.manager().len(), 2);
    server.manager().broadcast("bye");
    let a = a();
    let b = b();
    assert_eq!(a.closed, Some(1000));
    assert_eq!(b.closed, Some(1000));
    let mut closed = 0;
    while closed < 2 {
        if let Seen::Closed(code) = next(seen) {
            assert_eq!(code, 1000);
            closed += 1;
        }
    }

    // Shutdown: a connected member (over a stream the test connected) gets 1001,
    // and serve returns.
    let c = connect(
        &format!("ws://{addr}/room/c"),
        Some(addr),
        with_token(),
        Bot {
            name: "c",
            got: got_tx,
            closed: None,
        },
    )
    .unwrap();
    assert_eq!(next(&got), ("c", "c: hello from c".to_owned()));
    let stopping = Instant::now();
    server.shutdown();
    assert_eq!(c().closed, Some(1001));
    serving().unwrap();
    assert!(stopping.elapsed() < WAIT);
}

/// Runs `f` on a thread and gives a way to wait for its result.
fn background<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Box<dyn FnOnce() -> T> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    Box::new(move || rx.recv_timeout(WAIT).expect("did not end in time"))
}

#[cfg(feature = "smol")]
#[test]
fn on_smol() {
    use ferrosocket::app::rt::Smol;
    let (seen_tx, seen) = channel();
    let server = server(seen_tx);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = smol::net::TcpListener::try_from(listener).unwrap();
    let serving = background({
        let server = server.clone();
        move || smol::block_on(server.serve(listener))
    });
    let connect: &Connect = &|url, over, client, bot| {
        let task = match over {
            None => smol::block_on(client.connect_smol(url, bot))?,
            Some(addr) => smol::block_on(async {
                let tcp = smol::net::TcpStream::connect(addr).await?;
                let run = client
                    .connect_stream_on::<Smol, _, _>(url, tcp, false, bot)
                    .await?;
                Ok::<_, ferrosocket::Error>(smol::spawn(run))
            })?,
        };
        Ok(Box::new(move || {
            smol::block_on(async {
                smol::future::or(async { Some(task.await) }, async {
                    smol::Timer::after(WAIT).await;
                    None
                })
                .await
                .expect("the client did not end in time")
            })
        }))
    };
    scenario(&server, addr, &seen, serving, connect);
}

#[cfg(all(feature = "blocking", feature = "smol"))]
#[test]
fn on_threads() {
    use ferrosocket::app::rt::{ThreadStream, Threads};
    let (seen_tx, seen) = channel();
    let server = server(seen_tx);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = background({
        let server = server.clone();
        move || server.serve_blocking(listener)
    });
    let connect: &Connect = &|url, over, client, bot| {
        let thread = match over {
            None => client.connect_blocking(url, bot)?,
            Some(addr) => {
                let tcp = ThreadStream::tcp(TcpStream::connect(addr)?)?;
                // Any executor drives the handshake: the socket's own threads do
                // the I/O.
                let run = smol::block_on(
                    client.connect_stream_on::<Threads, _, _>(url, tcp, false, bot),
                )?;
                std::thread::spawn(move || smol::block_on(run))
            }
        };
        Ok(Box::new(move || {
            let (tx, rx) = channel();
            std::thread::spawn(move || {
                let _ = tx.send(thread.join());
            });
            rx.recv_timeout(WAIT)
                .expect("the client did not end in time")
                .expect("the client thread panicked")
        }))
    };
    scenario(&server, addr, &seen, serving, connect);
}
