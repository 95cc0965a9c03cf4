//! # parley-media
//!
//! Media for Parley, knowing nothing of networks or windows: where pictures and sound come from
//! ([`source`]: the [`VideoSource`] and [`AudioSource`] traits; [`pattern::TestPattern`] and
//! [`tone::Tone`] are the synthetic camera and microphone that make tests possible without
//! devices), and the codecs ([`vp8`] through libvpx, [`audio_codec`] for Opus through libopus).
//!
//! The computer's own devices are sources and sinks like the synthetic ones:
//! [`camera::Camera`] (nokhwa; frames converted to I420 by [`convert`]) is a [`VideoSource`],
//! [`audio_device::Microphone`] (cpal, resampled to 48 kHz by [`resample`], cleaned by
//! [`processing`]: echo cancellation, noise suppression, gain control) is an [`AudioSource`],
//! and [`audio_device::Speaker`] plays a [`mixer::Mixer`] of everyone else, each at their own
//! volume. [`meter::LevelMeter`] shows how loud the microphone is.
//!
//! A sender pulls a frame from its source at the time the driver chooses, encodes it, and
//! hands the encoded bytes on (frame encryption sits between encoder and packetiser). A
//! receiver decodes what arrives; [`pattern::read_stamp`] reads back which test frame it was
//! and when it was captured, and [`tone::power_at`] tells which tone it hears.
//!
//! ```
//! use parley_media::{VideoSource, pattern::{TestPattern, read_stamp}, vp8::{Vp8Config, Vp8Encoder, Vp8Decoder}};
//! let mut camera = TestPattern::new(320, 180, 1);
//! let mut enc = Vp8Encoder::new(Vp8Config::realtime(320, 180, 300))?;
//! let mut dec = Vp8Decoder::new()?;
//! let frame = camera.next_frame(0).unwrap();
//! let encoded = enc.encode(&frame, false)?;
//! let shown = dec.decode(&encoded[0].data)?.unwrap();
//! assert_eq!(read_stamp(&shown).unwrap().seq, 0);
//! # Ok::<(), parley_media::vp8::CodecError>(())
//! ```

pub mod assembler;
pub mod audio_buffer;
pub mod audio_codec;
pub mod audio_device;
pub mod camera;
pub mod convert;
pub mod dump;
pub mod frame;
pub mod jitter;
pub mod meter;
pub mod mixer;
pub mod pattern;
pub mod processing;
pub mod resample;
pub mod screen;
pub mod source;
pub mod tone;
pub mod vp8;

pub use frame::{AudioFrame, SAMPLE_RATE, VideoFrame};
pub use source::{AudioSource, SourceError, VideoSource};
