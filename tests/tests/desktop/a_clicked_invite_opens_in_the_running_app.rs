//! Clicking a `parley://` invite starts the app a second time with the link: that second
//! instance hands the link to the running one and exits, and the running app shows the
//! pre-join screen for it — it does not join until the person says so.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parley_proto::{MeetingKey, MeetingLink, RoomToken, ServerAddr};
use parley_tests::bin;

use crate::common::*;

#[test]
fn a_clicked_invite_opens_in_the_running_app() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, _dir) = launch("a_clicked_invite_opens_in_the_running_app");
    d.find(&sel("link-input"));
    // A meeting on a server nobody contacts: the app only checks the link.
    let link = MeetingLink::new(
        ServerAddr::parse("https://meet.example.org").unwrap(),
        RoomToken::random(),
        MeetingKey::random(),
    );
    let app_link = link.to_app_link().expect("a parley:// link");
    let started = Instant::now();
    let mut second = Command::new(bin("parley-app"))
        .arg(&app_link)
        .envs(d.env.iter().map(|(k, v)| (k, v)))
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = second.kill();
            panic!("the second instance kept running instead of handing over its link");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the second instance exited with {status}");
    d.find(&sel("prejoin-screen"));
    let text = d.text(&sel("prejoin-screen"));
    assert!(
        text.contains("meet.example.org"),
        "the pre-join screen names the server: {text}"
    );
    assert!(
        !text.contains(&link.token.to_text()),
        "the room token is on screen"
    );
    d.screenshot("01-prejoin-from-link");
    // A second launch with something that is not a meeting link changes nothing.
    let status = Command::new(bin("parley-app"))
        .arg("parley://meet.example.org/not-a-meeting")
        .envs(d.env.iter().map(|(k, v)| (k, v)))
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    d.find(&sel("prejoin-screen"));
}
