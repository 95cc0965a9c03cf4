//! Where end-to-end encryption meets the media pipeline: the transform every encoded frame
//! passes through on its way out and in.

/// Whether a frame is audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// An Opus packet.
    Audio,
    /// A VP8 frame.
    Video,
}

/// Where end-to-end encryption plugs in: every encoded frame passes through [`seal`] after the
/// encoder and before packetisation, and every received frame through [`open`] after
/// depacketisation and before the decoder. The SFU forwards what comes out of `seal` without
/// looking inside (it needs no more than the RTP headers).
///
/// [`seal`]: FrameTransform::seal
/// [`open`]: FrameTransform::open
pub trait FrameTransform: Send + Sync {
    /// Transform an outgoing frame; `None` drops it (no key to send with yet: a frame is
    /// never sent in the clear instead).
    fn seal(&self, kind: FrameKind, frame: Vec<u8>) -> Option<Vec<u8>>;
    /// Undo [`FrameTransform::seal`] for a frame from `sender` (their stream id). A frame
    /// that cannot be opened is dropped and counted, with the reason, by the call.
    fn open(&self, kind: FrameKind, sender: &str, frame: Vec<u8>) -> Result<Vec<u8>, OpenError>;
    /// A number that changes whenever the keys [`FrameTransform::open`] uses do. A receiver
    /// that cannot open a sender's frames asks for a keyframe once the keys change, and only
    /// rarely while they do not (a keyframe sealed with keys it lacks helps nobody).
    fn key_generation(&self) -> u64 {
        0
    }
}

/// Why a received frame could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// No key for it yet (the group change that brings it has not arrived).
    WaitingForKeys,
    /// It failed authentication or does not parse; the reason is for a person.
    Rejected(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::WaitingForKeys => f.write_str("can't decrypt — waiting for keys"),
            OpenError::Rejected(why) => write!(f, "can't decrypt — {why}"),
        }
    }
}

/// No encryption at all: only for load bots measuring the SFU, never for a meeting.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl FrameTransform for Plain {
    fn seal(&self, _: FrameKind, frame: Vec<u8>) -> Option<Vec<u8>> {
        Some(frame)
    }
    fn open(&self, _: FrameKind, _: &str, frame: Vec<u8>) -> Result<Vec<u8>, OpenError> {
        Ok(frame)
    }
}
