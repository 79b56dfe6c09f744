//! Time as an input: [`Instant`], the [`Timer`]s a connection runs, and the
//! bookkeeping behind [`Connection::handle_timeout`](crate::Connection::handle_timeout)
//! and [`Connection::poll_timeout`](crate::Connection::poll_timeout).
//!
//! The connection never reads a clock. The driver gives it the time; every timer
//! of the protocol lives here, in one place (the table is on [`Timer`]).
//!
//! Activity (bytes received, a message begun, a close sent) is stamped with the time
//! of the next [`handle_timeout`](crate::Connection::handle_timeout) call after it,
//! never an earlier one, so a timer can fire late by the time between two calls but
//! never early.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

use ferrosocket_codec::CloseCode;

/// A point in time: the time elapsed since an origin the driver chooses (the start
/// of the process, of the connection...), as in smoltcp. `no_std` friendly: the
/// connection never reads a clock, the driver passes the time in.
///
/// ```
/// use core::time::Duration;
/// use ferrosocket_proto::Instant;
///
/// let start = Instant::ZERO;
/// let later = start + Duration::from_secs(5);
/// assert_eq!(later - start, Duration::from_secs(5));
/// assert_eq!(start.saturating_duration_since(later), Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The origin.
    pub const ZERO: Self = Self(Duration::ZERO);

    /// The instant `since_origin` after the origin.
    #[must_use]
    pub const fn from_duration(since_origin: Duration) -> Self {
        Self(since_origin)
    }

    /// The instant `millis` milliseconds after the origin.
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// The time since the origin.
    #[must_use]
    pub const fn duration_since_origin(self) -> Duration {
        self.0
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + duration`, saturating at the largest instant.
    #[must_use]
    pub const fn saturating_add(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(duration))
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, duration: Duration) -> Self {
        self.saturating_add(duration)
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// Which timer fired. Every timer of the protocol:
///
/// | timer | starts | fires | then |
/// |---|---|---|---|
/// | [`Timer::Handshake`] | first time given to a [`WsConnection`](crate::WsConnection) | the opening handshake is not over | closed, no frame |
/// | [`Timer::Close`] | our close frame was sent | the peer's close has not arrived | closed (our close was sent) |
/// | [`Timer::Keepalive`] | a keepalive ping was sent | no pong with that ping's payload arrived | close 1011 |
/// | [`Timer::Idle`] | the last byte arrived | nothing arrived since | close 1001 |
/// | [`Timer::Message`] | a data message's first frame header arrived | the message has not finished | close 1008 |
///
/// Activity (bytes received, a message begun, a close sent) is stamped with the
/// time of the next [`handle_timeout`](crate::Connection::handle_timeout) call
/// after it, so a timer can fire late by the time between two calls but never
/// early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timer {
    /// The opening handshake took longer than
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Handshake,
    /// The peer did not answer our close within
    /// [`Config::close_timeout`](crate::Config::close_timeout).
    Close,
    /// No pong answered a keepalive ping within
    /// [`Keepalive::timeout`].
    Keepalive,
    /// Nothing arrived for [`Config::idle_timeout`](crate::Config::idle_timeout).
    Idle,
    /// A message did not complete within
    /// [`Config::message_timeout`](crate::Config::message_timeout).
    Message,
}

impl Timer {
    /// The close code sent to the peer when this timer fails the connection:
    /// 1011 for a missing pong (as Python websockets sends), 1001 (going away) for
    /// an idle peer, 1008 (policy violation) for a message that did not complete in
    /// time. The handshake and close timers send no close frame (none is due, or
    /// ours was sent): 1006, the code an application sees for a connection that
    /// ended without a closing handshake.
    #[must_use]
    pub const fn close_code(self) -> CloseCode {
        match self {
            Self::Keepalive => CloseCode::INTERNAL_ERROR,
            Self::Idle => CloseCode::GOING_AWAY,
            Self::Message => CloseCode::POLICY_VIOLATION,
            Self::Handshake | Self::Close => CloseCode::ABNORMAL,
        }
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Handshake => "opening handshake timed out",
            Self::Close => "closing handshake timed out",
            Self::Keepalive => "keepalive ping not answered in time",
            Self::Idle => "idle timeout: nothing received",
            Self::Message => "message not completed in time",
        })
    }
}

/// Keepalive: a ping every [`interval`](Self::interval) while no keepalive ping is
/// outstanding; the connection fails ([`Timer::Keepalive`], close 1011) when no pong
/// carrying that ping's payload arrives within [`timeout`](Self::timeout). An
/// unsolicited pong, or one answering an earlier or another ping, does not count.
/// Python websockets' `ping_interval` / `ping_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Keepalive {
    /// Time from one keepalive ping to the next (from the previous ping's sending).
    pub interval: Duration,
    /// How long a keepalive ping may wait for its pong.
    pub timeout: Duration,
}

impl Keepalive {
    /// A ping every `interval`, each answered within `timeout`.
    #[must_use]
    pub const fn new(interval: Duration, timeout: Duration) -> Self {
        Self { interval, timeout }
    }
}

/// The payload of keepalive ping `n`: a marker and a counter, different for every
/// ping.
pub(crate) fn ping_payload(n: u32) -> [u8; 8] {
    let mut p = *b"fska\0\0\0\0";
    p[4..].copy_from_slice(&n.to_be_bytes());
    p
}

/// The timers of an open connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timers {
    /// The time of the last `handle_timeout`; `None` until the first (timers
    /// start then).
    pub(crate) now: Option<Instant>,
    /// Bytes arrived since the last `handle_timeout`.
    pub(crate) received: bool,
    /// When the last bytes were stamped as received.
    pub(crate) last_received: Instant,
    /// When the data message in progress was stamped as begun; `None` while none is
    /// in progress or it was not stamped yet.
    pub(crate) message_started: Option<Instant>,
    /// When our close was stamped as sent.
    pub(crate) close_sent: Option<Instant>,
    /// When the next keepalive ping is due.
    pub(crate) next_ping: Instant,
    /// The keepalive ping waiting for its pong: its number and when it was sent.
    pub(crate) outstanding: Option<(u32, Instant)>,
    /// Keepalive pings sent.
    pub(crate) pings: u32,
}

/// The earliest of two optional deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
