use alloc::vec::Vec;

use super::*;

fn masked(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    let mut out = alloc::vec![(u8::from(fin) << 7) | opcode, 0x80 | payload.len() as u8];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn server() -> Connection {
    Connection::with_random(Role::Server, Config::default(), |_: &mut [u8]| {})
}

#[test]
fn single_frame_message_is_not_copied() {
    let mut s = server();
    s.receive_data(&masked(true, 2, b"payload"));
    let start = s.read.as_ptr() as usize;
    let Some(Ok(Event::Binary { data, .. })) = s.next_event() else {
        panic!("binary")
    };
    // The payload is the read buffer's memory, right after the 6 header bytes.
    assert_eq!(data.as_ptr() as usize, start + 6);
    assert_eq!(&data[..], b"payload");
}

#[test]
fn single_frame_split_across_reads_is_not_copied() {
    let mut s = server();
    let wire = masked(true, 1, b"hello world");
    s.read.reserve(64);
    s.receive_data(&wire[..8]);
    assert!(s.next_event().is_none());
    let start = s.read.as_ptr() as usize;
    s.receive_data(&wire[8..]);
    let Some(Ok(Event::Text { data, .. })) = s.next_event() else {
        panic!("text")
    };
    assert_eq!(data.as_bytes().as_ptr() as usize, start);
    assert_eq!(data, "hello world");
}

#[test]
fn empty_continuations_hold_no_memory() {
    let mut s = server();
    s.receive_data(&masked(false, 2, b"x"));
    assert!(s.next_event().is_none());
    let one = masked(false, 0, b"");
    let mut chunk = Vec::new();
    for _ in 0..1000 {
        chunk.extend_from_slice(&one);
    }
    for _ in 0..100 {
        s.receive_data(&chunk);
        assert!(s.next_event().is_none());
        assert_eq!(s.read.len(), 0);
        assert!(
            s.msg.assembly.capacity() <= 64,
            "{}",
            s.msg.assembly.capacity()
        );
    }
    assert_eq!(s.msg.fragments, 100_001);
    s.receive_data(&masked(true, 0, b"y"));
    let Some(Ok(Event::Binary { data, .. })) = s.next_event() else {
        panic!("binary")
    };
    assert_eq!(&data[..], b"xy");
    assert_eq!(s.msg.fragments, 0);
}
