//! Property: a client and a server joined back to back exchange any messages, in
//! any fragmentation and any chunking, in both delivery modes, and close cleanly.

use proptest::prelude::*;

use ferrosocket_proto::{
    CloseCode, Config, Connection, Delivery, Event, OpCode, Role, SeededRandom, Side, State,
};

/// A tiny deterministic generator for contents and cut points.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Plan {
    from_client: bool,
    text: bool,
    len: usize,
    fragments: usize,
    ping_between: bool,
}

fn plan() -> impl Strategy<Value = Plan> {
    let len = prop_oneof![8 => 0usize..200, 1 => 0usize..70_000];
    (any::<bool>(), any::<bool>(), len, 1usize..5, any::<bool>()).prop_map(
        |(from_client, text, len, fragments, ping_between)| Plan {
            from_client,
            text,
            len,
            fragments,
            ping_between,
        },
    )
}

fn content(plan: &Plan, g: &mut Gen) -> Msg {
    if plan.text {
        const PALETTE: [char; 6] = ['a', 'z', 'é', '€', '𝄞', ' '];
        let mut s = String::new();
        while s.len() < plan.len {
            s.push(PALETTE[g.below(PALETTE.len())]);
        }
        Msg::Text(s)
    } else {
        Msg::Binary((0..plan.len).map(|_| g.next() as u8).collect())
    }
}

/// Sends `msg` from `conn` in `fragments` pieces cut anywhere (even inside a code
/// point), with a ping between fragments if asked; returns the pings sent.
fn send(conn: &mut Connection, msg: &Msg, plan: &Plan, g: &mut Gen, pings: &mut Vec<Vec<u8>>) {
    let (opcode, bytes) = match msg {
        Msg::Text(s) => (OpCode::Text, s.as_bytes()),
        Msg::Binary(b) => (OpCode::Binary, b.as_slice()),
    };
    if plan.fragments == 1 && !plan.ping_between {
        match msg {
            Msg::Text(s) => conn.send_text(s).unwrap(),
            Msg::Binary(b) => conn.send_binary(b).unwrap(),
        }
        return;
    }
    let mut cuts: Vec<usize> = (1..plan.fragments)
        .map(|_| g.below(bytes.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut start = 0;
    for (i, &end) in cuts.iter().enumerate() {
        let op = if i == 0 { opcode } else { OpCode::Continuation };
        conn.send_frame(op, &bytes[start..end], i + 1 == cuts.len())
            .unwrap();
        if plan.ping_between && i + 1 < cuts.len() {
            let payload: Vec<u8> = (0..g.below(126)).map(|_| g.next() as u8).collect();
            conn.ping(&payload).unwrap();
            pings.push(payload);
        }
        start = end;
    }
}

/// What one side received.
#[derive(Default, Debug)]
struct Received {
    messages: Vec<Msg>,
    pings: Vec<Vec<u8>>,
    pongs: Vec<Vec<u8>>,
    close: Option<(CloseCode, Side)>,
    text: String,
    binary: Vec<u8>,
}

fn pull(conn: &mut Connection, got: &mut Received) {
    while let Some(event) = conn.next_event() {
        match event.expect("no protocol error") {
            Event::Text {
                data,
                message_finished,
                ..
            } => {
                got.text.push_str(data.as_str());
                if message_finished {
                    got.messages.push(Msg::Text(std::mem::take(&mut got.text)));
                }
            }
            Event::Binary {
                data,
                message_finished,
                ..
            } => {
                got.binary.extend_from_slice(&data);
                if message_finished {
                    got.messages
                        .push(Msg::Binary(std::mem::take(&mut got.binary)));
                }
            }
            Event::Ping(p) => got.pings.push(p.to_vec()),
            Event::Pong(p) => got.pongs.push(p.to_vec()),
            Event::Close {
                code, initiated_by, ..
            } => {
                assert!(got.close.is_none());
                got.close = Some((code, initiated_by));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Moves `from`'s output into `to` in random chunks, pulling events after each.
fn transfer(from: &mut Connection, to: &mut Connection, got: &mut Received, g: &mut Gen) -> bool {
    let out = from.take_output();
    let mut rest = &out[..];
    while !rest.is_empty() {
        let max = if g.below(4) == 0 { 7 } else { 70_000 };
        let n = 1 + g.below(rest.len().min(max));
        to.receive_data(&rest[..n]);
        rest = &rest[n..];
        pull(to, got);
    }
    !out.is_empty()
}

fn config(streaming: bool) -> Config {
    Config::default().delivery(if streaming {
        Delivery::Streaming
    } else {
        Delivery::Assembled
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn back_to_back(
        plans in proptest::collection::vec(plan(), 0..10),
        seed in 1u64..,
        client_streams in any::<bool>(),
        server_streams in any::<bool>(),
        client_closes in any::<bool>(),
        code in prop_oneof![Just(1000u16), Just(1001), Just(3000), Just(4999)],
    ) {
        let mut g = Gen(seed);
        let mut client = Connection::with_random(Role::Client, config(client_streams), SeededRandom::new(seed));
        let mut server = Connection::new(Role::Server, config(server_streams));
        let (mut at_client, mut at_server) = (Received::default(), Received::default());
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        let (mut pings_by_client, mut pings_by_server) = (Vec::new(), Vec::new());
        for plan in &plans {
            let msg = content(plan, &mut g);
            if plan.from_client {
                send(&mut client, &msg, plan, &mut g, &mut pings_by_client);
                to_server.push(msg);
            } else {
                send(&mut server, &msg, plan, &mut g, &mut pings_by_server);
                to_client.push(msg);
            }
            // Sometimes let the bytes flow mid-way.
            if g.below(3) == 0 {
                transfer(&mut client, &mut server, &mut at_server, &mut g);
                transfer(&mut server, &mut client, &mut at_client, &mut g);
            }
        }
        // Let everything (pings included) be answered before closing: after sending
        // its close, an endpoint no longer answers pings.
        loop {
            let a = transfer(&mut client, &mut server, &mut at_server, &mut g);
            let b = transfer(&mut server, &mut client, &mut at_client, &mut g);
            if !a && !b {
                break;
            }
        }
        let code = CloseCode::from(code);
        if client_closes {
            client.close(code, "bye").unwrap();
        } else {
            server.close(code, "bye").unwrap();
        }
        loop {
            let a = transfer(&mut client, &mut server, &mut at_server, &mut g);
            let b = transfer(&mut server, &mut client, &mut at_client, &mut g);
            if !a && !b {
                break;
            }
        }
        prop_assert_eq!(&at_server.messages, &to_server);
        prop_assert_eq!(&at_client.messages, &to_client);
        prop_assert_eq!(&at_server.pings, &pings_by_client);
        prop_assert_eq!(&at_client.pings, &pings_by_server);
        prop_assert_eq!(&at_client.pongs, &pings_by_client);
        prop_assert_eq!(&at_server.pongs, &pings_by_server);
        let (closer, other) = if client_closes { (&at_client, &at_server) } else { (&at_server, &at_client) };
        prop_assert_eq!(closer.close, Some((code, Side::Local)));
        prop_assert_eq!(other.close, Some((code, Side::Remote)));
        prop_assert_eq!(client.state(), State::Closed);
        prop_assert_eq!(server.state(), State::Closed);
    }
}
