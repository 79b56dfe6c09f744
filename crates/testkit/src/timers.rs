//! The timers of a message stream over real loopback TCP, written once for every
//! engine: each scenario starts a misbehaving [`Peer`] on a thread and has the
//! engine under test serve it through a [`Serve`] function; the engine's test suite
//! declares them all with [`timer_tests!`](crate::timer_tests).

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use ferrosocket_io::{Error, Keepalive, Message, StreamConfig, Timer};

use crate::peer::{Peer, REQUEST, Report};

const MS: Duration = Duration::from_millis(1);

/// What the server does once the handshake is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `recv` until the stream ends.
    Receive,
    /// `close(None)` at once.
    Close,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Served {
    /// The messages received before the end.
    pub messages: Vec<Message>,
    /// The error that ended the handshake, `recv` or `close` (`None`: a clean end).
    pub error: Option<Error>,
}

impl Served {
    /// The timer that ended it, if one did.
    #[must_use]
    pub fn timer(&self) -> Option<Timer> {
        match self.error {
            Some(Error::Timeout(timer)) => Some(timer),
            _ => None,
        }
    }
}

/// An engine serving one connection: accept it from `listener` (a blocking std
/// listener; convert it to the runtime's), handshake with `config`, then `act`.
pub type Serve = fn(TcpListener, StreamConfig, Act) -> Served;

/// A config with only the timers a scenario turns on.
fn timers() -> StreamConfig {
    StreamConfig::default().without_timers()
}

fn run(
    serve: Serve,
    config: StreamConfig,
    act: Act,
    peer: impl FnOnce(std::net::SocketAddr) -> Report + Send + 'static,
) -> (Served, Report) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let peer = thread::spawn(move || peer(addr));
    let served = serve(listener, config, act);
    let report = peer.join().expect("the peer thread");
    (served, report)
}

/// A peer trickling its opening request is dropped at the handshake timeout.
pub fn trickled_handshake(serve: Serve) {
    let config = timers().handshake_timeout(Some(300 * MS));
    let (served, report) = run(serve, config, Act::Receive, |addr| {
        Peer::connect_raw(addr)
            .expect("connect")
            .trickle(REQUEST, 50 * MS)
    });
    assert_eq!(served.timer(), Some(Timer::Handshake), "{served:?}");
    assert!(report.disconnected, "{report:?}");
    assert!(report.frames.is_empty(), "{report:?}");
    assert!(report.elapsed < Duration::from_secs(5), "{report:?}");
}

/// Our close gets no answer: the close ends at the close timeout, the socket is
/// dropped.
pub fn unanswered_close(serve: Serve) {
    let config = timers().close_timeout(Some(200 * MS));
    let started = Instant::now();
    let (served, report) = run(serve, config, Act::Close, |addr| {
        Peer::connect(addr).expect("handshake").silent()
    });
    assert_eq!(served.timer(), Some(Timer::Close), "{served:?}");
    assert!(started.elapsed() >= 190 * MS);
    assert_eq!(report.close_code(), Some(1000), "{report:?}");
    assert!(report.disconnected, "{report:?}");
}

/// A peer that never answers the keepalive ping is closed with 1011.
pub fn missing_pong(serve: Serve) {
    let config = timers().keepalive(Some(Keepalive::new(100 * MS, 200 * MS)));
    let (served, report) = run(serve, config, Act::Receive, |addr| {
        Peer::connect(addr).expect("handshake").silent()
    });
    assert_eq!(served.timer(), Some(Timer::Keepalive), "{served:?}");
    assert_eq!(report.pings().len(), 1, "{report:?}");
    assert_eq!(report.close_code(), Some(1011), "{report:?}");
    assert!(report.disconnected, "{report:?}");
    assert!(report.elapsed >= 290 * MS, "{report:?}");
}

/// Pongs nobody asked for (or stale ones) do not answer the keepalive.
pub fn unsolicited_pongs(serve: Serve) {
    let config = timers().keepalive(Some(Keepalive::new(100 * MS, 200 * MS)));
    let (served, report) = run(serve, config, Act::Receive, |addr| {
        Peer::connect(addr)
            .expect("handshake")
            .unsolicited_pongs(20 * MS)
    });
    assert_eq!(served.timer(), Some(Timer::Keepalive), "{served:?}");
    // The close frame (1011) is sent, but this peer keeps writing pongs the server
    // no longer reads, so the server's kernel may answer them with a reset that
    // discards the close frame before the peer reads it (under load it does): only
    // a frame other than that close would be wrong. `missing_pong` checks the 1011.
    assert!(
        matches!(report.close_code(), Some(1011) | None),
        "{report:?}"
    );
    assert!(report.disconnected, "{report:?}");
}

/// A peer answering every ping stays, however long.
pub fn answered_pings(serve: Serve) {
    let config = timers().keepalive(Some(Keepalive::new(50 * MS, 100 * MS)));
    let (served, report) = run(serve, config, Act::Receive, |addr| {
        Peer::connect(addr)
            .expect("handshake")
            .answer_pings_then_send(600 * MS, "still here")
    });
    // 600 ms of answered pings (12 intervals), then a message, then EOF.
    assert!(!report.disconnected, "{report:?}");
    assert!(report.pings().len() >= 5, "{report:?}");
    assert!(report.close_code().is_none(), "{report:?}");
    assert_eq!(served.messages, [Message::text("still here")]);
    match &served.error {
        Some(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("{other:?}"),
    }
}

/// A peer that sends nothing at all is closed with 1001 at the idle timeout.
pub fn idle_peer(serve: Serve) {
    let config = timers().idle_timeout(Some(200 * MS));
    let (served, report) = run(serve, config, Act::Receive, |addr| {
        Peer::connect(addr).expect("handshake").silent()
    });
    assert_eq!(served.timer(), Some(Timer::Idle), "{served:?}");
    assert_eq!(report.close_code(), Some(1001), "{report:?}");
    assert!(report.disconnected, "{report:?}");
    assert!(report.elapsed >= 190 * MS, "{report:?}");
}

/// A peer trickling a fragmented message (one byte per fragment every 50 ms) is
/// closed with 1008 at the message timeout, although every frame is valid and it
/// is never idle.
pub fn trickled_fragments(serve: Serve) {
    let config = timers().message_timeout(Some(300 * MS));
    let (served, report) = run(serve, config, Act::Receive, |addr| {
        Peer::connect(addr)
            .expect("handshake")
            .trickle_fragments(50 * MS)
    });
    assert_eq!(served.timer(), Some(Timer::Message), "{served:?}");
    assert_eq!(report.close_code(), Some(1008), "{report:?}");
    assert!(report.disconnected, "{report:?}");
    assert!(report.elapsed >= 290 * MS, "{report:?}");
    assert!(report.elapsed < Duration::from_secs(5), "{report:?}");
}

/// Declares one `#[test]` per scenario of this module for an engine's
/// [`Serve`] function.
#[macro_export]
macro_rules! timer_tests {
    ($serve:path) => {
        #[test]
        fn trickled_handshake_is_dropped() {
            $crate::timers::trickled_handshake($serve);
        }
        #[test]
        fn unanswered_close_ends_at_the_close_timeout() {
            $crate::timers::unanswered_close($serve);
        }
        #[test]
        fn missing_pong_closes_with_1011() {
            $crate::timers::missing_pong($serve);
        }
        #[test]
        fn unsolicited_pongs_do_not_keep_a_peer_alive() {
            $crate::timers::unsolicited_pongs($serve);
        }
        #[test]
        fn answered_pings_keep_the_connection() {
            $crate::timers::answered_pings($serve);
        }
        #[test]
        fn idle_peer_closes_with_1001() {
            $crate::timers::idle_peer($serve);
        }
        #[test]
        fn trickled_fragments_close_with_1008() {
            $crate::timers::trickled_fragments($serve);
        }
    };
}
