//! Split halves over real loopback TCP: a reader thread and a writer thread on
//! each end, as a ws4py-style threaded client has them.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use ferrosocket_blocking::{
    Accept, ClientOptions, CloseCode, CloseFrame, Decision, Error, Message, OpCode, ReadHalf,
    StreamConfig, Timer, WriteHalf, accept, accept_with_config, connect, connect_with,
};

use crate::{ServerResult, echo, serve};

/// A server whose own halves echo: its read thread hands each data message to its
/// write thread through a channel. Returns how many messages it echoed.
fn split_echo_server() -> (String, thread::JoinHandle<Result<usize, Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (socket, _) = listener.accept()?;
        let (reader, mut writer) = accept(socket)?.split().map_err(std::io::Error::from)?;
        let (tx, rx) = mpsc::channel::<Message>();
        let reading = thread::spawn(move || -> Result<(), Error> {
            for message in reader {
                let message = message?;
                if message.is_data() {
                    tx.send(message).unwrap();
                }
            }
            Ok(())
        });
        let mut echoed = 0;
        for message in rx {
            // The client may close while replies are still going out.
            match writer.send(message) {
                Ok(()) => echoed += 1,
                Err(Error::Local(_)) => break,
                Err(e) => return Err(e),
            }
        }
        reading.join().unwrap()?;
        Ok(echoed)
    });
    (url, handle)
}

/// The payload of message `i`: sizes from empty to past the zero-copy threshold.
fn payload(i: usize) -> Message {
    let len = [0, 1, 10, 125, 126, 1000, 9000, 70_000][i % 8];
    if i.is_multiple_of(2) {
        Message::text("é".repeat(len / 2) + &i.to_string())
    } else {
        Message::binary(vec![(i % 251) as u8; len])
    }
}

#[test]
fn threaded_echo_thousands_each_way_with_pings() {
    const N: usize = 4000;
    let (url, server) = split_echo_server();
    let (ws, _) = connect(&url).unwrap();
    let (reader, mut writer) = ws.split().unwrap();
    let (all_in, all_echoed) = mpsc::channel();
    let reading = thread::spawn(move || {
        let mut data = Vec::new();
        let mut pongs = Vec::new();
        let mut end = None;
        for message in reader {
            match message.unwrap() {
                Message::Pong(p) => pongs.push(p),
                Message::Close(frame) => end = Some(frame),
                m => {
                    data.push(m);
                    if data.len() == N {
                        all_in.send(()).unwrap();
                    }
                }
            }
        }
        (data, pongs, end)
    });
    for i in 0..N {
        writer.send(payload(i)).unwrap();
        if i.is_multiple_of(100) {
            writer
                .send(Message::Ping(format!("p{i}").into_bytes().into()))
                .unwrap();
        }
    }
    // Every echo is in before we close, so the close cuts none off.
    all_echoed
        .recv_timeout(Duration::from_secs(60))
        .expect("all the echoes");
    writer.close(None).unwrap();
    let (data, pongs, end) = reading.join().unwrap();
    assert_eq!(data.len(), N);
    for (i, m) in data.iter().enumerate() {
        assert_eq!(m, &payload(i), "message {i}");
    }
    let expected: Vec<_> = (0..N).step_by(100).map(|i| format!("p{i}")).collect();
    let got: Vec<_> = pongs
        .iter()
        .map(|p| String::from_utf8(p.to_vec()).unwrap())
        .collect();
    assert_eq!(got, expected);
    let end = end.expect("the server's close").expect("with a code");
    assert_eq!(end.code(), CloseCode::NORMAL);
    assert_eq!(server.join().unwrap().unwrap(), N);
}

#[test]
fn close_from_the_write_half_ends_the_blocked_read_half() {
    let (url, server) = serve(echo);
    let (ws, _) = connect(&url).unwrap();
    let (reader, mut writer) = ws.split().unwrap();
    let reading = thread::spawn(move || reader.collect::<Vec<_>>());
    // The reader is blocked: nothing comes until the close.
    thread::sleep(Duration::from_millis(200));
    assert!(!reading.is_finished());
    let bye = CloseFrame::new(CloseCode::GOING_AWAY, "bye").unwrap();
    let started = Instant::now();
    writer.close(Some(bye.clone())).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    let got = reading.join().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    // The echo carries our code (the reason is the peer's to choose: none).
    match &got[0] {
        Ok(Message::Close(Some(frame))) => assert_eq!(frame.code(), bye.code()),
        other => panic!("{other:?}"),
    }
    // Sending after the close is a local error.
    assert!(matches!(
        writer.send(Message::text("late")),
        Err(Error::Local(_))
    ));
    // Closing again just returns.
    writer.close(None).unwrap();
    server.join().unwrap().unwrap();
}

#[test]
fn a_blocked_reader_holds_no_lock_while_the_writer_sends() {
    // The server reads and counts, and sends nothing back until our close: the
    // client's read half stays blocked in recv the whole time.
    let (url, server) = serve(|socket| {
        let config = StreamConfig::default().without_timers();
        let mut ws = accept_with_config(socket, config, |_| Decision::Accept(Accept::new()))?;
        let mut n = 0;
        while let Some(message) = ws.recv() {
            if message?.is_data() {
                n += 1;
            }
        }
        assert!(n >= 100, "{n}");
        Ok(())
    });
    let options = ClientOptions::new().config(StreamConfig::default().without_timers());
    let (ws, _) = connect_with(&url, options).unwrap();
    let (reader, mut writer) = ws.split().unwrap();
    let blocked = Arc::new(AtomicBool::new(true));
    let flag = blocked.clone();
    let reading = thread::spawn(move || {
        let mut reader = reader;
        let first = reader.recv();
        flag.store(false, Ordering::SeqCst);
        (first, reader)
    });
    thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        let before = Instant::now();
        writer
            .send(Message::text(format!("message {sent}")))
            .unwrap();
        writer.send(Message::binary(vec![1; 20_000])).unwrap();
        slowest = slowest.max(before.elapsed());
        sent += 1;
        assert!(blocked.load(Ordering::SeqCst), "the reader returned early");
        thread::sleep(Duration::from_millis(5));
    }
    assert!(sent >= 100, "{sent}");
    assert!(slowest < Duration::from_millis(500), "{slowest:?}");
    assert!(blocked.load(Ordering::SeqCst));
    writer.close(None).unwrap();
    let (first, mut reader) = reading.join().unwrap();
    assert!(
        matches!(&first, Some(Ok(Message::Close(Some(f)))) if f.code() == CloseCode::NORMAL),
        "{first:?}"
    );
    assert!(reader.recv().is_none());
    server.join().unwrap().unwrap();
}

#[test]
fn reunite_gives_the_whole_stream_back() {
    let (url, server) = serve(echo);
    let (ws, _) = connect(&url).unwrap();
    let (mut reader, mut writer) = ws.split().unwrap();
    assert!(reader.is_pair_of(&writer));
    assert_eq!(reader.response().unwrap().status, 101);
    writer.send(Message::text("split")).unwrap();
    assert_eq!(reader.recv().unwrap().unwrap(), Message::text("split"));

    // Halves of another stream are refused and given back.
    let (url2, server2) = serve(echo);
    let (other, _) = connect(&url2).unwrap();
    let (other_reader, other_writer) = other.split().unwrap();
    let refused = reader.reunite(other_writer).unwrap_err();
    let (reader, other_writer) = (refused.0, refused.1);
    assert!(!reader.is_pair_of(&other_writer));
    let mut other = other_reader.reunite(other_writer).unwrap();
    other.close(None).unwrap();
    server2.join().unwrap().unwrap();

    let mut ws = reader.reunite(writer).unwrap();
    ws.send(Message::text("whole")).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("whole"));
    // And again.
    let (mut reader, mut writer) = ws.split().unwrap();
    writer.send(Message::text("again")).unwrap();
    assert_eq!(reader.recv().unwrap().unwrap(), Message::text("again"));
    let mut ws = reader.reunite(writer).unwrap();
    ws.close(None).unwrap();
    assert!(ws.recv().is_none());
    server.join().unwrap().unwrap();
}

#[test]
fn fragments_and_feed_through_the_write_half() {
    let (url, server) = serve(|socket| {
        let mut ws = accept(socket)?;
        let got: Vec<Message> = (&mut ws).collect::<Result<_, _>>()?;
        assert_eq!(
            got,
            [
                Message::text("a"),
                Message::text("b"),
                Message::text("κόσμε"),
                Message::binary(vec![1, 2, 3]),
                Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "").unwrap())),
            ]
        );
        Ok(())
    });
    let (ws, _) = connect(&url).unwrap();
    let (reader, mut writer) = ws.split().unwrap();
    let reading = thread::spawn(move || reader.count());
    writer.feed(Message::text("a")).unwrap();
    writer.feed(Message::text("b")).unwrap();
    writer.flush().unwrap();
    let text = "κόσμε".as_bytes();
    writer
        .send_fragments(OpCode::Text, [&text[..1], &text[1..5], &text[5..]])
        .unwrap();
    writer.send_fragment(OpCode::Binary, &[1], false).unwrap();
    writer
        .send_fragment(OpCode::Continuation, &[2, 3], true)
        .unwrap();
    writer.close(None).unwrap();
    assert_eq!(reading.join().unwrap(), 1);
    server.join().unwrap().unwrap();
}

#[test]
fn close_with_the_read_half_dropped_returns_at_once() {
    let (url, server): (String, ServerResult) = serve(echo);
    let (ws, _) = connect(&url).unwrap();
    let (reader, mut writer) = ws.split().unwrap();
    drop(reader);
    let started = Instant::now();
    writer.close(None).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    server.join().unwrap().unwrap();
}

#[test]
fn close_times_out_and_wakes_the_read_half() {
    // A raw peer that completes the handshake and then never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = thread::spawn(move || {
        ferrosocket_testkit::peer::Peer::connect(addr)
            .unwrap()
            .silent()
    });
    let (socket, _) = listener.accept().unwrap();
    let config = StreamConfig::default()
        .without_timers()
        .close_timeout(Some(Duration::from_millis(300)));
    let ws = accept_with_config(socket, config, |_| Decision::Accept(Accept::new())).unwrap();
    let (reader, mut writer): (ReadHalf<TcpStream>, WriteHalf<TcpStream>) = ws.split().unwrap();
    let reading = thread::spawn(move || reader.collect::<Vec<_>>());
    let started = Instant::now();
    assert!(matches!(
        writer.close(None),
        Err(Error::Timeout(Timer::Close))
    ));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let got = reading.join().unwrap();
    assert!(
        matches!(&got[..], [Err(Error::Timeout(Timer::Close))]),
        "{got:?}"
    );
    let report = peer.join().unwrap();
    assert_eq!(report.close_code(), Some(1000), "{report:?}");
    assert!(report.disconnected, "{report:?}");
}

/// The timer scenarios of ferrosocket-testkit against the halves: the read half
/// runs the timers (on its thread), the write half closes.
mod timers {
    use ferrosocket_blocking::{Accept, Decision, StreamConfig, accept_with_config};
    use ferrosocket_testkit::timers::{Act, Served};

    /// Serves one connection: the read half on a thread; for `Act::Close`, the
    /// write half closes on this one.
    pub(crate) fn serve(listener: std::net::TcpListener, config: StreamConfig, act: Act) -> Served {
        let mut served = Served::default();
        let (socket, _) = listener.accept().unwrap();
        let ws = match accept_with_config(socket, config, |_| Decision::Accept(Accept::new())) {
            Ok(ws) => ws,
            Err(e) => {
                served.error = Some(e);
                return served;
            }
        };
        let (reader, mut writer) = ws.split().unwrap();
        let reading = std::thread::spawn(move || super::drain(reader));
        if act == Act::Close {
            served.error = writer.close(None).err();
            let _ = reading.join().unwrap();
            return served;
        }
        let (messages, error) = reading.join().unwrap();
        served.messages = messages;
        served.error = error;
        served
    }

    ferrosocket_testkit::timer_tests!(serve);
}

/// The handshake and close scenarios of ferrosocket-testkit against the halves,
/// in both roles.
mod behaviour {
    use ferrosocket_blocking::{ClientOptions, StreamConfig, connect_with};
    use ferrosocket_testkit::behaviour::{Act, Served};

    /// Connects and splits: the read half on a thread; for `Act::Close`, the write
    /// half closes on this one.
    fn connect(url: String, config: StreamConfig, act: Act) -> Served {
        let mut served = Served::default();
        let ws = match connect_with(&url, ClientOptions::new().config(config)) {
            Ok((ws, _)) => ws,
            Err(e) => {
                served.error = Some(e);
                return served;
            }
        };
        let (reader, mut writer) = ws.split().unwrap();
        let reading = std::thread::spawn(move || super::drain(reader));
        if act == Act::Close {
            served.error = writer.close(None).err();
            let _ = reading.join().unwrap();
            return served;
        }
        let (messages, error) = reading.join().unwrap();
        served.messages = messages;
        served.error = error;
        served
    }

    ferrosocket_testkit::behaviour_tests!(serve = super::timers::serve, connect = connect);
}

/// Every message until the end, and the error that ended it.
fn drain<S: ferrosocket_blocking::SplitSocket>(
    reader: ReadHalf<S>,
) -> (Vec<Message>, Option<Error>) {
    let mut messages = Vec::new();
    for message in reader {
        match message {
            Ok(message) => messages.push(message),
            Err(e) => return (messages, Some(e)),
        }
    }
    (messages, None)
}
