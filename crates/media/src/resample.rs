//! Sample-rate conversion between a device's native rate and Parley's 48 kHz, with rubato's
//! FFT resampler (band-limited, no sample dropping).
//!
//! A [`Resampler`] is a stream: push whatever the device delivered, take what is ready. It
//! works in chunks of about 3 ms of the input rate, so it holds back at most that plus the
//! filter's own delay ([`Resampler::delay_samples`]).
//!
//! ```
//! use parley_media::resample::Resampler;
//! let mut r = Resampler::new(44_100, 48_000)?;
//! let mut out = Vec::new();
//! r.push(&vec![0.0f32; 4_410], &mut out);
//! assert!(out.len() >= 4_000 && out.len() <= 4_800);
//! # Ok::<(), parley_media::resample::ResampleError>(())
//! ```

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

/// Lowest and highest device rates accepted.
pub const RATES: std::ops::RangeInclusive<u32> = 8_000..=384_000;

/// Why a resampler could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// A rate outside [`RATES`].
    #[error("the sample rate {0} Hz is not supported (8 kHz to 384 kHz are)")]
    Rate(u32),
    /// rubato refused the conversion.
    #[error("the resampler could not be set up: {0}")]
    Setup(String),
}

enum Inner {
    Same,
    Fft {
        fft: Box<Fft<f32>>,
        pending: Vec<f32>,
        chunk: usize,
        scratch: Vec<f32>,
    },
}

/// Mono sample-rate conversion, as a stream.
pub struct Resampler {
    from: u32,
    to: u32,
    inner: Inner,
}

impl Resampler {
    /// Convert from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        for rate in [from, to] {
            if !RATES.contains(&rate) {
                return Err(ResampleError::Rate(rate));
            }
        }
        if from == to {
            return Ok(Resampler {
                from,
                to,
                inner: Inner::Same,
            });
        }
        // Chunks of about 3 ms (the shortest that fit both rates at 44.1 and 48 kHz): what
        // waits for a chunk to fill is delay too.
        let fft = Fft::<f32>::new(
            from as usize,
            to as usize,
            (from / 300) as usize,
            1,
            FixedSync::Both,
        )
        .map_err(|e| ResampleError::Setup(e.to_string()))?;
        let chunk = fft.input_frames_next();
        let scratch = vec![0.0; fft.output_frames_max()];
        Ok(Resampler {
            from,
            to,
            inner: Inner::Fft {
                fft: Box::new(fft),
                pending: Vec::with_capacity(chunk * 2),
                chunk,
                scratch,
            },
        })
    }

    /// The input rate.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// The output rate.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Output samples the filter delays everything by (not counting the up to 3–7 ms a chunk
    /// waits to fill).
    pub fn delay_samples(&self) -> usize {
        match &self.inner {
            Inner::Same => 0,
            Inner::Fft { fft, .. } => fft.output_delay(),
        }
    }

    /// Input samples per chunk (0 when the rates are equal and nothing is converted).
    pub fn chunk_samples(&self) -> usize {
        match &self.inner {
            Inner::Same => 0,
            Inner::Fft { chunk, .. } => *chunk,
        }
    }

    /// Input samples waiting for a whole chunk.
    pub fn pending_samples(&self) -> usize {
        match &self.inner {
            Inner::Same => 0,
            Inner::Fft { pending, .. } => pending.len(),
        }
    }

    /// Convert `input` and append what is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let Inner::Fft {
            fft,
            pending,
            chunk,
            scratch,
        } = &mut self.inner
        else {
            out.extend_from_slice(input);
            return;
        };
        let mut input = input;
        while !input.is_empty() {
            let take = (*chunk - pending.len()).min(input.len());
            pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if pending.len() < *chunk {
                break;
            }
            let frames_out = scratch.len();
            // Both adapters fit by construction (chunk in, output_frames_max out), so rubato
            // cannot refuse them; should it, the chunk becomes silence rather than a panic.
            let written = match (
                InterleavedSlice::new(&pending[..], 1, *chunk),
                InterleavedSlice::new_mut(&mut scratch[..], 1, frames_out),
            ) {
                (Ok(i), Ok(mut o)) => fft
                    .process_into_buffer(&i, &mut o, None)
                    .map(|(_, w)| w)
                    .unwrap_or(0),
                _ => 0,
            };
            out.extend_from_slice(&scratch[..written]);
            pending.clear();
        }
    }
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Resampler({} Hz → {} Hz)", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, seconds: f64) -> Vec<f32> {
        (0..(f64::from(rate) * seconds) as usize)
            .map(|i| {
                (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32 * 0.5
            })
            .collect()
    }

    /// Power of `x` at `freq` (Goertzel), relative to the signal's total power.
    fn share_at(x: &[f32], rate: u32, freq: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = f64::from(v) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let p = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        let total: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        2.0 * p / (x.len() as f64 * total)
    }

    #[test]
    fn common_device_rates_become_48k_with_the_tone_kept() {
        for from in [8_000, 16_000, 22_050, 44_100, 96_000] {
            let mut r = Resampler::new(from, 48_000).unwrap();
            let input = sine(from, 1_000.0, 1.0);
            let mut out = Vec::new();
            // Devices deliver odd chunk sizes.
            for piece in input.chunks(333) {
                r.push(piece, &mut out);
            }
            // What is still inside: the chunk being filled and the filter's delay.
            let held = r.pending_samples() * 48_000 / from as usize + r.delay_samples();
            assert!(
                out.len() <= 48_000 && out.len() + held + 480 >= 48_000,
                "{from} Hz: {} samples out for one second, {held} held",
                out.len()
            );
            assert!(
                r.delay_samples() < 480,
                "{from} Hz: a filter delay of {}",
                r.delay_samples()
            );
            let steady = &out[out.len() / 4..];
            let share = share_at(steady, 48_000, 1_000.0);
            assert!(
                share > 0.99,
                "{from} Hz: only {share:.3} of the power stayed at 1 kHz"
            );
        }
    }

    #[test]
    fn equal_rates_pass_through() {
        let mut r = Resampler::new(48_000, 48_000).unwrap();
        let mut out = Vec::new();
        r.push(&[0.25, -0.5], &mut out);
        assert_eq!(out, vec![0.25, -0.5]);
        assert_eq!(r.delay_samples(), 0);
    }

    #[test]
    fn absurd_rates_are_refused() {
        assert_eq!(
            Resampler::new(0, 48_000).unwrap_err(),
            ResampleError::Rate(0)
        );
        assert_eq!(
            Resampler::new(48_000, 1_000_000).unwrap_err(),
            ResampleError::Rate(1_000_000)
        );
    }

    #[test]
    fn downsampling_removes_what_the_lower_rate_cannot_carry() {
        // 20 kHz at 48 kHz cannot exist at 16 kHz: it must be filtered, not folded to 4 kHz.
        let mut r = Resampler::new(48_000, 16_000).unwrap();
        let mut out = Vec::new();
        r.push(&sine(48_000, 20_000.0, 1.0), &mut out);
        let steady = &out[out.len() / 4..];
        let power: f64 =
            steady.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / steady.len() as f64;
        // The input's power is 0.125; an alias would keep most of it.
        assert!(power < 0.125e-3, "aliased power {power}");
    }
}
