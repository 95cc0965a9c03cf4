//! What the window tests share.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use parley_tests::desktop::Desktop;
use parley_tests::{CliProc, bin, temp_dir};

/// One window at a time: two cores cannot run two WebKit windows and their bots fairly.
pub static ONE_WINDOW: Mutex<()> = Mutex::new(());

/// The CSS selector for a test hook the UI puts on an element (`id` or `data-testid`).
pub fn sel(name: &str) -> String {
    format!("#{name}, [data-testid=\"{name}\"]")
}

/// The selector for an element inside the one named `outer`.
pub fn inside(outer: &str, inner: &str) -> String {
    format!("#{outer} {inner}, [data-testid=\"{outer}\"] {inner}")
}

/// Where a test's screenshots go.
pub fn artifacts(test: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let d = target.join("e2e-artifacts").join(test);
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The app in a fresh home directory; returns the window and the test's private directory.
pub fn launch(test: &str) -> (Desktop, PathBuf) {
    let dir = temp_dir(test);
    let d = Desktop::launch(&bin("parley-app"), &dir.join("home"), &artifacts(test));
    (d, dir)
}

/// The invite link, taken as the "Copy invite link" button takes it: from the app's own
/// `invite_link` command (the screen never shows it).
pub fn invite_link(d: &Desktop) -> String {
    d.script_async(
        "const done = arguments[arguments.length - 1];\
         window.__TAURI_INTERNALS__.invoke('invite_link').then(done, e => done('ERR ' + JSON.stringify(e)));",
    )
    .as_str()
    .expect("the invite link")
    .to_string()
}

/// From the home screen, join the meeting at `link` as `name` (camera and microphone off)
/// and wait for the meeting screen.
pub fn join_by_link(d: &Desktop, link: &str, name: &str) {
    d.type_into(&sel("link-input"), link);
    d.click(&sel("join-button"));
    d.type_into(&sel("name-input"), name);
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));
}

/// From the home screen, start a meeting titled `title` on this computer as `name`, camera
/// and microphone off; the invite link.
pub fn host_here(d: &Desktop, title: &str, name: &str) -> String {
    d.type_into(&sel("title-input"), title);
    d.click(&sel("host-button"));
    d.type_into(&sel("name-input"), name);
    d.click(&sel("enter-button"));
    d.find(&sel("meeting-screen"));
    invite_link(d)
}

/// A `parley-cli --synthetic` participant called `name` joins by `link`, waits, and the host
/// admits them from the participants panel; the participant and their number.
pub fn admit_participant(d: &Desktop, dir: &Path, link: &str, name: &str) -> (CliProc, u64) {
    let mut p = CliProc::spawn(
        dir,
        &name.to_lowercase(),
        &["--synthetic", "join", link, "--name", name],
    );
    p.expect("waiting");
    open_panel(d, "participants-panel", "participants-button");
    d.wait_for(&format!("{name} waiting"), |d| {
        d.text(&sel("participants-panel")).contains(name)
    });
    d.click(&sel("admit-all"));
    let id = p.expect("joined")["you"]
        .as_u64()
        .expect("a participant number");
    (p, id)
}

/// Dismiss every toast, as a person clears them off what they want to click.
pub fn dismiss_toasts(d: &Desktop) {
    d.script(
        "document.querySelectorAll('[data-testid=\"toast\"] .icon-button').forEach(b => b.click())",
        vec![],
    );
    d.wait_for("the toasts to go", |d| {
        d.find_now("[data-testid=\"toast\"]").is_none()
    });
}

/// Open a panel with its button unless it is open already.
pub fn open_panel(d: &Desktop, panel: &str, button: &str) {
    if d.find_now(&sel(panel)).is_none() {
        d.click(&sel(button));
        d.find(&sel(panel));
    }
}

/// Assert that participant `id`'s tile shows moving video: two screenshots of its canvas,
/// taken apart, differ, and neither is a flat picture. Saves them as `<name>-a/-b.png`.
pub fn assert_tile_moves(d: &Desktop, id: u64, name: &str) {
    assert_canvas_moves(
        d,
        &inside(&format!("tile-{id}"), "canvas"),
        &format!("tile {id}"),
        name,
    );
}

/// The canvas at `canvas` shows a picture (many colours) that changes within 1.5 s — at some
/// point within about 15 s: on a loaded machine a stream may stall a moment (a layer switch
/// waiting for its keyframe), and only one that never moves again fails.
pub fn assert_canvas_moves(d: &Desktop, canvas: &str, what: &str, name: &str) {
    let mut tries = 0;
    loop {
        tries += 1;
        match canvas_moved(d, canvas, what, name) {
            Ok(()) => return,
            Err(e) if tries >= 10 => panic!("{e}; the window's video: {}", window_video(d)),
            Err(e) => println!(
                "{e}; looking again; the window's video: {}",
                window_video(d)
            ),
        }
    }
}

/// What reached the window's video path so far (`window.__parley.video`), for a failure's
/// message.
fn window_video(d: &Desktop) -> String {
    d.script("return JSON.stringify(window.__parley.video)", vec![])
        .as_str()
        .unwrap_or("?")
        .to_string()
}

/// One look of [`assert_canvas_moves`]: two pictures 1.5 s apart.
fn canvas_moved(d: &Desktop, canvas: &str, what: &str, name: &str) -> Result<(), String> {
    let id = what;
    // Wait for a picture: a canvas that has been drawn has many colours.
    d.wait_for(&format!("a picture in {id}"), |d| {
        d.element_picture(canvas, &format!("{name}-first"))
            .colours()
            > 20
    });
    let a = d.element_picture(canvas, &format!("{name}-a"));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let b = d.element_picture(canvas, &format!("{name}-b"));
    let changed = a.changed_share(&b, 24);
    println!(
        "{id}: {}x{} px, {} colours, {:.1} % of pixels changed in 1.5 s",
        a.width,
        a.height,
        a.colours(),
        changed * 100.0
    );
    if a.colours() <= 20 || b.colours() <= 20 {
        return Err(format!("{id} shows a flat picture"));
    }
    if changed <= 0.01 {
        return Err(format!(
            "{id} did not change: {:.3} % of pixels",
            changed * 100.0
        ));
    }
    Ok(())
}

/// The number a `parley-cli` participant was told `name` has, as it joins (waits for it).
pub fn number_of(p: &mut CliProc, name: &str) -> u64 {
    p.expect_where("participants_joined", |v| {
        v["participants"][0]["name"] == name
    })["participants"][0]["id"]
        .as_u64()
        .expect("a participant number")
}
