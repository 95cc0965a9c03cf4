//! A person starts a meeting on this computer in the app (after a look at the camera
//! preview), copies the invite, lets two participants in from the waiting room, sees their
//! video move, sees a raised hand (sealed end to end), locks the meeting (a third is refused),
//! removes one (who cannot rejoin), and reads a chat message with a Windows share path that
//! stays inert text.

use parley_tests::CliProc;

use crate::common::*;

#[test]
fn host_runs_a_meeting_from_the_app() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("host_runs_a_meeting_from_the_app");

    // Home → pre-join → meeting, hosted on this computer.
    d.find(&sel("link-input"));
    d.screenshot("01-home");
    d.type_into(&sel("title-input"), "Works council");
    d.click(&sel("host-button"));
    d.type_into(&sel("name-input"), "Hana");
    // The camera switch on: a preview (the test pattern stands in, no camera is picked);
    // off again: the preview goes.
    d.click(&sel("camera-toggle"));
    assert_canvas_moves(&d, &sel("camera-preview"), "the camera preview", "preview");
    d.screenshot("02-prejoin");
    d.click(&sel("camera-toggle"));
    d.wait_for("the preview to close", |d| {
        d.find_now(&sel("camera-preview")).is_none()
    });
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));
    let page = d.text_of_page();
    assert!(page.contains("Works council"), "the title is shown: {page}");

    // "Copy invite link" is the only way to the link; the test takes it the way that button
    // does, from the app's command, and checks the screen never shows the room token.
    let link = invite_link(&d);
    assert!(
        link.starts_with("http://127.0.0.1:") && link.contains("/m/") && link.contains("#k="),
        "{link}"
    );
    let token = link
        .split("/m/")
        .nth(1)
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .to_string();
    assert!(
        !d.text_of_page().contains(&token),
        "the room token is on screen"
    );

    // Two participants wait; the host admits them.
    let mut ann = CliProc::spawn(
        &dir,
        "ann",
        &["--synthetic", "join", &link, "--name", "Ann Bot"],
    );
    let mut bob = CliProc::spawn(
        &dir,
        "bob",
        &["--synthetic", "join", &link, "--name", "Bob Bot"],
    );
    ann.expect("waiting");
    bob.expect("waiting");
    open_panel(&d, "participants-panel", "participants-button");
    d.wait_for("both in the waiting list", |d| {
        let t = d.text(&sel("participants-panel"));
        t.contains("Ann Bot") && t.contains("Bob Bot")
    });
    d.screenshot("03-waiting-list");
    d.click(&sel("admit-all"));
    let ann_id = ann.expect("joined")["you"].as_u64().unwrap();
    let bob_id = bob.expect("joined")["you"].as_u64().unwrap();

    // Their tiles show moving video.
    d.find(&sel(&format!("tile-{ann_id}")));
    d.find(&sel(&format!("tile-{bob_id}")));
    assert_tile_moves(&d, ann_id, "04-tile-ann");
    assert_tile_moves(&d, bob_id, "04-tile-bob");
    // Their synthetic microphones play a tone: the app hears it and marks who is speaking.
    d.wait_for("a tile marked speaking", |d| {
        d.find_now(&format!("#tile-{ann_id}.speaking, #tile-{bob_id}.speaking"))
            .is_some()
    });
    d.screenshot("04-gallery");

    // Ann raises her hand: sealed end to end, opened by the app, shown on her tile. Bob sees it
    // too; the host raises hers and Ann sees that.
    ann.send("hand up");
    d.wait_for("Ann's hand on her tile", |d| {
        d.find_now(&format!("#tile-{ann_id}.hand-up")).is_some()
    });
    bob.expect_where("hand", |v| v["id"] == ann_id && v["raised"] == true);
    d.click(&sel("hand-button"));
    ann.expect_where("hand", |v| v["id"] != ann_id && v["raised"] == true);
    ann.send("hand down");
    d.wait_for("Ann's hand lowered", |d| {
        d.find_now(&format!("#tile-{ann_id}.hand-up")).is_none()
    });
    d.click(&sel("hand-button"));

    // Lock: a third person is refused by the server.
    open_panel(&d, "security-menu", "security-button");
    d.click(&sel("lock-toggle"));
    ann.expect_where("lock_changed", |v| v["locked"] == true);
    d.screenshot("05-locked");
    let mut cy = CliProc::spawn(&dir, "cy", &["join", &link, "--name", "Cy"]);
    assert_eq!(cy.expect("cli_error")["kind"], "locked");
    assert_eq!(cy.wait_exit(), 3);

    // Remove Bob: he is told, and cannot come back even once the meeting is unlocked.
    open_panel(&d, "participants-panel", "participants-button");
    d.click(&sel(&format!("remove-{bob_id}")));
    // Removal cannot be undone, so the app asks first.
    d.click(&sel(&format!("remove-confirm-{bob_id}")));
    assert_eq!(bob.expect("goodbye")["reason"], "removed");
    assert_eq!(bob.wait_exit(), 4);
    d.wait_for("Bob's tile is gone", |d| {
        d.find_now(&sel(&format!("tile-{bob_id}"))).is_none()
    });
    open_panel(&d, "security-menu", "security-button");
    d.click(&sel("lock-toggle"));
    ann.expect_where("lock_changed", |v| v["locked"] == false);
    let mut again = CliProc::spawn(&dir, "bob", &["join", &link, "--name", "Bob Again"]);
    assert_eq!(again.expect("cli_error")["kind"], "banned");
    assert_eq!(again.wait_exit(), 3);

    // Chat: a Windows share path stays text; an https address becomes a link that is not
    // followed (nothing is fetched).
    open_panel(&d, "chat-panel", "chat-button");
    ann.send(
        r"chat minutes are on \\fileserver\council\minutes.docx or https://example.org/agenda",
    );
    d.wait_for("Ann's message", |d| {
        d.text(&sel("chat-messages")).contains("fileserver")
    });
    let links: Vec<String> = d
        .script(
            "const box = document.querySelector('#chat-messages, [data-testid=\"chat-messages\"]');\
             return Array.from(box.querySelectorAll('a')).map(a => a.textContent + ' -> ' + (a.getAttribute('href') || ''));",
            vec![],
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        links
            .iter()
            .all(|l| !l.contains("fileserver") && !l.contains("file:") && !l.contains("smb:")),
        "a share path became a link: {links:?}"
    );
    assert!(
        links
            .iter()
            .any(|l| l.starts_with("https://example.org/agenda")),
        "the https address is a link: {links:?}"
    );
    let text = d.text(&sel("chat-messages"));
    assert!(
        text.contains(r"\\fileserver\council\minutes.docx"),
        "shown as typed: {text}"
    );
    d.screenshot("06-chat");

    // The host's app sends a message the participant reads.
    d.type_into(&sel("chat-input"), "Welcome, Ann");
    d.click(&sel("chat-send"));
    ann.expect_where("chat", |v| v["body"] == "Welcome, Ann");

    // End for everyone.
    open_panel(&d, "security-menu", "security-button");
    d.click(&sel("end-meeting"));
    d.find(&sel("end-confirm"));
    d.screenshot("07-end-confirm");
    d.click(&sel("end-confirm"));
    assert_eq!(ann.expect("goodbye")["reason"], "meeting_ended");
    d.find(&sel("ended-screen"));
    d.screenshot("07-ended");
}
