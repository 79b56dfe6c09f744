//! Offers and answers, parameter by parameter, for both roles.

use ferrosocket_deflate::{
    Agreed, DeflateConfig, NegotiationError, Params, Role, borrow_params, header_value,
};
use proptest::prelude::*;

type P<'a> = &'a [(&'a str, Option<&'a str>)];

fn agreed(snct: bool, cnct: bool, smwb: u8, cmwb: u8) -> Agreed {
    Agreed {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: smwb,
        client_max_window_bits: cmwb,
    }
}

fn header(params: &Params) -> String {
    header_value(params)
}

// ---- client: the offer ----

#[test]
fn default_client_offer_is_chromiums() {
    let offer = DeflateConfig::new().client_offer();
    assert_eq!(offer, vec![("client_max_window_bits".to_owned(), None)]);
    assert_eq!(header(&offer), "permessage-deflate; client_max_window_bits");
}

#[test]
fn client_offer_carries_every_preference() {
    let config = DeflateConfig::new()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .server_max_window_bits(10)
        .unwrap()
        .client_max_window_bits(9)
        .unwrap();
    assert_eq!(
        header(&config.client_offer()),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=9"
    );
    // 15 is what absence means: server_max_window_bits=15 is not offered.
    let config = DeflateConfig::new().server_max_window_bits(15).unwrap();
    assert_eq!(
        header(&config.client_offer()),
        "permessage-deflate; client_max_window_bits"
    );
}

// ---- client: the answer ----

#[test]
fn client_accepts_valid_answers_to_the_default_offer() {
    let c = DeflateConfig::new();
    let table: &[(P<'_>, Agreed)] = &[
        (&[], agreed(false, false, 15, 15)),
        (
            &[("server_no_context_takeover", None)],
            agreed(true, false, 15, 15),
        ),
        (
            &[("client_no_context_takeover", None)],
            agreed(false, true, 15, 15),
        ),
        // The server may announce its window without being asked (RFC 7692 7.1.2.1).
        (
            &[("server_max_window_bits", Some("10"))],
            agreed(false, false, 10, 15),
        ),
        (
            &[("server_max_window_bits", Some("8"))],
            agreed(false, false, 8, 15),
        ),
        (
            &[("server_max_window_bits", Some("15"))],
            agreed(false, false, 15, 15),
        ),
        // We offered a bare client_max_window_bits: the server may shrink us.
        (
            &[("client_max_window_bits", Some("12"))],
            agreed(false, false, 15, 12),
        ),
        (
            &[("client_max_window_bits", Some("8"))],
            agreed(false, false, 15, 8),
        ),
        // The caller unquotes: client_max_window_bits="15" arrives as 15.
        (
            &[("client_max_window_bits", Some("15"))],
            agreed(false, false, 15, 15),
        ),
        (
            &[
                ("client_max_window_bits", Some("9")),
                ("server_max_window_bits", Some("9")),
                ("client_no_context_takeover", None),
                ("server_no_context_takeover", None),
            ],
            agreed(true, true, 9, 9),
        ),
    ];
    for (answer, want) in table {
        assert_eq!(c.client_accept(answer).as_ref(), Ok(want), "{answer:?}");
    }
}

#[test]
fn client_refuses_malformed_answers() {
    let c = DeflateConfig::new();
    let invalid = |param: &'static str, value: Option<&str>| NegotiationError::InvalidValue {
        param,
        value: value.map(str::to_owned),
    };
    let table: &[(P<'_>, NegotiationError)] = &[
        (
            &[("foo", None)],
            NegotiationError::UnknownParam("foo".into()),
        ),
        (
            &[("foo", Some("1"))],
            NegotiationError::UnknownParam("foo".into()),
        ),
        // Names are exact.
        (
            &[("Server_No_Context_Takeover", None)],
            NegotiationError::UnknownParam("Server_No_Context_Takeover".into()),
        ),
        (
            &[
                ("server_no_context_takeover", None),
                ("server_no_context_takeover", None),
            ],
            NegotiationError::DuplicateParam("server_no_context_takeover"),
        ),
        (
            &[
                ("client_no_context_takeover", None),
                ("client_no_context_takeover", None),
            ],
            NegotiationError::DuplicateParam("client_no_context_takeover"),
        ),
        (
            &[
                ("server_max_window_bits", Some("10")),
                ("server_max_window_bits", Some("10")),
            ],
            NegotiationError::DuplicateParam("server_max_window_bits"),
        ),
        (
            &[
                ("client_max_window_bits", Some("10")),
                ("client_max_window_bits", Some("11")),
            ],
            NegotiationError::DuplicateParam("client_max_window_bits"),
        ),
        (
            &[("server_no_context_takeover", Some("true"))],
            invalid("server_no_context_takeover", Some("true")),
        ),
        (
            &[("client_no_context_takeover", Some(""))],
            invalid("client_no_context_takeover", Some("")),
        ),
        // In an answer both windows need a value.
        (
            &[("server_max_window_bits", None)],
            invalid("server_max_window_bits", None),
        ),
        (
            &[("client_max_window_bits", None)],
            invalid("client_max_window_bits", None),
        ),
        (
            &[("server_max_window_bits", Some("08"))],
            invalid("server_max_window_bits", Some("08")),
        ),
        (
            &[("server_max_window_bits", Some("16"))],
            invalid("server_max_window_bits", Some("16")),
        ),
        (
            &[("client_max_window_bits", Some("7"))],
            invalid("client_max_window_bits", Some("7")),
        ),
        (
            &[("client_max_window_bits", Some("\"15\""))],
            invalid("client_max_window_bits", Some("\"15\"")),
        ),
        (
            &[("client_max_window_bits", Some("+9"))],
            invalid("client_max_window_bits", Some("+9")),
        ),
        (
            &[("client_max_window_bits", Some(" 9"))],
            invalid("client_max_window_bits", Some(" 9")),
        ),
        (
            &[("server_max_window_bits", Some(""))],
            invalid("server_max_window_bits", Some("")),
        ),
    ];
    for (answer, want) in table {
        let err = c.client_accept(answer).unwrap_err();
        assert_eq!(&err, want, "{answer:?}");
        assert_eq!(err.close_code(), 1010);
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn client_holds_the_server_to_what_it_offered() {
    let strict = DeflateConfig::new()
        .server_no_context_takeover(true)
        .server_max_window_bits(10)
        .unwrap()
        .client_max_window_bits(11)
        .unwrap();
    let ok: P<'_> = &[
        ("server_no_context_takeover", None),
        ("server_max_window_bits", Some("10")),
    ];
    assert_eq!(strict.client_accept(ok), Ok(agreed(true, false, 10, 11)));
    let smaller: P<'_> = &[
        ("server_no_context_takeover", None),
        ("server_max_window_bits", Some("8")),
        ("client_max_window_bits", Some("9")),
    ];
    assert_eq!(strict.client_accept(smaller), Ok(agreed(true, false, 8, 9)));
    let table: &[(P<'_>, NegotiationError)] = &[
        (
            &[("server_max_window_bits", Some("10"))],
            NegotiationError::MissingParam("server_no_context_takeover"),
        ),
        (
            &[("server_no_context_takeover", None)],
            NegotiationError::MissingParam("server_max_window_bits"),
        ),
        (
            &[
                ("server_no_context_takeover", None),
                ("server_max_window_bits", Some("11")),
            ],
            NegotiationError::WindowTooLarge {
                param: "server_max_window_bits",
                offered: 10,
                answered: 11,
            },
        ),
        (
            &[
                ("server_no_context_takeover", None),
                ("server_max_window_bits", Some("10")),
                ("client_max_window_bits", Some("12")),
            ],
            NegotiationError::WindowTooLarge {
                param: "client_max_window_bits",
                offered: 11,
                answered: 12,
            },
        ),
    ];
    for (answer, want) in table {
        assert_eq!(
            strict.client_accept(answer).as_ref(),
            Err(want),
            "{answer:?}"
        );
    }
}

#[test]
fn client_no_context_takeover_offered_is_kept_whatever_the_answer() {
    let c = DeflateConfig::new().client_no_context_takeover(true);
    let a = c.client_accept(&[]).unwrap();
    assert!(a.client_no_context_takeover);
    assert!(a.into_codec(Role::Client, &c).compressor_resets());
}

#[test]
fn client_answered_window_eight_never_compresses() {
    let c = DeflateConfig::new().threshold(0);
    let a = c
        .client_accept(&[("client_max_window_bits", Some("8"))])
        .unwrap();
    let mut codec = a.into_codec(Role::Client, &c);
    assert_eq!(codec.compressor_window_bits(), None);
    let mut out = Vec::new();
    assert!(!codec.compress(&[7; 4096], true, &mut out).unwrap());
    assert_eq!(out, [7; 4096]);
}

// ---- server ----

fn server_one(c: &DeflateConfig, offer: P<'_>) -> Result<(Agreed, String), NegotiationError> {
    c.server_accept_offer(offer).map(|(a, p)| (a, header(&p)))
}

#[test]
fn server_accepts_offers_parameter_by_parameter() {
    let c = DeflateConfig::new();
    let table: &[(P<'_>, Agreed, &str)] = &[
        (&[], agreed(false, false, 15, 15), ""),
        // Chromium's offer.
        (
            &[("client_max_window_bits", None)],
            agreed(false, false, 15, 15),
            "",
        ),
        (
            &[("server_no_context_takeover", None)],
            agreed(true, false, 15, 15),
            "; server_no_context_takeover",
        ),
        (
            &[("client_no_context_takeover", None)],
            agreed(false, true, 15, 15),
            "; client_no_context_takeover",
        ),
        (
            &[("server_max_window_bits", Some("9"))],
            agreed(false, false, 9, 15),
            "; server_max_window_bits=9",
        ),
        (
            &[("server_max_window_bits", Some("15"))],
            agreed(false, false, 15, 15),
            "; server_max_window_bits=15",
        ),
        (
            &[("client_max_window_bits", Some("12"))],
            agreed(false, false, 15, 12),
            "; client_max_window_bits=12",
        ),
        // The client promises 8; we need not compress with it, only read it.
        (
            &[("client_max_window_bits", Some("8"))],
            agreed(false, false, 15, 8),
            "; client_max_window_bits=8",
        ),
        // Autobahn 13.x style offers.
        (
            &[
                ("client_no_context_takeover", None),
                ("client_max_window_bits", None),
            ],
            agreed(false, true, 15, 15),
            "; client_no_context_takeover",
        ),
        (
            &[
                ("server_no_context_takeover", None),
                ("server_max_window_bits", Some("9")),
            ],
            agreed(true, false, 9, 15),
            "; server_no_context_takeover; server_max_window_bits=9",
        ),
    ];
    for (offer, want, answer) in table {
        let (got, got_answer) = server_one(&c, offer).unwrap();
        assert_eq!(&got, want, "{offer:?}");
        assert_eq!(
            got_answer,
            format!("permessage-deflate{answer}"),
            "{offer:?}"
        );
    }
}

#[test]
fn server_preferences_shape_the_answer() {
    let c = DeflateConfig::new()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .server_max_window_bits(12)
        .unwrap()
        .client_max_window_bits(10)
        .unwrap();
    let table: &[(P<'_>, Agreed, &str)] = &[
        // client_max_window_bits may only be answered when offered (7.1.2.2).
        (
            &[],
            agreed(true, true, 12, 15),
            "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12",
        ),
        (
            &[("client_max_window_bits", None)],
            agreed(true, true, 12, 10),
            "; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=10",
        ),
        (
            &[
                ("client_max_window_bits", Some("9")),
                ("server_max_window_bits", Some("14")),
            ],
            agreed(true, true, 12, 9),
            "; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=12; client_max_window_bits=9",
        ),
        (
            &[("server_max_window_bits", Some("10"))],
            agreed(true, true, 10, 15),
            "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10",
        ),
    ];
    for (offer, want, answer) in table {
        let (got, got_answer) = server_one(&c, offer).unwrap();
        assert_eq!(&got, want, "{offer:?}");
        assert_eq!(
            got_answer,
            format!("permessage-deflate{answer}"),
            "{offer:?}"
        );
    }
}

#[test]
fn server_declines_what_it_cannot_or_will_not_honour() {
    let c = DeflateConfig::new();
    assert_eq!(
        c.server_accept_offer(&[("server_max_window_bits", Some("8"))]),
        Err(NegotiationError::WindowTooSmall {
            param: "server_max_window_bits",
            value: 8,
            min: 9
        })
    );
    let picky = DeflateConfig::new().min_window_bits(11).unwrap();
    assert!(
        picky
            .server_accept_offer(&[("server_max_window_bits", Some("10"))])
            .is_err()
    );
    assert!(
        picky
            .server_accept_offer(&[("server_max_window_bits", Some("11"))])
            .is_ok()
    );
}

#[test]
fn server_declines_malformed_offers() {
    let c = DeflateConfig::new();
    let table: &[P<'_>] = &[
        &[("foo", None)],
        &[("x-webkit-deflate-frame", None)],
        &[
            ("server_no_context_takeover", None),
            ("server_no_context_takeover", None),
        ],
        &[
            ("client_no_context_takeover", None),
            ("client_no_context_takeover", None),
        ],
        &[
            ("server_max_window_bits", Some("9")),
            ("server_max_window_bits", Some("10")),
        ],
        &[
            ("client_max_window_bits", None),
            ("client_max_window_bits", None),
        ],
        &[("server_no_context_takeover", Some("1"))],
        &[("client_no_context_takeover", Some("yes"))],
        // server_max_window_bits always needs a value, even in an offer.
        &[("server_max_window_bits", None)],
        &[("server_max_window_bits", Some("08"))],
        &[("server_max_window_bits", Some("16"))],
        &[("server_max_window_bits", Some("7"))],
        &[("client_max_window_bits", Some("08"))],
        &[("client_max_window_bits", Some("16"))],
        &[("client_max_window_bits", Some("7"))],
        &[("client_max_window_bits", Some("\"15\""))],
        &[("client_max_window_bits", Some("1O"))],
        &[("client_max_window_bits", Some(""))],
    ];
    for offer in table {
        let err = c.server_accept_offer(offer).unwrap_err();
        assert!(!err.to_string().is_empty());
        assert_eq!(c.server_accept([*offer]), None, "{offer:?}");
    }
}

#[test]
fn server_takes_the_first_acceptable_offer_in_order() {
    let c = DeflateConfig::new();
    let bad_window: P<'_> = &[("server_max_window_bits", Some("8"))];
    let unknown: P<'_> = &[("mystery", None)];
    let good: P<'_> = &[
        ("server_max_window_bits", Some("9")),
        ("client_max_window_bits", None),
    ];
    let plain: P<'_> = &[];
    let (a, answer) = c.server_accept([bad_window, unknown, good, plain]).unwrap();
    assert_eq!(a, agreed(false, false, 9, 15));
    assert_eq!(
        header(&answer),
        "permessage-deflate; server_max_window_bits=9"
    );
    let (a, _) = c.server_accept([plain, good]).unwrap();
    assert_eq!(a, Agreed::default());
    assert_eq!(c.server_accept([bad_window, unknown]), None);
    assert_eq!(c.server_accept(Vec::<P<'_>>::new()), None);
}

// ---- both: whatever the two configurations, the ends agree ----

fn config() -> impl Strategy<Value = DeflateConfig> {
    (any::<bool>(), any::<bool>(), 9u8..=15, 9u8..=15, 9u8..=15).prop_map(
        |(snct, cnct, smwb, cmwb, min)| {
            DeflateConfig::new()
                .server_no_context_takeover(snct)
                .client_no_context_takeover(cnct)
                .server_max_window_bits(smwb)
                .unwrap()
                .client_max_window_bits(cmwb)
                .unwrap()
                .min_window_bits(min)
                .unwrap()
        },
    )
}

proptest! {
    #[test]
    fn client_and_server_agree(client in config(), server in config()) {
        let offer = client.client_offer();
        let accepted = server.server_accept([borrow_params(&offer).as_slice()]);
        // Only a server minimum above the client's demand declines our offer.
        prop_assert_eq!(
            accepted.is_none(),
            client.get_server_max_window_bits() < server.get_min_window_bits()
        );
        if let Some((server_agreed, answer)) = accepted {
                let client_agreed = client.client_accept(&borrow_params(&answer));
                prop_assert_eq!(client_agreed, Ok(server_agreed));
                // Neither side is bound to more than it asked for.
                prop_assert!(server_agreed.server_max_window_bits <= client.get_server_max_window_bits());
                prop_assert!(server_agreed.server_max_window_bits <= server.get_server_max_window_bits());
                prop_assert!(server_agreed.client_max_window_bits <= client.get_client_max_window_bits());
                prop_assert!(server_agreed.server_max_window_bits >= 9);
                prop_assert!(server_agreed.client_max_window_bits >= 9);
                prop_assert!(server_agreed.server_no_context_takeover >= client.get_server_no_context_takeover());
        }
    }
}
