//! parley-cli gets its connection back by itself: the signaling connection is cut (as a
//! network change or a proxy's timeout would) and restored, and the participant is back in
//! the same place, encrypted with everyone again, with media flowing again; a server that
//! restarted (and so no longer knows the meeting) is explained in plain words.

use std::net::SocketAddr;
use std::time::Duration;

use parley_tests::cut::CutRelay;
use parley_tests::*;
use serde_json::Value;

/// Media needs ICE, DTLS and a keyframe; on a loaded machine that can take a while.
const MEDIA_WAIT: Duration = Duration::from_secs(60);

fn at(server: &ServerProc) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port))
}

fn frames_from(v: &Value, from: u64) -> u64 {
    v["from"][from.to_string()]["video_frames"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_cut_connection_comes_back_in_the_same_place_with_keys_and_media() {
    let dir = temp_dir("cli-reconnect");
    let server = ServerProc::start(&dir);
    let (mut host, link) = host(&dir, &server, &["--synthetic"]);
    let relay = CutRelay::to(at(&server));
    let mut gus = CliProc::spawn(
        &dir,
        "gus",
        &["--synthetic", "join", &relay.link(&link), "--name", "Gus"],
    );
    let knock = host.expect("waiting_joined");
    host.send(&format!("admit {}", waiting_id(&knock)));
    let gus_id = gus.expect("joined")["you"].as_u64().unwrap();
    gus.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    host.expect_within(MEDIA_WAIT, "media", |v| frames_from(v, gus_id) >= 30);

    relay.cut();
    gus.expect_where("connection", |v| v["state"] == "reconnecting");
    host.expect_where("away", |v| v["id"] == gus_id && v["away"] == true);
    let seen_before = host.seen.len();
    relay.restore(at(&server));
    gus.expect_where("connection", |v| v["state"] == "reconnected");
    assert_eq!(
        gus.expect("joined")["you"].as_u64(),
        Some(gus_id),
        "back with the same number"
    );
    host.expect_where("away", |v| v["id"] == gus_id && v["away"] == false);
    // Encrypted with everyone again: new keys, and a line sealed with them reads.
    gus.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    gus.send("chat back again");
    host.expect_where("chat", |v| v["from"] == gus_id && v["body"] == "back again");
    // Media flows again: Gus's frames grow between two of the host's figures.
    let last = std::cell::Cell::new(None);
    host.expect_within(MEDIA_WAIT, "media", |v| {
        let now = frames_from(v, gus_id);
        last.replace(Some(now))
            .is_some_and(|before| now >= before + 30)
    });
    // Past the waiting room: the place was kept, nobody had to admit Gus again.
    assert!(
        !host.seen[seen_before..]
            .iter()
            .any(|v| v["type"] == "waiting_joined"),
        "Gus knocked again"
    );
}

#[test]
fn after_a_server_restart_the_cli_says_the_meeting_is_gone() {
    let dir = temp_dir("cli-restart");
    let server = ServerProc::start(&dir);
    let (_host, link) = host(&dir, &server, &["--no-waiting-room"]);
    let relay = CutRelay::to(at(&server));
    let mut gus = CliProc::spawn(&dir, "gus", &["join", &relay.link(&link), "--name", "Gus"]);
    gus.expect("joined");

    // The server goes away; a new one (which knows no meetings) answers at the same address.
    relay.cut();
    gus.expect_where("connection", |v| v["state"] == "reconnecting");
    let restarted = ServerProc::start(&temp_dir("cli-restart-2"));
    relay.restore(at(&restarted));
    let told = gus.expect("cli_error");
    let message = told["message"].as_str().unwrap_or_default();
    assert_eq!(told["kind"], "connection_lost");
    assert!(
        message.contains("restarted") && message.contains("new meeting"),
        "{message}"
    );
    assert_eq!(gus.wait_exit(), 1);
}
