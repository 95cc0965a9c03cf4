//! The town hall load tool (`parley-cli load --town-hall`, issue 19's benchmark) on a small
//! meeting through a real server: every bot connects media with the SFU as it is admitted;
//! each receiver gets the presenter's video alone at the middle layer, every other camera at
//! the small one, and every speaker's voice, counted by sequence number. And the big gallery
//! (`--gallery`), small.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parley_tests::*;

/// A figure from the line starting with `prefix`: the number before `/` after `marker`.
fn fraction(text: &str, marker: &str) -> (u64, u64) {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in:\n{text}"));
    let before = &text[..at];
    let start = before
        .rfind(|c: char| !(c.is_ascii_digit() || c == '/'))
        .map_or(0, |i| i + 1);
    let (a, b) = before[start..]
        .split_once('/')
        .unwrap_or_else(|| panic!("no a/b before {marker:?} in:\n{text}"));
    (a.parse().unwrap(), b.parse().unwrap())
}

/// Run `parley-cli load --town-hall` with `args` against a fresh server; its report.
fn town_hall(name: &str, args: &[&str]) -> String {
    let dir = temp_dir(name);
    let server = ServerProc::start_with(&dir, &[], "info");
    let out = dir.join("load.out");
    let err = dir.join("load.err");
    let pid = server.pid().to_string();
    let mut child = Command::new(bin("parley-cli"))
        .args([
            "load",
            "--town-hall",
            "--server",
            &server.url,
            "--server-pid",
            &pid,
        ])
        .args(["--measure", "4", "--loop-keyframes", "1", "--chatters", "0"])
        .args(["--mls-members", "2"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start parley-cli load");
    // Far above what it needs (about 20 s in a debug build).
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the load tool did not finish in 300 s:\n{}\n{}",
                std::fs::read_to_string(&out).unwrap_or_default(),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&out).unwrap();
    let log = std::fs::read_to_string(&err).unwrap_or_default();
    println!("{text}");
    assert!(status.success(), "the load tool failed:\n{text}\n{log}");
    text
}

#[test]
fn a_small_town_hall_brings_every_receiver_the_presenter_the_cameras_and_the_voices() {
    let text = town_hall(
        "town-hall",
        &["-n", "12", "--cameras", "2", "--speakers", "2"],
    );
    // Everyone's peer connection came up.
    assert_eq!(fraction(&text, "; admit-all"), (12, 12), "{text}");
    // Nine receivers (three publish): every one got the three videos, the presenter's alone
    // at the middle layer, and the two voices.
    assert_eq!(fraction(&text, " got all 3 videos"), (9, 9), "{text}");
    assert!(text.contains("and 2 voices"), "{text}");
    // Loss is counted from sequence numbers and printed; on loopback it is small.
    let (under, of) = fraction(&text, " under 1 % loss");
    assert_eq!(of, 9);
    assert!(under >= 1, "{text}");
}

/// The big gallery, small: eight participants all with cameras, each showing four others in
/// small tiles; everyone gets exactly those four pictures (the small layer: nobody is shown
/// large) and the voices of the two speakers (a speaker the other's).
#[test]
fn a_small_gallery_brings_everyone_the_four_tiles_it_shows() {
    let text = town_hall("gallery", &["-n", "8", "--gallery", "4", "--speakers", "2"]);
    assert_eq!(fraction(&text, "; admit-all"), (8, 8), "{text}");
    assert_eq!(
        fraction(&text, " got all 4 videos (all small)"),
        (8, 8),
        "{text}"
    );
    let (under, of) = fraction(&text, " under 1 % loss");
    assert_eq!(of, 8);
    assert!(under >= 1, "{text}");
}
