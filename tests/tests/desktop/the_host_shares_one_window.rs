//! The host shares one window, not the screen: the picker lists another program's window by
//! its title, the participant receives that window at its size, and when the window is
//! closed, sharing ends by itself and the host is told.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt, CreateGCAux, CreateWindowAux, EventMask, PropMode, Rectangle,
    WindowClass,
};
use x11rb::wrapper::ConnectionExt as _;

use crate::common::*;

/// Another program's window on the test display: `w`×`h`, striped, titled `title`.
fn open_window(
    display: &str,
    title: &str,
    w: u16,
    h: u16,
) -> (x11rb::rust_connection::RustConnection, u32) {
    let (conn, screen) = x11rb::connect(Some(display)).expect("the test display");
    let s = &conn.setup().roots[screen];
    let (root, white, black) = (s.root, s.white_pixel, s.black_pixel);
    let win = conn.generate_id().unwrap();
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        win,
        root,
        // Bottom right, clear of the app's dialogs: X can only read a window wholly on screen.
        950,
        550,
        w,
        h,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new()
            .background_pixel(white)
            .event_mask(EventMask::EXPOSURE),
    )
    .unwrap();
    conn.change_property8(
        PropMode::REPLACE,
        win,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        title.as_bytes(),
    )
    .unwrap();
    conn.map_window(win).unwrap();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, win, &CreateGCAux::new().foreground(black))
        .unwrap();
    let stripes: Vec<Rectangle> = (0..w / 40)
        .map(|i| Rectangle {
            x: (i * 40) as i16,
            y: 0,
            width: 20,
            height: h,
        })
        .collect();
    conn.poly_fill_rectangle(win, gc, &stripes).unwrap();
    conn.flush().unwrap();
    (conn, win)
}

#[test]
fn the_host_shares_one_window() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let (d, dir) = launch("the_host_shares_one_window");
    let (x, window) = open_window(&d.display, "Quarterly figures", 320, 240);
    let link = host_here(&d, "Review", "Hana");
    let (mut ann, _) = admit_participant(&d, &dir, &link, "Ann");

    // The picker offers the screen and the window, by its title.
    d.click(&sel("share-button"));
    let item = format!("share-window-{window}");
    d.find(&sel(&item));
    d.screenshot("01-picker");
    // (WebKitWebDriver's element text leaves out a cut-off flex item; the screenshot shows it.)
    let text = d.script(
        "return document.querySelector(arguments[0]).textContent",
        vec![serde_json::json!(format!("[data-testid=\"{item}\"]"))],
    );
    let text = text.as_str().unwrap_or_default();
    assert!(text.contains("Quarterly figures"), "{text}");
    assert!(text.contains("320 × 240"), "{text}");
    d.click(&sel(&item));

    ann.expect_where("screen_share", |v| v["sharing"] == true);
    // The window's size, not the screen's (1280x800) or the camera's.
    let media = ann.expect_within(std::time::Duration::from_secs(30), "media", |v| {
        v["from"].as_object().is_some_and(|m| {
            m.values().any(|r| {
                r["video_size"] == "320x240" && r["video_frames"].as_u64().unwrap_or(0) > 5
            })
        })
    });
    println!("Ann receives the window: {media}");
    d.screenshot("02-sharing-a-window");

    // The window closes: sharing ends without the host doing anything, and the host is told.
    x.destroy_window(window).unwrap();
    x.flush().unwrap();
    ann.expect_where("screen_share", |v| v["sharing"] == false);
    d.wait_for("the host to be told sharing stopped", |d| {
        d.text_of_page()
            .contains("Sharing stopped: the shared window was closed or hidden.")
    });
    d.screenshot("03-window-closed");
}
