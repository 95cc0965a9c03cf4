//! Where decoded media goes: every [`MediaSink`] given to a call receives each decoded picture
//! and every 20 ms of played audio, per sending participant. The desktop app renders and plays
//! them; [`DumpSink`] writes them to files (`parley-cli --dump`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parley_media::VideoFrame;
use parley_media::dump::{WavWriter, write_png};

/// Receives decoded media. Called from the receiving tasks: return quickly (hand heavy work to
/// another thread).
pub trait MediaSink: Send + Sync {
    /// A decoded picture from participant `from` (their stream id, the participant number).
    fn video(&self, from: &str, frame: &VideoFrame);
    /// 20 ms of audio from `from` as it is played (48 kHz mono), concealment included.
    fn audio(&self, from: &str, pcm: &[i16]);
    /// Log counters worth knowing when diagnosing (counts only, never content or names).
    fn report(&self) {}
    /// A VP8 frame from `from` as received and opened, before it is decoded (a recording
    /// keeps it as it is).
    fn encoded_video(&self, _from: &str, _frame: &[u8], _keyframe: bool) {}
    /// An Opus packet from `from` as received and opened.
    fn encoded_audio(&self, _from: &str, _packet: &[u8]) {}
    /// Whether this sink needs a keyframe from `from` now (a recording that has none of
    /// theirs yet); the call then asks the sender for one, as a decoder would.
    fn wants_keyframe(&self, _from: &str) -> bool {
        false
    }
}

/// How often [`DumpSink`] keeps a picture.
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(2);
/// Most pictures [`DumpSink`] keeps per participant.
pub const MAX_SNAPSHOTS: u32 = 300;

#[derive(Default)]
struct PerSender {
    wav: Option<WavWriter>,
    last_snapshot: Option<Instant>,
    snapshots: u32,
}

/// Writes what is received to a folder: per participant a WAV file of their audio and a PNG
/// of their video every [`SNAPSHOT_EVERY`].
pub struct DumpSink {
    dir: PathBuf,
    senders: Mutex<HashMap<String, PerSender>>,
}

impl std::fmt::Debug for DumpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpSink").field("dir", &self.dir).finish()
    }
}

/// A file name part from a stream id (which a hostile server chooses): letters, digits, dashes.
fn file_part(who: &str) -> String {
    let safe: String = who
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    format!("participant-{safe}")
}

impl DumpSink {
    /// Write into `dir`, creating it if needed.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(DumpSink {
            dir: dir.to_path_buf(),
            senders: Mutex::new(HashMap::new()),
        })
    }
}

impl MediaSink for DumpSink {
    fn video(&self, from: &str, frame: &VideoFrame) {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        let s = senders.entry(from.to_string()).or_default();
        if s.snapshots >= MAX_SNAPSHOTS
            || s.last_snapshot
                .is_some_and(|t| t.elapsed() < SNAPSHOT_EVERY)
        {
            return;
        }
        s.last_snapshot = Some(Instant::now());
        s.snapshots += 1;
        let path = self
            .dir
            .join(format!("{}-{:04}.png", file_part(from), s.snapshots));
        let frame = frame.clone();
        // PNG encoding takes milliseconds: not on the receiving task.
        std::thread::spawn(move || write_png(&frame, &path));
    }

    fn audio(&self, from: &str, pcm: &[i16]) {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        let s = senders.entry(from.to_string()).or_default();
        if s.wav.is_none() {
            let path = self.dir.join(format!("{}.wav", file_part(from)));
            s.wav = WavWriter::create(&path).ok();
        }
        if let Some(w) = &mut s.wav {
            let _ = w.write(pcm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_keeps_a_picture_now_and_then_and_all_the_audio_under_safe_names() {
        let dir = std::env::temp_dir().join(format!("parley-dump-{}", std::process::id()));
        let sink = DumpSink::new(&dir).unwrap();
        let black = VideoFrame::black(16, 16);
        for _ in 0..5 {
            sink.video("7", &black);
            sink.audio("7", &[100; 960]);
        }
        // A hostile stream id cannot leave the folder.
        sink.audio("../../etc/x", &[1; 960]);
        std::thread::sleep(Duration::from_millis(300));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                "participant-7-0001.png",
                "participant-7.wav",
                "participant-etcx.wav"
            ]
        );
        drop(sink);
        let wav = std::fs::read(dir.join("participant-7.wav")).unwrap();
        assert_eq!(wav.len(), 44 + 5 * 960 * 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Level above which 20 ms of audio counts as someone speaking (RMS, of full scale: about
/// −40 dBFS, above comfort noise and concealment, below quiet speech).
const SPEAKING_RMS: f64 = 0.01;
/// How long someone still counts as speaking after their last loud frame (speech has pauses).
pub const SPEAKING_HOLD: Duration = Duration::from_millis(600);

/// Who is speaking, from the audio as it is played: a sink, so it sees exactly what the person
/// hears. Counts levels only; keeps no audio.
#[derive(Debug, Default)]
pub struct SpeakingDetector {
    last_voice: Mutex<HashMap<String, Instant>>,
}

impl SpeakingDetector {
    /// Take 20 ms of `from`'s audio heard at `now`.
    pub fn feed(&self, from: &str, pcm: &[i16], now: Instant) {
        if pcm.is_empty() {
            return;
        }
        let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        let rms = (sum / pcm.len() as f64).sqrt() / f64::from(i16::MAX);
        if rms >= SPEAKING_RMS {
            let mut m = self.last_voice.lock().unwrap_or_else(|e| e.into_inner());
            match m.get_mut(from) {
                Some(t) => *t = now,
                None => {
                    m.insert(from.to_string(), now);
                }
            }
        }
    }

    /// Who was speaking within [`SPEAKING_HOLD`] of `now`, by stream id, sorted.
    pub fn speaking(&self, now: Instant) -> Vec<String> {
        let mut m = self.last_voice.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, t| now.saturating_duration_since(*t) < SPEAKING_HOLD);
        let mut who: Vec<String> = m.keys().cloned().collect();
        who.sort();
        who
    }
}

impl MediaSink for SpeakingDetector {
    fn video(&self, _: &str, _: &VideoFrame) {}
    fn audio(&self, from: &str, pcm: &[i16]) {
        self.feed(from, pcm, Instant::now());
    }
}

#[cfg(test)]
mod speaking_tests {
    use super::*;

    fn tone(amplitude: f64) -> Vec<i16> {
        (0..960)
            .map(|i| (amplitude * f64::from(i16::MAX) * (i as f64 * 0.1).sin()) as i16)
            .collect()
    }

    #[test]
    fn a_voice_counts_for_a_moment_and_silence_or_hiss_never() {
        let d = SpeakingDetector::default();
        let t0 = Instant::now();
        d.feed("1", &tone(0.3), t0);
        d.feed("2", &tone(0.002), t0);
        d.feed("3", &[0; 960], t0);
        assert_eq!(d.speaking(t0), ["1"]);
        assert_eq!(d.speaking(t0 + Duration::from_millis(500)), ["1"]);
        assert!(d.speaking(t0 + SPEAKING_HOLD).is_empty());
        d.feed("2", &tone(0.05), t0 + SPEAKING_HOLD);
        assert_eq!(d.speaking(t0 + SPEAKING_HOLD), ["2"]);
    }
}
