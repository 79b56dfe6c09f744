//! tokio's timer for the shared driver: [`AsyncTimer`] with tokio's sleep (the
//! socket side, [`TokioIo`](crate::TokioIo), is the engine's).

use std::pin::Pin;

use ferrosocket_io::poll::AsyncTimer;

/// tokio's timer (needs the time driver: `enable_time`), the `T` of
/// [`WebSocketStream`](crate::WebSocketStream).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl AsyncTimer for TokioTimer {
    type Sleep = Pin<Box<tokio::time::Sleep>>;

    fn ambient() -> Option<Self> {
        Some(Self)
    }

    // tokio's clock, so that tests with a paused clock drive the timers too.
    fn now(&self) -> std::time::Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Self::Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn reset(&self, sleep: &mut Self::Sleep, deadline: std::time::Instant) {
        sleep.as_mut().reset(deadline.into());
    }
}
