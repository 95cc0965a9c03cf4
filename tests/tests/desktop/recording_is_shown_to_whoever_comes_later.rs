//! Local recording in the real window: someone who comes while a `parley-cli` host records is
//! told in the waiting room, before entering, and sees the REC badge with the recorder's name
//! in the meeting, until the recording stops.

use parley_tests::{ServerProc, recording_host};

use crate::common::*;

#[test]
fn recording_is_shown_to_whoever_comes_later() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("recording_is_shown_to_whoever_comes_later");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = recording_host(&dir, &server);

    // Ada comes later: the waiting room tells her before she enters.
    d.type_into(&sel("link-input"), &link);
    d.click(&sel("join-button"));
    d.type_into(&sel("name-input"), "Ada");
    d.click(&sel("enter-button"));
    d.find(&sel("waiting-recorded"));
    d.screenshot("01-waiting-told");
    let knock = hana.expect("waiting_joined");
    hana.send(&format!("admit {}", knock["waiting"]["id"]));
    d.find(&sel("meeting-screen"));
    d.wait_for("the REC badge with the recorder's name", |d| {
        d.find_now(&sel("rec-badge")).is_some() && d.text(&sel("rec-badge")).contains("Hana")
    });
    d.screenshot("02-rec-badge");

    // The recording stops: the badge goes.
    hana.send("record off");
    hana.expect("recorded");
    d.wait_for("the badge to go", |d| {
        d.find_now(&sel("rec-badge")).is_none()
    });
}
