//! A synthetic microphone: a sine tone at a frequency chosen per participant, and the
//! measurement that tells tones apart on the receiving side.

use std::f64::consts::TAU;

use crate::frame::{AudioFrame, SAMPLE_RATE};
use crate::source::{AudioSource, SourceError};

/// A continuous sine tone.
#[derive(Debug, Clone)]
pub struct Tone {
    frequency: f64,
    amplitude: f64,
    phase: f64,
    bursts: bool,
}

impl Tone {
    /// A tone at `frequency` Hz and `amplitude` (0–1 of full scale).
    pub fn new(frequency: f64, amplitude: f64) -> Self {
        Tone {
            frequency,
            amplitude: amplitude.clamp(0.0, 1.0),
            phase: 0.0,
            bursts: false,
        }
    }

    /// The same tone in bursts: on for the first [`BURST_ON_US`] of every [`BURST_PERIOD_US`]
    /// of the capture clock, silent otherwise. A receiver sharing the clock (one machine, or
    /// synchronised clocks) measures the audio delay from where the bursts begin in what it
    /// plays ([`OnsetDetector`]).
    pub fn in_bursts(mut self) -> Self {
        self.bursts = true;
        self
    }

    /// The tone for participant `n`: 300 Hz, 400 Hz, … up to 1,500 Hz, then again — far enough
    /// apart to tell in a mix, inside the band any codec keeps.
    pub fn for_participant(n: u32) -> Self {
        Self::new(participant_frequency(n), 0.3)
    }

    /// The frequency in Hz.
    pub fn frequency(&self) -> f64 {
        self.frequency
    }
}

/// The frequency [`Tone::for_participant`] uses for participant `n`.
pub fn participant_frequency(n: u32) -> f64 {
    300.0 + f64::from(n % 13) * 100.0
}

impl AudioSource for Tone {
    fn next_frame(&mut self, capture_us: u64, samples: usize) -> Result<AudioFrame, SourceError> {
        let step = TAU * self.frequency / f64::from(SAMPLE_RATE);
        let scale = self.amplitude * f64::from(i16::MAX);
        let samples = (0..samples as u64)
            .map(|i| {
                let s = (self.phase.sin() * scale) as i16;
                self.phase = (self.phase + step) % TAU;
                let at = capture_us + i * 1_000_000 / u64::from(SAMPLE_RATE);
                if self.bursts && at % BURST_PERIOD_US >= BURST_ON_US {
                    0
                } else {
                    s
                }
            })
            .collect();
        Ok(AudioFrame {
            samples,
            capture_us,
        })
    }
}

/// Power of `samples` at `frequency` Hz (Goertzel), normalised so a full-scale sine at exactly
/// that frequency gives about 0.25 whatever the length.
pub fn power_at(samples: &[i16], frequency: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let coeff = 2.0 * (TAU * frequency / f64::from(SAMPLE_RATE)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s = f64::from(x) / f64::from(i16::MAX) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let n = samples.len() as f64;
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n)
}

/// The period of [`Tone::in_bursts`].
pub const BURST_PERIOD_US: u64 = 500_000;
/// How long each burst of [`Tone::in_bursts`] lasts.
pub const BURST_ON_US: u64 = 250_000;

/// Finds where tone bursts begin in audio as it is played, and so the delay from capture to
/// playout (modulo [`BURST_PERIOD_US`], so delays must stay under half a second to be read).
#[derive(Debug, Clone, Default)]
pub struct OnsetDetector {
    quiet_ms: u32,
}

/// Windows of this many samples (1 ms) are classed as quiet or loud.
const ONSET_WINDOW: usize = (SAMPLE_RATE / 1000) as usize;

impl OnsetDetector {
    /// A detector that has heard nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed `samples` whose first one is played at `play_us` (same clock as the capture
    /// times). Returns the capture-to-playout delay in microseconds if a burst begins in them
    /// after at least 50 ms of quiet.
    pub fn feed(&mut self, play_us: u64, samples: &[i16]) -> Option<u64> {
        let mut found = None;
        for (i, w) in samples.chunks(ONSET_WINDOW).enumerate() {
            let level = rms(w);
            if level < 0.01 {
                self.quiet_ms = self.quiet_ms.saturating_add(1);
            } else if level > 0.05 {
                if self.quiet_ms >= 50 && found.is_none() {
                    let at = play_us + i as u64 * 1000;
                    found = Some(at % BURST_PERIOD_US);
                }
                self.quiet_ms = 0;
            }
        }
        found
    }
}

/// Root-mean-square level of `samples`, 0–1 of full scale.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&s| (f64::from(s) / f64::from(i16::MAX)).powi(2))
        .sum();
    (sum / samples.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_is_found_at_its_frequency_and_not_elsewhere() {
        let mut t = Tone::for_participant(1);
        assert_eq!(t.frequency(), 400.0);
        let f = t.next_frame(0, 4800).unwrap();
        let at = power_at(&f.samples, 400.0);
        let off = power_at(&f.samples, 700.0);
        assert!(at > 0.01, "{at}");
        assert!(at > 100.0 * off, "{at} vs {off}");
        assert!((rms(&f.samples) - 0.3 / 2f64.sqrt()).abs() < 0.01);
    }

    #[test]
    fn burst_onsets_give_the_delay_to_playout() {
        let mut t = Tone::for_participant(2).in_bursts();
        let mut d = OnsetDetector::new();
        let mut found = Vec::new();
        // Captured from 1.0 s on, played 37 ms later.
        for n in 0..100u64 {
            let capture = 1_000_000 + n * 20_000;
            let f = t.next_frame(capture, 960).unwrap();
            if let Some(delay) = d.feed(capture + 37_000, &f.samples) {
                found.push(delay);
            }
        }
        // Bursts begin at 1.0, 1.5 and 2.5 s… but the first one is not after a quiet spell.
        assert_eq!(found, vec![37_000; 3], "{found:?}");
        // Silence in between, tone during the burst.
        let f = t.next_frame(3_300_000, 960).unwrap();
        assert!(rms(&f.samples) < 0.001);
        let f = t.next_frame(3_500_000, 960).unwrap();
        assert!(rms(&f.samples) > 0.1);
    }

    #[test]
    fn frames_continue_without_a_click() {
        let mut t = Tone::new(440.0, 0.5);
        let a = t.next_frame(0, 960).unwrap();
        let b = t.next_frame(20_000, 960).unwrap();
        let jump = (i32::from(a.samples[959]) - i32::from(b.samples[0])).abs();
        assert!(jump < 1000, "phase carried across frames: jump {jump}");
    }
}
