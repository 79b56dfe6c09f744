//! Mode switches between items apply to the buffered data and lose nothing, for
//! any chunking.

use ferrosocket_delimit::{DataKind, Mode, ReadDelimiter};
use proptest::prelude::*;

use crate::support::{BIG, Log, Message, cuts, modes, stream};

/// Feeds `messages` (cut by `cuts`, or whole if `cuts` is empty) and switches to the
/// next mode of `schedule` after every item.
fn feed_switching(messages: &[Message], cuts: &[usize], schedule: &[usize]) -> (Log, Vec<u8>) {
    let all = modes();
    let mode = |i: usize| (all[i % all.len()].1)();
    let mut reader = ReadDelimiter::with_mode(mode(schedule[0]))
        .unwrap()
        .buffer_size(BIG);
    let mut next = 1;
    let mut log = Log::default();
    let mut pull = |reader: &mut ReadDelimiter, log: &mut Log| {
        while !log.failed {
            let Some(item) = reader.next_item() else {
                return;
            };
            let g = crate::support::got(item);
            log.failed = matches!(g, crate::support::Got::Err(_));
            log.items.push(g);
            reader
                .set_mode(mode(schedule[next % schedule.len()]))
                .unwrap();
            next += 1;
        }
    };
    let mut sizes = cuts.iter().copied().cycle();
    for (kind, data) in messages {
        if cuts.is_empty() {
            reader.push(*kind, data, true).unwrap();
            pull(&mut reader, &mut log);
            continue;
        }
        let mut rest = &data[..];
        loop {
            let n = sizes.next().unwrap_or(1).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            reader.push(*kind, chunk, rest.is_empty()).unwrap();
            pull(&mut reader, &mut log);
            if rest.is_empty() {
                break;
            }
        }
    }
    (log, reader.buffered().to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn switching_after_each_item_is_independent_of_chunking(
        messages in stream(),
        cuts in cuts(),
        schedule in prop::collection::vec(0usize..64, 1..12),
    ) {
        let (whole, whole_rest) = feed_switching(&messages, &[], &schedule);
        let (chunked, chunked_rest) = feed_switching(&messages, &cuts, &schedule);
        prop_assert_eq!(&chunked.items, &whole.items);
        prop_assert_eq!(chunked_rest, whole_rest);
    }

    #[test]
    fn take_buffered_gives_back_exactly_what_is_buffered(
        messages in stream(),
        cuts in cuts(),
        mode in 0usize..64,
        pulls in 0usize..6,
    ) {
        let all = modes();
        let mut reader = ReadDelimiter::with_mode((all[mode % all.len()].1)())
            .unwrap()
            .buffer_size(BIG);
        let mut sizes = cuts.iter().copied().cycle();
        for (i, (kind, data)) in messages.iter().enumerate() {
            let last = i + 1 == messages.len();
            let mut rest = &data[..];
            loop {
                let n = sizes.next().unwrap_or(1).min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                rest = tail;
                // The last message may stay unfinished.
                let fin = rest.is_empty() && (!last || n % 2 == 0);
                reader.push(*kind, chunk, fin).unwrap();
                if rest.is_empty() {
                    break;
                }
            }
        }
        for _ in 0..pulls {
            if !matches!(reader.next_item(), Some(Ok(_))) {
                break;
            }
        }
        let before = reader.buffered().to_vec();
        let pieces = reader.take_buffered();
        let mut joined: Vec<u8> = pieces.iter().flat_map(|p| p.data.to_vec()).collect();
        joined.extend_from_slice(reader.buffered());
        prop_assert_eq!(joined, before);
        // Whatever stays is the split character of an unfinished text message.
        prop_assert!(reader.buffered().len() <= 3);
        if let Some(last) = pieces.last() {
            prop_assert!(reader.buffered().is_empty() || (last.kind == DataKind::Text && !last.message_finished));
        }
        prop_assert!(pieces.windows(2).all(|w| w[0].message_finished));
    }
}

#[test]
fn a_switch_while_handling_an_item_sees_the_rest_of_the_buffer() {
    // A header line announces a binary length, then the body follows: the classic
    // read_delimiter dance (Pants' HTTP parsing does the same with text).
    let mut reader = ReadDelimiter::with_mode(Mode::delimiter("\n")).unwrap();
    reader.push(DataKind::Binary, b"len 5\nhel", false).unwrap();
    let mut bodies = Vec::new();
    let mut pieces: Vec<&[u8]> = vec![b"lo", b"len 2\nok", b""];
    loop {
        while let Some(item) = reader.next_item() {
            let item = item.unwrap();
            let bytes = item.as_bytes().unwrap();
            if let Some(n) = bytes.strip_prefix(b"len ") {
                let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
                reader.set_mode(Mode::Bytes(n)).unwrap();
            } else {
                bodies.push(bytes.to_vec());
                reader.set_mode(Mode::delimiter("\n")).unwrap();
            }
        }
        if pieces.is_empty() {
            break;
        }
        let piece = pieces.remove(0);
        reader
            .push(DataKind::Binary, piece, pieces.is_empty())
            .unwrap();
    }
    assert_eq!(bodies, [b"hello".to_vec(), b"ok".to_vec()]);
    assert!(reader.is_empty());
}
