//! The two audio buffers between the devices and a call, as plain state with no threads or
//! clock, so they can be measured in virtual time (`cargo bench -p parley-media --bench
//! devices`) and the device callbacks stay short.
//!
//! - [`CaptureQueue`]: the microphone's callback pushes what it captured at the device's rate;
//!   the send loop takes 20 ms frames at 48 kHz.
//! - [`PlayoutQueue`]: the speaker's callback asks for exactly what the device wants; it mixes
//!   10 ms blocks from the [`Mixer`], tells the echo canceller, and resamples to the device.
//!
//! Neither lets delay build up: a backlog that persists for a second is skipped.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::frame::SAMPLE_RATE;
use crate::mixer::Mixer;
use crate::processing::{BLOCK_SAMPLES, RenderReference};
use crate::resample::{ResampleError, Resampler};

/// Most captured audio kept waiting for the send loop (a stalled reader loses the oldest).
pub const MAX_CAPTURED_SAMPLES: usize = SAMPLE_RATE as usize / 5;
/// Takes (of 20 ms each: a second) over which a backlog must persist to be skipped.
const LAG_WINDOW_TAKES: u32 = 50;
/// What may stay waiting after a take without counting as backlog: 5 ms.
const LAG_KEEP_SAMPLES: usize = 240;

fn to_i16(v: f32) -> i16 {
    (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Captured sound on its way from the device to the send loop.
#[derive(Debug)]
pub struct CaptureQueue {
    resampler: Resampler,
    scratch: Vec<f32>,
    ready: VecDeque<i16>,
    dropped: u64,
    /// The fewest samples left after a take in the current window, and takes in it.
    least_left: usize,
    takes: u32,
}

impl CaptureQueue {
    /// For a device capturing at `native_rate` Hz.
    pub fn new(native_rate: u32) -> Result<Self, ResampleError> {
        Ok(CaptureQueue {
            resampler: Resampler::new(native_rate, SAMPLE_RATE)?,
            scratch: Vec::with_capacity(4_096),
            ready: VecDeque::with_capacity(MAX_CAPTURED_SAMPLES),
            dropped: 0,
            least_left: usize::MAX,
            takes: 0,
        })
    }

    /// The device captured `mono` (-1.0..=1.0, at its own rate).
    pub fn push_device(&mut self, mono: &[f32]) {
        self.scratch.clear();
        self.resampler.push(mono, &mut self.scratch);
        self.ready.extend(self.scratch.iter().map(|&v| to_i16(v)));
        let over = self.ready.len().saturating_sub(MAX_CAPTURED_SAMPLES);
        if over > 0 {
            self.ready.drain(..over);
            self.dropped += over as u64;
        }
    }

    /// 48 kHz samples ready to take.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Take `samples` samples at 48 kHz if that many are ready.
    pub fn take(&mut self, samples: usize) -> Option<Vec<i16>> {
        if self.ready.len() < samples {
            return None;
        }
        let frame: Vec<i16> = self.ready.drain(..samples).collect();
        // A standing backlog (the reader started late, or stalled once) would delay the voice
        // for the rest of the call: what never drained in a second is skipped.
        self.least_left = self.least_left.min(self.ready.len());
        self.takes += 1;
        if self.takes >= LAG_WINDOW_TAKES {
            let excess = self.least_left.saturating_sub(LAG_KEEP_SAMPLES);
            self.ready.drain(..excess);
            self.dropped += excess as u64;
            self.takes = 0;
            self.least_left = usize::MAX;
        }
        Some(frame)
    }

    /// Forget what is waiting (the device changed).
    pub fn clear(&mut self) {
        self.ready.clear();
    }

    /// How much captured sound waits now, in ms: samples not yet taken, the resampler's
    /// unfilled chunk and its filter delay.
    pub fn queued_ms(&self) -> f64 {
        let native = f64::from(self.resampler.from_rate());
        self.ready.len() as f64 / 48.0
            + self.resampler.pending_samples() as f64 * 1000.0 / native
            + self.resampler.delay_samples() as f64 / 48.0
    }

    /// Samples dropped (the reader fell behind, or a backlog was skipped).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Mixed sound on its way from the mixer to the device.
#[derive(Debug)]
pub struct PlayoutQueue {
    render: Option<RenderReference>,
    resampler: Resampler,
    mixed: Vec<i16>,
    floats: Vec<f32>,
    resampled: Vec<f32>,
    ready: VecDeque<f32>,
}

impl PlayoutQueue {
    /// For a device playing at `native_rate` Hz; every mixed sample goes to `render` (the echo
    /// canceller's reference) as it is produced.
    pub fn new(native_rate: u32, render: Option<RenderReference>) -> Result<Self, ResampleError> {
        Ok(PlayoutQueue {
            render,
            resampler: Resampler::new(SAMPLE_RATE, native_rate)?,
            mixed: vec![0; BLOCK_SAMPLES],
            floats: Vec::with_capacity(BLOCK_SAMPLES),
            resampled: Vec::with_capacity(1_024),
            ready: VecDeque::with_capacity(4_096),
        })
    }

    /// Fill `out` (interleaved, `channels` wide, at the device's rate) from `mixer`, converting
    /// each sample with `convert`. Mixes only as much as the device asks for, in 10 ms blocks
    /// (the echo canceller's unit).
    pub fn fill<T: Copy>(
        &mut self,
        mixer: &mut Mixer,
        out: &mut [T],
        channels: usize,
        convert: impl Fn(f32) -> T,
    ) {
        let channels = channels.max(1);
        let frames = out.len() / channels;
        while self.ready.len() < frames {
            mixer.mix(&mut self.mixed);
            if let Some(r) = &mut self.render {
                r.played(&self.mixed);
            }
            self.floats.clear();
            self.floats
                .extend(self.mixed.iter().map(|&s| f32::from(s) / 32768.0));
            self.resampled.clear();
            self.resampler.push(&self.floats, &mut self.resampled);
            self.ready.extend(self.resampled.iter().copied());
        }
        for frame in out.chunks_mut(channels) {
            frame.fill(convert(self.ready.pop_front().unwrap_or(0.0)));
        }
    }

    /// How much mixed sound waits now, in ms: resampled samples not yet given to the device,
    /// the resampler's unfilled chunk and its filter delay. (The mixer's own queues come
    /// before this: [`Mixer::queued`].)
    pub fn queued_ms(&self) -> f64 {
        let rate = f64::from(self.resampler.to_rate());
        (self.ready.len() as f64 + self.resampler.delay_samples() as f64) * 1000.0 / rate
            + self.resampler.pending_samples() as f64 / 48.0
    }
}

/// Keeps a device callback from running ahead of the clock. A sound card never does (its
/// clock paces it); a broken driver or a virtual device without a clock (ALSA's null device,
/// which the tests use) would spin a core and flood the buffers. Up to `slack` ahead is
/// allowed (a device fills its buffer at the start); beyond that the callback is held back.
/// A callback that comes late (the machine stalled) starts the count afresh.
#[derive(Debug)]
pub struct Pacer {
    rate: u32,
    slack: Duration,
    start: Option<Instant>,
    frames: u64,
}

impl Pacer {
    /// For a device at `rate` frames per second.
    pub fn new(rate: u32, slack: Duration) -> Self {
        Pacer {
            rate: rate.max(1),
            slack,
            start: None,
            frames: 0,
        }
    }

    /// `frames` were just delivered at `now`; how long the callback should wait before
    /// returning, if at all.
    pub fn after(&mut self, frames: usize, now: Instant) -> Option<Duration> {
        let start = *self.start.get_or_insert(now);
        self.frames += frames as u64;
        let media = Duration::from_micros(self.frames * 1_000_000 / u64::from(self.rate));
        let due = start + media;
        if now > due + self.slack {
            // Late: the clock is ahead of the samples; count from here.
            self.start = Some(now);
            self.frames = 0;
            return None;
        }
        let ahead = due.saturating_duration_since(now);
        (ahead > self.slack).then(|| ahead - self.slack)
    }
}

/// How far ahead of the clock a device may run before [`Pacer`] holds it back.
pub const PACER_SLACK: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_without_a_clock_is_held_to_real_time_and_a_real_one_is_not() {
        let t0 = Instant::now();
        let mut p = Pacer::new(48_000, PACER_SLACK);
        // A real device: 10 ms every 10 ms, never held.
        for k in 0..100u64 {
            assert_eq!(p.after(480, t0 + Duration::from_millis(10 * k)), None);
        }
        // A clockless one: everything at once. Held once more than 200 ms ahead.
        let mut p = Pacer::new(48_000, PACER_SLACK);
        let mut held = Duration::ZERO;
        for _ in 0..100 {
            held += p.after(480, t0).unwrap_or_default();
        }
        // 1 s of samples at once, 200 ms allowed: 0.8 s of waiting in all (summed over
        // callbacks that each would wait from t0).
        assert!(p.after(480, t0).unwrap() > Duration::from_millis(800));
        assert!(held > Duration::ZERO);
        // After a stall the count starts again: no burst of waiting.
        let mut p = Pacer::new(48_000, PACER_SLACK);
        p.after(480, t0);
        assert_eq!(p.after(480, t0 + Duration::from_secs(5)), None);
        assert_eq!(p.after(480, t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn capture_at_44k_comes_out_as_48k_frames_without_building_up() {
        let mut q = CaptureQueue::new(44_100).unwrap();
        let block = vec![0.25f32; 441];
        let mut taken = 0;
        // 10 s: the device every 10 ms, the send loop every 20 ms.
        for tick in 0..1_000 {
            q.push_device(&block);
            if tick % 2 == 1
                && let Some(f) = q.take(960)
            {
                assert!(f.iter().all(|&s| (s - 8_192).abs() < 20) || taken == 0);
                taken += 1;
            }
        }
        assert!(taken >= 495, "{taken} frames in 10 s");
        assert!(q.queued_ms() < 40.0, "{} ms waiting", q.queued_ms());
    }

    #[test]
    fn a_late_reader_backlog_is_skipped_within_a_second() {
        let mut q = CaptureQueue::new(48_000).unwrap();
        // The device ran 150 ms before the call started taking.
        for _ in 0..15 {
            q.push_device(&[0.1; 480]);
        }
        for _ in 0..60 {
            q.push_device(&[0.1; 480]);
            q.push_device(&[0.1; 480]);
            q.take(960).unwrap();
        }
        assert!(
            q.ready() <= 240 + 960,
            "{} samples still waiting",
            q.ready()
        );
        assert!(q.dropped() > 6_000);
    }

    #[test]
    fn playout_gives_the_device_exactly_what_it_asks_for() {
        let mut mixer = Mixer::new();
        mixer.push("1", &[16_384; 960]);
        let mut q = PlayoutQueue::new(48_000, None).unwrap();
        let mut out = vec![0i16; 2 * 256];
        q.fill(&mut mixer, &mut out, 2, to_i16);
        assert!(out.iter().all(|&s| s == 16_384));
        // 256 frames asked for: one 10 ms block mixed, the rest kept for the next callback.
        assert_eq!(mixer.queued("1"), 480);
        assert!((q.queued_ms() - (480.0 - 256.0) / 48.0).abs() < 0.01);
    }
}
