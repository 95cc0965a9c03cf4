//! The app's connection to the meeting server drops in the middle of a call (a relay between
//! them is cut): the window says it is reconnecting and keeps the meeting on screen; when the
//! network is back, the app rejoins by itself in the same place (the same number, past the
//! waiting room), gets the keys again, and the host's video moves in its tile again (media
//! restarted on the new connection) while the host receives the app's chat.

use std::net::SocketAddr;

use parley_tests::cut::CutRelay;
use parley_tests::{ServerProc, host};

use crate::common::*;

fn at(server: &ServerProc) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port))
}

#[test]
fn the_app_comes_back_after_its_connection_drops() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_app_comes_back_after_its_connection_drops");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--synthetic"]);
    let relay = CutRelay::to(at(&server));
    // Through the waiting room, as anyone.
    d.type_into(&sel("link-input"), &relay.link(&link));
    d.click(&sel("join-button"));
    d.type_into(&sel("name-input"), "Ada");
    d.click(&sel("enter-button"));
    let knock = hana.expect("waiting_joined");
    hana.send(&format!("admit {}", parley_tests::waiting_id(&knock)));
    d.find(&sel("meeting-screen"));
    let ada = number_of(&mut hana, "Ada");
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    assert_tile_moves(&d, 1, "01-before");

    relay.cut();
    d.wait_for("the reconnecting mark", |d| {
        d.find_now("[data-testid=\"reconnecting\"]").is_some()
    });
    hana.expect_where("away", |v| v["id"] == ada && v["away"] == true);
    assert!(
        d.find_now(&sel("meeting-screen")).is_some(),
        "the meeting stays on screen"
    );
    d.screenshot("02-reconnecting");
    let seen_before = hana.seen.len();

    relay.restore(at(&server));
    d.wait_for("the reconnecting mark to go", |d| {
        d.find_now("[data-testid=\"reconnecting\"]").is_none()
    });
    hana.expect_where("away", |v| v["id"] == ada && v["away"] == false);
    // Keys again (a new member of the group), and media on the new connection.
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    assert_tile_moves(&d, 1, "03-after");
    dismiss_toasts(&d);
    open_panel(&d, "chat-panel", "chat-button");
    d.type_into(&sel("chat-input"), "back again");
    d.click(&sel("chat-send"));
    hana.expect_where("chat", |v| v["from"] == ada && v["body"] == "back again");
    assert!(
        !hana.seen[seen_before..]
            .iter()
            .any(|v| v["type"] == "waiting_joined"),
        "the app knocked again"
    );
}
