//! The app records a meeting in the real window: no Record button until the host allows
//! recording; once recording, everyone is told and the window says "you are recording"; when
//! it stops, Downloads holds a WebM of what the app received, which decodes.

use parley_client::webm::{VIDEO_TRACK, read};
use parley_media::vp8::Vp8Decoder;

use crate::common::*;

#[test]
fn the_app_records_with_consent() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_app_records_with_consent");
    let link = host_here(&d, "Council", "Hana");
    let (mut ann, ann_id) = admit_participant(&d, &dir, &link, "Ann");
    ann.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 2);
    assert_tile_moves(&d, ann_id, "01-tile-ann");
    dismiss_toasts(&d);
    assert!(
        d.find_now(&sel("record-button")).is_none(),
        "no recording until the host allows it"
    );

    open_panel(&d, "security-menu", "security-button");
    d.click(&sel("policy-recording"));
    ann.expect_where("policy_changed", |v| v["policy"]["recording"] == true);
    dismiss_toasts(&d);
    d.click(&sel("record-button"));
    ann.expect_where("recording", |v| v["on"] == true);
    d.wait_for("the window to say we record", |d| {
        d.find_now(&sel("rec-badge")).is_some() && d.text(&sel("rec-badge")).contains("you")
    });
    d.screenshot("02-recording");
    std::thread::sleep(std::time::Duration::from_secs(3));
    d.click(&sel("record-button"));
    ann.expect_where("recording", |v| v["on"] == false);

    let file = dir
        .join("home")
        .join("Downloads")
        .join("Parley recordings")
        .join(format!("participant-{ann_id}-1.webm"));
    d.wait_for("the recording in Downloads", |_| file.exists());
    d.wait_for("the recording finished", |_| {
        std::fs::read(&file)
            .ok()
            .and_then(|b| read(&b))
            .is_some_and(|c| c.blocks.len() > 10)
    });
    let contents = read(&std::fs::read(&file).unwrap()).unwrap();
    let mut vp8 = Vp8Decoder::new().unwrap();
    let pictures = contents
        .blocks
        .iter()
        .filter(|b| b.track == VIDEO_TRACK)
        .filter(|b| matches!(vp8.decode(&b.data), Ok(Some(_))))
        .count();
    println!("the app's recording: {pictures} pictures");
    assert!(pictures >= 20, "{pictures} pictures in about 3 s");
}
