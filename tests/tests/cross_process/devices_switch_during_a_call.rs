//! A `parley-cli` participant with real devices (the ALSA test devices) switches them during
//! the call, without renegotiating: the host hears the test microphone's 1 kHz, then, after
//! `mic default`, the default microphone's 880 Hz; `mute-for-me` silences the host on the
//! participant's speaker only.

use std::time::Duration;

use parley_media::dump::read_wav;
use parley_media::tone::{participant_frequency, power_at};
use parley_tests::alsa::{self, DEFAULT_MIC_HZ, MIC_HZ};
use parley_tests::{CliProc, ServerProc, host, temp_dir};

/// For each loud 10 ms block of `pcm` (at `rate`): which of `tones` it carries (well above
/// the others), if one.
fn tones_of(pcm: &[i16], rate: usize, tones: &[f64]) -> Vec<Option<usize>> {
    let scale = 48_000.0 / rate as f64;
    pcm.chunks_exact(rate / 100)
        .filter(|b| b.iter().map(|&v| i32::from(v).abs()).max().unwrap_or(0) > 1_000)
        .map(|b| {
            let p: Vec<f64> = tones.iter().map(|&f| power_at(b, f * scale)).collect();
            (0..tones.len()).find(|&i| (0..tones.len()).all(|j| j == i || p[i] > 10.0 * p[j]))
        })
        .collect()
}

#[test]
fn microphone_switched_and_host_muted_for_me_mid_call() {
    let dir = temp_dir("devices-switch");
    let devices = alsa::write_devices();
    let (k, v) = devices.env();
    let server = ServerProc::start(&dir);
    let dump = dir.join("dump");
    let (mut hana, link) = host(
        &dir,
        &server,
        &[
            "--synthetic",
            "--no-waiting-room",
            "--dump",
            dump.to_str().unwrap(),
        ],
    );
    let hana_id = hana.participant_id();
    let mut gus = CliProc::spawn_with_env(
        &dir,
        "gus",
        &[
            "--mic",
            "parley_test_mic",
            "--speaker",
            "parley_test_speaker",
            "--original-sound",
            "join",
            &link,
            "--name",
            "Gus",
        ],
        &[(k, v)],
    );
    let joined = gus.expect("joined");
    let gus_id = joined["you"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(4));

    gus.send("mic default");
    gus.expect_where("note", |n| n["message"] == "Microphone: default.");
    std::thread::sleep(Duration::from_secs(3));

    gus.send(&format!("mute-for-me {hana_id}"));
    gus.expect_where("note", |n| {
        n["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("muted for you."))
    });
    std::thread::sleep(Duration::from_millis(500));
    let before = devices.played().len();
    std::thread::sleep(Duration::from_secs(2));
    let after = devices.played();
    gus.send("leave");
    let _ = gus.wait_exit();
    hana.send("end");
    let _ = hana.wait_exit();

    // The host heard 1 kHz first, then 880 Hz.
    let wav =
        read_wav(&dump.join(format!("participant-{gus_id}.wav"))).expect("the host recorded Gus");
    let heard = tones_of(&wav.samples, 48_000, &[MIC_HZ, DEFAULT_MIC_HZ]);
    let seq: String = heard
        .iter()
        .map(|t| match t {
            Some(0) => 'k',
            Some(1) => 'e',
            _ => '.',
        })
        .collect();
    eprintln!("{seq}");
    let first: Vec<usize> = heard
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == Some(0))
        .map(|(i, _)| i)
        .collect();
    let second: Vec<usize> = heard
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == Some(1))
        .map(|(i, _)| i)
        .collect();
    assert!(
        first.len() > 150,
        "1 kHz in only {} of {} loud blocks",
        first.len(),
        heard.len()
    );
    assert!(
        second.len() > 150,
        "880 Hz in only {} of {} loud blocks",
        second.len(),
        heard.len()
    );
    let switch = second[0];
    assert!(
        first.iter().filter(|&&i| i > switch).count() < 10,
        "the old microphone was still heard after the switch"
    );

    // Gus's speaker played the host's tone until the host was muted for him.
    let hana_hz = participant_frequency(hana_id as u32);
    let played_before = tones_of(&after[..before], 44_100, &[hana_hz]);
    assert!(
        played_before.iter().filter(|t| t.is_some()).count() > 100,
        "the host was not played before the mute"
    );
    let played_after = tones_of(&after[before..], 44_100, &[hana_hz]);
    assert!(
        played_after.is_empty(),
        "{} loud blocks played after mute-for-me",
        played_after.len()
    );
}
