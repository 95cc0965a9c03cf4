//! ALSA test devices for tests that use cpal on a machine without a sound card: the devices of
//! `assets/alsa/test-devices.asoundrc` in a folder of the test's own, with what the
//! "microphones" hear written into it.
//!
//! In-process tests call [`devices`] before touching ALSA (it sets `ALSA_CONFIG_PATH` for the
//! process); tests that start `parley-cli` pass [`TestDevices::env`] to the child.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The frequency the test microphone hears.
pub const MIC_HZ: f64 = 1_000.0;
/// The frequency the default microphone hears.
pub const DEFAULT_MIC_HZ: f64 = 880.0;

/// The devices' folder and files.
#[derive(Debug)]
pub struct TestDevices {
    /// The folder.
    pub dir: PathBuf,
    /// The asoundrc.
    pub asoundrc: PathBuf,
}

impl TestDevices {
    /// The `ALSA_CONFIG_PATH` value that makes ALSA see these devices.
    pub fn env(&self) -> (&'static str, String) {
        (
            "ALSA_CONFIG_PATH",
            format!("{}:{}", system_conf(), self.asoundrc.display()),
        )
    }

    /// What `parley_test_speaker` played so far: 44.1 kHz, left channel only.
    pub fn played(&self) -> Vec<i16> {
        let bytes = std::fs::read(self.dir.join("played.raw")).unwrap_or_default();
        bytes
            .chunks_exact(4)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }
}

fn system_conf() -> &'static str {
    ["/usr/share/alsa/alsa.conf", "/etc/alsa/alsa.conf"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("ALSA's alsa.conf (package libasound2-data)")
}

/// `seconds` of a tone at -12 dBFS, 16-bit stereo.
fn tone(freq: f64, rate: u32, seconds: u32) -> Vec<u8> {
    (0..rate * seconds)
        .flat_map(|i| {
            let v = (8_192.0
                * (2.0 * std::f64::consts::PI * freq * f64::from(i) / f64::from(rate)).sin())
                as i16;
            let b = v.to_le_bytes();
            [b[0], b[1], b[0], b[1]]
        })
        .collect()
}

/// Write the devices (once per process) into a new folder and return them.
pub fn write_devices() -> TestDevices {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("parley-alsa-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Long enough for any test (the devices are held to real time).
    std::fs::write(dir.join("mic.raw"), tone(MIC_HZ, 44_100, 40)).unwrap();
    std::fs::write(dir.join("default.raw"), tone(DEFAULT_MIC_HZ, 48_000, 30)).unwrap();
    let conf = include_str!("../../assets/alsa/test-devices.asoundrc")
        .replace("@DIR@", &dir.display().to_string());
    let asoundrc = dir.join("asoundrc");
    std::fs::write(&asoundrc, conf).unwrap();
    TestDevices { dir, asoundrc }
}

/// The devices for this process, ALSA pointed at them.
pub fn devices() -> &'static TestDevices {
    static DEVICES: OnceLock<TestDevices> = OnceLock::new();
    DEVICES.get_or_init(|| {
        let d = write_devices();
        let (k, v) = d.env();
        // SAFETY of the environment change: made once, before this process touches ALSA
        // (tests reach ALSA only through this function).
        unsafe { std::env::set_var(k, v) };
        d
    })
}

/// Loud 10 ms blocks of `pcm` (at `rate`; peak above 1,000) and how many of them carry `hz`:
/// ten times the power at 2.5 × `hz` (where a click would show) and at each of `not`.
pub fn blocks_with(pcm: &[i16], rate: usize, hz: f64, not: &[f64]) -> (usize, usize) {
    // power_at assumes 48 kHz: scale the frequencies for other rates.
    let scale = 48_000.0 / rate as f64;
    let mut loud = 0;
    let mut carrying = 0;
    for block in pcm.chunks_exact(rate / 100) {
        if block.iter().map(|&v| i32::from(v).abs()).max().unwrap_or(0) < 1_000 {
            continue;
        }
        loud += 1;
        let p = parley_media::tone::power_at(block, hz * scale);
        let others = std::iter::once(2.5 * hz).chain(not.iter().copied());
        if others
            .into_iter()
            .all(|f| p > 10.0 * parley_media::tone::power_at(block, f * scale))
        {
            carrying += 1;
        }
    }
    (loud, carrying)
}
