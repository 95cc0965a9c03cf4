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
}

impl Tone {
    /// A tone at `frequency` Hz and `amplitude` (0–1 of full scale).
    pub fn new(frequency: f64, amplitude: f64) -> Self {
        Tone {
            frequency,
            amplitude: amplitude.clamp(0.0, 1.0),
            phase: 0.0,
        }
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
        let samples = (0..samples)
            .map(|_| {
                let s = (self.phase.sin() * scale) as i16;
                self.phase = (self.phase + step) % TAU;
                s
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
    fn frames_continue_without_a_click() {
        let mut t = Tone::new(440.0, 0.5);
        let a = t.next_frame(0, 960).unwrap();
        let b = t.next_frame(20_000, 960).unwrap();
        let jump = (i32::from(a.samples[959]) - i32::from(b.samples[0])).abs();
        assert!(jump < 1000, "phase carried across frames: jump {jump}");
    }
}
