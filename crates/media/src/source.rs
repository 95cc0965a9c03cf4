//! Where media comes from. Real devices (camera, microphone) and synthetic sources (test
//! pattern, tone) are the same to the rest of Parley: something that hands out frames.
//!
//! Sources are pulled: the caller decides when the next frame is due and passes its capture
//! time, so tests run faster than real time and the driver owns the clock.

use crate::frame::{AudioFrame, VideoFrame};

/// Why a source could not produce a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The device is gone (unplugged) or was closed.
    #[error("the device is no longer available")]
    Gone,
    /// The device is busy or failed; the message says how.
    #[error("the device failed: {0}")]
    Failed(String),
}

/// Something that produces pictures.
pub trait VideoSource: Send {
    /// Frame width and height.
    fn size(&self) -> (u32, u32);
    /// The next picture, captured at `capture_us` on the media clock.
    fn next_frame(&mut self, capture_us: u64) -> Result<VideoFrame, SourceError>;
}

/// Something that produces sound: mono, 48 kHz.
pub trait AudioSource: Send {
    /// The next `samples` samples, the first captured at `capture_us`.
    fn next_frame(&mut self, capture_us: u64, samples: usize) -> Result<AudioFrame, SourceError>;
    /// What happened that the user should be told (a device switched to another), oldest
    /// first; taking them clears them.
    fn notices(&mut self) -> Vec<String> {
        Vec::new()
    }
}
