//! Three kinds of participant in one meeting: the desktop app (its real window), a browser
//! guest in Debian's Chromium (the engine compiled to WebAssembly, frames sealed in the page's
//! worker) and a `parley-cli` host. Each decodes the others' pictures through the SFU, and all
//! three show the same security code.

use parley_tests::browser::{BROWSER_WAIT, guest, server_with_guest};
use parley_tests::{CliProc, host};

use crate::common::*;

#[test]
fn the_app_a_browser_guest_and_a_cli_host_see_each_other() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_app_a_browser_guest_and_a_cli_host_see_each_other");
    let server = server_with_guest(&dir, "");
    let (mut hana, link): (CliProc, String) =
        host(&dir, &server, &["--synthetic", "--no-waiting-room"]);
    let hana_id = hana.participant_id();

    // Ada pastes the link into the app and joins with her camera (the test pattern) on.
    d.type_into(&sel("link-input"), &link);
    d.click(&sel("join-button"));
    d.type_into(&sel("name-input"), "Ada");
    d.click(&sel("camera-toggle"));
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));
    let ada = number_of(&mut hana, "Ada");

    // Gwen opens the same link in Chromium and joins with camera and microphone on.
    let mut gwen = guest(&link, &[]);
    gwen.send("join Gwen --camera --microphone");
    gwen.expect_within(BROWSER_WAIT, "state", |v| v["state"] == "in_meeting");
    let gwen_id = number_of(&mut hana, "Gwen");

    // One encryption group of three: the same code in the CLI, the page and the window.
    let code = hana.expect_where("e2ee", |v| v["state"] == "secured" && v["members"] == 3)["code"]
        .as_str()
        .unwrap()
        .to_string();
    gwen.latest_or_within(BROWSER_WAIT, "code", |v| {
        v["members"] == 3 && v["code"] == code.as_str()
    });
    open_panel(&d, "privacy-panel", "privacy-button");
    d.wait_for("the app's security code", |d| {
        d.text(&sel("security-code")) == code
    });

    // The window shows the host's and Gwen's pictures moving.
    d.find(&sel(&format!("tile-{gwen_id}")));
    assert_tile_moves(&d, gwen_id, "01-tile-gwen");
    assert_tile_moves(&d, hana_id, "02-tile-hana");
    d.screenshot("03-three-kinds");

    // Gwen's page plays Hana's and Ada's pictures, each tile named after its sender.
    gwen.latest_or_within(BROWSER_WAIT, "tiles", |v| {
        let tiles: Vec<&str> = v["tiles"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str()).collect())
            .unwrap_or_default();
        tiles.contains(&"Hana") && tiles.contains(&"Ada")
    });
    gwen.latest_or_within(BROWSER_WAIT, "video", |v| {
        v["frames"]
            .as_array()
            .is_some_and(|f| f.iter().filter(|n| n.as_u64().unwrap_or(0) >= 30).count() >= 2)
    });

    // The host decodes both Ada's and Gwen's cameras.
    let (ada, gwen_id) = (ada.to_string(), gwen_id.to_string());
    hana.expect_within(BROWSER_WAIT, "media", |v| {
        [&ada, &gwen_id]
            .iter()
            .all(|id| v["from"][id.as_str()]["video_frames"].as_u64().unwrap_or(0) >= 30)
    });
}
