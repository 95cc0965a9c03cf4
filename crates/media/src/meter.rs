//! A live level meter for the pre-join screen and the mute button: the loudness of the last
//! block the microphone delivered, readable from any thread without locks.
//!
//! ```
//! use parley_media::meter::LevelMeter;
//! let m = LevelMeter::new();
//! m.feed_i16(&[16_384; 480]);
//! assert!((m.level_dbfs() - -6.0).abs() < 0.2);
//! assert!(m.level() > 0.8);
//! ```

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Quieter than this is shown as silence.
pub const FLOOR_DBFS: f32 = -60.0;

/// The level of the most recent block, plus a count of blocks seen.
#[derive(Debug, Default)]
pub struct LevelMeter {
    rms_bits: AtomicU32,
    peak_bits: AtomicU32,
    blocks: AtomicU64,
}

impl LevelMeter {
    /// A meter showing silence.
    pub fn new() -> Self {
        Self::default()
    }

    /// A block of samples in -1.0..=1.0 was captured.
    pub fn feed_f32(&self, block: &[f32]) {
        if block.is_empty() {
            return;
        }
        let mut sum = 0.0f32;
        let mut peak = 0.0f32;
        for &v in block {
            sum += v * v;
            peak = peak.max(v.abs());
        }
        let rms = (sum / block.len() as f32).sqrt();
        self.rms_bits.store(rms.to_bits(), Ordering::Relaxed);
        self.peak_bits.store(peak.to_bits(), Ordering::Relaxed);
        self.blocks.fetch_add(1, Ordering::Relaxed);
    }

    /// A block of 16-bit samples was captured.
    pub fn feed_i16(&self, block: &[i16]) {
        let floats: Vec<f32> = block.iter().map(|&s| f32::from(s) / 32768.0).collect();
        self.feed_f32(&floats);
    }

    /// The last block's RMS level in dBFS (a full-scale square wave is 0), at least
    /// [`FLOOR_DBFS`].
    pub fn level_dbfs(&self) -> f32 {
        let rms = f32::from_bits(self.rms_bits.load(Ordering::Relaxed));
        (20.0 * rms.max(1e-9).log10()).max(FLOOR_DBFS)
    }

    /// The last block's peak in dBFS, at least [`FLOOR_DBFS`].
    pub fn peak_dbfs(&self) -> f32 {
        let peak = f32::from_bits(self.peak_bits.load(Ordering::Relaxed));
        (20.0 * peak.max(1e-9).log10()).max(FLOOR_DBFS)
    }

    /// The level as a bar's fill, 0.0 (silence) to 1.0 (full scale), linear in dB.
    pub fn level(&self) -> f32 {
        (self.level_dbfs() - FLOOR_DBFS) / -FLOOR_DBFS
    }

    /// How many blocks the meter has seen (a meter that stops counting has a dead device).
    pub fn blocks(&self) -> u64 {
        self.blocks.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_the_floor_and_loudness_rises() {
        let m = LevelMeter::new();
        assert_eq!(m.level_dbfs(), FLOOR_DBFS);
        assert_eq!(m.level(), 0.0);
        m.feed_i16(&[0; 480]);
        assert_eq!(m.level_dbfs(), FLOOR_DBFS);
        m.feed_i16(&[328; 480]); // -40 dBFS
        assert!((m.level_dbfs() - -40.0).abs() < 0.1, "{}", m.level_dbfs());
        m.feed_f32(&[1.0, -1.0]);
        assert!(m.level_dbfs().abs() < 0.01 && m.peak_dbfs().abs() < 0.01);
        assert_eq!(m.blocks(), 3);
    }
}
