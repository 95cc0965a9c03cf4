//! `parley-cli devices` lists the computer's microphones and speakers by name, and
//! `parley-cli echo-test` records from the chosen microphone and plays it back on the chosen
//! speaker (the ALSA test devices: a microphone hearing 1 kHz, a speaker writing a file).

use std::process::Command;

use parley_tests::alsa::{self, MIC_HZ};
use parley_tests::bin;
use serde_json::Value;

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn devices_are_listed_by_name() {
    let d = alsa::write_devices();
    let (k, v) = d.env();
    let out = Command::new(bin("parley-cli"))
        .args(["--json", "devices"])
        .env(k, v)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines = json_lines(&out.stdout);
    let named = |kind: &str, name: &str| {
        lines
            .iter()
            .any(|l| l["type"] == "device" && l["kind"] == kind && l["name"] == name)
    };
    assert!(named("microphone", "Parley test microphone"), "{lines:?}");
    assert!(named("speaker", "Parley test speaker"), "{lines:?}");
    // A kind with nothing in it says so, with what the user can still do.
    for l in lines.iter().filter(|l| l["type"] == "device_problem") {
        assert_eq!(l["kind"], "no_device", "{l}");
        assert!(
            l["message"]
                .as_str()
                .unwrap()
                .contains("you can still join"),
            "{l}"
        );
    }
}

#[test]
fn the_echo_test_plays_back_what_the_microphone_heard() {
    let d = alsa::write_devices();
    let (k, v) = d.env();
    let out = Command::new(bin("parley-cli"))
        .args([
            "--json",
            "--mic",
            "parley_test_mic",
            "--speaker",
            "parley_test_speaker",
            "echo-test",
            "--seconds",
            "1",
        ])
        .env(k, v)
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    assert!(
        out.status.success(),
        "{lines:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recording: Vec<&Value> = lines.iter().filter(|l| l["phase"] == "recording").collect();
    assert!(!recording.is_empty(), "progress while recording: {lines:?}");
    assert!(
        recording.iter().any(|l| l["level"].as_f64().unwrap() > 0.5),
        "the level meter moved: {recording:?}"
    );
    let done = lines
        .iter()
        .find(|l| l["phase"] == "done")
        .expect("a report");
    assert_eq!(done["heard_something"], true);
    assert_eq!(done["microphone"], "Parley test microphone");
    // -12 dBFS went in.
    let peak = done["peak_dbfs"].as_f64().unwrap();
    assert!((-14.0..=-10.0).contains(&peak), "peak {peak} dBFS");

    // The speaker played the recording: 1 kHz (at 44.1 kHz), a second of it.
    let played = d.played();
    let loud: Vec<&[i16]> = played
        .chunks_exact(441)
        .filter(|b| b.iter().map(|&v| i32::from(v).abs()).max().unwrap_or(0) > 4_000)
        .collect();
    assert!(
        loud.len() >= 90,
        "only {} loud 10 ms blocks played",
        loud.len()
    );
    let scale = 48_000.0 / 44_100.0;
    for b in &loud[5..loud.len() - 5] {
        let p = parley_media::tone::power_at(b, MIC_HZ * scale);
        assert!(p > 10.0 * parley_media::tone::power_at(b, 2.5 * MIC_HZ * scale));
    }
}
