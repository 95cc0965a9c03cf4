//! `parley-cli --relay-only` sends and receives media only through the TURN relay the meeting
//! server announces. With coturn there, its picture and tone reach the host and the host's
//! reach it; with the announced relay absent, its media connection fails and none of its media
//! reaches the host (nor the host's it), while a participant without the flag, in the same
//! meeting with the same announcement, is seen and heard: so the media that flowed through
//! coturn could have flowed no other way.

use std::path::Path;
use std::time::Duration;

use parley_tests::turn::{Turn, free_udp_port};
use parley_tests::*;
use serde_json::Value;

/// Deadline for media to start (a deadline for finishing, not a timing assertion).
const MEDIA_WAIT: Duration = Duration::from_secs(60);

/// A server that announces a TURN server at `port` on loopback to everyone it admits.
fn server_announcing_turn(dir: &Path, port: u16) -> ServerProc {
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[[ice_servers]]\nurls = [\"turn:127.0.0.1:{port}?transport=udp\"]\n\
             username = \"parley\"\ncredential = \"relay-password\"\n"
        ),
    )
    .unwrap();
    ServerProc::start_with(dir, &["--config", config.to_str().unwrap()], "info")
}

/// Whether a `media` line shows `from`'s picture (30 frames or more) and `from`'s tone.
fn sees_and_hears(v: &Value, from: u64) -> bool {
    let f = &v["from"][from.to_string()];
    f["video_frames"].as_u64().unwrap_or(0) >= 30 && f["tone_of"] == from
}

/// Whether any `media` line `p` printed shows anything at all received from `from`.
fn received_anything(p: &CliProc, from: u64) -> bool {
    p.seen.iter().any(|v| {
        let f = &v["from"][from.to_string()];
        v["type"] == "media"
            && (f["video_frames"].as_u64().unwrap_or(0) > 0
                || f["video_packets"].as_u64().unwrap_or(0) > 0
                || f["audio_ms"].as_u64().unwrap_or(0) > 0)
    })
}

#[test]
fn a_relay_only_participant_is_seen_and_heard_through_the_relay() {
    let dir = temp_dir("relay-only");
    let turn = Turn::start(&dir, &[("parley", "relay-password")]);
    let server = server_announcing_turn(&dir, turn.port);
    let (mut host, link) = host(&dir, &server, &["--no-waiting-room", "--synthetic"]);
    let host_id = host.participant_id();
    let mut rae = CliProc::spawn(
        &dir,
        "rae",
        &[
            "--synthetic",
            "--relay-only",
            "join",
            &link,
            "--name",
            "Rae",
        ],
    );
    let rae_id = rae.expect("joined")["you"].as_u64().unwrap();
    host.expect_within(MEDIA_WAIT, "media", |v| sees_and_hears(v, rae_id));
    rae.expect_within(MEDIA_WAIT, "media", |v| sees_and_hears(v, host_id));
    // coturn allocated a relay and let it reach the SFU (whose, the test without coturn shows:
    // Rae's media flows through nothing else).
    let log = turn.log_text();
    for step in [
        "ALLOCATE processed, success",
        "CREATE_PERMISSION processed, success",
    ] {
        assert!(log.contains(step), "coturn never logged {step}:\n{log}");
    }
}

#[test]
fn without_the_relay_a_relay_only_participant_gets_no_media_and_others_carry_on() {
    let dir = temp_dir("relay-absent");
    // Nothing listens where the relay is announced.
    let server = server_announcing_turn(&dir, free_udp_port());
    let (mut host, link) = host(&dir, &server, &["--no-waiting-room", "--synthetic"]);
    let host_id = host.participant_id();
    // Without --relay-only, the same announcement: connected directly, seen and heard.
    let mut gus = CliProc::spawn(
        &dir,
        "gus",
        &["--synthetic", "join", &link, "--name", "Gus"],
    );
    let gus_id = gus.expect("joined")["you"].as_u64().unwrap();
    host.expect_within(MEDIA_WAIT, "media", |v| sees_and_hears(v, gus_id));
    gus.expect_within(MEDIA_WAIT, "media", |v| sees_and_hears(v, host_id));
    // With it: the media connection fails and says so.
    let mut rae = CliProc::spawn(
        &dir,
        "rae",
        &[
            "--synthetic",
            "--relay-only",
            "join",
            &link,
            "--name",
            "Rae",
        ],
    );
    let rae_id = rae.expect("joined")["you"].as_u64().unwrap();
    let failed = rae.expect_within(MEDIA_WAIT, "cli_error", |_| true);
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("connection failed") || message.contains("timed out connecting"),
        "Rae stopped with {failed}"
    );
    assert_ne!(rae.wait_exit(), 0, "Rae's CLI exited as if all went well");
    // Rae is gone: whatever media of hers there was has reached the host by the time the
    // host has seen her leave and printed its figures after that.
    host.expect_within(MEDIA_WAIT, "participant_left", |v| {
        v["id"].as_u64() == Some(rae_id)
    });
    host.expect_within(MEDIA_WAIT, "media", |v| sees_and_hears(v, gus_id));
    assert!(
        !received_anything(&host, rae_id),
        "the host received media from Rae, who may use only the absent relay:\n{:?}",
        host.seen
    );
    assert!(
        !received_anything(&rae, host_id) && !received_anything(&rae, gus_id),
        "Rae received media without the relay:\n{:?}",
        rae.seen
    );
}
