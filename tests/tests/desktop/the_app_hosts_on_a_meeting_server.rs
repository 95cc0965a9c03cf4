//! A person starts a meeting on their organisation's meeting server (not on this computer):
//! the invite points at that server, and a participant who joins with it waits until the
//! app's host admits them.

use parley_tests::ServerProc;

use crate::common::*;

#[test]
fn the_app_hosts_on_a_meeting_server() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_app_hosts_on_a_meeting_server");
    let server = ServerProc::start_with(&dir, &[], "info");
    d.type_into(&sel("title-input"), "Union board");
    d.type_into(&sel("host-server-input"), &server.url);
    d.screenshot("01-host-on-server");
    d.click(&sel("host-button"));
    d.type_into(&sel("name-input"), "Hana");
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));
    let link = invite_link(&d);
    assert!(
        link.starts_with(&format!("{}/m/", server.url)),
        "the invite points at the meeting server: {link}"
    );
    d.find(&sel("copy-invite"));

    let (mut ann, ann_id) = admit_participant(&d, &dir, &link, "Ann");
    assert_tile_moves(&d, ann_id, "02-tile-ann");
    open_panel(&d, "privacy-panel", "privacy-button");
    let server_line = d.text(&sel("privacy-server"));
    assert!(
        !server_line.contains("this computer"),
        "the privacy panel names the server, not this computer: {server_line}"
    );
    // End to end: the app and Ann's parley-cli show the same security code.
    let secured = ann.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    let code = secured["code"].as_str().unwrap().to_string();
    d.wait_for("the app's security code", |d| {
        d.text(&sel("security-code")) == code
    });
    d.screenshot("03-meeting-on-server");
}
