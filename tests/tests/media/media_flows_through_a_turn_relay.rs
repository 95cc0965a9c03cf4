//! A participant who asks never to reveal their address to the SFU (Ann, relay only) connects
//! only through the TURN server the meeting server announces (coturn, from Debian, on
//! loopback): her media reaches the other participant and his reaches her.
//!
//! What shows it is her relay, not his: her offer names no address but the relay's, the pair
//! her own ICE selected starts at the relay, and the allocation made with her credentials was
//! given a permission for the SFU and relayed her media both ways. Bob, who may connect
//! directly, has TURN credentials of his own (so nothing he does is logged under hers), offers
//! his own address and connects directly.

use std::time::{Duration, Instant};

use parley_client::call::{Call, CallOptions};
use parley_client::peer::Route;
use parley_proto::{ClientMessage, IceServer, ServerMessage};
use parley_server::Config;
use parley_tests::bots::{self, Pump};
use parley_tests::temp_dir;
use parley_tests::turn::Turn;

use crate::common::meeting_with;

/// The types (`host`, `srflx`, `relay`, …) of the candidates an SDP offers.
fn candidate_types(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "typ")?;
            words.next().map(str::to_string)
        })
        .collect()
}

/// Packets a coturn session relayed to and from its peers (`rp` and `sp` of its `peer usage`
/// line, logged when the allocation ends).
fn peer_usage(line: &str) -> Option<(u64, u64)> {
    let rest = line.split_once("peer usage: ")?.1;
    let field = |name: &str| -> Option<u64> {
        rest.split(", ")
            .find_map(|kv| kv.strip_prefix(name))?
            .parse()
            .ok()
    };
    Some((field("rp=")?, field("sp=")?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_only_participant_is_seen_and_heard_through_turn() {
    let _turn = crate::common::one_call_at_a_time().await;
    let dir = temp_dir("turn");
    let turn = Turn::start(
        &dir,
        &[("parley", "relay-password"), ("bob", "bob-password")],
    );
    let config = Config {
        ice_servers: vec![IceServer {
            urls: vec![format!("turn:127.0.0.1:{}?transport=udp", turn.port)],
            username: Some("parley".into()),
            credential: Some("relay-password".into()),
        }],
        ..Config::default()
    };
    let m = meeting_with("Relayed", config).await;
    let end = Instant::now() + Duration::from_secs(8);
    let mut tasks = Vec::new();
    for (name, relay_only) in [("Ann", true), ("Bob", false)] {
        let (you, sig) = crate::common::joined_with_message(&m, name, name == "Ann").await;
        let ServerMessage::Joined {
            mut ice_servers, ..
        } = sig.1
        else {
            panic!("not joined")
        };
        // The server announced its TURN server to the participant.
        assert_eq!(ice_servers.len(), 1);
        assert_eq!(ice_servers[0].username.as_deref(), Some("parley"));
        if !relay_only {
            ice_servers[0].username = Some("bob".into());
            ice_servers[0].credential = Some("bob-password".into());
        }
        let options = CallOptions {
            ice_servers,
            relay_only,
            ..CallOptions::default()
        };
        let (mut call, offer) =
            Call::start_with_options(you, "127.0.0.1:0".parse().unwrap(), options)
                .await
                .unwrap();
        let ClientMessage::SdpOffer { sdp } = &offer else {
            panic!("{name}'s call began with {offer:?}")
        };
        let offered = candidate_types(sdp);
        if relay_only {
            assert!(
                !offered.is_empty() && offered.iter().all(|t| t == "relay"),
                "{name}, relay only, offered candidates of types {offered:?}"
            );
        } else {
            assert!(
                offered.iter().any(|t| t == "host"),
                "{name} offered no address of his own: {offered:?}"
            );
        }
        let (mut tx, mut rx) = sig.0.split();
        tx.send(&offer).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let how = Pump {
                end: Some(end),
                ..Pump::default()
            };
            bots::pump(&mut call, &mut tx, &mut rx, how).await;
            let got = call.stats();
            let route = call.route().await;
            call.close().await;
            (you, got, route)
        }));
    }
    let (ann, ann_got, ann_route) = tasks.remove(0).await.unwrap();
    let (bob, bob_got, bob_route) = tasks.remove(0).await.unwrap();
    let from_ann = bob_got.get(&ann.to_string()).cloned().unwrap_or_default();
    let from_bob = ann_got.get(&bob.to_string()).cloned().unwrap_or_default();
    println!("Bob from Ann: {from_ann:?}\nAnn from Bob: {from_bob:?}");
    assert!(from_ann.video_frames > 60, "{from_ann:?}");
    assert_eq!(from_ann.tone_of, Some(ann));
    assert!(from_bob.video_frames > 60, "{from_bob:?}");
    assert_eq!(from_bob.tone_of, Some(bob));
    // Each side's own ICE: Ann's selected pair starts at her relay, Bob's at his own address.
    assert_eq!(ann_route, Some(Route::Relayed), "Ann's selected pair");
    assert_eq!(bob_route, Some(Route::Direct), "Bob's selected pair");

    // coturn's side, for Ann's credentials only: an allocation that was allowed to reach the
    // SFU and relayed her call both ways: coturn logs that when the allocation ends, within
    // seconds of her hanging up (eight seconds of video and audio are hundreds of packets each
    // way; ICE checks alone are a few dozen).
    let ann_sessions = turn.sessions_of("parley");
    assert!(
        !ann_sessions.is_empty(),
        "coturn opened no allocation for Ann's credentials:\n{}",
        turn.log_text()
    );
    let to_sfu = format!("peer {} lifetime updated", m.media.ip());
    let permitted = ann_sessions.iter().any(|s| {
        let lines = turn.lines_of(s);
        lines
            .iter()
            .any(|l| l.contains("CREATE_PERMISSION processed, success"))
            && lines.iter().any(|l| l.starts_with(&to_sfu))
    });
    assert!(
        permitted,
        "no allocation of Ann's was given a permission for the SFU at {}:\n{}",
        m.media,
        turn.log_text()
    );
    let relayed = || {
        ann_sessions
            .iter()
            .flat_map(|s| turn.lines_of(s))
            .filter_map(|l| peer_usage(&l))
            .fold((0, 0), |(r, s), (rp, sp)| (r + rp, s + sp))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while relayed() == (0, 0) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (from_sfu, to_sfu) = relayed();
    assert!(
        from_sfu > 200 && to_sfu > 200,
        "Ann's allocations relayed {from_sfu} packets from the SFU and {to_sfu} to it:\n{}",
        turn.log_text()
    );
}

#[test]
fn peer_usage_is_read_from_coturn_lines() {
    assert_eq!(
        peer_usage(
            "5: : session 000000000000000003: peer usage: realm=<parley.test>, username=<parley>, rp=20, rb=2000, sp=21, sb=2000"
        ),
        Some((20, 21))
    );
    assert_eq!(
        peer_usage(
            "5: : session 000000000000000003: usage: realm=<parley.test>, username=<parley>, rp=28, rb=2932, sp=28, sb=2788"
        ),
        None
    );
    assert_eq!(
        candidate_types(
            "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=candidate:2 1 udp 16777215 127.0.0.1 50001 typ relay raddr 0.0.0.0 rport 0\r\n"
        ),
        ["host", "relay"]
    );
}
