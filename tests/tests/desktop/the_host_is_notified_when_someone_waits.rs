//! A host whose window is minimised learns that someone waits from a desktop notification,
//! as their desktop's notification service would show it. The waiting person chose a name
//! with markup in it; the notification shows it as text.

use std::time::{Duration, Instant};

use parley_tests::CliProc;
use parley_tests::notifications::Notifications;

use crate::common::*;

#[test]
fn the_host_is_notified_when_someone_waits() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_host_is_notified_when_someone_waits");
    let bus = d
        .env
        .iter()
        .find(|(k, _)| k == "DBUS_SESSION_BUS_ADDRESS")
        .and_then(|(_, v)| v.to_str())
        .expect("the test session bus")
        .to_string();
    let service = Notifications::serve(&bus);

    let link = host_here(&d, "Board", "Hana");
    // The host turns to another application.
    d.minimize();
    let state = d.script(
        "return [document.hasFocus(), document.visibilityState]",
        vec![],
    );
    assert_eq!(
        state,
        serde_json::json!([false, "hidden"]),
        "the window is out of sight"
    );

    let mut eve = CliProc::spawn(
        &dir,
        "eve",
        &[
            "--synthetic",
            "join",
            &link,
            "--name",
            "<a href=\"file:///etc/passwd\">Eve</a>",
        ],
    );
    eve.expect("waiting");
    let deadline = Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let shown = service.shown();
        if !shown.is_empty() || Instant::now() > deadline {
            break shown;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!("notifications: {shown:?}");
    let n = shown.first().expect("a desktop notification was posted");
    assert_eq!(n.app_name, "Parley");
    assert!(n.summary.contains("Board"), "the meeting is named: {n:?}");
    assert!(
        n.body.contains(
            "&lt;a href=&quot;file:///etc/passwd&quot;&gt;Eve&lt;/a&gt; is in the waiting room"
        ),
        "the name is shown as text, never as a link: {n:?}"
    );
    assert!(
        !n.body.contains('<'),
        "no markup reaches the desktop: {n:?}"
    );
    // The in-window notice is there too, with the name as plain text.
    d.wait_for("the toast", |d| {
        d.text_of_page()
            .contains("<a href=\"file:///etc/passwd\">Eve</a> is waiting")
    });

    // A second person: the same notification is replaced, not stacked.
    let mut bob = CliProc::spawn(
        &dir,
        "bob",
        &["--synthetic", "join", &link, "--name", "Bob"],
    );
    bob.expect("waiting");
    let deadline = Instant::now() + Duration::from_secs(20);
    while service.shown().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown = service.shown();
    let second = shown.get(1).expect("a second notification");
    assert!(second.body.contains("Bob"), "{second:?}");
    assert_eq!(second.replaces_id, 1, "it replaces the first: {second:?}");
    d.screenshot("01-waiting-toast");
    drop(eve);
    drop(bob);
}
