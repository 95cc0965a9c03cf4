use std::time::Instant;

use parley_tests::*;
use serde_json::Value;

/// The m-lines of an `sdp_offer` line.
fn m_lines(offer: &Value) -> &Vec<Value> {
    offer["media"]
        .as_array()
        .unwrap_or_else(|| panic!("an offer lists its m-lines: {offer}"))
}

#[test]
fn when_a_participant_leaves_the_others_are_offered_a_connection_without_their_tracks() {
    let (_dir, _server, mut host, mut gus, _link, me) = synthetic_meeting("leaver");
    let me = me.to_string();
    // Both of Gus's tracks reach the host (so the SFU has offered them both).
    host.expect_where("media", |v| {
        v["from"][&me]["video_frames"].as_u64().unwrap_or(0) > 10
            && v["from"][&me]["audio_ms"].as_u64().unwrap_or(0) > 500
    });
    gus.send("leave");
    assert_eq!(gus.wait_exit(), 0);
    let left = Instant::now();
    // The SFU renegotiates: an offer that stops Gus's m-lines (how fast is reported, not
    // asserted).
    let stopping = host.expect_where("sdp_offer", |v| {
        m_lines(v).iter().any(|m| m["stopped"] == true)
    });
    eprintln!("re-offered {:?} after Gus left", left.elapsed());
    let offers: Vec<&Value> = host
        .seen
        .iter()
        .filter(|v| v["type"] == "sdp_offer")
        .collect();
    assert!(offers.len() >= 2, "Gus's tracks were offered first");
    let before = m_lines(offers[offers.len() - 2]);
    let after = m_lines(&stopping);
    // Before: one sendonly video m-line carrying Gus's stream; his voice came in one of the
    // voice slots (as many as voices are heard at once, whoever speaks).
    let mut gus_lines: Vec<(&str, &str)> = before
        .iter()
        .filter(|m| m["stream"] == me.as_str())
        .map(|m| {
            assert_eq!(m["direction"], "sendonly", "{m}");
            assert_eq!(m["stopped"], false, "{m}");
            (m["kind"].as_str().unwrap(), m["mid"].as_str().unwrap())
        })
        .collect();
    gus_lines.sort();
    assert_eq!(
        gus_lines.iter().map(|l| l.0).collect::<Vec<_>>(),
        ["video"],
        "Gus's tracks in the offer before he left: {before:?}"
    );
    let slots = |lines: &[Value]| {
        lines
            .iter()
            .filter(|m| m["stream"] == "voices" && m["kind"] == "audio" && m["stopped"] == false)
            .count()
    };
    assert_eq!(slots(before), 3, "three voice slots: {before:?}");
    // After: the same m-lines, in the same places; exactly Gus's are stopped (port 0,
    // inactive), everything else is as it was.
    assert_eq!(
        after.len(),
        before.len(),
        "m-lines are stopped, never removed"
    );
    for (was, now) in before.iter().zip(after) {
        assert_eq!(now["mid"], was["mid"], "{before:?} then {after:?}");
        assert_eq!(now["kind"], was["kind"], "{before:?} then {after:?}");
        if gus_lines.iter().any(|(_, mid)| was["mid"] == *mid) {
            assert_eq!(now["stopped"], true, "Gus's m-line is stopped: {now}");
            assert_eq!(now["direction"], "inactive", "{now}");
        } else {
            assert_eq!(now, was, "only Gus's m-lines change");
        }
    }
    assert_eq!(slots(after), 3, "the voice slots stay: {after:?}");
    // The host is told that Gus left (before the offer or after it).
    if !host
        .seen
        .iter()
        .any(|v| v["type"] == "participant_left" && v["reason"] == "left")
    {
        host.expect_where("participant_left", |v| v["reason"] == "left");
    }
    // And nothing more arrives from Gus.
    let before = host.expect("media")["from"][&me]["video_frames"].as_u64();
    let after = host.expect("media")["from"][&me]["video_frames"].as_u64();
    assert_eq!(before, after, "video from Gus stopped");
}
