//! The [`Manager`]: the live connections, broadcast and close-all (ws4py's
//! `WebSocketManager`), runtime-neutral.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};

use crate::{CloseCode, CloseFrame, Message};

/// Identifies one connection of a [`Manager`] (unique per manager, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    #[cfg(test)]
    pub(crate) const fn from_raw(id: u64) -> Self {
        Self(id)
    }

    /// The number behind the id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a [`Manager`] does with a connection whose queue is full when a message
/// is broadcast or sent to it: the peer reads slower than messages come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum QueueFull {
    /// Close the connection with 1008 (policy violation): a peer that cannot keep
    /// up is dropped (the default).
    #[default]
    Close,
    /// Skip the message for that connection only.
    Skip,
}

/// What a [`Manager::broadcast`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Broadcast {
    /// Connections that got the message queued.
    pub queued: usize,
    /// Connections whose queue was full and that skipped it ([`QueueFull::Skip`]).
    pub skipped: usize,
    /// Connections whose queue was full and that are being closed with 1008
    /// ([`QueueFull::Close`]).
    pub closed: usize,
}

/// The live WebSocket connections of a server (or of clients that share it), for
/// sending to all of them or one of them.
///
/// A connection is added when it opens (before [`Handler::on_connect`](super::Handler::on_connect))
/// and removed by itself when it ends (after [`Handler::on_close`](super::Handler::on_close)).
/// Cloning gives another handle to the same set.
///
/// **Slow peers never block the others.** Each connection has a bounded queue
/// ([`queue_capacity`](Self::with_queue), 256 messages by default) that its own
/// task drains; [`broadcast`](Self::broadcast) only pushes into the queues and
/// never waits. A message is encoded once: every queue holds a clone of the same
/// [`Message`], whose payload is one reference-counted `Bytes` (each connection
/// frames it, and compresses it if permessage-deflate was agreed). A full queue
/// is handled by the [`QueueFull`] policy.
#[derive(Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

struct Inner {
    conns: Mutex<HashMap<ConnectionId, Arc<Mailbox>>>,
    next_id: AtomicU64,
    capacity: usize,
    policy: QueueFull,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("len", &self.len())
            .field("capacity", &self.inner.capacity)
            .field("policy", &self.inner.policy)
            .finish()
    }
}

impl Default for Manager {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Manager {
    /// Queues of 256 messages, [`QueueFull::Close`].
    pub fn new() -> Self {
        Self::with_queue(256, QueueFull::Close)
    }

    /// Queues of `capacity` messages (at least 1) per connection, and what to do
    /// when one is full.
    pub fn with_queue(capacity: usize, policy: QueueFull) -> Self {
        Self {
            inner: Arc::new(Inner {
                conns: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                capacity: capacity.max(1),
                policy,
            }),
        }
    }

    /// How many connections are live.
    pub fn len(&self) -> usize {
        lock(&self.inner.conns).len()
    }

    /// Whether no connection is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of the live connections (in no particular order).
    pub fn ids(&self) -> Vec<ConnectionId> {
        lock(&self.inner.conns).keys().copied().collect()
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: ConnectionId) -> bool {
        lock(&self.inner.conns).contains_key(&id)
    }

    /// Queues `message` (text for strings, binary for bytes) to every live
    /// connection, without waiting. See the type's documentation for full queues.
    pub fn broadcast(&self, message: impl Into<Message>) -> Broadcast {
        self.broadcast_filtered(message.into(), |_| true)
    }

    /// As [`broadcast`](Self::broadcast), to every connection but `except` (e.g.
    /// the sender).
    pub fn broadcast_except(&self, except: ConnectionId, message: impl Into<Message>) -> Broadcast {
        self.broadcast_filtered(message.into(), |id| id != except)
    }

    fn broadcast_filtered(
        &self,
        message: Message,
        mut include: impl FnMut(ConnectionId) -> bool,
    ) -> Broadcast {
        let targets: Vec<Arc<Mailbox>> = lock(&self.inner.conns)
            .iter()
            .filter(|(id, _)| include(**id))
            .map(|(_, mailbox)| Arc::clone(mailbox))
            .collect();
        let mut report = Broadcast::default();
        for mailbox in targets {
            match self.deliver(&mailbox, message.clone()) {
                Delivered::Queued => report.queued += 1,
                Delivered::Skipped => report.skipped += 1,
                Delivered::Closed => report.closed += 1,
            }
        }
        report
    }

    /// Queues `message` to one connection. Returns `false` if it is not live or
    /// its queue was full (then the [`QueueFull`] policy applied).
    pub fn send_to(&self, id: ConnectionId, message: impl Into<Message>) -> bool {
        let Some(mailbox) = lock(&self.inner.conns).get(&id).cloned() else {
            return false;
        };
        matches!(self.deliver(&mailbox, message.into()), Delivered::Queued)
    }

    fn deliver(&self, mailbox: &Mailbox, message: Message) -> Delivered {
        if mailbox.try_push(message, self.inner.capacity) {
            return Delivered::Queued;
        }
        match self.inner.policy {
            QueueFull::Skip => Delivered::Skipped,
            QueueFull::Close => {
                tracing::warn!(
                    capacity = self.inner.capacity,
                    "slow consumer: message queue full; closing it with 1008"
                );
                mailbox.kill(close_frame(
                    CloseCode::POLICY_VIOLATION,
                    "too slow: message queue full",
                ));
                Delivered::Closed
            }
        }
    }

    /// Closes one connection with `code` and `reason` (at most 123 bytes; longer
    /// is cut). Its queued messages are dropped. Returns whether it was live.
    pub fn close(&self, id: ConnectionId, code: CloseCode, reason: &str) -> bool {
        let Some(mailbox) = lock(&self.inner.conns).get(&id).cloned() else {
            return false;
        };
        mailbox.kill(close_frame(code, reason));
        true
    }

    /// Closes every live connection with `code` and `reason` (e.g. 1001 when the
    /// server goes down); their queued messages are dropped.
    pub fn close_all(&self, code: CloseCode, reason: &str) {
        let all: Vec<Arc<Mailbox>> = lock(&self.inner.conns).values().cloned().collect();
        for mailbox in all {
            mailbox.kill(close_frame(code, reason));
        }
    }

    /// Adds a connection; it is removed when the [`Registration`] is dropped.
    pub(crate) fn register(&self) -> Registration {
        let id = ConnectionId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let mailbox = Arc::new(Mailbox::default());
        lock(&self.inner.conns).insert(id, Arc::clone(&mailbox));
        Registration {
            manager: self.clone(),
            id,
            mailbox,
        }
    }
}

enum Delivered {
    Queued,
    Skipped,
    Closed,
}

/// A close frame for `code` and `reason`, the reason cut to what fits (123 bytes,
/// at a character boundary) and an unsendable code replaced by 1000.
pub(crate) fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let code = if code.is_sendable() {
        code
    } else {
        CloseCode::NORMAL
    };
    CloseFrame::new(code, &reason[..end])
        .or_else(|_| CloseFrame::new(CloseCode::NORMAL, ""))
        .expect("1000 with no reason is a valid close frame")
}

/// A live connection's entry; removes it from the manager when dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    manager: Manager,
    pub(crate) id: ConnectionId,
    pub(crate) mailbox: Arc<Mailbox>,
}

impl Registration {
    pub(crate) fn manager(&self) -> &Manager {
        &self.manager
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.manager.inner.conns).remove(&self.id);
    }
}

/// One connection's queue: messages from the manager, and a close order that
/// jumps the queue. A runtime-neutral single-consumer queue with a waker.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    state: Mutex<MailState>,
}

#[derive(Debug, Default)]
struct MailState {
    queue: VecDeque<Message>,
    /// The close order, until the connection takes it.
    kill: Option<CloseFrame>,
    /// A close was ordered: messages are dropped from now on.
    closing: bool,
    waker: Option<Waker>,
}

impl Mailbox {
    fn try_push(&self, message: Message, capacity: usize) -> bool {
        let waker = {
            let mut state = lock(&self.state);
            if state.closing {
                return true; // closing anyway: nothing to queue, nothing to report
            }
            if state.queue.len() >= capacity {
                return false;
            }
            state.queue.push_back(message);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    fn kill(&self, frame: CloseFrame) {
        let waker = {
            let mut state = lock(&self.state);
            if !state.closing {
                state.closing = true;
                state.kill = Some(frame);
            }
            state.queue.clear();
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A close order (taken once), or else, if `messages`, the next message;
    /// registers the waker when there is nothing.
    pub(crate) fn poll(&self, cx: &mut TaskContext<'_>, messages: bool) -> Poll<Mail> {
        let mut state = lock(&self.state);
        if let Some(frame) = state.kill.take() {
            return Poll::Ready(Mail::Close(frame));
        }
        if messages && let Some(message) = state.queue.pop_front() {
            return Poll::Ready(Mail::Message(message));
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Mailbox {
    /// Moves queued messages to `out` while it holds fewer than `max` items
    /// (none once a close was ordered: [`poll`](Self::poll) reports that).
    pub(crate) fn drain_into(&self, out: &mut VecDeque<super::context::Outgoing>, max: usize) {
        let mut state = lock(&self.state);
        if state.kill.is_some() {
            return;
        }
        while out.len() < max {
            let Some(message) = state.queue.pop_front() else {
                break;
            };
            out.push_back(super::context::Outgoing::Message(message));
        }
    }
}

/// What [`Mailbox::poll`] found.
#[derive(Debug)]
pub(crate) enum Mail {
    Close(CloseFrame),
    Message(Message),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop_cx() -> TaskContext<'static> {
        TaskContext::from_waker(Waker::noop())
    }

    #[test]
    fn register_broadcast_and_policies() {
        let manager = Manager::with_queue(2, QueueFull::Skip);
        let a = manager.register();
        let b = manager.register();
        assert_eq!(manager.len(), 2);
        let report = manager.broadcast("x");
        assert_eq!(report.queued, 2);
        manager.broadcast_except(a.id, "y");
        // b is full now (x, y); a has one.
        let report = manager.broadcast("z");
        assert_eq!((report.queued, report.skipped), (1, 1));
        let mut cx = noop_cx();
        assert!(
            matches!(b.mailbox.poll(&mut cx, true), Poll::Ready(Mail::Message(m)) if m == Message::text("x"))
        );
        assert!(matches!(b.mailbox.poll(&mut cx, false), Poll::Pending));
        drop(b);
        assert_eq!(manager.len(), 1);

        let closing = Manager::with_queue(1, QueueFull::Close);
        let c = closing.register();
        assert!(closing.send_to(c.id, "1"));
        assert!(!closing.send_to(c.id, "2"));
        match c.mailbox.poll(&mut cx, true) {
            Poll::Ready(Mail::Close(frame)) => {
                assert_eq!(frame.code(), CloseCode::POLICY_VIOLATION)
            }
            other => panic!("{other:?}"),
        }
        // Taken once; later messages are dropped.
        assert!(closing.send_to(c.id, "3"));
        assert!(c.mailbox.poll(&mut cx, true).is_pending());
        assert!(!closing.send_to(ConnectionId(999), "x"));
    }

    #[test]
    fn close_frames_are_cut_and_valid() {
        let long = "é".repeat(100);
        let frame = close_frame(CloseCode::GOING_AWAY, &long);
        assert!(frame.reason().len() <= 123);
        let frame = close_frame(CloseCode::ABNORMAL, "x");
        assert_eq!(frame.code(), CloseCode::NORMAL);
    }
}
