//! The host shares the screen: the participant receives the X display itself (its size, not
//! the camera's), the roster says who shares, and stopping gives the track back.

use crate::common::*;

#[test]
fn the_host_shares_the_screen() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_host_shares_the_screen");
    let link = host_here(&d, "Review", "Hana");

    let (mut ann, me) = admit_participant(&d, &dir, &link, "Ann");

    // The picker: the whole screen.
    d.click(&sel("share-button"));
    d.click(&sel("share-screen"));
    let shared = ann.expect_where("screen_share", |v| v["sharing"] == true);
    assert_ne!(
        shared["id"].as_u64(),
        Some(me),
        "the host shares, not Ann: {shared}"
    );
    // The X display is 1280x800; the camera track would carry 1280x720 or less.
    let media = ann.expect_within(std::time::Duration::from_secs(30), "media", |v| {
        v["from"].as_object().is_some_and(|m| {
            m.values().any(|r| {
                r["video_size"] == "1280x800" && r["video_frames"].as_u64().unwrap_or(0) > 5
            })
        })
    });
    println!("Ann receives: {media}");
    d.screenshot("01-sharing");
    d.wait_for("the button to show sharing", |d| {
        d.script(
            "return document.getElementById('share-button').getAttribute('aria-pressed')",
            vec![],
        ) == "true"
    });

    d.click(&sel("share-button"));
    ann.expect_where("screen_share", |v| v["sharing"] == false);
}
