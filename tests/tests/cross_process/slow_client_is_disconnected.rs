use std::time::Duration;

use futures_util::StreamExt;
use parley_proto::{Identity, MeetingLink};
use parley_tests::*;

#[test]
fn a_client_that_never_reads_is_cut_off_and_nobody_else_notices() {
    let dir = temp_dir("slow");
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        "[limits]\nsend_queue = 256\nmessages_per_second = 2000\nburst = 2000\n",
    )
    .unwrap();
    let server = ServerProc::start_with(&dir, &["--config", config.to_str().unwrap()], "info");
    let (mut host, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut fast = CliProc::spawn(&dir, "fast", &["join", &link, "--name", "Fast"]);
    fast.expect("joined");
    // Fast holds the meeting's keys before the flood (lines sealed before someone is added
    // are, by design, unreadable to them).
    fast.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    let room = MeetingLink::parse(&link).unwrap().token;
    let port = server.port;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut slow = rt.block_on(async {
        let mut raw = Raw::connect(port).await;
        let joined = raw.join(&room, "Slow", &Identity::generate()).await;
        assert_eq!(joined["type"], "joined");
        // From here on it never reads.
        raw.ws
    });
    fast.expect_where("participants_joined", |v| {
        v["participants"][0]["name"] == "Slow"
    });
    // The host sends far more than the slow client's socket and queue can hold; it never reads.
    let body = "x".repeat(15_000);
    for i in 0..2000 {
        host.send(&format!("chat {i} {body}"));
        if i % 100 == 99 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    // The fast participant gets every message.
    // 30 MB through a debug-built CLI: give it time on a loaded machine.
    fast.expect_within(Duration::from_secs(120), "chat", |v| {
        v["body"].as_str().unwrap().starts_with("1999 ")
    });
    // The slow one was disconnected (the others are told it lost connection).
    host.expect_where("participant_left", |v| v["reason"] == "disconnected");
    assert!(server.log_text().contains("slow consumer disconnected"));
    // What the slow client finds when it finally reads: the stream ends.
    rt.block_on(async {
        let mut ended = false;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), slow.next()).await {
                Ok(Some(Ok(_))) => continue,
                _ => {
                    ended = true;
                    break;
                }
            }
        }
        assert!(ended, "the slow client's connection was closed");
    });
}
