//! The playout mixer: every remote participant's decoded audio mixed into what the loudspeaker
//! plays, each with its own volume (0–200 %) and a "mute for me" that only this listener hears.
//!
//! The receive path pushes 20 ms frames per participant as they are due; the loudspeaker's
//! callback pulls exactly as many samples as the device wants. Each participant's queue is
//! kept short ([`MAX_QUEUE_SAMPLES`]): when a sender runs ahead, the oldest samples go, and
//! what stayed queued for a whole second without ever running low is skipped, so latency
//! cannot build up. The sum passes a soft limiter, so many loud voices never wrap
//! around or clip hard.
//!
//! ```
//! use parley_media::mixer::Mixer;
//! let mut mixer = Mixer::new();
//! mixer.push("7", &[1000; 960]);
//! mixer.set_volume("7", 50);
//! let mut out = [0i16; 480];
//! mixer.mix(&mut out);
//! assert_eq!(out[0], 500);
//! ```

use std::collections::{HashMap, VecDeque};

/// The most one participant's queue holds: 60 ms at 48 kHz.
pub const MAX_QUEUE_SAMPLES: usize = 2_880;
/// The highest volume a listener may set, in percent.
pub const MAX_VOLUME_PERCENT: u16 = 200;
/// Most participants mixed (a hostile server cannot make the mixer grow without bound).
pub const MAX_TRACKS: usize = 1_000;

/// Samples mixed (a second) over which a backlog must persist to be skipped.
const LAG_WINDOW_SAMPLES: usize = 48_000;
/// What may stay queued at the quietest moment without counting as backlog: 5 ms.
const LAG_KEEP_SAMPLES: usize = 240;

/// Where the limiter starts to bend the sum, in sample units.
const KNEE: f32 = 24_000.0;
const CEILING: f32 = 32_000.0;

#[derive(Debug)]
struct Track {
    queue: VecDeque<i16>,
    volume_percent: u16,
    muted_for_me: bool,
    dropped: u64,
    /// The fewest samples left after a mix in the current window, and samples mixed in it.
    least_left: usize,
    window: usize,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            queue: VecDeque::with_capacity(MAX_QUEUE_SAMPLES),
            volume_percent: 100,
            muted_for_me: false,
            dropped: 0,
            least_left: usize::MAX,
            window: 0,
        }
    }
}

/// Mixes remote participants for one listener.
#[derive(Debug)]
pub struct Mixer {
    tracks: HashMap<String, Track>,
    sum: Vec<f32>,
    max_queue: usize,
    trim_backlog: bool,
}

impl Default for Mixer {
    fn default() -> Self {
        Mixer {
            tracks: HashMap::new(),
            sum: Vec::new(),
            max_queue: MAX_QUEUE_SAMPLES,
            trim_backlog: true,
        }
    }
}

impl Mixer {
    /// An empty mixer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty mixer whose queues hold up to `samples` per participant (playing a recording,
    /// where latency does not matter, rather than a live call).
    pub fn with_queue_limit(samples: usize) -> Self {
        Mixer {
            max_queue: samples,
            trim_backlog: false,
            ..Self::default()
        }
    }

    fn track(&mut self, from: &str) -> Option<&mut Track> {
        if !self.tracks.contains_key(from) && self.tracks.len() >= MAX_TRACKS {
            return None;
        }
        Some(self.tracks.entry(from.to_string()).or_default())
    }

    /// `pcm` (48 kHz mono) from participant `from` is due to be played.
    pub fn push(&mut self, from: &str, pcm: &[i16]) {
        let max_queue = self.max_queue;
        let Some(t) = self.track(from) else { return };
        t.queue.extend(pcm.iter().copied());
        let over = t.queue.len().saturating_sub(max_queue);
        if over > 0 {
            t.queue.drain(..over);
            t.dropped += over as u64;
        }
    }

    /// Set how loud `from` is for this listener, 0–200 % (higher values are capped).
    pub fn set_volume(&mut self, from: &str, percent: u16) {
        if let Some(t) = self.track(from) {
            t.volume_percent = percent.min(MAX_VOLUME_PERCENT);
        }
    }

    /// Silence `from` for this listener only (or let them be heard again).
    pub fn set_muted_for_me(&mut self, from: &str, muted: bool) {
        if let Some(t) = self.track(from) {
            t.muted_for_me = muted;
        }
    }

    /// The volume and mute-for-me setting of `from`.
    pub fn settings(&self, from: &str) -> (u16, bool) {
        self.tracks
            .get(from)
            .map_or((100, false), |t| (t.volume_percent, t.muted_for_me))
    }

    /// `from` left: forget their queue and settings.
    pub fn remove(&mut self, from: &str) {
        self.tracks.remove(from);
    }

    /// Samples waiting for `from`.
    pub fn queued(&self, from: &str) -> usize {
        self.tracks.get(from).map_or(0, |t| t.queue.len())
    }

    /// Samples dropped for `from` because their queue overflowed.
    pub fn dropped(&self, from: &str) -> u64 {
        self.tracks.get(from).map_or(0, |t| t.dropped)
    }

    /// Fill `out` with the next samples of everyone's audio, mixed. A participant whose queue
    /// runs dry contributes silence for the rest.
    pub fn mix(&mut self, out: &mut [i16]) {
        self.sum.clear();
        self.sum.resize(out.len(), 0.0);
        for t in self.tracks.values_mut() {
            let n = t.queue.len().min(out.len());
            let gain = if t.muted_for_me {
                0.0
            } else {
                f32::from(t.volume_percent) / 100.0
            };
            // Queued samples are consumed even when muted, so unmuting resumes in time.
            for (s, v) in self.sum.iter_mut().zip(t.queue.drain(..n)) {
                *s += f32::from(v) * gain;
            }
            // A queue that never ran low in a second holds a standing delay (the sender's
            // clock runs a little fast, or frames came in a burst): skip it.
            if n == out.len() && self.trim_backlog {
                t.least_left = t.least_left.min(t.queue.len());
                t.window += n;
                if t.window >= LAG_WINDOW_SAMPLES {
                    let excess = t.least_left.saturating_sub(LAG_KEEP_SAMPLES);
                    t.queue.drain(..excess.min(t.queue.len()));
                    t.dropped += excess as u64;
                    t.window = 0;
                    t.least_left = usize::MAX;
                }
            } else {
                // It ran dry: no backlog.
                t.window = 0;
                t.least_left = usize::MAX;
            }
        }
        for (o, &s) in out.iter_mut().zip(&self.sum) {
            *o = limit(s);
        }
    }
}

/// A soft limiter: linear below the knee, then bending smoothly towards a ceiling just under
/// full scale, which it
/// never reaches or passes.
fn limit(x: f32) -> i16 {
    let a = x.abs();
    let y = if a <= KNEE {
        a
    } else {
        let room = CEILING - KNEE;
        KNEE + room * ((a - KNEE) / room).tanh()
    };
    (y.copysign(x)).round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(amplitude: f32, period: usize, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amplitude * (2.0 * std::f32::consts::PI * i as f32 / period as f32).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn two_voices_add_up_sample_by_sample() {
        let mut m = Mixer::new();
        let a = tone(5_000.0, 48, 960);
        let b = tone(3_000.0, 96, 960);
        m.push("1", &a);
        m.push("2", &b);
        let mut out = vec![0; 960];
        m.mix(&mut out);
        for i in 0..960 {
            assert_eq!(
                i32::from(out[i]),
                i32::from(a[i]) + i32::from(b[i]),
                "sample {i}"
            );
        }
    }

    #[test]
    fn volume_scales_one_participant_and_not_the_other() {
        let mut m = Mixer::new();
        m.set_volume("1", 200);
        m.set_volume("2", 25);
        m.push("1", &[4_000; 960]);
        m.push("2", &[4_000; 960]);
        let mut out = vec![0; 960];
        m.mix(&mut out);
        assert!(out.iter().all(|&s| s == 8_000 + 1_000), "{:?}", &out[..4]);
        // 300 % is capped at 200 %.
        m.set_volume("1", 300);
        assert_eq!(m.settings("1"), (200, false));
    }

    #[test]
    fn mute_for_me_silences_only_that_participant_and_keeps_time() {
        let mut m = Mixer::new();
        m.push("1", &[1_000; 1_920]);
        m.push("2", &[700; 1_920]);
        m.set_muted_for_me("1", true);
        let mut out = vec![0; 960];
        m.mix(&mut out);
        assert!(out.iter().all(|&s| s == 700));
        // Unmuted, participant 1 continues where the clock is, not where they were muted.
        m.set_muted_for_me("1", false);
        assert_eq!(m.queued("1"), 960);
        m.mix(&mut out);
        assert!(out.iter().all(|&s| s == 1_700));
    }

    #[test]
    fn loud_sums_never_clip_or_wrap() {
        let mut m = Mixer::new();
        for who in 0..10 {
            m.set_volume(&who.to_string(), 200);
            m.push(&who.to_string(), &tone(30_000.0, 48, 960));
        }
        let mut out = vec![0; 960];
        m.mix(&mut out);
        assert!(out.iter().all(|&s| s > -32_767 && s < 32_767));
        // The waveform's sign is kept (a wrap-around would flip it).
        let reference = tone(30_000.0, 48, 960);
        for (o, r) in out.iter().zip(&reference) {
            assert!(i32::from(*o).signum() == i32::from(*r).signum() || *r == 0);
        }
        // Below the knee the limiter does nothing.
        assert_eq!(limit(20_000.0), 20_000);
        assert!(limit(1.0e9) <= 32_000 && limit(-1.0e9) >= -32_000);
    }

    #[test]
    fn a_sender_running_ahead_cannot_build_up_latency() {
        let mut m = Mixer::new();
        for _ in 0..50 {
            m.push("1", &[1; 960]);
        }
        assert_eq!(m.queued("1"), MAX_QUEUE_SAMPLES);
        assert_eq!(m.dropped("1"), 50 * 960 - MAX_QUEUE_SAMPLES as u64);
    }

    #[test]
    fn a_standing_backlog_is_skipped_within_a_second_and_jitter_is_not() {
        let mut m = Mixer::new();
        // A burst of 60 ms, then one frame in for every frame out: 60 ms would stay forever.
        m.push("1", &[1; MAX_QUEUE_SAMPLES]);
        let mut out = vec![0; 960];
        for _ in 0..60 {
            m.push("1", &[1; 960]);
            m.mix(&mut out);
        }
        assert!(
            m.queued("1") <= LAG_KEEP_SAMPLES,
            "still {} queued",
            m.queued("1")
        );
        // Frames arriving in pairs every 40 ms run the queue dry now and then: nothing skipped.
        let mut m = Mixer::new();
        let mut out = vec![0; 480];
        for _ in 0..200 {
            m.push("1", &[1; 1_920]);
            for _ in 0..4 {
                m.mix(&mut out);
            }
        }
        assert_eq!(m.dropped("1"), 0);
        // A recording being played is never skipped.
        let mut m = Mixer::with_queue_limit(96_000);
        m.push("1", &[1; 96_000]);
        for _ in 0..100 {
            m.mix(&mut out);
        }
        assert_eq!(m.queued("1"), 96_000 - 48_000);
    }

    #[test]
    fn a_dry_queue_gives_silence_and_a_leaver_is_forgotten() {
        let mut m = Mixer::new();
        m.push("1", &[500; 100]);
        let mut out = vec![9; 200];
        m.mix(&mut out);
        assert!(out[..100].iter().all(|&s| s == 500));
        assert!(out[100..].iter().all(|&s| s == 0));
        m.set_volume("1", 10);
        m.remove("1");
        assert_eq!(m.settings("1"), (100, false));
    }

    #[test]
    fn the_number_of_tracks_is_bounded() {
        let mut m = Mixer::new();
        for who in 0..(MAX_TRACKS + 10) {
            m.push(&who.to_string(), &[1; 10]);
        }
        assert_eq!(m.tracks.len(), MAX_TRACKS);
    }
}
