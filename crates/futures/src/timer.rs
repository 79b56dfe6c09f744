//! [`Timer`]: the runtime's sleep, for the handshake and close timeouts.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ferrosocket_io::poll::AsyncTimer;

/// A boxed sleep future, as a [`Timer`] makes them.
pub type BoxedSleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A runtime's timer: how to sleep for a while.
///
/// Runtime-neutral code cannot sleep, so the timeouts of
/// [`StreamConfig`](ferrosocket_io::StreamConfig) need one. The runtime
/// modules ([`smol`](crate::smol), [`async_std`](crate::async_std)) install theirs;
/// the runtime-neutral functions at the crate root have none (the handshake and
/// close are then unbounded) unless given one with
/// [`WebSocketStream::set_timer`](crate::WebSocketStream::set_timer). Any runtime
/// works:
///
/// ```
/// use ferrosocket_futures::Timer;
/// // A timer from smol (what `ferrosocket_futures::smol::TIMER` is).
/// let timer = Timer::new(|d| Box::pin(async move {
///     smol::Timer::after(d).await;
/// }));
/// # let _ = timer;
/// ```
#[derive(Clone, Copy)]
pub struct Timer {
    sleep: fn(Duration) -> BoxedSleep,
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

impl Timer {
    /// A timer from a function returning a future that completes after the given
    /// duration.
    pub const fn new(sleep: fn(Duration) -> BoxedSleep) -> Self {
        Self { sleep }
    }
}

/// The shared driver's view of a [`Timer`].
impl AsyncTimer for Timer {
    type Sleep = Sleep;

    fn sleep_until(&self, deadline: std::time::Instant) -> Sleep {
        let duration = deadline.saturating_duration_since(std::time::Instant::now());
        Sleep(Some((self.sleep)(duration)))
    }
}

/// A [`Timer`]'s sleep, which stays complete once it completed (runtime timers
/// need not).
pub struct Sleep(Option<BoxedSleep>);

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Sleep").field(&self.0.is_none()).finish()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.0 {
            None => Poll::Ready(()),
            Some(sleep) => {
                let done = sleep.as_mut().poll(cx);
                if done.is_ready() {
                    self.0 = None;
                }
                done
            }
        }
    }
}
