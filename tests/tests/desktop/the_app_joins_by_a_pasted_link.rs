//! A person pastes an invite link into the app, waits in the waiting room, is admitted by a
//! `parley-cli` host and sees the host's video move.

use parley_tests::{CliProc, ServerProc, host, waiting_id};

use crate::common::*;

#[test]
fn the_app_joins_by_a_pasted_link() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_app_joins_by_a_pasted_link");
    let server = ServerProc::start_with(&dir, &[], "info");
    let (mut hana, link): (CliProc, String) = host(&dir, &server, &["--synthetic"]);

    // Pasting adds whitespace and a newline; the app cleans them.
    d.type_into(&sel("link-input"), &format!("  {link}\n"));
    d.click(&sel("join-button"));
    d.type_into(&sel("name-input"), "Ada");
    d.click(&sel("enter-button"));
    d.find(&sel("waiting-screen"));
    d.screenshot("01-waiting-room");

    let waiting = hana.expect("waiting_joined");
    assert_eq!(waiting["waiting"]["name"], "Ada");
    hana.send(&format!("admit {}", waiting_id(&waiting)));
    d.find(&sel("meeting-screen"));
    let host_id = hana.participant_id();
    d.find(&sel(&format!("tile-{host_id}")));
    assert_tile_moves(&d, host_id, "02-tile-host");
    d.screenshot("02-meeting");

    // The host removes the app's participant: the app says so plainly.
    hana.send(&format!("remove {}", waiting_id(&waiting)));
    d.find(&sel("ended-screen"));
    let text = d.text(&sel("ended-screen"));
    assert!(
        text.to_lowercase().contains("removed"),
        "the ended screen says why: {text}"
    );
    d.screenshot("03-removed");

    // Back home, the meeting is listed by its title, never by its link or token.
    d.click(&sel("home-button"));
    let recent = d.text(&sel("recent-meetings"));
    assert!(
        recent.contains("Meeting"),
        "the recent list names the meeting: {recent}"
    );
    let token = link.split("/m/").nth(1).unwrap().split('#').next().unwrap();
    assert!(
        !d.text_of_page().contains(token),
        "the room token is on screen"
    );
    d.screenshot("04-recent");
}
