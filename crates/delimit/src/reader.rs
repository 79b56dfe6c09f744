//! [`ReadDelimiter`]: the buffer, its message boundaries and the modes at work.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem::Finder;

use crate::{Buffered, DataKind, DelimitError, Framing, Item, Mode, Record};

/// The default buffer cap (Pants' `buffer_size`): 64 KiB.
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;

/// A buffer between received WebSocket message data and the application (Pants'
/// `read_delimiter`): the connection driver [`push`](ReadDelimiter::push)es message
/// data as it arrives, the application pulls items with
/// [`next_item`](ReadDelimiter::next_item), cut according to the [`Mode`].
///
/// # Method kinds and order
///
/// * Input: [`push`](ReadDelimiter::push) / [`push_bytes`](ReadDelimiter::push_bytes)
///   with the data's type and whether it ends its message. A message may come whole
///   or in any number of chunks.
/// * Output: [`next_item`](ReadDelimiter::next_item) until it returns `None` (more
///   data needed) or an error. Pull every item after each push before pushing
///   again, as the connection drivers do: the cap below counts everything buffered.
/// * Control: [`set_mode`](ReadDelimiter::set_mode) at any time, also between two
///   items; the buffered data is kept and cut by the new mode from then on.
///   [`clear`](ReadDelimiter::clear), [`take_buffered`](ReadDelimiter::take_buffered)
///   and [`buffered`](ReadDelimiter::buffered) to handle errors or inspect.
///
/// # The buffer cap
///
/// When no item can be cut and more than the cap is buffered,
/// [`next_item`](ReadDelimiter::next_item) returns
/// [`DelimitError::Overflow`] (close code 1009). The cap in force
/// ([`effective_buffer_size`](ReadDelimiter::effective_buffer_size)) is the
/// configured [`buffer_size`](ReadDelimiter::buffer_size) (default
/// [`DEFAULT_BUFFER_SIZE`]) raised to the size of the item being assembled when the
/// mode knows it in advance: `N` for [`Mode::Bytes`]`(N)`, the record size for
/// [`Mode::Records`], and for [`Mode::Variable`] the bytes buffered for the record
/// plus the bytes its framer says it still needs. Every buffered byte counts, and an
/// empty message counts as one byte (so a flood of empty messages is bounded too).
///
/// An item may be longer than the cap if it is completed by the push that crossed
/// the cap. A push made while more than the cap is already buffered is refused with
/// the same error and its data dropped; from then on pushes are refused and
/// `next_item` returns `Overflow` until [`clear`](ReadDelimiter::clear), because the
/// stream now has a hole. So memory never holds more than the cap plus one pushed
/// chunk. Pants closes the connection on overflow; an application that wants to go
/// on can switch to a mode that drains the data (such as [`Mode::Chunks`]) or call
/// `clear`, which drops the buffered data and the rest of the message in progress.
///
/// # Types
///
/// Text and binary are never mixed silently: see [`Mode`] for which modes apply to
/// which type, and [`DelimitError::MixedTypes`] (close code 1003). Text items are
/// always valid UTF-8 on their own.
///
/// # Cost
///
/// Delimiter searches resume where the previous one stopped (the last
/// `delimiter length - 1` bytes are looked at again), so data arriving in many small
/// chunks is still scanned in linear time; [`bytes_scanned`](ReadDelimiter::bytes_scanned)
/// counts the work. Binary items share the received memory ([`Bytes`]); text items
/// are one copy into a `String`.
#[derive(Debug)]
pub struct ReadDelimiter {
    mode: Mode,
    /// The delimiter search, built once per `set_mode`.
    finder: Option<Finder<'static>>,
    /// The only data type the mode applies to, if any.
    only_for: Option<DataKind>,
    cap: usize,
    /// The buffered bytes: stream offsets `consumed .. consumed + buf.len()`.
    buf: BytesMut,
    /// Stream offset of `buf[0]`: bytes handed over or dropped so far.
    consumed: u64,
    /// The messages (or what is left of them) the buffered bytes belong to, in order
    /// and contiguous. Only the last can be unfinished.
    segs: VecDeque<Seg>,
    /// Sequence number of `segs[0]`; `segs[i]` is `front_seq + i`.
    front_seq: u64,
    /// Sequence numbers of the segments whose type differs from the previous one's.
    kind_changes: VecDeque<u64>,
    /// Empty messages in `segs`.
    empty_msgs: usize,
    /// Delimiter: no delimiter starts before this stream offset.
    scan_from: u64,
    /// Regex: no match in the data up to the message ends before this stream offset.
    regex_done: u64,
    /// Regex: the last fruitless search of a message still arriving, as
    /// `(consumed, haystack length)`, so as not to search the same data again.
    regex_seen: Option<(u64, usize)>,
    /// Variable records: the framer is not asked again before the buffer reaches
    /// this stream offset.
    need_until: u64,
    /// Variable records: size the record being assembled needs (for the cap).
    need_total: usize,
    /// A push was refused: data was lost, only `clear` resumes.
    refused: bool,
    /// The message the last refused push belonged to, if it did not end it.
    refused_open: Option<DataKind>,
    /// After `clear` in the middle of a message: the rest of it is dropped.
    discarding: Option<DataKind>,
    scanned: u64,
}

/// What is buffered of one message.
#[derive(Debug, Clone, Copy)]
struct Seg {
    kind: DataKind,
    /// Stream offset of the message's first buffered byte when it arrived.
    start: u64,
    /// Stream offset after its last byte received so far.
    end: u64,
    finished: bool,
    /// An empty message (counts as one byte toward the cap).
    empty: bool,
}

/// The longest run of buffered messages of one type, from the front.
#[derive(Debug, Clone, Copy)]
struct Run {
    kind: DataKind,
    /// Stream offset of its end.
    end: u64,
    /// Its last message is finished.
    #[cfg_attr(not(feature = "regex"), allow(dead_code))]
    finished: bool,
    /// The type of the message after it, if one is buffered.
    followed_by: Option<DataKind>,
    /// How many messages it has.
    #[cfg_attr(not(feature = "regex"), allow(dead_code))]
    len: usize,
}

type Step = Result<Option<Item>, DelimitError>;

impl Default for ReadDelimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadDelimiter {
    /// A reader in [`Mode::EntireMessage`] with the default cap of 64 KiB.
    #[must_use]
    pub fn new() -> Self {
        Self {
            mode: Mode::EntireMessage,
            finder: None,
            only_for: None,
            cap: DEFAULT_BUFFER_SIZE,
            buf: BytesMut::new(),
            consumed: 0,
            segs: VecDeque::new(),
            front_seq: 0,
            kind_changes: VecDeque::new(),
            empty_msgs: 0,
            scan_from: 0,
            regex_done: 0,
            regex_seen: None,
            need_until: 0,
            need_total: 0,
            refused: false,
            refused_open: None,
            discarding: None,
            scanned: 0,
        }
    }

    /// A reader in `mode` with the default cap.
    ///
    /// # Errors
    ///
    /// As [`set_mode`](ReadDelimiter::set_mode).
    pub fn with_mode(mode: Mode) -> Result<Self, DelimitError> {
        let mut reader = Self::new();
        reader.set_mode(mode)?;
        Ok(reader)
    }

    /// Sets the cap (Pants' `buffer_size`) and returns the reader.
    #[must_use]
    pub fn buffer_size(mut self, cap: usize) -> Self {
        self.cap = cap;
        self
    }

    /// Changes the cap; it applies from the next push or pull on.
    pub fn set_buffer_size(&mut self, cap: usize) {
        self.cap = cap;
    }

    /// The configured cap.
    #[must_use]
    pub const fn cap(&self) -> usize {
        self.cap
    }

    /// The cap in force: the configured one, raised for the item being assembled (see
    /// the type documentation).
    #[must_use]
    pub fn effective_buffer_size(&self) -> usize {
        let need = match &self.mode {
            Mode::Bytes(n) => *n,
            Mode::Records(r) => r.size(),
            Mode::Variable(_) => self.need_total,
            _ => 0,
        };
        self.cap.max(need)
    }

    /// The current mode.
    #[must_use]
    pub const fn mode(&self) -> &Mode {
        &self.mode
    }

    /// Switches to `mode`; it applies to the data already buffered (nothing is lost).
    ///
    /// # Errors
    ///
    /// [`DelimitError::InvalidMode`] for a mode that could only give endless empty
    /// items: an empty delimiter, `Bytes(0)`, records of size 0. The mode is then
    /// unchanged.
    pub fn set_mode(&mut self, mode: Mode) -> Result<(), DelimitError> {
        let finder = match &mode {
            Mode::Delimiter(d) if d.is_empty() => {
                return Err(DelimitError::InvalidMode("empty delimiter"));
            }
            Mode::TextDelimiter(d) if d.is_empty() => {
                return Err(DelimitError::InvalidMode("empty delimiter"));
            }
            Mode::Bytes(0) => return Err(DelimitError::InvalidMode("byte count of 0")),
            Mode::Records(r) if r.size() == 0 => {
                return Err(DelimitError::InvalidMode("record size of 0"));
            }
            Mode::Delimiter(d) => Some(Finder::new(d).into_owned()),
            Mode::TextDelimiter(d) => Some(Finder::new(d.as_bytes()).into_owned()),
            _ => None,
        };
        self.only_for = mode.only_for();
        self.mode = mode;
        self.finder = finder;
        self.reset_scans();
        Ok(())
    }

    /// Buffers a piece of message data of type `kind`; `message_finished` says it
    /// ends its message (an empty piece may do just that).
    ///
    /// Text is expected to be valid UTF-8 as a whole message (the protocol layer
    /// checks it); a piece may end inside a character.
    ///
    /// # Errors
    ///
    /// [`DelimitError::Overflow`] when more than the cap was already buffered: the
    /// data is dropped (see the type documentation).
    pub fn push(
        &mut self,
        kind: DataKind,
        data: &[u8],
        message_finished: bool,
    ) -> Result<(), DelimitError> {
        self.push_inner(kind, Source::Slice(data), message_finished)
    }

    /// As [`push`](ReadDelimiter::push), taking [`Bytes`]: without a copy when
    /// nothing is buffered and `data` is not shared.
    ///
    /// # Errors
    ///
    /// As [`push`](ReadDelimiter::push).
    pub fn push_bytes(
        &mut self,
        kind: DataKind,
        data: Bytes,
        message_finished: bool,
    ) -> Result<(), DelimitError> {
        self.push_inner(kind, Source::Owned(data), message_finished)
    }

    /// The next item, `None` if more data is needed, or why there can be none.
    ///
    /// An error consumes nothing: asking again gives it again until something
    /// changes (see [`DelimitError`]).
    pub fn next_item(&mut self) -> Option<Result<Item, DelimitError>> {
        if self.refused {
            return Some(Err(self.overflow()));
        }
        self.prune();
        let step = match self.mode {
            Mode::EntireMessage => self.entire_message(),
            Mode::Chunks => self.chunks(),
            Mode::Delimiter(_) | Mode::TextDelimiter(_) => self.delimited(),
            Mode::Bytes(n) => self.fixed(n),
            #[cfg(feature = "regex")]
            Mode::Regex(_) => self.regex(),
            Mode::Records(_) => self.record(),
            Mode::Variable(_) => self.variable(),
        };
        match step {
            Ok(Some(item)) => Some(Ok(item)),
            Err(e) => Some(Err(e)),
            Ok(None) if self.load() > self.effective_buffer_size() => Some(Err(self.overflow())),
            Ok(None) => None,
        }
    }

    /// The next item as a record of type `T`, in [`Mode::Records`] of `T`.
    ///
    /// # Errors
    ///
    /// [`DelimitError::InvalidMode`] if the mode is not records of `T` (nothing is
    /// consumed); otherwise as [`next_item`](ReadDelimiter::next_item).
    pub fn next_record<T: Record>(&mut self) -> Option<Result<T, DelimitError>> {
        const WRONG: DelimitError =
            DelimitError::InvalidMode("the mode is not records of this type");
        match &self.mode {
            Mode::Records(r) if r.is::<T>() => {}
            _ => return Some(Err(WRONG)),
        }
        let item = self.next_item()?;
        Some(item.and_then(|item| item.into_record::<T>().ok_or(WRONG)))
    }

    /// The buffered bytes not yet handed over, of every buffered message.
    #[must_use]
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// How many bytes are buffered.
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Nothing is buffered, not even an empty message.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.empty_msgs == 0
    }

    /// Takes everything buffered, message by message (an empty message is a piece
    /// with no data). The reader stays in its mode and a message in progress goes on
    /// with its next push; of an unfinished text message, a character split at the
    /// end stays buffered so that what follows is still valid UTF-8.
    pub fn take_buffered(&mut self) -> Vec<Buffered> {
        self.prune();
        let open = self.segs.back().filter(|s| !s.finished).copied();
        let keep = match open {
            Some(last) if last.kind == DataKind::Text => {
                let own = self.offset(last.end) - self.offset(last.start.max(self.consumed));
                crate::utf8::incomplete_tail(&self.buf).min(own)
            }
            _ => 0,
        };
        let total = self.buf.len() - keep;
        let cut = self.consumed + total as u64;
        let mut data = self.buf.split_to(total).freeze();
        let mut out = Vec::with_capacity(self.segs.len());
        for seg in &self.segs {
            let from = seg.start.max(self.consumed).min(cut);
            let to = seg.end.min(cut);
            let n = usize::try_from(to.saturating_sub(from)).unwrap_or(usize::MAX);
            out.push(Buffered {
                kind: seg.kind,
                data: data.split_to(n.min(data.len())),
                message_finished: seg.finished,
            });
        }
        self.consumed = cut;
        self.drop_segs();
        if let Some(last) = open {
            self.segs.push_back(Seg {
                kind: last.kind,
                start: cut,
                end: cut + keep as u64,
                finished: false,
                empty: false,
            });
        }
        self.reset_scans();
        out
    }

    /// Drops everything buffered and, if a message is in progress, the rest of it
    /// as it arrives; ends a refused state. The mode and cap stay.
    pub fn clear(&mut self) {
        self.prune();
        // The message in progress: the one the last push (refused or not) was part of.
        self.discarding = if self.refused {
            self.refused_open
        } else {
            self.segs.back().filter(|s| !s.finished).map(|s| s.kind)
        };
        self.consumed += self.buf.len() as u64;
        self.buf.clear();
        self.drop_segs();
        self.refused = false;
        self.refused_open = None;
        self.reset_scans();
    }

    /// Bytes examined by delimiter and regex searches so far: a work counter for
    /// tests and metrics (it grows linearly with the data in delimiter modes).
    #[must_use]
    pub const fn bytes_scanned(&self) -> u64 {
        self.scanned
    }
}

/// A pushed piece of data.
enum Source<'a> {
    Slice(&'a [u8]),
    Owned(Bytes),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Slice(s) => s.len(),
            Self::Owned(b) => b.len(),
        }
    }
}

// Buffer keeping.
impl ReadDelimiter {
    fn push_inner(
        &mut self,
        kind: DataKind,
        data: Source<'_>,
        fin: bool,
    ) -> Result<(), DelimitError> {
        if let Some(k) = self.discarding {
            if k == kind {
                if fin {
                    self.discarding = None;
                }
                return Ok(());
            }
            // Another type: a new message, the cleared one must have ended.
            self.discarding = None;
        }
        self.prune();
        let len = data.len();
        if self.refused || self.load() > self.effective_buffer_size() {
            if !self.refused {
                self.refused = true;
                self.refused_open = self.segs.back().filter(|s| !s.finished).map(|s| s.kind);
            }
            if fin {
                self.refused_open = None;
            } else if len > 0 {
                self.refused_open = Some(kind);
            }
            return Err(self.overflow());
        }
        if len == 0 && !fin {
            return Ok(());
        }
        let start = self.consumed + self.buf.len() as u64;
        match data {
            Source::Owned(b) if self.buf.is_empty() => self.buf = BytesMut::from(b),
            Source::Owned(b) => self.buf.extend_from_slice(&b),
            Source::Slice(s) => self.buf.extend_from_slice(s),
        }
        let end = start + len as u64;
        if let Some(last) = self.segs.back_mut()
            && !last.finished
            && last.kind == kind
        {
            last.end = end;
            last.finished = fin;
            return Ok(());
        }
        if self.segs.back().is_some_and(|last| last.kind != kind) {
            self.kind_changes
                .push_back(self.front_seq + self.segs.len() as u64);
        }
        let empty = len == 0;
        self.empty_msgs += usize::from(empty);
        self.segs.push_back(Seg {
            kind,
            start,
            end,
            finished: fin,
            empty,
        });
        Ok(())
    }

    /// What counts toward the cap.
    fn load(&self) -> usize {
        self.buf.len().saturating_add(self.empty_msgs)
    }

    fn overflow(&self) -> DelimitError {
        DelimitError::Overflow {
            buffered: self.load(),
            cap: self.effective_buffer_size(),
        }
    }

    fn reset_scans(&mut self) {
        self.scan_from = 0;
        self.regex_done = 0;
        self.regex_seen = None;
        self.need_until = 0;
        self.need_total = 0;
    }

    /// Index into `buf` of a buffered stream offset.
    fn offset(&self, pos: u64) -> usize {
        debug_assert!(pos >= self.consumed && pos - self.consumed <= self.buf.len() as u64);
        usize::try_from(pos.saturating_sub(self.consumed))
            .unwrap_or(usize::MAX)
            .min(self.buf.len())
    }

    /// Drops `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.buf.len());
        let n = n.min(self.buf.len());
        self.buf.advance(n);
        self.consumed += n as u64;
    }

    fn pop_seg(&mut self) {
        if let Some(seg) = self.segs.pop_front() {
            self.empty_msgs -= usize::from(seg.empty);
            self.front_seq += 1;
            while self
                .kind_changes
                .front()
                .is_some_and(|&c| c <= self.front_seq)
            {
                self.kind_changes.pop_front();
            }
        }
    }

    fn drop_segs(&mut self) {
        self.front_seq += self.segs.len() as u64;
        self.segs.clear();
        self.kind_changes.clear();
        self.empty_msgs = 0;
    }

    /// Pops the finished messages that items have been cut from to their end. An
    /// empty message not yet reached stays (`EntireMessage` hands it over).
    fn prune(&mut self) {
        while let Some(f) = self.segs.front() {
            if f.finished && f.end <= self.consumed && self.consumed > f.start {
                self.pop_seg();
            } else {
                break;
            }
        }
    }

    /// For the modes that see a stream of bytes: also pops empty messages.
    fn prune_stream(&mut self) {
        while let Some(f) = self.segs.front() {
            if f.finished && f.end <= self.consumed {
                self.pop_seg();
            } else {
                break;
            }
        }
    }

    /// The run of same-type messages at the front.
    fn run(&self) -> Option<Run> {
        let front = self.segs.front()?;
        let (len, followed_by) = match self.kind_changes.front() {
            Some(&change) => {
                let next = usize::try_from(change.saturating_sub(self.front_seq))
                    .unwrap_or(usize::MAX)
                    .clamp(1, self.segs.len());
                (next, self.segs.get(next).map(|s| s.kind))
            }
            None => (self.segs.len(), None),
        };
        let last = self.segs.get(len - 1).unwrap_or(front);
        Some(Run {
            kind: front.kind,
            end: last.end,
            finished: last.finished,
            followed_by,
            len,
        })
    }

    /// No item in the run: an error if data of the other type follows it.
    fn stalled(run: Run) -> Step {
        match run.followed_by {
            Some(found) => Err(DelimitError::MixedTypes {
                expected: run.kind,
                found,
            }),
            None => Ok(None),
        }
    }

    /// The run at the front, and how many of its bytes are buffered, for the stream
    /// modes; checks the mode's type.
    fn stream_run(&mut self) -> Result<Option<(Run, usize)>, DelimitError> {
        self.prune_stream();
        let Some(run) = self.run() else {
            return Ok(None);
        };
        let avail = self.offset(run.end);
        if avail == 0 {
            return Self::stalled(run).map(|_| None);
        }
        match self.only_for {
            Some(expected) if expected != run.kind => Err(DelimitError::MixedTypes {
                expected,
                found: run.kind,
            }),
            _ => Ok(Some((run, avail))),
        }
    }

    /// Hands over `len` bytes as an item of `kind`, then drops `skip` more.
    fn take(&mut self, kind: DataKind, len: usize, skip: usize) -> Result<Item, DelimitError> {
        let item = match kind {
            DataKind::Text => {
                let text = self.text(len)?;
                self.consume(len);
                Item::Text(text)
            }
            DataKind::Binary => {
                let len = len.min(self.buf.len());
                self.consumed += len as u64;
                Item::Binary(self.buf.split_to(len).freeze())
            }
        };
        self.consume(skip);
        Ok(item)
    }

    /// The first `len` buffered bytes as a `String`.
    fn text(&self, len: usize) -> Result<String, DelimitError> {
        let bytes = &self.buf[..len.min(self.buf.len())];
        match core::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(DelimitError::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            }),
        }
    }
}

// The modes.
impl ReadDelimiter {
    fn entire_message(&mut self) -> Step {
        let Some(&front) = self.segs.front() else {
            return Ok(None);
        };
        if !front.finished {
            // Only another type can follow an unfinished message.
            return match self.segs.get(1) {
                Some(next) => Err(DelimitError::MixedTypes {
                    expected: front.kind,
                    found: next.kind,
                }),
                None => Ok(None),
            };
        }
        let len = self.offset(front.end);
        let item = self.take(front.kind, len, 0)?;
        self.pop_seg();
        Ok(Some(item))
    }

    fn chunks(&mut self) -> Step {
        self.prune_stream();
        let Some(&front) = self.segs.front() else {
            return Ok(None);
        };
        let avail = self.offset(front.end);
        let hold = if front.kind == DataKind::Text && !front.finished {
            crate::utf8::incomplete_tail(&self.buf[..avail])
        } else {
            0
        };
        if avail > hold {
            return self.take(front.kind, avail - hold, 0).map(Some);
        }
        match self.segs.get(1) {
            Some(next) => Err(DelimitError::MixedTypes {
                expected: front.kind,
                found: next.kind,
            }),
            None => Ok(None),
        }
    }

    fn delimited(&mut self) -> Step {
        let Some((run, avail)) = self.stream_run()? else {
            return Ok(None);
        };
        let Some(finder) = &self.finder else {
            return Err(DelimitError::InvalidMode("no delimiter"));
        };
        let dlen = finder.needle().len();
        let from = self.offset(self.scan_from.max(self.consumed)).min(avail);
        self.scanned += (avail - from) as u64;
        match finder.find(&self.buf[from..avail]) {
            Some(at) => {
                let at = from + at;
                // Found again from here if the item cannot be handed over now.
                self.scan_from = self.consumed + at as u64;
                self.take(run.kind, at, dlen).map(Some)
            }
            None => {
                let resume = avail.saturating_sub(dlen - 1).max(from);
                self.scan_from = self.consumed + resume as u64;
                Self::stalled(run)
            }
        }
    }

    fn fixed(&mut self, n: usize) -> Step {
        let Some((run, avail)) = self.stream_run()? else {
            return Ok(None);
        };
        if avail < n {
            return Self::stalled(run);
        }
        if run.kind == DataKind::Text
            && let Err(e) = core::str::from_utf8(&self.buf[..n])
            && e.error_len().is_none()
        {
            return Err(DelimitError::SplitCodePoint { len: n });
        }
        self.take(run.kind, n, 0).map(Some)
    }

    fn record(&mut self) -> Step {
        let Some((run, avail)) = self.stream_run()? else {
            return Ok(None);
        };
        let Mode::Records(records) = &self.mode else {
            return Ok(None);
        };
        let size = records.size();
        if avail < size {
            return Self::stalled(run);
        }
        let record = records.decode(&self.buf[..size])?;
        self.consume(size);
        Ok(Some(Item::Record(record)))
    }

    fn variable(&mut self) -> Step {
        let Some((run, avail)) = self.stream_run()? else {
            return Ok(None);
        };
        if self.consumed + (avail as u64) < self.need_until {
            return Self::stalled(run);
        }
        let Mode::Variable(framer) = &mut self.mode else {
            return Ok(None);
        };
        let need = match framer.frame(&self.buf[..avail])? {
            Framing::Record { skip, len } => {
                let total = skip.saturating_add(len);
                if total == 0 {
                    return Err(DelimitError::InvalidMode(
                        "the record framer returned an empty record",
                    ));
                }
                if total <= avail {
                    self.need_until = 0;
                    self.need_total = 0;
                    self.consume(skip);
                    return self.take(DataKind::Binary, len, 0).map(Some);
                }
                // A framer that counted more bytes than it was shown: wait for them.
                total - avail
            }
            Framing::Need(more) => more.max(1),
        };
        self.need_until = self.consumed + avail as u64 + need as u64;
        self.need_total = avail.saturating_add(need);
        Self::stalled(run)
    }

    #[cfg(feature = "regex")]
    fn regex(&mut self) -> Step {
        let Some((run, avail)) = self.stream_run()? else {
            return Ok(None);
        };
        let Mode::Regex(mode) = &self.mode else {
            return Ok(None);
        };
        // Borrowed, not cloned: a clone of a regex starts with an empty cache pool.
        let (regex, search) = (&mode.regex, mode.search);
        // 1. Message ends are settle points: the data up to the end of each buffered
        //    message, in turn, from the first not yet searched.
        let done = self.regex_done.max(self.consumed);
        let first = self.segs.partition_point(|s| s.end <= done).min(run.len);
        let mut ends: Vec<u64> = Vec::new();
        for seg in self.segs.range(first..run.len) {
            if !seg.finished {
                break;
            }
            if ends.last() != Some(&seg.end) {
                ends.push(seg.end);
            }
        }
        for end in ends {
            let hay = self.offset(end);
            self.scanned += hay as u64;
            if let Some(found) = find(regex, search, &self.buf[..hay], true) {
                return self.take_match(run.kind, found).map(Some);
            }
            self.regex_done = end;
        }
        if run.finished {
            return Self::stalled(run);
        }
        // 2. The message still arriving: a match needs one byte (character) after it.
        let hay = match run.kind {
            DataKind::Text => avail - crate::utf8::incomplete_tail(&self.buf[..avail]),
            DataKind::Binary => avail,
        };
        if self.regex_seen == Some((self.consumed, hay)) {
            return Self::stalled(run);
        }
        self.scanned += hay as u64;
        if let Some(found) = find(regex, search, &self.buf[..hay], false) {
            return self.take_match(run.kind, found).map(Some);
        }
        self.regex_seen = Some((self.consumed, hay));
        Self::stalled(run)
    }

    #[cfg(feature = "regex")]
    fn take_match(&mut self, kind: DataKind, found: Found) -> Result<Item, DelimitError> {
        self.regex_seen = None;
        match found {
            Found::Search(range) => self.take(kind, range.start, range.len()),
            Found::Match(groups) => {
                let end = groups
                    .first()
                    .and_then(|g| g.as_ref().map(|r| r.end))
                    .unwrap_or(0);
                match kind {
                    DataKind::Text => {
                        let mut texts = Vec::with_capacity(groups.len());
                        for group in groups {
                            texts.push(match group {
                                Some(r) => Some(self.text_range(r)?),
                                None => None,
                            });
                        }
                        self.consume(end);
                        Ok(Item::TextMatch(texts))
                    }
                    DataKind::Binary => {
                        let Item::Binary(whole) = self.take(kind, end, 0)? else {
                            return Ok(Item::BinaryMatch(Vec::new()));
                        };
                        Ok(Item::BinaryMatch(
                            groups
                                .into_iter()
                                .map(|g| g.map(|r| whole.slice(r.start.min(end)..r.end.min(end))))
                                .collect(),
                        ))
                    }
                }
            }
        }
    }

    #[cfg(feature = "regex")]
    fn text_range(&self, range: core::ops::Range<usize>) -> Result<String, DelimitError> {
        let bytes = self.buf.get(range).unwrap_or_default();
        match core::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(DelimitError::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            }),
        }
    }
}

/// Searches `haystack` (search mode) or matches at its start; `settled`: the
/// haystack ends at a message end, else a match must end before the haystack does.
/// Empty matches never count.
#[cfg(feature = "regex")]
fn find(
    regex: &regex::bytes::Regex,
    search: bool,
    haystack: &[u8],
    settled: bool,
) -> Option<Found> {
    let counts = |end: usize| settled || end < haystack.len();
    if search {
        let m = regex.find_iter(haystack).find(|m| !m.is_empty())?;
        counts(m.end()).then(|| Found::Search(m.range()))
    } else {
        // Leftmost-first: if any match starts at 0, the leftmost one is the one an
        // anchored search would give.
        let caps = regex.captures(haystack)?;
        let whole = caps.get(0)?;
        (whole.start() == 0 && !whole.is_empty() && counts(whole.end()))
            .then(|| Found::Match(caps.iter().map(|g| g.map(|m| m.range())).collect()))
    }
}

/// A settled regex match.
#[cfg(feature = "regex")]
enum Found {
    /// Search mode: where the match is.
    Search(core::ops::Range<usize>),
    /// Match mode: the groups.
    Match(Vec<Option<core::ops::Range<usize>>>),
}

#[cfg(test)]
mod tests;
