//! Breakout rooms in the real window: a `parley-cli` host sends the app's participant and
//! another into a room; the window shows the room, its own people and chat, and the host's
//! message to all rooms; "Return to main meeting" brings the app back, in its old place. And
//! a host in the app opens rooms at random, visits one, and closes them: everyone comes back.

use parley_tests::{CliProc, ServerProc, host};

use crate::common::*;

#[test]
fn the_app_is_sent_to_a_breakout_room_and_returns() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_app_is_sent_to_a_breakout_room_and_returns");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);
    join_by_link(&d, &link, "Ada");
    let ada = number_of(&mut hana, "Ada");
    let mut bob = CliProc::spawn(&dir, "bob", &["join", &link, "--name", "Bob"]);
    let bob_id = bob.expect("joined")["you"].as_u64().unwrap();
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 3);
    // Bob's arrival is announced (the host's switch is on by default).
    d.wait_for("Bob's arrival announced", |d| {
        d.text_of_page().contains("Bob joined")
    });
    dismiss_toasts(&d);

    hana.send(&format!("breakout open --minutes 20 {ada},{bob_id}"));
    bob.expect_where("moved", |v| v["room"] == 1);
    d.wait_for("the breakout banner", |d| {
        d.find_now(&sel("breakout-banner"))
            .is_some_and(|_| d.text(&sel("breakout-banner")).contains('1'))
    });
    // Its own encryption group: Bob and the app, two members.
    bob.latest_or_within(parley_tests::WAIT, "e2ee", |v| {
        v["state"] == "secured" && v["members"] == 2
    });
    open_panel(&d, "participants-panel", "participants-button");
    d.wait_for("Bob in the room's list, and not Hana", |d| {
        let t = d.text(&sel("participants-panel"));
        t.contains("Bob") && !t.contains("Hana")
    });
    d.screenshot("01-in-the-room");

    // The room's chat reaches the app; the main meeting's does not.
    hana.send("chat only in the main meeting");
    bob.send("chat hello from room one");
    open_panel(&d, "chat-panel", "chat-button");
    d.wait_for("Bob's line", |d| {
        d.text(&sel("chat-panel")).contains("hello from room one")
    });
    assert!(!d.text_of_page().contains("only in the main meeting"));

    // The host's message to all rooms is shown.
    hana.send("breakout broadcast Five minutes left");
    d.wait_for("the host's message", |d| {
        d.text_of_page().contains("Five minutes left")
    });
    d.screenshot("02-message-to-all-rooms");

    // Back to the main meeting: the host sees the app out of the room, Bob sees it leave.
    dismiss_toasts(&d);
    d.click(&sel("breakout-return"));
    hana.expect_where("breakouts", |v| v["rooms"] == serde_json::json!([[bob_id]]));
    d.wait_for("the banner to go", |d| {
        d.find_now(&sel("breakout-banner")).is_none()
    });
    open_panel(&d, "participants-panel", "participants-button");
    d.wait_for("Hana in the list again", |d| {
        d.text(&sel("participants-panel")).contains("Hana")
    });
    // Added to the main group again (Bob's place there is kept while he is in the room).
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 3);
    hana.send("chat welcome back");
    open_panel(&d, "chat-panel", "chat-button");
    d.wait_for("the main meeting's chat", |d| {
        d.text(&sel("chat-panel")).contains("welcome back")
    });
    d.screenshot("03-back");
}

#[test]
fn a_host_in_the_app_opens_visits_and_closes_breakout_rooms() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("a_host_in_the_app_opens_visits_and_closes_breakout_rooms");
    let link = host_here(&d, "Workshop", "Hana");
    let (mut ann, ann_id) = admit_participant(&d, &dir, &link, "Ann");
    let (mut bob, bob_id) = admit_participant(&d, &dir, &link, "Bob");
    ann.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 3);
    dismiss_toasts(&d);

    // Two rooms, everyone but the host dealt at random: one each.
    open_panel(&d, "breakouts-panel", "breakouts-button");
    d.type_into(&sel("breakouts-rooms"), "2");
    d.click(&sel("breakouts-mode-random"));
    d.click(&sel("breakouts-open"));
    let room_of = |p: &mut CliProc| {
        p.expect("moved")["room"]
            .as_u64()
            .expect("moved into a room")
    };
    let (ann_room, bob_room) = (room_of(&mut ann), room_of(&mut bob));
    let mut rooms = [ann_room, bob_room];
    rooms.sort();
    assert_eq!(rooms, [1, 2], "one each");
    d.wait_for("both rooms listed with their people", |d| {
        let t = d.text(&sel("breakouts-panel"));
        t.contains("Ann") && t.contains("Bob")
    });
    d.screenshot("01-rooms-open");

    // The host visits Ann's room: Ann sees her come, in a group of two.
    d.click(&sel(&format!("breakouts-visit-{ann_room}")));
    d.wait_for("the room banner", |d| {
        d.find_now(&sel("breakout-banner")).is_some()
    });
    ann.expect_where("participants_joined", |v| {
        v["participants"][0]["name"] == "Hana"
    });
    ann.latest_or_within(parley_tests::WAIT, "e2ee", |v| {
        v["state"] == "secured" && v["members"] == 2
    });
    d.screenshot("02-visiting");
    dismiss_toasts(&d);
    d.click(&sel("breakout-return"));
    d.wait_for("back in the main meeting", |d| {
        d.find_now(&sel("breakout-banner")).is_none()
    });

    // Closed: a countdown, then Ann and Bob are back with their old numbers.
    open_panel(&d, "breakouts-panel", "breakouts-button");
    dismiss_toasts(&d);
    d.click(&sel("breakouts-close"));
    for (p, id) in [(&mut ann, ann_id), (&mut bob, bob_id)] {
        p.expect("breakout_closing");
        p.expect_within(std::time::Duration::from_secs(60), "moved", |v| {
            v["room"].is_null()
        });
        assert_eq!(p.expect("joined")["you"], id);
    }
    open_panel(&d, "participants-panel", "participants-button");
    d.wait_for("Ann and Bob here again", |d| {
        let t = d.text(&sel("participants-panel"));
        t.contains("Ann") && t.contains("Bob")
    });
    d.screenshot("03-closed");
}
