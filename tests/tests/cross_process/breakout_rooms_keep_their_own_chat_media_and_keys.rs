//! Breakout rooms through a real server, between parley-cli processes: the host sends three
//! participants into two rooms; each room is its own encryption group and media set (those
//! together see and hear each other, nobody else, and read nothing of the other room's
//! chat); a host's message reaches every room; the host visits a room; when the rooms close
//! everyone is back in the main meeting, in their old places, with one group again. A
//! participant cannot open rooms.

use parley_tests::*;
use serde_json::Value;

fn joins(dir: &std::path::Path, link: &str, name: &str) -> CliProc {
    let mut p = CliProc::spawn(
        dir,
        &name.to_lowercase(),
        &["--synthetic", "join", link, "--name", name],
    );
    p.expect("joined");
    p
}

/// The security code once `p` is in a group of `members` (the keys may come just before the
/// `joined` that follows a move, or after it).
fn secured(p: &mut CliProc, members: u64) -> String {
    p.latest_or_within(WAIT, "e2ee", |v| {
        v["state"] == "secured" && v["members"] == members
    })["code"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Its number where it is now (the latest `joined`).
fn here(p: &CliProc) -> u64 {
    p.seen
        .iter()
        .rev()
        .find(|v| v["type"] == "joined")
        .and_then(|v| v["you"].as_u64())
        .expect("a joined line")
}

/// Wait until `p`'s media lines show exactly `from` (participant numbers where it is now)
/// sending video and their own tone.
fn sees_only(p: &mut CliProc, from: &[u64]) -> Value {
    p.expect_where("media", |v| {
        let senders = v["from"].as_object().map(|o| o.len()).unwrap_or(0);
        senders == from.len()
            && from.iter().all(|o| {
                let s = &v["from"][o.to_string()];
                s["video_frames"].as_u64().unwrap_or(0) >= 20 && s["tone_of"] == *o
            })
    })
}

#[test]
fn three_people_in_two_rooms_then_back_together() {
    let dir = temp_dir("breakout");
    let config = dir.join("server.toml");
    std::fs::write(&config, "[limits]\nbreakout_countdown_secs = 2\n").unwrap();
    let server = ServerProc::start_with(&dir, &["--config", config.to_str().unwrap()], "info");
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);
    let mut ann = joins(&dir, &link, "Ann");
    let mut bob = joins(&dir, &link, "Bob");
    let mut cy = joins(&dir, &link, "Cy");
    let main_ids: Vec<u64> = [&mut ann, &mut bob, &mut cy]
        .into_iter()
        .map(|p| p.participant_id())
        .collect();
    let main_code = secured(&mut hana, 4);
    for p in [&mut ann, &mut bob, &mut cy] {
        assert_eq!(secured(p, 4), main_code);
    }

    // Only hosts and co-hosts open rooms.
    ann.send("breakout random 2");
    ann.expect_where("error", |v| v["kind"] == "not_permitted");

    hana.send(&format!(
        "breakout open --minutes 10 {},{} | {}",
        main_ids[0], main_ids[1], main_ids[2]
    ));
    let status = hana.expect_where("breakouts", |v| {
        v["rooms"].as_array().is_some_and(|r| r.len() == 2)
    });
    assert_eq!(
        status["rooms"],
        serde_json::json!([[main_ids[0], main_ids[1]], [main_ids[2]]])
    );
    assert_eq!(status["ends_in_secs"].as_u64().map(|s| s > 500), Some(true));
    for (p, room) in [(&mut ann, 1), (&mut bob, 1), (&mut cy, 2)] {
        p.expect_where("moved", |v| v["room"] == room);
        p.expect("joined");
    }
    // Room 1 is a group of two with its own code; room 2 a group of one.
    let code_1 = secured(&mut ann, 2);
    assert_eq!(secured(&mut bob, 2), code_1);
    assert_ne!(code_1, main_code);
    secured(&mut cy, 1);

    // Media: Ann and Bob see and hear each other only; Cy nobody.
    let (ann_here, bob_here) = (here(&ann), here(&bob));
    sees_only(&mut ann, &[bob_here]);
    sees_only(&mut bob, &[ann_here]);
    cy.expect_where("media", |v| {
        v["from"].as_object().is_some_and(|o| o.is_empty())
    });

    // Chat stays in its room.
    ann.send("chat only for room one");
    assert_eq!(bob.expect("chat")["body"], "only for room one");
    cy.send("chat room two speaking");
    hana.send("chat main meeting only");

    // A host's message reaches every room, sealed with the link's key.
    hana.send("breakout broadcast Five minutes left");
    for p in [&mut ann, &mut bob, &mut cy] {
        assert_eq!(p.expect("breakout_broadcast")["body"], "Five minutes left");
    }

    // The host visits room 2, and comes back.
    hana.send("breakout visit 2");
    hana.expect_where("moved", |v| v["room"] == 2);
    hana.expect("joined");
    assert_eq!(secured(&mut cy, 2), secured(&mut hana, 2));
    hana.send("breakout return");
    hana.expect_where("moved", |v| v["room"].is_null());
    hana.expect("joined");

    // Closing: a countdown, then everyone is back in their old places, one group again.
    hana.send("breakout close");
    for p in [&mut ann, &mut bob, &mut cy] {
        p.expect_where("breakout_closing", |v| v["in_secs"].as_u64() == Some(2));
    }
    for (p, id) in [
        (&mut ann, main_ids[0]),
        (&mut bob, main_ids[1]),
        (&mut cy, main_ids[2]),
    ] {
        p.expect_where("moved", |v| v["room"].is_null());
        assert_eq!(p.expect("joined")["you"], id, "back in the same place");
    }
    hana.expect_where("breakouts", |v| {
        v["rooms"].as_array().is_some_and(Vec::is_empty)
    });
    let back = secured(&mut hana, 4);
    for p in [&mut ann, &mut bob, &mut cy] {
        assert_eq!(secured(p, 4), back);
    }
    cy.send("chat back together");
    for p in [&mut ann, &mut bob, &mut hana] {
        assert_eq!(
            p.expect_where("chat", |v| v["body"] == "back together")["body"],
            "back together"
        );
    }
    // What was said in a room was never read by anyone outside it.
    for (p, never) in [
        (&mut cy, "only for room one"),
        (&mut ann, "room two speaking"),
        (&mut bob, "main meeting only"),
    ] {
        let reached = p.seen.iter().any(|v| v.to_string().contains(never));
        assert!(!reached, "{never:?} reached {}", p.label);
    }
    for secret in ["room one", "room two", "Five minutes", "back together"] {
        assert!(
            !server.log_text().contains(secret),
            "{secret} in the server's log"
        );
    }
}
