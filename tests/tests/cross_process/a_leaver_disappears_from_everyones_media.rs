//! Two parley-cli participants; Gus leaves. His media stops reaching the host at once, and the
//! host's session needs no renegotiation for it: the SFU's slots (three for voices, one per
//! picture shown) stay where they are and simply stop carrying Gus. His tracks were never
//! m-lines of their own in the host's session.

use std::time::Instant;

use parley_tests::*;
use serde_json::Value;

/// The m-lines of an `sdp_offer` line.
fn m_lines(offer: &Value) -> &Vec<Value> {
    offer["media"]
        .as_array()
        .unwrap_or_else(|| panic!("an offer lists its m-lines: {offer}"))
}

/// The SFU's slots in an offer: (kind, stream) of each open `sendonly` m-line.
fn slots(offer: &Value) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = m_lines(offer)
        .iter()
        .filter(|m| m["direction"] == "sendonly" && m["stopped"] == false)
        .map(|m| {
            (
                m["kind"].as_str().unwrap_or_default().to_owned(),
                m["stream"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    s.sort();
    s
}

#[test]
fn when_a_participant_leaves_their_media_stops_and_the_session_keeps_its_slots() {
    let (_dir, _server, mut host, mut gus, _link, me) = synthetic_meeting("leaver");
    let me = me.to_string();
    // Both of Gus's tracks reach the host (so the SFU has given him slots).
    host.expect_where("media", |v| {
        v["from"][&me]["video_frames"].as_u64().unwrap_or(0) > 10
            && v["from"][&me]["audio_ms"].as_u64().unwrap_or(0) > 500
    });
    let offers: Vec<&Value> = host
        .seen
        .iter()
        .filter(|v| v["type"] == "sdp_offer")
        .collect();
    let last = offers.last().expect("the SFU offered Gus's media");
    // Voice slots (three for the loudest, two for presenters) and one video slot; no m-line
    // is Gus's own.
    let voice_slots = 3 + parley_server::sfu::PRESENTER_SLOTS;
    let mut expected = vec![("audio".to_owned(), "voices".to_owned()); voice_slots];
    expected.push(("video".to_owned(), "video".to_owned()));
    assert_eq!(slots(last), expected, "{last}");
    assert!(m_lines(last).iter().all(|m| m["stream"] != me.as_str()));
    let offers_before = offers.len();

    gus.send("leave");
    assert_eq!(gus.wait_exit(), 0);
    let left = Instant::now();
    // The host is told that Gus left (perhaps already).
    if !host
        .seen
        .iter()
        .any(|v| v["type"] == "participant_left" && v["reason"] == "left")
    {
        host.expect_where("participant_left", |v| v["reason"] == "left");
    }
    // Nothing more arrives from Gus: after one report (the end of his audio may still be
    // playing out), two reports a second apart show the same counts.
    host.expect("media");
    let first = host.expect("media");
    let second = host.expect("media");
    for what in ["video_frames", "audio_ms"] {
        assert_eq!(
            first["from"][&me][what], second["from"][&me][what],
            "{what} from Gus stopped"
        );
    }
    eprintln!("Gus's media stopped within {:?}", left.elapsed());
    // And the host's session was not renegotiated for it.
    let offers_after = host
        .seen
        .iter()
        .filter(|v| v["type"] == "sdp_offer")
        .count();
    assert_eq!(offers_after, offers_before, "no offer after Gus left");
}
