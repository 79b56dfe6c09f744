//! Our client and server codecs against each other: every window, with and without
//! context takeover, fragmented anywhere on both sides.

use bytes::BytesMut;
use ferrosocket_deflate::{Agreed, DeflateConfig, PerMessageDeflate, Role};
use proptest::prelude::*;

/// Sends `message` from `tx` to `rx`, cutting the sender's input at `tx_cuts` and
/// the wire at `rx_cuts` (positions taken modulo the lengths). Returns whether it was
/// compressed and the wire bytes.
fn send(
    tx: &mut PerMessageDeflate,
    rx: &mut PerMessageDeflate,
    message: &[u8],
    tx_cuts: &[usize],
    rx_cuts: &[usize],
    bytes_mut: bool,
) -> (bool, Vec<u8>) {
    let hint = tx_cuts.is_empty().then_some(message.len());
    let compressed = tx.begin_message(hint);
    let mut wire = Vec::new();
    let ranges = pieces(message, tx_cuts);
    let count = ranges.len();
    for (i, piece) in ranges.into_iter().enumerate() {
        let last = i + 1 == count;
        let mut frame = Vec::new();
        tx.compress_chunk(&message[piece], last, &mut frame)
            .unwrap();
        wire.extend_from_slice(&frame);
    }
    if message.is_empty() {
        tx.compress_chunk(b"", true, &mut wire).unwrap();
    }
    assert_eq!(tx.message_compressed(), None);
    let got = if compressed {
        if bytes_mut {
            let mut out = BytesMut::new();
            receive(rx, &wire, rx_cuts, &mut out);
            out.to_vec()
        } else {
            let mut out = Vec::new();
            receive(rx, &wire, rx_cuts, &mut out);
            out
        }
    } else {
        wire.clone()
    };
    assert_eq!(got, message, "compressed: {compressed}");
    (compressed, wire)
}

fn receive<B: ferrosocket_deflate::OutBuf>(
    rx: &mut PerMessageDeflate,
    wire: &[u8],
    cuts: &[usize],
    out: &mut B,
) {
    let ranges = pieces(wire, cuts);
    if ranges.is_empty() {
        rx.decompress(b"", true, out, usize::MAX).unwrap();
    }
    let count = ranges.len();
    for (i, piece) in ranges.into_iter().enumerate() {
        let last = i + 1 == count;
        rx.decompress(&wire[piece], last, out, usize::MAX).unwrap();
    }
}

/// `data` split at `cuts` (mod its length), in order, empty pieces included.
fn pieces(data: &[u8], cuts: &[usize]) -> Vec<core::ops::Range<usize>> {
    if data.is_empty() {
        return Vec::new();
    }
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    at.sort_unstable();
    let mut ranges = Vec::new();
    let mut start = 0;
    for c in at {
        ranges.push(start..c);
        start = c;
    }
    ranges.push(start..data.len());
    ranges
}

fn codecs(agreed: Agreed, level: u32) -> (PerMessageDeflate, PerMessageDeflate) {
    let config = DeflateConfig::new().threshold(0).level(level).unwrap();
    (
        agreed.into_codec(Role::Client, &config),
        agreed.into_codec(Role::Server, &config),
    )
}

/// Text with repeats near and far: a vocabulary of words, a few long lines copied
/// from kilobytes back.
fn text(len: usize, seed: u32) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "alpha",
        "beta",
        "gamma",
        "\"id\":",
        "{\"op\":",
        "update",
        "12345",
        ", ",
        "\n",
        "websocket",
        "deflate",
        "]}",
    ];
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if x.is_multiple_of(17) && out.len() > 3000 {
            let from = out.len() - 3000 + (x as usize % 1000);
            let line: Vec<u8> = out[from..from + 200].to_vec();
            out.extend_from_slice(&line);
        } else {
            out.extend_from_slice(WORDS[(x % 12) as usize].as_bytes());
        }
    }
    out.truncate(len);
    out
}

fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn agreed() -> impl Strategy<Value = Agreed> {
    (any::<bool>(), any::<bool>(), 8u8..=15, 8u8..=15).prop_map(|(s, c, sb, cb)| Agreed {
        server_no_context_takeover: s,
        client_no_context_takeover: c,
        server_max_window_bits: sb,
        client_max_window_bits: cb,
    })
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0usize..6000, any::<u32>()).prop_map(|(n, s)| text(n, s)),
        (0usize..3000, any::<u32>()).prop_map(|(n, s)| noise(n, s)),
        prop::collection::vec(any::<u8>(), 0..64),
        (0usize..5000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_message_survives_both_ways(
        agreed in agreed(),
        level in 0u32..=9,
        messages in prop::collection::vec(
            (
                message(),
                prop::collection::vec(any::<usize>(), 0..5),
                prop::collection::vec(any::<usize>(), 0..5),
                any::<bool>(),
                any::<bool>(),
            ),
            1..6,
        ),
    ) {
        let (mut client, mut server) = codecs(agreed, level);
        for (message, tx_cuts, rx_cuts, to_server, bytes_mut) in &messages {
            let (tx, rx) = if *to_server {
                (&mut client, &mut server)
            } else {
                (&mut server, &mut client)
            };
            let (compressed, _) = send(tx, rx, message, tx_cuts, rx_cuts, *bytes_mut);
            let window = if *to_server {
                agreed.client_max_window_bits
            } else {
                agreed.server_max_window_bits
            };
            prop_assert_eq!(compressed, window != 8);
        }
    }
}

#[test]
fn every_window_and_takeover_setting_round_trips() {
    let messages: Vec<Vec<u8>> = vec![
        text(40_000, 1),
        text(300, 2),
        noise(2000, 3),
        Vec::new(),
        text(40_000, 1),
        vec![b'x'; 70_000],
    ];
    for bits in 9..=15 {
        for (snct, cnct) in [(false, false), (true, false), (false, true), (true, true)] {
            let agreed = Agreed {
                server_no_context_takeover: snct,
                client_no_context_takeover: cnct,
                server_max_window_bits: bits,
                client_max_window_bits: 24 - bits,
            };
            let (mut client, mut server) = codecs(agreed, 1);
            assert_eq!(client.compressor_window_bits(), Some(24 - bits));
            assert_eq!(server.compressor_window_bits(), Some(bits));
            assert_eq!(client.compressor_resets(), cnct);
            assert_eq!(server.decompressor_resets(), cnct);
            assert_eq!(server.compressor_resets(), snct);
            assert_eq!(client.decompressor_resets(), snct);
            for (i, m) in messages.iter().enumerate() {
                let cuts = [i * 977, i * 4099 + 13, 5];
                send(
                    &mut client,
                    &mut server,
                    m,
                    &cuts,
                    &[i * 31, 7000],
                    i % 2 == 0,
                );
                send(&mut server, &mut client, m, &[i * 7], &cuts, i % 2 == 1);
            }
        }
    }
}

#[test]
fn the_agreed_window_binds_our_compressor() {
    // 2 KiB of noise twice: the repeat is 2048 bytes back, beyond a 9- or 10-bit
    // window but within an 11-bit one.
    let block = noise(2048, 9);
    let data = [block.clone(), block].concat();
    for bits in 9..=15u8 {
        let agreed = Agreed {
            server_max_window_bits: bits,
            ..Agreed::default()
        };
        let (mut client, mut server) = codecs(agreed, 9);
        let (_, wire) = send(&mut server, &mut client, &data, &[], &[], false);
        // Only a window of 4 KiB or more can use the repeat.
        assert_eq!(wire.len() < 3000, bits >= 12, "bits {bits}: {}", wire.len());
    }
    // Our decompressor reads with 15 bits whatever was agreed, so a peer that
    // exceeds its window (here 11 bits used where 10 were agreed, reaching into the
    // previous message) is still understood.
    let block = noise(2048, 11);
    let (_, mut wide) = codecs(Agreed::default(), 9);
    let narrow = Agreed {
        server_max_window_bits: 10,
        ..Agreed::default()
    };
    let (mut client, _) = codecs(narrow, 9);
    for _ in 0..2 {
        let mut wire = Vec::new();
        wide.compress(&block, true, &mut wire).unwrap();
        let mut out = Vec::new();
        client
            .decompress(&wire, true, &mut out, usize::MAX)
            .unwrap();
        assert_eq!(out, block);
    }
}

#[test]
fn context_takeover_pays_and_no_context_takeover_forgets() {
    let message = text(1500, 42);
    let (mut client, mut server) = codecs(Agreed::default(), 1);
    let (_, first) = send(&mut client, &mut server, &message, &[], &[], false);
    let (_, second) = send(&mut client, &mut server, &message, &[], &[], false);
    assert!(
        second.len() * 4 < first.len(),
        "{} then {}",
        first.len(),
        second.len()
    );

    let reset = Agreed {
        client_no_context_takeover: true,
        ..Agreed::default()
    };
    let (mut client, mut server) = codecs(reset, 1);
    let (_, first) = send(&mut client, &mut server, &message, &[], &[], false);
    let (_, second) = send(&mut client, &mut server, &message, &[], &[], false);
    assert_eq!(first, second);
    // The server's direction still keeps its context.
    let (_, first) = send(&mut server, &mut client, &message, &[], &[], false);
    let (_, second) = send(&mut server, &mut client, &message, &[], &[], false);
    assert!(second.len() * 4 < first.len());
}

#[test]
fn idle_contexts_are_freed_only_when_asked_and_allowed() {
    let config = DeflateConfig::new()
        .threshold(0)
        .release_idle_contexts(true);
    let reset = Agreed {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..Agreed::default()
    };
    let mut client = reset.into_codec(Role::Client, &config);
    let mut server = reset.into_codec(Role::Server, &config);
    let message = text(5000, 5);
    for _ in 0..3 {
        send(&mut client, &mut server, &message, &[100], &[200], true);
        // Kept between messages (a burst shares it) until the connection is idle.
        assert!(client.compressor_allocated() && server.decompressor_allocated());
        assert!(client.release_idle_contexts() && server.release_idle_contexts());
        assert!(!client.compressor_allocated());
        assert!(!server.decompressor_allocated());
    }
    // With context takeover the state must stay, whatever the setting.
    let mut client = Agreed::default().into_codec(Role::Client, &config);
    let mut server = Agreed::default().into_codec(Role::Server, &config);
    send(&mut client, &mut server, &message, &[], &[], true);
    assert!(!client.release_idle_contexts() && !server.release_idle_contexts());
    assert!(client.compressor_allocated() && server.decompressor_allocated());
    // Kept but reset in place without the setting.
    let keep = DeflateConfig::new()
        .threshold(0)
        .release_idle_contexts(false);
    let mut client = reset.into_codec(Role::Client, &keep);
    let mut server = reset.into_codec(Role::Server, &keep);
    send(&mut client, &mut server, &message, &[], &[], false);
    assert!(!client.release_idle_contexts() && !server.release_idle_contexts());
    assert!(client.compressor_allocated() && server.decompressor_allocated());
}

#[test]
fn garbage_never_panics_and_respects_the_budget() {
    let mut x = 7u32;
    for round in 0..2000 {
        let len = round % 200;
        let junk = noise(len, x);
        x = x.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut d = Agreed::default().into_codec(Role::Server, &DeflateConfig::new());
        let mut out = Vec::new();
        let max = (x % 300) as usize;
        for piece in junk.chunks((x % 17 + 1) as usize) {
            let _ = d.decompress(piece, false, &mut out, max);
            assert!(out.len() <= max);
            out.clear();
        }
        let _ = d.decompress(b"", true, &mut out, max);
        assert!(out.len() <= max);
    }
}

/// Inflates `wire` as one message cut at `cuts`, with the budget left for the
/// message at each call; checks each call stays within it.
fn inflate_cut(
    d: &mut PerMessageDeflate,
    wire: &[u8],
    cuts: &[usize],
    max_len: usize,
) -> Result<Vec<u8>, ferrosocket_deflate::DeflateError> {
    let mut out = Vec::new();
    let ranges = pieces(wire, cuts);
    let count = ranges.len().max(1);
    for i in 0..count {
        let piece = ranges.get(i).cloned().unwrap_or(0..0);
        let before = out.len();
        let result = d.decompress(&wire[piece], i + 1 == count, &mut out, max_len - before);
        assert!(out.len() <= max_len);
        result?;
    }
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn damaged_streams_fail_the_same_whatever_the_cutting(
        message in message(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        max_len in 0usize..8000,
    ) {
        let (mut client, _) = codecs(Agreed::default(), 6);
        let mut wire = Vec::new();
        client.compress(&message, true, &mut wire).unwrap();
        for (at, xor) in flips {
            let len = wire.len();
            wire[at % len] ^= xor;
        }
        let whole = inflate_cut(&mut codecs(Agreed::default(), 6).1, &wire, &[], max_len);
        let cut = inflate_cut(&mut codecs(Agreed::default(), 6).1, &wire, &cuts, max_len);
        prop_assert_eq!(whole, cut);
    }
}
