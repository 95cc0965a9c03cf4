use std::time::Instant;

use parley_tests::*;

#[test]
fn when_a_participant_leaves_the_others_are_offered_a_connection_without_their_tracks() {
    let (_dir, _server, mut host, mut gus, _link, me) = synthetic_meeting("leaver");
    let me = me.to_string();
    host.expect_where("media", |v| {
        v["from"][&me]["video_frames"].as_u64().unwrap_or(0) > 10
    });
    gus.send("leave");
    assert_eq!(gus.wait_exit(), 0);
    host.expect_where("participant_left", |v| v["reason"] == "left");
    let left = Instant::now();
    // The SFU renegotiates: Gus's m-lines are stopped (how fast is reported, not asserted).
    host.expect("sdp_offer");
    eprintln!("re-offered {:?} after Gus left", left.elapsed());
    // And nothing more arrives from Gus.
    let before = host.expect("media")["from"][&me]["video_frames"].as_u64();
    let after = host.expect("media")["from"][&me]["video_frames"].as_u64();
    assert_eq!(before, after, "video from Gus stopped");
}
