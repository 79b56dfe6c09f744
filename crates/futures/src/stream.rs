//! [`WebSocketStream`] and its halves: the engine's types
//! ([`ferrosocket_io::WebSocketStream`]) over [`FuturesIo`] with a [`Timer`].

use crate::Timer;
use ferrosocket_io::FuturesIo;

/// A WebSocket connection over a futures-io socket `S`, after the opening
/// handshake: the engine's [`ferrosocket_io::WebSocketStream`] (see there for every
/// method). Its timers run when it has a [`Timer`]: streams from the runtime
/// modules do; [`set_timer`](ferrosocket_io::WebSocketStream::set_timer) gives one
/// to the others.
pub type WebSocketStream<S> = ferrosocket_io::WebSocketStream<FuturesIo<S>, Timer>;

/// The reading half of a split [`WebSocketStream`] ([`ferrosocket_io::ReadHalf`]).
pub type ReadHalf<S> = ferrosocket_io::ReadHalf<FuturesIo<S>, Timer>;

/// The writing half of a split [`WebSocketStream`] ([`ferrosocket_io::WriteHalf`]).
pub type WriteHalf<S> = ferrosocket_io::WriteHalf<FuturesIo<S>, Timer>;

/// Halves of different streams given to `reunite` ([`ferrosocket_io::ReuniteError`]).
pub type ReuniteError<S> = ferrosocket_io::ReuniteError<FuturesIo<S>, Timer>;
