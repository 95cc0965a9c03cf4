//! Polls in the real window: a participant in the app answers a `parley-cli` host's anonymous
//! poll and sees the shared results; a host in the app opens a named poll and watches the
//! count and the voter's name arrive live.

use parley_tests::{ServerProc, host};

use crate::common::*;

#[test]
fn the_app_answers_a_poll_and_sees_the_shared_results() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_app_answers_a_poll_and_sees_the_shared_results");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room"]);

    join_by_link(&d, &link, "Ada");
    hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);

    hana.send("poll open --anonymous Which room next week? | Blue <b>room</b> | Green room");
    let id = hana.expect_where("poll", |v| v["open"] == true)["id"]
        .as_u64()
        .unwrap();
    let card = format!("poll-{id}");

    // The toolbar's Polls button opens the panel with the poll; its text stays text.
    open_panel(&d, "polls-panel", "polls-button");
    d.wait_for("the poll in the panel", |d| {
        d.text(&sel(&card)).contains("Which room next week?")
    });
    assert!(
        d.text(&sel(&card)).contains("Blue <b>room</b>"),
        "markup is shown as text: {}",
        d.text(&sel(&card))
    );
    assert!(
        d.find_now(&sel(&format!("{card}-close"))).is_none(),
        "a participant cannot close a poll"
    );
    d.screenshot("01-poll-open");

    // Ada chooses the second option and votes; the host's client counts it, without her.
    d.click(&sel(&format!("{card}-option-1")));
    d.click(&sel(&format!("{card}-vote")));
    let counted = hana.expect_where("poll", |v| v["voters"] == 1);
    assert_eq!(counted["counts"], serde_json::json!([0, 1]));
    assert_eq!(counted["named"], serde_json::json!([]));
    d.wait_for("her vote to be counted", |d| {
        d.find_now(&sel(&format!("{card}-vote"))).is_none()
    });

    // The host closes the poll and shares the results: the window shows the count.
    hana.send(&format!("poll close {id}"));
    hana.send(&format!("poll share {id}"));
    d.wait_for("the shared count", |d| {
        d.text(&sel(&format!("{card}-count-1"))).contains('1')
            && d.text(&sel(&format!("{card}-voters"))).contains('1')
    });
    d.screenshot("02-results-shared");
}

#[test]
fn a_host_in_the_app_opens_a_named_poll_and_sees_who_voted() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("a_host_in_the_app_opens_a_named_poll_and_sees_who_voted");
    let link = host_here(&d, "Polls", "Hana");
    let (mut ann, _) = admit_participant(&d, &dir, &link, "Ann");
    ann.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);

    open_panel(&d, "polls-panel", "polls-button");
    d.type_into(&sel("poll-question"), "Lunch at noon?");
    d.type_into(&sel("poll-option-0"), "Yes");
    // One option is not a poll: the form says so and sends nothing.
    d.click(&sel("poll-open"));
    d.wait_for("the form to refuse one option", |d| {
        d.find_now(&sel("poll-form-error")).is_some()
    });
    assert!(d.find_now("[id$='-close']").is_none(), "no poll was opened");
    d.type_into(&sel("poll-option-1"), "No");
    d.click(&sel("poll-open"));
    d.screenshot("01-poll-opened");

    let poll = ann.expect_where("poll", |v| v["question"] == "Lunch at noon?");
    assert_eq!(poll["anonymous"], false);
    let id = poll["id"].as_u64().unwrap();
    ann.send(&format!("vote {id} 2"));
    ann.expect_where("poll", |v| v["id"] == id && !v["my_vote"].is_null());

    // The count and who voted arrive live in the host's window.
    let card = format!("poll-{id}");
    d.wait_for("Ann's vote in the count", |d| {
        d.text(&sel(&format!("{card}-count-1"))).contains('1')
            && d.text(&sel(&card)).contains("Ann")
    });
    d.screenshot("02-host-sees-votes");
    // Toasts ("No speaker found") sit over the panel's foot: out of the way first.
    dismiss_toasts(&d);
    d.click(&sel(&format!("{card}-close")));
    ann.expect_where("poll", |v| v["id"] == id && v["open"] == false);
}
