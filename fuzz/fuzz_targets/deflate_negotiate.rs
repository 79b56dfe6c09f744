//! Arbitrary permessage-deflate parameter lists as a client's offers and as a
//! server's answer: never panics; an accepted offer gets an answer that keeps every
//! rule of RFC 7692 7.1 for that offer, which our client also accepts when the offer
//! is one it could have sent.
#![no_main]

use ferrosocket_deflate::{DeflateConfig, borrow_params};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 5] = [
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
    "x",
];
const VALUES: [&str; 10] = ["8", "9", "10", "12", "15", "16", "08", "7", "\"9\"", ""];

/// Parameter lists from bytes: each byte names a parameter and maybe a value; 0xff
/// ends an offer.
fn offers(data: &[u8]) -> Vec<Vec<(&'static str, Option<&'static str>)>> {
    data.split(|&b| b == 0xff)
        .map(|offer| {
            offer
                .iter()
                .map(|&b| {
                    let name = NAMES[usize::from(b & 7) % NAMES.len()];
                    let value = (b & 8 != 0).then(|| VALUES[usize::from(b >> 4) % VALUES.len()]);
                    (name, value)
                })
                .collect()
        })
        .collect()
}

fn value_of<'a>(params: &[(&str, Option<&'a str>)], name: &str) -> Option<Option<&'a str>> {
    params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn bits(v: Option<&str>) -> u8 {
    v.and_then(|v| v.parse().ok()).unwrap_or(15)
}

fuzz_target!(|input: &[u8]| {
    let [a, b, c, data @ ..] = input else {
        return;
    };
    let server = DeflateConfig::new()
        .server_no_context_takeover(a & 1 != 0)
        .client_no_context_takeover(a & 2 != 0)
        .server_max_window_bits(9 + b % 7)
        .and_then(|s| s.client_max_window_bits(9 + (b >> 4) % 7))
        .and_then(|s| s.min_window_bits(9 + c % 7))
        .unwrap();
    let offers = offers(data);
    // A client's view of arbitrary answers: never panics.
    for offer in &offers {
        let _ = DeflateConfig::new().client_accept(offer);
    }
    let Some((agreed, answer)) = server.server_accept(offers.iter().map(Vec::as_slice)) else {
        return;
    };
    let answer = borrow_params(&answer);
    // The offer accepted is the first one the server takes on its own.
    let offer = offers
        .iter()
        .find(|o| server.server_accept_offer(o).is_ok())
        .unwrap();
    if value_of(offer, "server_no_context_takeover").is_some() {
        assert!(value_of(&answer, "server_no_context_takeover").is_some());
    }
    if let Some(v) = value_of(offer, "server_max_window_bits") {
        let answered = value_of(&answer, "server_max_window_bits").expect("answered");
        assert!(bits(answered) <= bits(v));
        assert!(bits(answered) >= 9);
    }
    match value_of(offer, "client_max_window_bits") {
        None => assert!(value_of(&answer, "client_max_window_bits").is_none()),
        Some(v) => {
            if let Some(answered) = value_of(&answer, "client_max_window_bits") {
                assert!(bits(answered) <= bits(v));
            }
        }
    }
    // Our client, had it offered exactly this, would accept the answer and agree.
    let client = DeflateConfig::new()
        .server_no_context_takeover(value_of(offer, "server_no_context_takeover").is_some())
        .client_no_context_takeover(value_of(offer, "client_no_context_takeover").is_some())
        .server_max_window_bits(bits(value_of(offer, "server_max_window_bits").flatten()))
        .and_then(|c| {
            c.client_max_window_bits(bits(value_of(offer, "client_max_window_bits").flatten()))
        });
    if let Ok(client) = client
        && borrow_params(&client.client_offer()) == *offer
    {
        assert_eq!(client.client_accept(&answer), Ok(agreed));
    }
});
