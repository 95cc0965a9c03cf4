//! Opus through libopus: 48 kHz mono, 20 ms frames, in-band FEC on, DTX available; a decoder
//! that conceals lost packets and can recover one from the next packet's FEC data.

use crate::frame::{AudioFrame, SAMPLE_RATE};
use crate::vp8::CodecError;

/// Samples in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE / 50) as usize;
/// Largest Opus packet we produce or accept.
pub const MAX_PACKET: usize = 1500;

fn opus_err(e: opus::Error) -> CodecError {
    CodecError::Library(e.to_string())
}

/// Encoder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    /// Target bitrate in bit/s.
    pub bitrate: i32,
    /// Expected packet loss in percent (tunes FEC).
    pub expected_loss_pct: i32,
    /// Stop sending during silence (discontinuous transmission).
    pub dtx: bool,
    /// Encoder complexity 0–10.
    pub complexity: i32,
}

impl Default for OpusConfig {
    fn default() -> Self {
        OpusConfig {
            bitrate: 32_000,
            expected_loss_pct: 10,
            dtx: false,
            complexity: 10,
        }
    }
}

/// An Opus encoder for speech (VoIP application).
pub struct OpusEncoder {
    enc: opus::Encoder,
}

// SAFETY: libopus state is only reached through `&mut self` (no `&self` method exists), so a
// shared reference cannot race.
unsafe impl Sync for OpusEncoder {}

impl OpusEncoder {
    /// An encoder with `config`.
    pub fn new(config: &OpusConfig) -> Result<Self, CodecError> {
        let mut enc =
            opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)
                .map_err(opus_err)?;
        enc.set_bitrate(opus::Bitrate::Bits(config.bitrate))
            .map_err(opus_err)?;
        enc.set_inband_fec(true).map_err(opus_err)?;
        enc.set_packet_loss_perc(config.expected_loss_pct.clamp(0, 100))
            .map_err(opus_err)?;
        enc.set_dtx(config.dtx).map_err(opus_err)?;
        enc.set_complexity(config.complexity.clamp(0, 10))
            .map_err(opus_err)?;
        Ok(OpusEncoder { enc })
    }

    /// Change the bitrate (bit/s).
    pub fn set_bitrate(&mut self, bitrate: i32) -> Result<(), CodecError> {
        self.enc
            .set_bitrate(opus::Bitrate::Bits(bitrate))
            .map_err(opus_err)
    }

    /// Tune in-band FEC for this much packet loss, in percent (libopus spends more of the
    /// bitrate on the redundant copy of the previous frame as it grows).
    pub fn set_expected_loss(&mut self, pct: i32) -> Result<(), CodecError> {
        self.enc
            .set_packet_loss_perc(pct.clamp(0, 100))
            .map_err(opus_err)
    }

    /// The packet loss in percent that in-band FEC is tuned for.
    pub fn expected_loss(&mut self) -> Result<i32, CodecError> {
        self.enc.get_packet_loss_perc().map_err(opus_err)
    }

    /// Encode exactly one 20 ms frame ([`FRAME_SAMPLES`] samples).
    pub fn encode(&mut self, frame: &AudioFrame) -> Result<Vec<u8>, CodecError> {
        if frame.samples.len() != FRAME_SAMPLES {
            return Err(CodecError::Config(format!(
                "an Opus frame is {FRAME_SAMPLES} samples, got {}",
                frame.samples.len()
            )));
        }
        let mut out = vec![0u8; MAX_PACKET];
        let n = self
            .enc
            .encode(&frame.samples, &mut out)
            .map_err(opus_err)?;
        out.truncate(n);
        Ok(out)
    }
}

/// An Opus decoder.
pub struct OpusDecoder {
    dec: opus::Decoder,
}

// SAFETY: libopus state is only reached through `&mut self` (no `&self` method exists).
unsafe impl Sync for OpusDecoder {}

impl OpusDecoder {
    /// A decoder.
    pub fn new() -> Result<Self, CodecError> {
        Ok(OpusDecoder {
            dec: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).map_err(opus_err)?,
        })
    }

    /// Decode one packet (untrusted bytes) into 20 ms of samples.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, CodecError> {
        if packet.is_empty() || packet.len() > MAX_PACKET {
            return Err(CodecError::Corrupt(format!("{} bytes", packet.len())));
        }
        self.run(packet, false, FRAME_SAMPLES * 6)
    }

    /// 20 ms of concealment for a packet that never came.
    pub fn conceal(&mut self) -> Result<Vec<i16>, CodecError> {
        self.run(&[], false, FRAME_SAMPLES)
    }

    /// Recover the packet before `next` from `next`'s in-band FEC data.
    pub fn recover_from(&mut self, next: &[u8]) -> Result<Vec<i16>, CodecError> {
        if next.is_empty() || next.len() > MAX_PACKET {
            return Err(CodecError::Corrupt(format!("{} bytes", next.len())));
        }
        self.run(next, true, FRAME_SAMPLES)
    }

    /// Decode into at most `max` samples (a packet may hold up to 120 ms; concealment and FEC
    /// produce exactly the buffer's length, one 20 ms frame).
    fn run(&mut self, packet: &[u8], fec: bool, max: usize) -> Result<Vec<i16>, CodecError> {
        let mut out = vec![0i16; max];
        let n = self
            .dec
            .decode(packet, &mut out, fec)
            .map_err(|e| CodecError::Corrupt(e.to_string()))?;
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::AudioSource;
    use crate::tone::{Tone, power_at};

    fn tone_through_opus(freq: f64, lose: &[usize]) -> Vec<i16> {
        let mut src = Tone::new(freq, 0.3);
        let mut enc = OpusEncoder::new(&OpusConfig::default()).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let packets: Vec<Vec<u8>> = (0..50)
            .map(|i| {
                let f = src.next_frame(i * 20_000, FRAME_SAMPLES).unwrap();
                enc.encode(&f).unwrap()
            })
            .collect();
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let pcm = if lose.contains(&i) {
                match packets.get(i + 1) {
                    Some(next) if !lose.contains(&(i + 1)) => dec.recover_from(next).unwrap(),
                    _ => dec.conceal().unwrap(),
                }
            } else {
                dec.decode(p).unwrap()
            };
            assert_eq!(pcm.len(), FRAME_SAMPLES);
            out.extend(pcm);
        }
        out
    }

    #[test]
    fn a_tone_keeps_its_pitch_through_opus() {
        let out = tone_through_opus(440.0, &[]);
        // Skip the codec's start-up.
        let steady = &out[FRAME_SAMPLES * 5..];
        let at = power_at(steady, 440.0);
        let off = power_at(steady, 660.0);
        assert!(at > 0.005, "{at}");
        assert!(at > 50.0 * off, "{at} vs {off}");
    }

    #[test]
    fn lost_packets_are_filled_not_silent() {
        let out = tone_through_opus(600.0, &[20, 30, 31]);
        for lost in [20usize, 30, 31] {
            let frame = &out[lost * FRAME_SAMPLES..(lost + 1) * FRAME_SAMPLES];
            let (p, other) = (power_at(frame, 600.0), power_at(frame, 900.0));
            assert!(
                p > 0.0002 && p > 10.0 * other,
                "frame {lost} was concealed or recovered with the tone: {p} at 600 Hz, {other} at 900 Hz"
            );
        }
    }

    #[test]
    fn hostile_packets_are_typed_errors() {
        let mut dec = OpusDecoder::new().unwrap();
        assert!(matches!(dec.decode(&[]), Err(CodecError::Corrupt(_))));
        assert!(matches!(
            dec.decode(&[0u8; 5000]),
            Err(CodecError::Corrupt(_))
        ));
        // Random bytes either decode to something or are refused; never a crash.
        for seed in 0..200u32 {
            let bytes: Vec<u8> = (0..(seed % 60 + 1))
                .map(|i| (seed.wrapping_mul(2_654_435_761).wrapping_add(i * 97) >> 7) as u8)
                .collect();
            let _ = dec.decode(&bytes);
        }
        let mut enc = OpusEncoder::new(&OpusConfig::default()).unwrap();
        let short = AudioFrame {
            samples: vec![0; 100],
            capture_us: 0,
        };
        assert!(matches!(enc.encode(&short), Err(CodecError::Config(_))));
    }
}
