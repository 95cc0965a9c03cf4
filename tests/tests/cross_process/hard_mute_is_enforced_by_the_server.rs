use parley_tests::*;

fn audio_and_video(v: &serde_json::Value, who: &str) -> (u64, u64) {
    (
        v["from"][who]["audio_ms"].as_u64().unwrap_or(0),
        v["from"][who]["video_frames"].as_u64().unwrap_or(0),
    )
}

#[test]
fn a_muted_participant_is_not_heard_even_if_their_client_keeps_sending() {
    let (_dir, _server, mut host, mut gus, _link, me) = synthetic_meeting("hardmute");
    // Gus's synthetic microphone never stops: it ignores mutes, like a modified client.
    let me = me.to_string();
    host.expect_where("media", |v| audio_and_video(v, &me).0 > 1000);
    host.send("set unmute_self off");
    host.send("mute-all");
    host.expect("all_muted");
    // Let what was in flight arrive, then compare two reports two seconds apart.
    host.expect("media");
    let before = audio_and_video(&host.expect("media"), &me);
    host.expect("media");
    let after = audio_and_video(&host.expect("media"), &me);
    assert!(
        after.0 - before.0 < 200,
        "audio kept flowing after a hard mute: {before:?} -> {after:?}"
    );
    assert!(
        after.1 > before.1 + 30,
        "video still flows: {before:?} -> {after:?}"
    );
    // Asked and allowed to unmute, Gus is heard again.
    host.send(&format!("ask-unmute {me}"));
    gus.expect("unmute_requested");
    gus.send("unmute");
    host.expect_where("muted", |v| v["muted"] == false);
    host.expect("media");
    let resumed = audio_and_video(&host.expect("media"), &me);
    assert!(
        resumed.0 > after.0 + 1000,
        "audio resumed: {after:?} -> {resumed:?}"
    );
}
