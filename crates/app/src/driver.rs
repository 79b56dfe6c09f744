//! The connection task, on every [`Runtime`]: one poll loop over the socket, the
//! queue of a [`Context`], the manager's mailbox and the heartbeat timer,
//! calling the [`Handler`] between polls.

use std::fs::File;
use std::future::{Future, poll_fn};
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use ferrosocket_delimit::Mode;
use ferrosocket_delimit::{DataKind, DelimitError};
use ferrosocket_io::poll::{AsyncTimer, PollIo};
use ferrosocket_io::{Delivery, Incoming, WebSocketStream};
use futures_sink::Sink;

use crate::{CloseCode, CloseFrame, Error, Message, OpCode};

use super::context::{Outgoing, Phase};
use super::manager::{Mail, Registration};
use super::rt::Runtime;
use super::{Context, Handler, Heartbeat};

/// Messages handled in a row before the connection's task yields to the others.
const READ_BATCH: u32 = 32;

/// Reading pauses while this many writes are queued (back-pressure from a peer
/// that reads slowly to the handler that writes).
const MAX_QUEUED_BEFORE_READ: usize = 16;

/// A chunk read off the runtime's tasks: the file and buffer come back with it.
type ChunkRead = Pin<Box<dyn Future<Output = (File, Vec<u8>, io::Result<usize>)> + Send>>;

/// A file being streamed: what is left, the chunk buffer (reused), and the
/// read in flight (the file and buffer are inside it meanwhile).
struct FileJob {
    file: Option<File>,
    remaining: u64,
    buf: Vec<u8>,
    reading: Option<ChunkRead>,
    started: bool,
}

enum Event {
    Kill(CloseFrame),
    Mail(Message),
    Tick,
    Room,
    FileChunk(usize),
    FileFailed,
    Drained,
    Received(Message),
    /// A piece of a data message (streaming delivery).
    Piece(DataKind, Bytes, bool),
    Failed(Error),
    End,
}

/// Runs one open connection to its end; `on_connect` first, `on_close` last.
pub(crate) async fn run<R: Runtime, IO: PollIo>(
    mut ws: WebSocketStream<IO, R::Timer>,
    handler: &mut dyn Handler,
    mut ctx: Context,
    registration: Registration,
    heartbeat: Option<Heartbeat>,
) {
    let timer = R::timer();
    let captures = ctx.captures.clone();
    handler.on_connect(&mut ctx, &captures);
    follow_mode(&mut ws, &ctx);

    let mailbox = registration.mailbox.clone();
    let mut file: Option<FileJob> = None;
    let mut wrote = false;
    let mut read_turn = false;
    let mut end: Option<(CloseCode, String)> = None;
    // Heartbeat: the next ping, and the deadline of the oldest unanswered one.
    let mut next_ping = heartbeat.map(|h| timer.now() + h.interval);
    let mut pong_deadline: Option<std::time::Instant> = None;
    // The close: bounded from when it was asked for (by the handler, the manager
    // or the peer), whatever was queued before it.
    let close_timeout = ws.core_mut().config().protocol.close_timeout;
    let mut close_deadline: Option<std::time::Instant> = None;
    let mut sleep = next_ping.map(|at| timer.sleep_until(at));
    // Messages handled in a row: after a batch the task lets others run, so one
    // producer's burst does not hold back the recipients' writers.
    let mut reads_in_row = 0u32;

    loop {
        if ctx.phase == Phase::Abort {
            end.get_or_insert((CloseCode::ABNORMAL, "closed locally".into()));
            break;
        }
        if ctx.phase != Phase::Open
            && close_deadline.is_none()
            && let Some(limit) = close_timeout
        {
            let at = timer.now() + limit;
            close_deadline = Some(at);
            rearm(
                &timer,
                &mut sleep,
                [next_ping, pong_deadline, close_deadline],
            );
        }
        if reads_in_row >= READ_BATCH {
            reads_in_row = 0;
            yield_now().await;
        }
        ctx.unsent = ws.write_buffer_len();
        let event = poll_fn(|cx| {
            poll_event::<R, IO>(
                cx,
                &mut ws,
                &mut ctx,
                &mailbox,
                &mut file,
                &mut sleep,
                wrote,
                &mut read_turn,
            )
        })
        .await;
        if let Event::Received(_) | Event::Piece(..) = event {
            reads_in_row += 1;
        }
        match event {
            Event::Kill(frame) => {
                ctx.clear_outbox();
                file = None;
                if ctx.phase == Phase::Open {
                    ctx.phase = Phase::Closing;
                }
                // Errors: a close went out already.
                let _ = ws.core_mut().send(Message::Close(Some(frame)));
            }
            Event::Mail(message) => {
                ctx.outbox_bytes += message.as_payload().len();
                ctx.outbox.push_back(Outgoing::Message(message));
                // Take what else is waiting, up to the read pause, for one write.
                ctx.outbox_bytes += mailbox.drain_into(&mut ctx.outbox, MAX_QUEUED_BEFORE_READ);
            }
            Event::Tick => {
                let now = timer.now();
                if close_deadline.is_some_and(|d| now >= d) {
                    tracing::info!(timeout = ?close_timeout, "the close did not finish in time; dropping the connection");
                    end.get_or_insert((CloseCode::ABNORMAL, "close timed out".into()));
                    break;
                }
                let Some(hb) = heartbeat else {
                    rearm(
                        &timer,
                        &mut sleep,
                        [next_ping, pong_deadline, close_deadline],
                    );
                    continue;
                };
                if pong_deadline.is_some_and(|d| now >= d) {
                    tracing::info!(timeout = ?hb.timeout, "heartbeat: no pong in time; dropping the connection");
                    end = Some((CloseCode::ABNORMAL, "heartbeat: no pong in time".into()));
                    break;
                }
                if next_ping.is_some_and(|at| now >= at) {
                    if ctx.phase == Phase::Open {
                        let payload = ctx.next_ping_payload();
                        if ws.core_mut().send(Message::Ping(payload.clone())).is_ok() {
                            ctx.ping_sent(payload);
                            pong_deadline.get_or_insert(now + hb.timeout);
                        }
                    }
                    next_ping = Some(now + hb.interval);
                }
                rearm(
                    &timer,
                    &mut sleep,
                    [next_ping, pong_deadline, close_deadline],
                );
            }
            Event::Room => {
                if file.is_some() {
                    continue; // the next poll reads the file
                }
                // Queue as much as the write buffer takes: one write carries
                // the batch.
                while file.is_none() && !ws.core_mut().write_buffer_full() {
                    let Some(next) = ctx.outbox.pop_front() else {
                        break;
                    };
                    wrote = true;
                    if let Err(()) = queue(&mut ws, &mut ctx, &mut file, next) {
                        fail_write(&mut ws, &mut ctx, &mut file);
                        break;
                    }
                }
            }
            Event::FileChunk(n) => {
                let Some(job) = &mut file else { continue };
                job.remaining -= n as u64;
                let fin = job.remaining == 0 || n == 0;
                let opcode = if job.started {
                    OpCode::Continuation
                } else {
                    OpCode::Binary
                };
                job.started = true;
                let sent = ws.core_mut().send_fragment(opcode, &job.buf[..n], fin);
                if fin {
                    file = None;
                }
                if sent.is_err() {
                    fail_write(&mut ws, &mut ctx, &mut file);
                }
                wrote = true;
            }
            Event::FileFailed => fail_write(&mut ws, &mut ctx, &mut file),
            Event::Drained => {
                wrote = false;
                if ctx.phase == Phase::Open {
                    handler.on_write(&mut ctx);
                }
            }
            Event::Piece(kind, data, fin) => {
                deliver(handler, &mut ctx, kind, data, fin);
                follow_mode(&mut ws, &ctx);
            }
            Event::Received(message) => match message {
                Message::Text(text) => {
                    deliver(handler, &mut ctx, DataKind::Text, text.into(), true);
                    follow_mode(&mut ws, &ctx);
                }
                Message::Binary(data) => {
                    deliver(handler, &mut ctx, DataKind::Binary, data, true);
                    follow_mode(&mut ws, &ctx);
                }
                Message::Ping(_) => {} // answered by the stream
                Message::Pong(payload) => {
                    let rtt = ctx.pong_received(&payload).map(|sent| sent.elapsed());
                    // Only a pong that answers a ping of ours shows the peer is
                    // alive: unsolicited pongs do not keep a dead peer.
                    if rtt.is_some() {
                        pong_deadline = None;
                    }
                    if ctx.phase != Phase::Closed {
                        handler.on_pong(&mut ctx, payload, rtt);
                    }
                }
                Message::Close(frame) => {
                    end = Some(match frame {
                        Some(frame) => (frame.code(), frame.reason().to_owned()),
                        None => (CloseCode::NO_STATUS, String::new()),
                    });
                    ctx.clear_outbox();
                    file = None;
                    if ctx.phase == Phase::Open {
                        ctx.phase = Phase::Closing;
                    }
                }
            },
            Event::Failed(error) => {
                match &error {
                    Error::Protocol(e) => {
                        tracing::info!(close_code = e.close_code().as_u16(), error = %e, "protocol error");
                    }
                    Error::Timeout(timer) => tracing::info!(%timer, "timed out"),
                    other => tracing::debug!(error = %other, "connection failed"),
                }
                let why = match &error {
                    Error::Protocol(e) => (e.close_code(), e.to_string()),
                    other => (CloseCode::ABNORMAL, other.to_string()),
                };
                end.get_or_insert(why);
                ctx.clear_outbox();
                file = None;
                if ctx.phase == Phase::Open {
                    ctx.phase = Phase::Closing;
                }
                if !matches!(error, Error::Protocol(_)) {
                    break;
                }
            }
            Event::End => break,
        }
    }

    ctx.phase = Phase::Closed;
    ctx.clear_outbox();
    let (code, reason) = end.unwrap_or((CloseCode::ABNORMAL, String::new()));
    tracing::debug!(close_code = code.as_u16(), %reason, "closed");
    handler.on_close(&mut ctx, code, &reason);
    drop(registration);
}

/// The next thing to do, in priority order: a close order, the heartbeat, the
/// next write (if the socket has room), the drained notice, the next message.
#[allow(clippy::too_many_arguments)]
fn poll_event<R: Runtime, IO: PollIo>(
    cx: &mut TaskContext<'_>,
    ws: &mut WebSocketStream<IO, R::Timer>,
    ctx: &mut Context,
    mailbox: &super::manager::Mailbox,
    file: &mut Option<FileJob>,
    sleep: &mut Option<<R::Timer as AsyncTimer>::Sleep>,
    wrote: bool,
    read_turn: &mut bool,
) -> Poll<Event> {
    let idle = ctx.outbox.is_empty() && file.is_none();
    match mailbox.poll(cx, idle && ctx.phase == Phase::Open) {
        Poll::Ready(Mail::Close(frame)) => return Poll::Ready(Event::Kill(frame)),
        Poll::Ready(Mail::Message(m)) => return Poll::Ready(Event::Mail(m)),
        Poll::Pending => {}
    }
    if let Some(sleep) = sleep
        && Pin::new(sleep).poll(cx).is_ready()
    {
        return Poll::Ready(Event::Tick);
    }
    let may_read = ctx.outbox.len() < MAX_QUEUED_BEFORE_READ && file.is_none();
    if *read_turn && may_read {
        *read_turn = false;
        if let Poll::Ready(event) = poll_read(cx, ws) {
            return Poll::Ready(event);
        }
    }
    if !idle {
        match Pin::new(&mut *ws).poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                *read_turn = true;
                if let Some(job) = file {
                    return poll_file::<R>(cx, job);
                }
                return Poll::Ready(Event::Room);
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Event::Failed(e)),
            Poll::Pending => {}
        }
    } else if wrote || ws.write_buffer_len() > 0 {
        match Pin::new(&mut *ws).poll_flush(cx) {
            Poll::Ready(Ok(())) if wrote => {
                *read_turn = true;
                return Poll::Ready(Event::Drained);
            }
            Poll::Ready(Ok(())) | Poll::Pending => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Event::Failed(e)),
        }
    }
    if may_read {
        return poll_read(cx, ws);
    }
    Poll::Pending
}

fn poll_read<IO: PollIo, T: AsyncTimer>(
    cx: &mut TaskContext<'_>,
    ws: &mut WebSocketStream<IO, T>,
) -> Poll<Event> {
    ws.poll_next_incoming(cx).map(|next| match next {
        Some(Ok(Incoming::Message(message))) => Event::Received(message),
        Some(Ok(Incoming::Data { kind, data, fin })) => {
            let kind = match kind {
                ferrosocket_io::DataKind::Text => DataKind::Text,
                ferrosocket_io::DataKind::Binary => DataKind::Binary,
            };
            Event::Piece(kind, data, fin)
        }
        Some(Err(e)) => Event::Failed(e),
        None => Event::End,
    })
}

/// Reads the next chunk of a file being sent (none for what is left being 0),
/// with the runtime's [`unblock`](Runtime::unblock).
fn poll_file<R: Runtime>(cx: &mut TaskContext<'_>, job: &mut FileJob) -> Poll<Event> {
    if job.reading.is_none() {
        let want = usize::try_from(job.remaining)
            .unwrap_or(usize::MAX)
            .min(job.buf.len());
        if want == 0 {
            return Poll::Ready(Event::FileChunk(0));
        }
        let (Some(mut file), mut buf) = (job.file.take(), std::mem::take(&mut job.buf)) else {
            return Poll::Ready(Event::FileFailed);
        };
        job.reading = Some(Box::pin(R::unblock(move || {
            let read = file.read(&mut buf[..want]);
            (file, buf, read)
        })));
    }
    let Some(reading) = &mut job.reading else {
        return Poll::Pending;
    };
    let (file, buf, read) = std::task::ready!(reading.as_mut().poll(cx));
    job.reading = None;
    job.file = Some(file);
    job.buf = buf;
    Poll::Ready(match read {
        Ok(n) => Event::FileChunk(n),
        Err(_) => Event::FileFailed,
    })
}

/// Queues one outgoing item in the stream's core (there is room).
fn queue<IO: PollIo, T: AsyncTimer>(
    ws: &mut WebSocketStream<IO, T>,
    ctx: &mut Context,
    file: &mut Option<FileJob>,
    next: Outgoing,
) -> Result<(), ()> {
    let core = ws.core_mut();
    match next {
        Outgoing::Message(message) => {
            ctx.outbox_bytes = ctx.outbox_bytes.saturating_sub(message.as_payload().len());
            core.send(message).map_err(drop)
        }
        Outgoing::Ping(payload) => {
            core.send(Message::Ping(payload.clone())).map_err(drop)?;
            ctx.ping_sent(payload);
            Ok(())
        }
        Outgoing::Close(frame) => core.send(Message::Close(Some(frame))).map_err(drop),
        Outgoing::Fragments {
            kind,
            mut iter,
            started,
            peeked,
        } => {
            let chunk = peeked.or_else(|| iter.next()).unwrap_or_default();
            let peeked = iter.next();
            let fin = peeked.is_none();
            let opcode = match (started, kind) {
                (true, _) => OpCode::Continuation,
                (false, DataKind::Text) => OpCode::Text,
                (false, DataKind::Binary) => OpCode::Binary,
            };
            core.send_fragment(opcode, &chunk, fin).map_err(drop)?;
            if !fin {
                ctx.outbox.push_front(Outgoing::Fragments {
                    kind,
                    iter,
                    started: true,
                    peeked,
                });
            }
            Ok(())
        }
        Outgoing::File {
            file: std_file,
            len,
        } => {
            *file = Some(FileJob {
                file: Some(std_file),
                remaining: len,
                buf: vec![0; ctx.file_chunk],
                reading: None,
                started: false,
            });
            Ok(())
        }
    }
}

/// A queued write could not be sent (invalid text fragments, an unreadable
/// file): the message cannot be finished, so the connection closes with 1011.
fn fail_write<IO: PollIo, T: AsyncTimer>(
    ws: &mut WebSocketStream<IO, T>,
    ctx: &mut Context,
    file: &mut Option<FileJob>,
) {
    *file = None;
    ctx.clear_outbox();
    if ctx.phase == Phase::Open {
        ctx.phase = Phase::Closing;
    }
    let frame = super::manager::close_frame(CloseCode::INTERNAL_ERROR, "cannot send");
    let _ = ws.core_mut().send(Message::Close(Some(frame)));
}

/// Hands received data to the read delimiter and its items to `on_read`.
/// `fin`: the data ends its message.
fn deliver(handler: &mut dyn Handler, ctx: &mut Context, kind: DataKind, data: Bytes, fin: bool) {
    if ctx.phase != Phase::Open {
        return; // closing: incoming data is dropped
    }
    // A refused push is reported by `next_item` as the overflow.
    let _ = ctx.reader.push_bytes(kind, data, fin);
    while ctx.phase == Phase::Open {
        match ctx.reader.next_item() {
            None => break,
            Some(Ok(item)) => handler.on_read(ctx, item),
            Some(Err(e)) => {
                if matches!(e, DelimitError::Overflow { .. }) {
                    handler.on_overflow_error(ctx, e);
                } else {
                    handler.on_read_error(ctx, e);
                }
                if ctx.phase == Phase::Open {
                    ctx.reader.clear();
                }
            }
        }
    }
}

/// Receives whole messages while the read delimiter takes whole messages (bounded
/// by the protocol's `max_message_size`), and pieces as they arrive for every
/// other mode, which then cuts its items from the streamed data (bounded by its
/// buffer cap): a 32 MiB message read in `Mode::Chunks` or by lines never sits
/// whole in memory. The stream switches at the next message boundary.
fn follow_mode<IO: PollIo, T: AsyncTimer>(ws: &mut WebSocketStream<IO, T>, ctx: &Context) {
    let wanted = if matches!(ctx.reader.mode(), Mode::EntireMessage) {
        Delivery::Assembled
    } else {
        Delivery::Streaming
    };
    if ws.delivery() != wanted {
        ws.set_delivery(wanted);
    }
}

/// Moves (or makes) the timer's sleep to the earliest of `deadlines`.
fn rearm<T: AsyncTimer>(
    timer: &T,
    sleep: &mut Option<T::Sleep>,
    deadlines: [Option<std::time::Instant>; 3],
) {
    let Some(wake) = deadlines.into_iter().flatten().min() else {
        return;
    };
    match sleep {
        Some(sleep) => timer.reset(sleep, wake),
        None => *sleep = Some(timer.sleep_until(wake)),
    }
}

/// Lets the runtime run other tasks before this one goes on.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}
