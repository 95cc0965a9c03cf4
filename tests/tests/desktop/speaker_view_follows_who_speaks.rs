//! Speaker view in the real window follows who speaks: two `parley-cli --synthetic`
//! participants send a tone each; while only one of them is unmuted, the media server names
//! that one the speaker and the app's big tile shows them; when the other speaks instead, the
//! big tile changes to them.

use parley_tests::{CliProc, ServerProc, host};

use crate::common::*;

/// Whether participant `id`'s tile is the big one.
fn is_big(d: &parley_tests::desktop::Desktop, id: u64) -> bool {
    d.find_now(&format!("#tile-{id}.large")).is_some()
}

#[test]
fn speaker_view_follows_who_speaks() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("speaker_view_follows_who_speaks");
    let server = ServerProc::start(&dir);
    let (mut hana, link) = host(&dir, &server, &["--no-waiting-room", "--synthetic"]);
    // Hana is quiet at first.
    hana.send("mute");
    join_by_link(&d, &link, "Ada");
    let mut ann = CliProc::spawn(
        &dir,
        "ann",
        &["--synthetic", "join", &link, "--name", "Ann"],
    );
    let ann_id = ann.expect("joined")["you"].as_u64().unwrap();
    let hana_id = 1;
    dismiss_toasts(&d);
    d.click(&sel("view-toggle"));

    d.wait_for("Ann, the one speaking, on the big tile", |d| {
        is_big(d, ann_id)
    });
    assert!(!is_big(&d, hana_id));
    d.screenshot("01-ann-speaks");

    // Now Ann is quiet and Hana speaks.
    ann.send("mute");
    hana.send("unmute");
    d.wait_for("Hana on the big tile", |d| is_big(d, hana_id));
    assert!(!is_big(&d, ann_id));
    d.screenshot("02-hana-speaks");

    // Back to the gallery: nobody's tile is big.
    d.click(&sel("view-toggle"));
    d.wait_for("the gallery", |d| !is_big(d, hana_id) && !is_big(d, ann_id));
}
