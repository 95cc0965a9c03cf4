//! The real cpal/ALSA path on a machine without a sound card: ALSA devices defined in an
//! asoundrc of the test's own (assets/alsa/test-devices.asoundrc: the `file` plugin reads
//! "microphone" input from a file and writes what is "played" to a file; no kernel module).
//!
//! The microphone delivers 44.1 kHz stereo, so capture exercises the format conversion, the
//! downmix and the resampler; the speaker takes 44.1 kHz stereo from Parley's 48 kHz mono mix.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use parley_media::audio_device::{
    Choice, DeviceError, DeviceKind, Microphone, Speaker, microphones, speakers,
};
use parley_media::mixer::Mixer;
use parley_media::tone::power_at;

const NATIVE_RATE: u32 = 44_100;

/// Goertzel power of `freq` in interleaved-stereo samples' left channel, at `rate`.
fn tone_share(mono: &[i16], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in mono {
        let s = f64::from(v) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let total: f64 = mono.iter().map(|&v| f64::from(v).powi(2)).sum();
    2.0 * p / (mono.len() as f64 * total.max(1.0))
}

struct Alsa {
    dir: PathBuf,
    played: PathBuf,
}

fn alsa_dir() -> PathBuf {
    alsa().dir.clone()
}

/// Write the devices and point ALSA at them, once per process (ALSA reads its configuration
/// once).
fn alsa() -> &'static Alsa {
    static ALSA: OnceLock<Alsa> = OnceLock::new();
    ALSA.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("parley-alsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Ten seconds of a 440 Hz tone at -12 dBFS, 44.1 kHz stereo (left and right equal).
        let mic: Vec<u8> = (0..NATIVE_RATE as usize * 10)
            .flat_map(|i| {
                let v = (8_192.0
                    * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(NATIVE_RATE))
                        .sin()) as i16;
                let b = v.to_le_bytes();
                [b[0], b[1], b[0], b[1]]
            })
            .collect();
        std::fs::write(dir.join("mic.raw"), mic).unwrap();
        // The system default: a second microphone hearing 880 Hz, 48 kHz stereo.
        let other: Vec<u8> = (0..48_000 * 10)
            .flat_map(|i| {
                let b = ((8_192.0
                    * (2.0 * std::f64::consts::PI * 880.0 * i as f64 / 48_000.0).sin())
                    as i16)
                    .to_le_bytes();
                [b[0], b[1], b[0], b[1]]
            })
            .collect();
        std::fs::write(dir.join("default.raw"), other).unwrap();
        let played = dir.join("played.raw");
        let conf = include_str!("../../../assets/alsa/test-devices.asoundrc")
            .replace("@DIR@", &dir.display().to_string());
        let rc = dir.join("asoundrc");
        std::fs::write(&rc, conf).unwrap();
        let system = ["/usr/share/alsa/alsa.conf", "/etc/alsa/alsa.conf"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("ALSA's alsa.conf (package libasound2-data)");
        // SAFETY of the environment change: set once, before any thread of this process has
        // touched ALSA (every test reaches ALSA through this function first).
        unsafe { std::env::set_var("ALSA_CONFIG_PATH", format!("{system}:{}", rc.display())) };
        Alsa { dir, played }
    })
}

#[test]
fn the_test_devices_are_listed_by_their_names_and_the_null_device_is_not() {
    alsa();
    let mics = microphones().unwrap();
    let names: Vec<&str> = mics.iter().map(|d| d.name.as_str()).collect();
    assert!(
        names.iter().any(|n| n.contains("Parley test microphone")),
        "{names:?}"
    );
    assert!(mics.iter().all(|d| !d.id.ends_with(":null")), "{mics:?}");
    let spk = speakers().unwrap();
    assert!(
        spk.iter().any(|d| d.name.contains("Parley test speaker")),
        "{spk:?}"
    );
}

#[test]
fn a_microphone_at_44k_stereo_delivers_48k_mono_with_the_tone() {
    alsa();
    let mut mic = Microphone::open_with(
        &Choice::Named("parley_test_mic".into()),
        Some((NATIVE_RATE, 2)),
    )
    .unwrap();
    assert_eq!(mic.native_format(), (NATIVE_RATE, 2));
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 48_000 && Instant::now() < deadline {
        if let Some(frame) = mic.take(960, Duration::from_millis(200)).unwrap() {
            got.extend(frame);
        }
    }
    assert!(got.len() >= 48_000, "only {} samples in 10 s", got.len());
    let steady = &got[4_800..];
    // The clockless device delivers its first 200 ms at once (the capture buffer may overflow
    // and drop at 10 ms boundaries): each 10 ms block is judged on its own.
    for (n, block) in steady.chunks_exact(480).enumerate() {
        let share = tone_share(block, 48_000, 440.0);
        assert!(
            share > 0.9,
            "block {n}: only {share:.3} of the power is the 440 Hz tone"
        );
    }
    // -12 dBFS in, the same level out (the downmix of equal channels keeps it).
    let rms =
        (steady.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / steady.len() as f64).sqrt();
    assert!((rms - 8_192.0 / 2f64.sqrt()).abs() < 300.0, "rms {rms:.0}");
    assert!(power_at(&steady[..480], 440.0) > 100.0 * power_at(&steady[..480], 1_000.0));
    // The meter saw it.
    assert!(
        (mic.meter().level_dbfs() - -15.0).abs() < 1.5,
        "meter {}",
        mic.meter().level_dbfs()
    );
}

#[test]
fn a_speaker_at_44k_stereo_plays_the_mix_at_the_chosen_volume() {
    let a = alsa();
    // The mix is queued whole before the speaker opens (a recording, as the echo test plays).
    let mut m = Mixer::with_queue_limit(48_000 * 3);
    // Participant 7 says 1 kHz at -6 dBFS, heard at 50 %; participant 8 is muted for me.
    m.set_volume("7", 50);
    m.set_muted_for_me("8", true);
    let one_khz: Vec<i16> = (0..48_000 * 3)
        .map(|i| {
            (16_384.0 * (2.0 * std::f64::consts::PI * 1_000.0 * i as f64 / 48_000.0).sin()) as i16
        })
        .collect();
    m.push("7", &one_khz);
    m.push("8", &vec![20_000; 48_000 * 3]);
    let mixer = Arc::new(Mutex::new(m));
    let speaker = Speaker::open_with(
        &Choice::Named("parley_test_speaker".into()),
        Some((NATIVE_RATE, 2)),
        mixer.clone(),
        None,
    )
    .unwrap();
    assert_eq!(speaker.native_format(), (NATIVE_RATE, 2));
    let deadline = Instant::now() + Duration::from_secs(10);
    while mixer.lock().unwrap().queued("7") > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    drop(speaker);
    let bytes = std::fs::read(&a.played).unwrap();
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(
        samples.len() >= NATIVE_RATE as usize * 6,
        "only {} samples played",
        samples.len()
    );
    let (left, right): (Vec<i16>, Vec<i16>) = samples.chunks_exact(2).map(|f| (f[0], f[1])).unzip();
    assert_eq!(left, right, "mono goes to both channels");
    // Seconds 0.5 to 2.5: the tone at half of -6 dBFS, and nothing of participant 8.
    let mid = &left[NATIVE_RATE as usize / 2..NATIVE_RATE as usize * 5 / 2];
    let share = tone_share(mid, NATIVE_RATE, 1_000.0);
    assert!(
        share > 0.99,
        "only {share:.3} of what was played is the 1 kHz tone"
    );
    let peak = mid.iter().map(|&v| i32::from(v).abs()).max().unwrap();
    assert!(
        (7_900..=8_500).contains(&peak),
        "peak {peak}, expected about 8,192"
    );
}

#[test]
fn a_device_that_does_not_exist_is_a_typed_error() {
    alsa();
    let err = Microphone::open(&Choice::Named("Studio mic that is not there".into())).unwrap_err();
    assert_eq!(
        err,
        DeviceError::NotFound {
            kind: DeviceKind::Microphone,
            name: "Studio mic that is not there".into()
        }
    );
    assert!(
        err.to_string().contains("you can still join and listen"),
        "{err}"
    );
    let mixer = Arc::new(Mutex::new(Mixer::new()));
    let err = Speaker::open(&Choice::Named("nowhere".into()), mixer, None).unwrap_err();
    assert_eq!(err.code(), "not_found");
}

#[test]
fn an_unplugged_microphone_gives_way_to_the_default_and_the_user_is_told() {
    alsa();
    let mut mic = Microphone::open_with(
        &Choice::Named("parley_test_mic".into()),
        Some((NATIVE_RATE, 2)),
    )
    .unwrap();
    let first = mic
        .take(4_800, Duration::from_secs(5))
        .unwrap()
        .expect("sound before the unplug");
    assert!(tone_share(&first[960..], 48_000, 440.0) > 0.9);
    mic.simulate_disconnect();
    // The frame that finds the device gone is skipped; the default takes over.
    assert_eq!(mic.take(960, Duration::from_secs(1)).unwrap(), None);
    let notices = mic.notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].contains("was disconnected; now using"),
        "{notices:?}"
    );
    let mut after = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while after.len() < 9_600 && Instant::now() < deadline {
        if let Some(f) = mic.take(960, Duration::from_millis(200)).unwrap() {
            after.extend(f);
        }
    }
    assert!(
        after.len() >= 9_600,
        "the default microphone delivered {} samples",
        after.len()
    );
    // What was left of the old device's sound is behind us after a few frames.
    // Judge each 10 ms on its own (the switch falls somewhere inside one).
    for (n, block) in after[4_800..].chunks_exact(480).enumerate() {
        assert!(
            power_at(block, 880.0) > 10.0 * power_at(block, 440.0),
            "block {n} after the switch is not the default microphone's 880 Hz"
        );
    }
    // And nearly continuously: a device opened with long periods used to overflow the capture
    // queue at every callback. Every cycle of 880 Hz is 54.5 samples; the clockless test
    // device still glitches about once per 20 ms frame when the pacer holds its callback.
    let rising: Vec<usize> = (4_801..after.len())
        .filter(|&i| after[i - 1] < 0 && after[i] >= 0)
        .collect();
    let periods: Vec<usize> = rising.windows(2).map(|w| w[1] - w[0]).collect();
    let clean = periods.iter().filter(|p| (53..=56).contains(*p)).count();
    assert!(
        clean * 10 >= periods.len() * 9,
        "the default microphone's tone has gaps: {clean} of {} cycles clean",
        periods.len()
    );
    assert_eq!(mic.native_format(), (48_000, 2));
}

#[test]
fn unplugged_headphones_give_way_to_the_default_speaker_and_the_user_is_told() {
    alsa();
    // Participant 7 says 600 Hz at -12 dBFS for three seconds.
    let mut m = Mixer::with_queue_limit(48_000 * 3);
    let tone: Vec<i16> = (0..48_000 * 3)
        .map(|i| {
            (8_192.0 * (2.0 * std::f64::consts::PI * 600.0 * i as f64 / 48_000.0).sin()) as i16
        })
        .collect();
    m.push("7", &tone);
    let mixer = Arc::new(Mutex::new(m));
    // The test microphone's device plays into /dev/null: these are the headphones to unplug
    // (the speaker test plays on the test speaker at the same time).
    let mut speaker = Speaker::open(
        &Choice::Named("parley_test_mic".into()),
        mixer.clone(),
        None,
    )
    .unwrap();
    assert_eq!(speaker.fall_back_if_gone(), None, "nothing happened yet");
    speaker.simulate_disconnect();
    let notice = speaker.fall_back_if_gone().expect("a notice");
    assert!(notice.contains("was disconnected; now using"), "{notice}");
    assert_eq!(speaker.fall_back_if_gone(), None, "told once");
    // The default device (48 kHz stereo into default-played.raw) now plays what the mixer
    // holds: wait until it has played three seconds, more than the mixer had left.
    let default_played =
        || std::fs::read(alsa_dir().join("default-played.raw")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while default_played().len() < 48_000 * 4 * 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(speaker);
    let played: Vec<i16> = default_played()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let (left, right): (Vec<i16>, Vec<i16>) = played.chunks_exact(2).map(|f| (f[0], f[1])).unzip();
    assert_eq!(left, right, "mono goes to both channels");
    // What it played is participant 7's tone, not silence or noise: at least a second of it
    // (the headphones took at most the first second), each loud 10 ms mostly 600 Hz, at the
    // level it was sent.
    let loud: Vec<&[i16]> = left
        .chunks_exact(480)
        .filter(|b| b.iter().map(|&v| i32::from(v).abs()).max().unwrap_or(0) > 1_000)
        .collect();
    assert!(
        loud.len() >= 100,
        "the default speaker played only {} loud 10 ms blocks of {} samples",
        loud.len(),
        left.len()
    );
    let carrying: Vec<&[i16]> = loud
        .iter()
        .copied()
        .filter(|b| tone_share(b, 48_000, 600.0) > 0.9)
        .collect();
    assert!(
        carrying.len() * 10 >= loud.len() * 9,
        "only {} of {} loud blocks the default speaker played carry the 600 Hz tone",
        carrying.len(),
        loud.len()
    );
    let rms = (carrying
        .iter()
        .flat_map(|b| b.iter())
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        / (carrying.len() * 480) as f64)
        .sqrt();
    assert!(
        (rms - 8_192.0 / 2f64.sqrt()).abs() < 600.0,
        "the tone played at rms {rms:.0}, sent at about 5,793"
    );
}
