//! Audio processing on the capture path: acoustic echo cancellation, noise suppression and
//! automatic gain control, by WebRTC's audio processing module (Debian's
//! libwebrtc-audio-processing, through the `webrtc-audio-processing` crate).
//!
//! Echo cancellation needs to know what the loudspeaker played: the playout side hands every
//! mixed sample it gives the device to [`RenderReference::played`], and the capture side runs
//! each microphone frame through [`CaptureProcessor::process`]. Both halves share one
//! processor and may live on different threads (the device callbacks).
//!
//! ```
//! use parley_media::processing::{AudioProcessor, ProcessingSettings};
//! let (mut capture, mut render) = AudioProcessor::new(ProcessingSettings::voice())?.split();
//! let played = vec![0i16; 960];
//! render.played(&played);
//! let mut mic = vec![0i16; 960];
//! capture.process(&mut mic)?;
//! # Ok::<(), parley_media::processing::ProcessingError>(())
//! ```

use webrtc_audio_processing as apm;

/// Samples in one 10 ms processing block at 48 kHz.
pub const BLOCK_SAMPLES: usize = apm::NUM_SAMPLES_PER_FRAME as usize;

/// Which processing runs. Each is switchable; [`ProcessingSettings::original_sound`] turns all
/// of them off (music, an instrument lesson).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessingSettings {
    /// Remove what the loudspeaker played from what the microphone hears.
    pub echo_cancellation: bool,
    /// Suppress steady background noise (fans, traffic).
    pub noise_suppression: bool,
    /// Bring quiet and loud voices to one level.
    pub gain_control: bool,
    /// The delay from a sample being handed to the loudspeaker until the microphone hears it,
    /// when the devices report it; `None` lets the canceller find it itself.
    pub echo_delay_ms: Option<u16>,
}

impl ProcessingSettings {
    /// Everything on: what a person talking into a laptop needs.
    pub fn voice() -> Self {
        ProcessingSettings {
            echo_cancellation: true,
            noise_suppression: true,
            gain_control: true,
            echo_delay_ms: None,
        }
    }

    /// Everything off: the sound as the microphone took it.
    pub fn original_sound() -> Self {
        ProcessingSettings {
            echo_cancellation: false,
            noise_suppression: false,
            gain_control: false,
            echo_delay_ms: None,
        }
    }

    /// Whether any processing is on.
    pub fn any(&self) -> bool {
        self.echo_cancellation || self.noise_suppression || self.gain_control
    }

    fn config(&self) -> apm::Config {
        apm::Config {
            echo_cancellation: self.echo_cancellation.then(|| apm::EchoCancellation {
                suppression_level: apm::EchoCancellationSuppressionLevel::High,
                enable_extended_filter: true,
                enable_delay_agnostic: self.echo_delay_ms.is_none(),
                stream_delay_ms: self.echo_delay_ms.map(i32::from),
            }),
            gain_control: self.gain_control.then_some(apm::GainControl {
                mode: apm::GainControlMode::AdaptiveDigital,
                target_level_dbfs: 3,
                compression_gain_db: 9,
                enable_limiter: true,
            }),
            noise_suppression: self.noise_suppression.then_some(apm::NoiseSuppression {
                suppression_level: apm::NoiseSuppressionLevel::High,
            }),
            voice_detection: None,
            enable_transient_suppressor: false,
            enable_high_pass_filter: self.any(),
        }
    }
}

/// Why audio processing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessingError {
    /// The processing module could not be set up.
    #[error("audio processing could not start (code {0}); the call goes on without it")]
    Unavailable(i32),
    /// A frame was not a whole number of 10 ms blocks.
    #[error("audio frames must be whole 10 ms blocks of {BLOCK_SAMPLES} samples, got {0}")]
    FrameLength(usize),
    /// The module refused a block.
    #[error("audio processing failed on a block (code {0})")]
    Failed(i32),
}

fn code(e: &apm::Error) -> i32 {
    // The crate keeps the code private; its Display is "...Error code: N".
    e.to_string()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}

/// One participant's audio processing, before it is split into its two halves.
pub struct AudioProcessor {
    inner: apm::Processor,
    settings: ProcessingSettings,
}

impl AudioProcessor {
    /// Set up processing for mono 48 kHz capture and playout.
    pub fn new(settings: ProcessingSettings) -> Result<Self, ProcessingError> {
        let init = apm::InitializationConfig {
            num_capture_channels: 1,
            num_render_channels: 1,
            ..apm::InitializationConfig::default()
        };
        let mut inner =
            apm::Processor::new(&init).map_err(|e| ProcessingError::Unavailable(code(&e)))?;
        inner.set_config(settings.config());
        Ok(AudioProcessor { inner, settings })
    }

    /// The capture half (for the microphone's thread) and the render half (for the
    /// loudspeaker's).
    pub fn split(self) -> (CaptureProcessor, RenderReference) {
        let render = RenderReference {
            inner: self.inner.clone(),
            pending: Vec::with_capacity(BLOCK_SAMPLES),
            block: vec![0.0; BLOCK_SAMPLES],
            enabled: self.settings.echo_cancellation,
        };
        let capture = CaptureProcessor {
            inner: self.inner,
            settings: self.settings,
            block: vec![0.0; BLOCK_SAMPLES],
        };
        (capture, render)
    }
}

impl std::fmt::Debug for AudioProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioProcessor")
            .field("settings", &self.settings)
            .finish()
    }
}

/// The microphone side: cleans each captured frame in place.
pub struct CaptureProcessor {
    inner: apm::Processor,
    settings: ProcessingSettings,
    block: Vec<f32>,
}

impl CaptureProcessor {
    /// Process `frame` (a whole number of 10 ms blocks) in place. With every switch off the
    /// frame is left exactly as it was.
    pub fn process(&mut self, frame: &mut [i16]) -> Result<(), ProcessingError> {
        if !frame.len().is_multiple_of(BLOCK_SAMPLES) {
            return Err(ProcessingError::FrameLength(frame.len()));
        }
        if !self.settings.any() {
            return Ok(());
        }
        for chunk in frame.chunks_exact_mut(BLOCK_SAMPLES) {
            to_float(chunk, &mut self.block);
            self.inner
                .process_capture_frame(&mut self.block)
                .map_err(|e| ProcessingError::Failed(code(&e)))?;
            from_float(&self.block, chunk);
        }
        Ok(())
    }

    /// Change what runs, during a call.
    pub fn set_settings(&mut self, settings: ProcessingSettings) {
        self.settings = settings;
        self.inner.set_config(settings.config());
    }

    /// What runs now.
    pub fn settings(&self) -> ProcessingSettings {
        self.settings
    }

    /// The module's own estimate of the echo it removes, in dB, once it has one.
    pub fn echo_return_loss_enhancement_db(&self) -> Option<f64> {
        self.inner.get_stats().echo_return_loss_enhancement
    }
}

impl Clone for CaptureProcessor {
    /// Another handle on the same processing (the same echo canceller, referenced to the same
    /// loudspeaker), for a microphone opened later or instead.
    fn clone(&self) -> Self {
        CaptureProcessor {
            inner: self.inner.clone(),
            settings: self.settings,
            block: vec![0.0; BLOCK_SAMPLES],
        }
    }
}

impl std::fmt::Debug for CaptureProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureProcessor")
            .field("settings", &self.settings)
            .finish()
    }
}

/// The loudspeaker side: told every sample that was played, in any chunk size.
pub struct RenderReference {
    inner: apm::Processor,
    pending: Vec<i16>,
    block: Vec<f32>,
    enabled: bool,
}

impl RenderReference {
    /// `pcm` (48 kHz mono) was just handed to the loudspeaker.
    pub fn played(&mut self, mut pcm: &[i16]) {
        if !self.enabled {
            return;
        }
        while !pcm.is_empty() {
            let take = (BLOCK_SAMPLES - self.pending.len()).min(pcm.len());
            self.pending.extend_from_slice(&pcm[..take]);
            pcm = &pcm[take..];
            if self.pending.len() == BLOCK_SAMPLES {
                to_float(&self.pending, &mut self.block);
                self.pending.clear();
                // A failed reference block only weakens cancellation for 10 ms.
                let _ = self.inner.process_render_frame(&mut self.block);
            }
        }
    }

    /// Follow the capture side's echo-cancellation switch.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        self.pending.clear();
    }
}

impl Clone for RenderReference {
    /// Another handle on the same reference, for a speaker opened later or instead.
    fn clone(&self) -> Self {
        RenderReference {
            inner: self.inner.clone(),
            pending: Vec::with_capacity(BLOCK_SAMPLES),
            block: vec![0.0; BLOCK_SAMPLES],
            enabled: self.enabled,
        }
    }
}

impl std::fmt::Debug for RenderReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderReference")
            .field("enabled", &self.enabled)
            .finish()
    }
}

fn to_float(pcm: &[i16], out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = f32::from(s) / 32768.0;
    }
}

fn from_float(block: &[f32], out: &mut [i16]) {
    for (o, &s) in out.iter_mut().zip(block) {
        *o = (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_sound_leaves_the_microphone_untouched() {
        let (mut capture, mut render) = AudioProcessor::new(ProcessingSettings::original_sound())
            .unwrap()
            .split();
        let tone: Vec<i16> = (0..960)
            .map(|i| ((i as f32 / 7.0).sin() * 8000.0) as i16)
            .collect();
        render.played(&tone);
        let mut mic = tone.clone();
        capture.process(&mut mic).unwrap();
        assert_eq!(mic, tone);
    }

    #[test]
    fn frames_must_be_whole_blocks() {
        let (mut capture, _) = AudioProcessor::new(ProcessingSettings::voice())
            .unwrap()
            .split();
        let mut mic = vec![0i16; 500];
        assert_eq!(
            capture.process(&mut mic),
            Err(ProcessingError::FrameLength(500))
        );
    }

    #[test]
    fn noise_suppression_lowers_steady_noise() {
        let settings = ProcessingSettings {
            noise_suppression: true,
            ..ProcessingSettings::original_sound()
        };
        let (mut capture, _) = AudioProcessor::new(settings).unwrap().split();
        // Seeded white noise at about -30 dBFS for 3 s; compare the last second's power.
        let mut seed = 0x1234_5678u32;
        let mut power_in = 0.0f64;
        let mut power_out = 0.0f64;
        for frame in 0..150 {
            let mut mic: Vec<i16> = (0..960)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    ((seed as i32 >> 16) / 32) as i16
                })
                .collect();
            let before: f64 = mic.iter().map(|&s| f64::from(s).powi(2)).sum();
            capture.process(&mut mic).unwrap();
            if frame >= 100 {
                power_in += before;
                power_out += mic.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
            }
        }
        let reduction_db = 10.0 * (power_in / power_out.max(1.0)).log10();
        assert!(
            reduction_db > 6.0,
            "noise reduced by only {reduction_db:.1} dB"
        );
    }
}
