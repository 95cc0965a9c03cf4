//! The app uses the microphone and speaker picked on the pre-join screen, through cpal and
//! ALSA (the test devices of assets/alsa/test-devices.asoundrc: a microphone hearing 1 kHz, a
//! speaker writing a file). A `parley-cli --synthetic` host hears the app's microphone and the
//! app's speaker plays the host's tone; the other participant is heard at the volume set in
//! the participants panel, and not at all once muted for me.

use std::time::Duration;

use parley_media::dump::read_wav;
use parley_media::tone::{participant_frequency, power_at};
use parley_tests::alsa::{self, DEFAULT_MIC_HZ, MIC_HZ, blocks_with};
use parley_tests::desktop::Desktop;
use parley_tests::{CliProc, ServerProc, bin, host, waiting_id};

use crate::common::*;

fn pick(d: &Desktop, select: &str, value: &str) {
    d.wait_for(&format!("{value} offered in {select}"), |d| {
        d.script(
            "const s = document.querySelector(arguments[0]); return !!s && [...s.options].some(o => o.value === arguments[1]);",
            vec![format!("#{select}").into(), value.into()],
        )
        .as_bool()
            == Some(true)
    });
    d.script(
        "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![format!("#{select}").into(), value.into()],
    );
}

#[test]
fn the_app_uses_the_devices_picked_before_joining() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let test = "the_app_uses_the_devices_picked_before_joining";
    let devices = alsa::write_devices();
    let (k, v) = devices.env();
    let dir = parley_tests::temp_dir(test);
    let d = Desktop::launch_with(
        &bin("parley-app"),
        &dir.join("home"),
        &artifacts(test),
        &[(k.to_string(), v.into())],
    );
    let server = ServerProc::start_with(&dir, &[], "info");
    let dump = dir.join("dump");
    let (mut hana, link): (CliProc, String) = host(
        &dir,
        &server,
        &["--synthetic", "--dump", dump.to_str().unwrap()],
    );

    d.type_into(&sel("link-input"), &link);
    d.click(&sel("join-button"));
    d.find(&sel("device-pickers"));
    pick(&d, "mic-select", "alsa:parley_test_mic");
    pick(&d, "speaker-select", "alsa:parley_test_speaker");
    // The microphone check: the level meter moves with what the microphone hears (-12 dBFS).
    d.click(&sel("mic-check-button"));
    d.wait_for("the level meter to show the microphone", |d| {
        d.script(
            "return document.querySelector('#mic-level').getAttribute('data-level');",
            vec![],
        )
        .as_str()
        .and_then(|l| l.parse::<f64>().ok())
        .is_some_and(|l| l > 0.6)
    });
    // The echo test records and plays back on the picked speaker.
    d.click(&sel("echo-test-button"));
    d.wait_for("the echo test to finish", |d| {
        d.find_now(&sel("echo-test-result"))
            .is_some_and(|_| d.text(&sel("echo-test-result")).contains("Played back"))
    });
    let echo = devices.played();
    let (loud, carrying) = blocks_with(&echo, 44_100, MIC_HZ, &[]);
    assert!(
        loud > 200 && carrying * 10 >= loud * 8,
        "the echo test played {loud} loud blocks, {carrying} of 1 kHz"
    );
    let before_meeting = echo.len();
    // A steady test tone is what noise suppression exists to remove: send it as it is.
    d.click("#original-sound");
    d.click(&sel("mic-toggle"));
    d.type_into(&sel("name-input"), "Ada");
    d.screenshot("01-devices-picked");
    d.click(&sel("enter-button"));

    let waiting = hana.expect("waiting_joined");
    let ada = waiting_id(&waiting);
    hana.send(&format!("admit {ada}"));
    d.find(&sel("meeting-screen"));
    let host_id = hana.participant_id();
    d.find(&sel(&format!("tile-{host_id}")));
    // The window stays live with the devices running: the host's video moves.
    assert_tile_moves(&d, host_id, "02-tile-host");
    std::thread::sleep(Duration::from_secs(4));
    d.screenshot("02-meeting");

    // The host heard the app's microphone: 1 kHz.
    let wav =
        read_wav(&dump.join(format!("participant-{ada}.wav"))).expect("the host recorded Ada");
    let (loud, carrying) = blocks_with(&wav.samples, 48_000, MIC_HZ, &[]);
    assert!(
        loud > 200,
        "the host heard only {loud} loud 10 ms blocks from the app"
    );
    assert!(
        carrying * 10 >= loud * 8,
        "of {loud} loud blocks from the app only {carrying} carry its microphone's 1 kHz"
    );

    // The app's speaker played the host's tone.
    let host_hz = participant_frequency(host_id as u32);
    let played = devices.played();
    let (loud, carrying) = blocks_with(&played[before_meeting..], 44_100, host_hz, &[]);
    assert!(
        loud > 100,
        "the app's speaker played only {loud} loud 10 ms blocks"
    );
    assert!(
        carrying * 10 >= loud * 8,
        "of {loud} loud blocks played only {carrying} carry the host's {host_hz} Hz"
    );

    // The volume set in the participants panel: at 50 % the host's tone is played at about
    // half the level it had at 100 % (the default).
    open_panel(&d, "participants-panel", "participants-button");
    let full = played_level(&devices, host_hz);
    d.script(
        "const s = document.querySelector(arguments[0]); s.value = '50'; s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![format!("#volume-{host_id}").into()],
    );
    d.wait_for("the panel to show 50 %", |d| {
        d.script(
            "return document.querySelector(arguments[0]).title;",
            vec![format!("#volume-{host_id}").into()],
        )
        .as_str()
            == Some("50 %")
    });
    std::thread::sleep(Duration::from_millis(500));
    let half = played_level(&devices, host_hz);
    let ratio = half / full;
    eprintln!("the host played at {full:.0} (100 %) and {half:.0} (50 %): ratio {ratio:.2}");
    assert!(
        (0.4..=0.6).contains(&ratio),
        "at 50 % the host is played at {half:.0}, at 100 % at {full:.0}: ratio {ratio:.2}"
    );
    d.screenshot("03-half-volume");

    // Muted for me: the host is no longer played.
    d.click(&sel(&format!("mute-for-me-{host_id}")));
    d.find(&sel(&format!("muted-for-me-{host_id}")));
    std::thread::sleep(Duration::from_millis(500));
    let before = devices.played().len();
    std::thread::sleep(Duration::from_secs(2));
    let after = devices.played();
    let (loud, _) = blocks_with(&after[before..], 44_100, host_hz, &[]);
    assert_eq!(loud, 0, "the host muted for me is still played");
    d.screenshot("03-muted-for-me");

    // The devices panel switches the microphone during the meeting: the host hears the
    // default microphone's 880 Hz from then on, not the test microphone's 1 kHz.
    open_panel(&d, "devices-panel", "devices-button");
    pick(&d, "mic-select", "alsa:default");
    d.screenshot("04-devices-panel");
    std::thread::sleep(Duration::from_secs(4));
    let wav =
        read_wav(&dump.join(format!("participant-{ada}.wav"))).expect("the host recorded Ada");
    let last: Vec<&[i16]> = wav.samples.chunks_exact(1_920).rev().take(40).collect();
    let default_heard = last
        .iter()
        .filter(|b| power_at(b, DEFAULT_MIC_HZ) > 10.0 * power_at(b, MIC_HZ))
        .count();
    assert!(
        default_heard >= 25,
        "after the switch only {default_heard} of the last 40 40-ms blocks carry the default microphone's 880 Hz"
    );
    hana.send("end");
}

/// The median peak of the 10 ms blocks the speaker plays in the next 2 s that carry `hz`
/// (the host's tone): how loud the host is played now.
fn played_level(devices: &alsa::TestDevices, hz: f64) -> f64 {
    let before = devices.played().len();
    std::thread::sleep(Duration::from_secs(2));
    let played = devices.played();
    let mut peaks: Vec<i32> = played[before..]
        .chunks_exact(441)
        .filter(|b| blocks_with(b, 44_100, hz, &[]) == (1, 1))
        .map(|b| b.iter().map(|&v| i32::from(v).abs()).max().unwrap_or(0))
        .collect();
    assert!(
        peaks.len() >= 100,
        "only {} blocks of the host's {hz} Hz in 2 s",
        peaks.len()
    );
    peaks.sort_unstable();
    f64::from(peaks[peaks.len() / 2])
}
