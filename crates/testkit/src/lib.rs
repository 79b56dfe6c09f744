//! Test helpers shared by ferrosocket's crates (`publish = false`).
//!
//! * [`frame`]: frames built byte by byte from RFC 6455 section 5.2, independent of
//!   the codec, so a codec bug cannot hide in both sides of a test.
//! * [`ManualClock`]: time that moves only when the test says, driving
//!   `handle_timeout` of a [`Connection`], a [`WsConnection`] or a [`StreamCore`]
//!   ([`Timed`]): every timer test runs in microseconds.
//! * [`Pair`]: a client and a server [`Connection`] wired back to back in memory.
//! * [`peer`]: a raw WebSocket client over a real `std::net::TcpStream` that
//!   misbehaves on purpose (trickles, never answers, sends pongs nobody asked
//!   for) and reports what the server sent; runtime-neutral, so the same
//!   behaviours test the tokio, smol and blocking engines.
//! * [`timers`]: every timer of a message stream as a scenario against those
//!   peers, declared for an engine with [`timer_tests!`].
//! * [`behaviour`]: the opening and closing handshakes as scenarios, both roles,
//!   against those peers and a raw server ([`behaviour::RawServer`]), declared for
//!   an engine with [`behaviour_tests!`]: one behaviour for every engine.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use ferrosocket_proto::{Config, Connection, Keepalive, Role, State};
//! use ferrosocket_testkit::ManualClock;
//!
//! let config = Config::default()
//!     .without_timers()
//!     .keepalive(Some(Keepalive::new(Duration::from_secs(1), Duration::from_secs(1))));
//! let mut server = Connection::new(Role::Server, config);
//! let mut clock = ManualClock::new();
//! clock.tick(&mut server);
//! clock.advance(&mut server, Duration::from_secs(1)); // the ping goes out
//! clock.advance(&mut server, Duration::from_secs(1)); // no pong: 1011
//! assert_eq!(server.state(), State::Closed);
//! ```

#![forbid(unsafe_code)]

use std::time::Duration;

use ferrosocket_io::StreamCore;
use ferrosocket_proto::{
    Config, Connection, Error, Event, Instant, Role, SeededRandom, WsConnection,
};

pub mod behaviour;
pub mod frame;
pub mod peer;
pub mod timers;

/// What a [`ManualClock`] drives: the time as an input, the next deadline as an
/// output ([`Connection`], [`WsConnection`], [`StreamCore`]).
pub trait Timed {
    /// Gives the time (`handle_timeout`).
    fn handle_timeout(&mut self, now: Instant);
    /// The next deadline (`poll_timeout`).
    fn poll_timeout(&self) -> Option<Instant>;
}

impl Timed for Connection {
    fn handle_timeout(&mut self, now: Instant) {
        Connection::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Connection::poll_timeout(self)
    }
}

impl Timed for WsConnection {
    fn handle_timeout(&mut self, now: Instant) {
        WsConnection::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        WsConnection::poll_timeout(self)
    }
}

impl Timed for StreamCore {
    fn handle_timeout(&mut self, now: Instant) {
        StreamCore::handle_timeout(self, now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        StreamCore::poll_timeout(self)
    }
}

/// A clock for `handle_timeout` (of anything [`Timed`]) that moves only when told.
#[derive(Debug, Clone, Copy)]
pub struct ManualClock {
    now: Instant,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock at [`Instant::ZERO`].
    #[must_use]
    pub const fn new() -> Self {
        Self { now: Instant::ZERO }
    }

    /// The time now.
    #[must_use]
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// Gives `conn` the current time.
    pub fn tick(&self, conn: &mut impl Timed) {
        conn.handle_timeout(self.now);
    }

    /// Moves the clock `by` forward and gives `conn` the time.
    pub fn advance(&mut self, conn: &mut impl Timed, by: Duration) {
        self.now = self.now + by;
        self.tick(conn);
    }

    /// Moves the clock to `at` and gives `conn` the time.
    ///
    /// # Panics
    ///
    /// If `at` is earlier than [`now`](Self::now): time does not go back.
    pub fn set(&mut self, conn: &mut impl Timed, at: Instant) {
        assert!(
            at >= self.now,
            "the clock goes back: {at:?} < {:?}",
            self.now
        );
        self.now = at;
        self.tick(conn);
    }

    /// Moves the clock to `conn`'s next deadline (if it has one) and gives it the
    /// time; returns the deadline.
    pub fn run_to_deadline(&mut self, conn: &mut impl Timed) -> Option<Instant> {
        let deadline = conn.poll_timeout()?;
        if deadline > self.now {
            self.now = deadline;
        }
        self.tick(conn);
        Some(deadline)
    }
}

/// A client and a server connection, back to back in memory.
#[derive(Debug)]
pub struct Pair {
    /// The client (deterministic masking keys).
    pub client: Connection,
    /// The server.
    pub server: Connection,
}

impl Pair {
    /// Both ends with `config`.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self {
            client: Connection::with_random(Role::Client, config, SeededRandom::new(7)),
            server: Connection::new(Role::Server, config),
        }
    }

    /// Moves every queued byte across (client to server, then back) until both
    /// outputs are empty, collecting the events each side saw.
    pub fn pump(&mut self) -> Pumped {
        let mut pumped = Pumped::default();
        loop {
            let to_server = self.client.take_output();
            let to_client = self.server.take_output();
            if to_server.is_empty() && to_client.is_empty() {
                pumped.server.extend(self.server.events());
                pumped.client.extend(self.client.events());
                if self.client.output().is_empty() && self.server.output().is_empty() {
                    return pumped;
                }
                continue;
            }
            self.server.receive_data(&to_server);
            pumped.server.extend(self.server.events());
            self.client.receive_data(&to_client);
            pumped.client.extend(self.client.events());
        }
    }
}

/// The events each side of a [`Pair`] saw during [`Pair::pump`].
#[derive(Debug, Default)]
pub struct Pumped {
    /// The client's events.
    pub client: Vec<Result<Event, Error>>,
    /// The server's events.
    pub server: Vec<Result<Event, Error>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrosocket_proto::{CloseCode, State};

    #[test]
    fn pair_carries_messages_and_the_close() {
        let mut pair = Pair::new(Config::default());
        pair.client.send_text("hello").unwrap();
        let pumped = pair.pump();
        assert!(
            matches!(&pumped.server[..], [Ok(Event::Text { data, .. })] if data.as_str() == "hello")
        );
        pair.server.close(CloseCode::NORMAL, "bye").unwrap();
        let pumped = pair.pump();
        assert_eq!(pair.server.state(), State::Closed);
        assert_eq!(pair.client.state(), State::Closed);
        assert_eq!(pumped.client.len(), 1);
    }

    #[test]
    fn set_drives_a_handshake_and_a_stream_core() {
        let config = Config::default()
            .without_timers()
            .handshake_timeout(Some(Duration::from_secs(10)));
        let mut ws = WsConnection::server(config);
        let mut clock = ManualClock::new();
        clock.tick(&mut ws);
        clock.set(&mut ws, Instant::from_millis(9_999));
        assert_eq!(ws.state(), State::Connecting);
        assert_eq!(
            clock.run_to_deadline(&mut ws),
            Some(Instant::from_millis(10_000))
        );
        assert_eq!(ws.state(), State::Closed);

        let config = Config::default()
            .without_timers()
            .idle_timeout(Some(Duration::from_secs(3)));
        let conn = Connection::new(Role::Server, config);
        let mut core = StreamCore::new(conn, ferrosocket_io::StreamConfig::default());
        let mut clock = ManualClock::new();
        clock.tick(&mut core);
        clock.advance(&mut core, Duration::from_secs(3));
        assert!(core.is_closed());
    }

    #[test]
    #[should_panic(expected = "the clock goes back")]
    fn time_does_not_go_back() {
        let mut conn = Connection::new(Role::Server, Config::default());
        let mut clock = ManualClock::new();
        clock.set(&mut conn, Instant::from_millis(2));
        clock.set(&mut conn, Instant::from_millis(1));
    }

    #[test]
    fn run_to_deadline_follows_poll_timeout() {
        let config = Config::default()
            .without_timers()
            .idle_timeout(Some(Duration::from_secs(3)));
        let mut conn = Connection::new(Role::Server, config);
        let mut clock = ManualClock::new();
        assert_eq!(clock.run_to_deadline(&mut conn), None, "no time given yet");
        clock.tick(&mut conn);
        let deadline = clock.run_to_deadline(&mut conn).unwrap();
        assert_eq!(deadline.duration_since_origin(), Duration::from_secs(3));
        assert_eq!(conn.state(), State::Closed);
    }
}
