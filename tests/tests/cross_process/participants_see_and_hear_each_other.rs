use parley_tests::*;

#[test]
fn two_cli_participants_exchange_video_and_audio_through_the_server() {
    let (_dir, _server, mut host, mut gus, _link, me) = synthetic_meeting("media");
    // Gus receives the host's test pattern (decoded, in order) and the host's tone (participant 1).
    let seen = gus.expect_where("media", |v| {
        v["from"]["1"]["video_frames"].as_u64().unwrap_or(0) >= 30 && v["from"]["1"]["tone_of"] == 1
    });
    // Capture-to-decode latency is measured from the stamps (reported, not asserted).
    assert!(
        seen["from"]["1"]["video_latency_ms"].is_u64(),
        "stamps were read: {seen}"
    );
    // And the host receives Gus.
    host.expect_where("media", |v| {
        v["from"][me.to_string()]["video_frames"]
            .as_u64()
            .unwrap_or(0)
            >= 30
            && v["from"][me.to_string()]["tone_of"] == me
    });
}
