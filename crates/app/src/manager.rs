//! The [`Manager`]: the live connections, broadcast and close-all (ws4py's
//! `WebSocketManager`), runtime-neutral.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

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

/// What a [`Manager`] does with a connection that stayed behind: over its
/// [`Backpressure::budget`] for longer than [`Backpressure::grace`], or over
/// [`Backpressure::limit`] at all, when a message is broadcast or sent to it.
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
    /// Each topic's subscribers. Never locked together with `conns`.
    topics: Mutex<HashMap<Arc<str>, HashSet<ConnectionId>>>,
    next_id: AtomicU64,
    backpressure: Backpressure,
}

/// How a [`Manager`] tells a slow consumer from a busy moment (uWebSockets'
/// `maxBackpressure`, with a grace time): a connection may have up to
/// [`budget`](Self::budget) bytes queued that its socket has not taken; over
/// it, it gets [`grace`](Self::grace) to catch up, and only a connection still
/// over budget after that (or ever over [`limit`](Self::limit), which bounds
/// memory) meets the [`policy`](Self::policy). A burst of messages from one
/// producer therefore never costs prompt readers their connection: their
/// queues drain as soon as their tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backpressure {
    /// Bytes of queued messages (payloads) a connection may hold without counting
    /// as behind. Default 1 MiB.
    pub budget: usize,
    /// How long a connection may stay over the budget. Default 5 s.
    pub grace: Duration,
    /// Bytes over which the policy applies at once. Default 16 MiB.
    pub limit: usize,
    /// What happens then. Default [`QueueFull::Close`] (1008).
    pub policy: QueueFull,
}

impl Default for Backpressure {
    fn default() -> Self {
        Self {
            budget: 1 << 20,
            grace: Duration::from_secs(5),
            limit: 16 << 20,
            policy: QueueFull::Close,
        }
    }
}

impl Backpressure {
    /// A budget of `budget` bytes and a grace of `grace`, the limit 16 times the
    /// budget, [`QueueFull::Close`].
    pub fn new(budget: usize, grace: Duration) -> Self {
        Self {
            budget,
            grace,
            limit: budget.saturating_mul(16),
            policy: QueueFull::Close,
        }
    }

    /// Sets [`limit`](Self::limit) (at least the budget).
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(self.budget);
        self
    }

    /// Sets [`policy`](Self::policy).
    #[must_use]
    pub fn policy(mut self, policy: QueueFull) -> Self {
        self.policy = policy;
        self
    }
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("len", &self.len())
            .field("backpressure", &self.inner.backpressure)
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
        Self::with_backpressure(Backpressure::default())
    }

    /// A manager judging slow consumers by `backpressure`.
    pub fn with_backpressure(backpressure: Backpressure) -> Self {
        Self {
            inner: Arc::new(Inner {
                conns: Mutex::new(HashMap::new()),
                topics: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                backpressure,
            }),
        }
    }

    /// How slow consumers are judged.
    pub fn backpressure(&self) -> Backpressure {
        self.inner.backpressure
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
        self.deliver_all(targets, &message)
    }

    /// Subscribes connection `id` to `topic` (uWebSockets' `subscribe`): what is
    /// [`publish`](Self::publish)ed to it reaches the connection until it
    /// [`unsubscribe`](Self::unsubscribe)s or ends. Returns whether it was not
    /// subscribed yet (`false` also for a connection that is not live).
    pub fn subscribe(&self, id: ConnectionId, topic: &str) -> bool {
        let Some(mailbox) = lock(&self.inner.conns).get(&id).cloned() else {
            return false;
        };
        let name: Arc<str> = Arc::from(topic);
        let added = lock(&self.inner.topics)
            .entry(Arc::clone(&name))
            .or_default()
            .insert(id);
        if added {
            lock(&mailbox.topics).push(name);
        }
        added
    }

    /// Ends connection `id`'s subscription to `topic`; returns whether it had
    /// one.
    pub fn unsubscribe(&self, id: ConnectionId, topic: &str) -> bool {
        let removed = {
            let mut topics = lock(&self.inner.topics);
            let Some(subscribers) = topics.get_mut(topic) else {
                return false;
            };
            let removed = subscribers.remove(&id);
            if subscribers.is_empty() {
                topics.remove(topic);
            }
            removed
        };
        if removed && let Some(mailbox) = lock(&self.inner.conns).get(&id).cloned() {
            lock(&mailbox.topics).retain(|t| &**t != topic);
        }
        removed
    }

    /// How many connections are subscribed to `topic`.
    pub fn subscribers(&self, topic: &str) -> usize {
        lock(&self.inner.topics).get(topic).map_or(0, HashSet::len)
    }

    /// The topics connection `id` is subscribed to.
    pub fn topics_of(&self, id: ConnectionId) -> Vec<String> {
        lock(&self.inner.conns)
            .get(&id)
            .map_or_else(Vec::new, |mailbox| {
                lock(&mailbox.topics)
                    .iter()
                    .map(|t| t.to_string())
                    .collect()
            })
    }

    /// Queues `message` to every subscriber of `topic`, without waiting, as
    /// [`broadcast`](Self::broadcast) does to everyone.
    pub fn publish(&self, topic: &str, message: impl Into<Message>) -> Broadcast {
        self.publish_filtered(topic, message.into(), None)
    }

    /// As [`publish`](Self::publish), to every subscriber but `except` (e.g. the
    /// sender, as uWebSockets' `ws.publish`).
    pub fn publish_except(
        &self,
        topic: &str,
        except: ConnectionId,
        message: impl Into<Message>,
    ) -> Broadcast {
        self.publish_filtered(topic, message.into(), Some(except))
    }

    fn publish_filtered(
        &self,
        topic: &str,
        message: Message,
        except: Option<ConnectionId>,
    ) -> Broadcast {
        let ids: Vec<ConnectionId> = match lock(&self.inner.topics).get(topic) {
            Some(subscribers) => subscribers
                .iter()
                .copied()
                .filter(|id| Some(*id) != except)
                .collect(),
            None => return Broadcast::default(),
        };
        let targets: Vec<Arc<Mailbox>> = {
            let conns = lock(&self.inner.conns);
            ids.iter().filter_map(|id| conns.get(id).cloned()).collect()
        };
        self.deliver_all(targets, &message)
    }

    /// Queues `message` to each of `targets` by the backpressure rules.
    fn deliver_all(&self, targets: Vec<Arc<Mailbox>>, message: &Message) -> Broadcast {
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
        let bp = &self.inner.backpressure;
        let Err(queued) = mailbox.try_push(message, bp) else {
            return Delivered::Queued;
        };
        match bp.policy {
            QueueFull::Skip => {
                tracing::debug!(queued, budget = bp.budget, "slow consumer: message skipped");
                Delivered::Skipped
            }
            QueueFull::Close => {
                tracing::warn!(
                    queued,
                    budget = bp.budget,
                    grace = ?bp.grace,
                    "slow consumer: over its budget too long; closing it with 1008"
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
        let mailbox = Arc::new(Mailbox::new(self.inner.backpressure.budget));
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
        // Its subscriptions end with it.
        let subscribed = std::mem::take(&mut *lock(&self.mailbox.topics));
        if !subscribed.is_empty() {
            let mut topics = lock(&self.manager.inner.topics);
            for topic in subscribed {
                if let Some(subscribers) = topics.get_mut(&topic) {
                    subscribers.remove(&self.id);
                    if subscribers.is_empty() {
                        topics.remove(&topic);
                    }
                }
            }
        }
    }
}

/// One connection's queue: messages from the manager, and a close order that
/// jumps the queue. A runtime-neutral single-consumer queue with a waker.
#[derive(Debug)]
pub(crate) struct Mailbox {
    state: Mutex<MailState>,
    /// The manager's [`Backpressure::budget`].
    budget: usize,
    /// The topics the connection is subscribed to (to end them with it).
    topics: Mutex<Vec<Arc<str>>>,
}

#[derive(Debug, Default)]
struct MailState {
    queue: VecDeque<Message>,
    /// Payload bytes in `queue`.
    bytes: usize,
    /// Since when `bytes` is over the budget.
    over_since: Option<Instant>,
    /// The close order, until the connection takes it.
    kill: Option<CloseFrame>,
    /// A close was ordered: messages are dropped from now on.
    closing: bool,
    waker: Option<Waker>,
}

/// What a queued message counts for: its payload, at least one byte.
fn weight(message: &Message) -> usize {
    message.as_payload().len().max(1)
}

impl Mailbox {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            state: Mutex::default(),
            budget,
            topics: Mutex::default(),
        }
    }

    /// Queues `message`, unless the connection is behind by `bp`'s rules: then
    /// the bytes it has queued.
    fn try_push(&self, message: Message, bp: &Backpressure) -> Result<(), usize> {
        let waker = {
            let mut state = lock(&self.state);
            if state.closing {
                return Ok(()); // closing anyway: nothing to queue, nothing to report
            }
            let bytes = state.bytes + weight(&message);
            if bytes > bp.limit {
                return Err(state.bytes);
            }
            if bytes > bp.budget {
                // The clock is read only while the connection is over budget.
                let since = *state.over_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= bp.grace {
                    return Err(state.bytes);
                }
            }
            state.bytes = bytes;
            state.queue.push_back(message);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// `message` was taken off the queue.
    fn taken(&self, state: &mut MailState, message: &Message) {
        state.bytes -= weight(message);
        if state.bytes <= self.budget {
            state.over_since = None;
        }
    }

    /// Payload bytes queued.
    #[cfg(test)]
    pub(crate) fn queued_bytes(&self) -> usize {
        lock(&self.state).bytes
    }

    fn kill(&self, frame: CloseFrame) {
        let waker = {
            let mut state = lock(&self.state);
            if !state.closing {
                state.closing = true;
                state.kill = Some(frame);
            }
            state.queue.clear();
            state.bytes = 0;
            state.over_since = None;
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
            self.taken(&mut state, &message);
            return Poll::Ready(Mail::Message(message));
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Mailbox {
    /// Moves queued messages to `out` while it holds fewer than `max` items
    /// (none once a close was ordered: [`poll`](Self::poll) reports that);
    /// returns their payload bytes.
    pub(crate) fn drain_into(
        &self,
        out: &mut VecDeque<super::context::Outgoing>,
        max: usize,
    ) -> usize {
        let mut state = lock(&self.state);
        if state.kill.is_some() {
            return 0;
        }
        let mut moved = 0;
        while out.len() < max {
            let Some(message) = state.queue.pop_front() else {
                break;
            };
            self.taken(&mut state, &message);
            moved += message.as_payload().len();
            out.push_back(super::context::Outgoing::Message(message));
        }
        moved
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
        // Budget 2 bytes, no grace: the third byte queued is one too many.
        let manager = Manager::with_backpressure(
            Backpressure::new(2, Duration::ZERO).policy(QueueFull::Skip),
        );
        let a = manager.register();
        let b = manager.register();
        assert_eq!(manager.len(), 2);
        let report = manager.broadcast("x");
        assert_eq!(report.queued, 2);
        manager.broadcast_except(a.id, "y");
        // b holds its budget (x, y); a has one.
        let report = manager.broadcast("z");
        assert_eq!((report.queued, report.skipped), (1, 1));
        assert_eq!(b.mailbox.queued_bytes(), 2);
        let mut cx = noop_cx();
        assert!(
            matches!(b.mailbox.poll(&mut cx, true), Poll::Ready(Mail::Message(m)) if m == Message::text("x"))
        );
        assert_eq!(b.mailbox.queued_bytes(), 1);
        assert!(matches!(b.mailbox.poll(&mut cx, false), Poll::Pending));
        drop(b);
        assert_eq!(manager.len(), 1);

        let closing = Manager::with_backpressure(Backpressure::new(1, Duration::ZERO).limit(1));
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
    fn over_budget_is_allowed_for_the_grace_and_up_to_the_limit() {
        let manager =
            Manager::with_backpressure(Backpressure::new(10, Duration::from_secs(3600)).limit(30));
        let a = manager.register();
        // A burst far over the budget but within the limit: all queued.
        for _ in 0..3 {
            assert!(manager.send_to(a.id, vec![0u8; 10]));
        }
        assert_eq!(a.mailbox.queued_bytes(), 30);
        // Over the limit: closed at once, grace or not.
        assert!(!manager.send_to(a.id, vec![0u8; 1]));

        // Draining below the budget forgets when it went over.
        let slow = Manager::with_backpressure(
            Backpressure::new(10, Duration::from_millis(50)).policy(QueueFull::Skip),
        );
        let b = slow.register();
        assert!(slow.send_to(b.id, vec![0u8; 20]));
        std::thread::sleep(Duration::from_millis(60));
        // Still over budget after the grace: skipped.
        assert!(!slow.send_to(b.id, vec![0u8; 1]));
        let mut cx = noop_cx();
        assert!(b.mailbox.poll(&mut cx, true).is_ready());
        assert_eq!(b.mailbox.queued_bytes(), 0);
        // Caught up: a new burst gets a new grace.
        assert!(slow.send_to(b.id, vec![0u8; 20]));
        assert!(slow.send_to(b.id, vec![0u8; 20]));
    }

    #[test]
    fn topics_reach_their_subscribers_and_end_with_them() {
        let manager = Manager::new();
        let a = manager.register();
        let b = manager.register();
        let c = manager.register();
        assert!(manager.subscribe(a.id, "room/1"));
        assert!(!manager.subscribe(a.id, "room/1"));
        assert!(manager.subscribe(b.id, "room/1"));
        assert!(manager.subscribe(c.id, "room/2"));
        assert_eq!(manager.subscribers("room/1"), 2);
        assert_eq!(manager.publish("room/1", "hi").queued, 2);
        assert_eq!(manager.publish_except("room/1", a.id, "hi").queued, 1);
        assert_eq!(manager.publish("nobody", "hi").queued, 0);
        let mut cx = noop_cx();
        assert!(c.mailbox.poll(&mut cx, true).is_pending());
        assert!(manager.unsubscribe(b.id, "room/1"));
        assert!(!manager.unsubscribe(b.id, "room/1"));
        assert_eq!(manager.topics_of(a.id), ["room/1"]);
        drop(a);
        assert_eq!(manager.subscribers("room/1"), 0);
        drop(c);
        assert!(lock(&manager.inner.topics).is_empty());
        assert!(!manager.subscribe(ConnectionId(999), "x"));
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
