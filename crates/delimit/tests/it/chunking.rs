//! The same messages, cut into chunks any way and pulled at any time, give the same
//! items in every mode (but `Chunks`, which gives the same data).

use ferrosocket_delimit::{DataKind, Mode};
use proptest::prelude::*;

use crate::support::{Got, Message, cuts, feed_chunked, feed_whole, modes, stream};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_mode_is_independent_of_chunking(messages in stream(), cuts in cuts()) {
        for (name, mode) in modes() {
            let (whole, whole_rest) = feed_whole(mode(), &messages);
            let (eager, eager_rest) = feed_chunked(mode(), &messages, &cuts, true);
            prop_assert_eq!(&eager.items, &whole.items, "{} (pulled after each push)", name);
            prop_assert_eq!(&eager_rest, &whole_rest, "{} (left buffered)", name);
            let (lazy, lazy_rest) = feed_chunked(mode(), &messages, &cuts, false);
            prop_assert_eq!(&lazy.items, &whole.items, "{} (pulled at the end)", name);
            prop_assert_eq!(&lazy_rest, &whole_rest, "{} (left buffered)", name);
        }
    }

    #[test]
    fn chunks_give_the_same_data_by_type(messages in stream(), cuts in cuts()) {
        let expected = coalesce(messages.iter().map(|(k, d)| (*k, d.clone())));
        for eager in [true, false] {
            let (log, rest) = feed_chunked(Mode::Chunks, &messages, &cuts, eager);
            prop_assert!(!log.failed, "{:?}", log.items);
            prop_assert!(rest.is_empty());
            let got = coalesce(log.items.into_iter().map(|g| match g {
                Got::Text(s) => (DataKind::Text, s.into_bytes()),
                Got::Binary(b) => (DataKind::Binary, b),
                other => panic!("unexpected {other:?}"),
            }));
            prop_assert_eq!(&got, &expected);
        }
    }

    #[test]
    fn entire_message_gives_back_each_message(messages in stream(), cuts in cuts()) {
        let (log, rest) = feed_chunked(Mode::EntireMessage, &messages, &cuts, true);
        let expected: Vec<Got> = messages
            .iter()
            .map(|(kind, data)| match kind {
                DataKind::Text => Got::Text(String::from_utf8(data.clone()).unwrap()),
                DataKind::Binary => Got::Binary(data.clone()),
            })
            .collect();
        prop_assert_eq!(log.items, expected);
        prop_assert!(rest.is_empty());
    }
}

/// Joins consecutive data of one type, dropping empty pieces.
fn coalesce(pieces: impl Iterator<Item = Message>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for (kind, data) in pieces.filter(|(_, d)| !d.is_empty()) {
        match out.last_mut() {
            Some((k, d)) if *k == kind => d.extend_from_slice(&data),
            _ => out.push((kind, data)),
        }
    }
    out
}

#[test]
fn a_delimiter_split_at_every_point_is_found() {
    let stream = b"one\r\ntwo\r\n\r\nthree";
    for cut in 0..=stream.len() {
        let messages = [
            (DataKind::Binary, stream[..cut].to_vec()),
            (DataKind::Binary, stream[cut..].to_vec()),
        ];
        let (log, rest) = feed_whole(Mode::delimiter("\r\n"), &messages);
        assert_eq!(
            log.items,
            [
                Got::Binary(b"one".to_vec()),
                Got::Binary(b"two".to_vec()),
                Got::Binary(Vec::new())
            ],
            "cut at {cut}"
        );
        assert_eq!(rest, b"three");
    }
}
