//! [`PollReadHalf`] and [`PollWriteHalf`]: a [`PollStream`] split for two tasks.
//!
//! The socket and the protocol core stay together behind one `std::sync::Mutex`,
//! locked only inside a poll (one parse step plus at most a few non-blocking reads
//! or writes), never across a `Pending`. Both halves may write (the read half
//! writes pongs and close echoes), but a socket keeps one waker for write
//! readiness, so both poll writes with a fan-out waker that wakes both.

use alloc::sync::Arc;
use core::fmt;
use core::future::poll_fn;
use core::task::{Context, Poll, Waker};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Wake;

use ferrosocket_proto::handshake::Request;

use super::{AsyncTimer, Driver, Info, PollIo, PollStream, ReadState, Received, send_fragments};
use crate::{Error, Incoming, Message, Response};
use ferrosocket_proto::{CloseFrame, Delivery, OpCode, State};

/// What both halves share.
struct Shared<IO, T> {
    driver: Mutex<Driver<IO, T>>,
    write_wakers: Arc<WriteWakers>,
    write_waker: Waker,
    info: Info,
}

impl<IO, T> Shared<IO, T> {
    fn lock(&self) -> MutexGuard<'_, Driver<IO, T>> {
        // A panic inside a poll cannot leave the core half-updated in a way that
        // breaks memory safety; keep going rather than poisoning both halves.
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

const READER: usize = 0;
const WRITER: usize = 1;

/// The tasks of the two halves waiting for write readiness; waking wakes both.
#[derive(Default)]
struct WriteWakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl WriteWakers {
    /// Registers `waker` for `half` (before polling a write: a wake-up between the
    /// write returning `Pending` and the registration would otherwise be lost).
    fn register(&self, half: usize, waker: &Waker) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match &slots[half] {
            Some(w) if w.will_wake(waker) => {}
            _ => slots[half] = Some(waker.clone()),
        }
    }
}

impl Wake for WriteWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            [slots[0].take(), slots[1].take()]
        };
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

pub(super) fn split<IO, T: AsyncTimer>(
    driver: Driver<IO, T>,
    read: ReadState<T>,
    info: Info,
) -> (PollReadHalf<IO, T>, PollWriteHalf<IO, T>) {
    let write_wakers = Arc::new(WriteWakers::default());
    let shared = Arc::new(Shared {
        driver: Mutex::new(driver),
        write_waker: Waker::from(write_wakers.clone()),
        write_wakers,
        info,
    });
    (
        PollReadHalf {
            shared: shared.clone(),
            read,
        },
        PollWriteHalf { shared },
    )
}

/// The reading half of a split [`PollStream`]; it also times the closing
/// handshake and shuts the socket down after the close.
pub struct PollReadHalf<IO, T: AsyncTimer> {
    shared: Arc<Shared<IO, T>>,
    read: ReadState<T>,
}

/// The writing half of a split [`PollStream`].
pub struct PollWriteHalf<IO, T> {
    shared: Arc<Shared<IO, T>>,
}

impl<IO, T: AsyncTimer> fmt::Debug for PollReadHalf<IO, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<IO, T> fmt::Debug for PollWriteHalf<IO, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

impl<IO, T: AsyncTimer> PollReadHalf<IO, T> {
    /// The client's opening request (server side).
    pub fn request(&self) -> Option<&Request> {
        self.shared.info.request.as_deref()
    }

    /// The server's answer (client side).
    pub fn response(&self) -> Option<&Response> {
        self.shared.info.response.as_deref()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        self.shared.lock().core.state()
    }

    /// How data messages are delivered now.
    pub fn delivery(&self) -> Delivery {
        self.shared.lock().core.delivery()
    }

    /// Switches how data messages are delivered at the next message boundary
    /// ([`StreamCore::set_delivery`](crate::StreamCore::set_delivery)).
    pub fn set_delivery(&self, delivery: Delivery) {
        self.shared.lock().core.set_delivery(delivery);
    }

    /// Whether `other` is the other half of the same stream.
    pub fn is_pair_of(&self, other: &PollWriteHalf<IO, T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Whether the stream returned `None` (for `FusedStream`).
    pub fn is_terminated(&self) -> bool {
        self.read.ended
    }

    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// The halves, if they come from different streams.
    #[allow(clippy::type_complexity)]
    pub fn reunite(
        self,
        other: PollWriteHalf<IO, T>,
    ) -> Result<PollStream<IO, T>, (Self, PollWriteHalf<IO, T>)> {
        if !self.is_pair_of(&other) {
            return Err((self, other));
        }
        drop(other);
        let Ok(shared) = Arc::try_unwrap(self.shared) else {
            unreachable!("both halves were given, so no other reference exists");
        };
        let driver = shared
            .driver
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(PollStream::from_parts(driver, self.read, shared.info))
    }
}

impl<IO: PollIo, T: AsyncTimer> PollReadHalf<IO, T> {
    /// `Stream::poll_next`: the next message.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.poll_received(cx)
    }

    fn poll_received<M: Received>(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<M, Error>>> {
        let shared = &*self.shared;
        shared.write_wakers.register(READER, cx.waker());
        let mut driver = shared.lock();
        driver.poll_recv(&mut self.read, cx, Some(&shared.write_waker))
    }

    /// The next message; `None` after the close (or an error). Cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next piece of a data message or whole message
    /// ([`StreamCore::next_incoming`](crate::StreamCore::next_incoming)).
    pub fn poll_recv_incoming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Incoming, Error>>> {
        self.poll_received(cx)
    }

    /// The next piece or whole message; `None` after the close (or an error).
    /// Cancel safe.
    pub async fn recv_incoming(&mut self) -> Option<Result<Incoming, Error>> {
        poll_fn(|cx| self.poll_recv_incoming(cx)).await
    }
}

impl<IO, T> PollWriteHalf<IO, T> {
    /// The protocol state.
    pub fn state(&self) -> State {
        self.shared.lock().core.state()
    }
}

impl<IO: PollIo, T: AsyncTimer> PollWriteHalf<IO, T> {
    /// Runs `f` on the locked driver with a context for write readiness.
    fn with_driver<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<IO, T>, &mut Context<'_>) -> R,
    ) -> R {
        let shared = &*self.shared;
        shared.write_wakers.register(WRITER, cx.waker());
        let mut driver = shared.lock();
        f(&mut driver, &mut Context::from_waker(&shared.write_waker))
    }

    fn queue(&self, f: impl FnOnce(&mut Driver<IO, T>) -> Result<(), Error>) -> Result<(), Error> {
        f(&mut self.shared.lock())
    }

    /// `Sink::poll_ready`: waits while the write buffer is over its limit.
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with_driver(cx, |driver, cx| driver.poll_room(cx))
    }

    /// `Sink::start_send`: queues a message.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] after a close was sent.
    pub fn start_send(&self, message: Message) -> Result<(), Error> {
        self.queue(|driver| driver.core.send(message))
    }

    /// `Sink::poll_flush`: writes everything queued.
    pub fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with_driver(cx, |driver, cx| driver.poll_flush(cx))
    }

    /// `Sink::poll_close`: queues a close frame (1000) unless one was sent, writes.
    pub fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.queue(|driver| driver.queue_close(None))?;
        self.poll_flush(cx)
    }

    /// Waits for room, queues, writes.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] after a close was sent; [`Error::Io`].
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Waits for room and queues.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        self.start_send(message)
    }

    /// Writes everything queued. Cancel safe.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// One frame of a fragmented message.
    ///
    /// # Errors
    ///
    /// [`Error::Local`] for a frame out of sequence or after a close; [`Error::Io`].
    pub async fn send_fragment(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        self.queue(|driver| driver.core.send_fragment(opcode, data, fin))?;
        self.flush().await
    }

    /// One message, one frame per chunk.
    ///
    /// # Errors
    ///
    /// As [`send_fragment`](Self::send_fragment).
    pub async fn send_fragments<I>(&mut self, opcode: OpCode, fragments: I) -> Result<(), Error>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        send_fragments(opcode, fragments, async |op, data, fin| {
            poll_fn(|cx| self.poll_ready(cx)).await?;
            self.queue(|driver| driver.core.send_fragment(op, data, fin))?;
            if fin {
                return self.flush().await;
            }
            Ok(())
        })
        .await
    }

    /// Sends a close frame unless one was sent, and writes it. Cancel safe.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.queue(|driver| driver.queue_close(frame))?;
        self.flush().await
    }
}
