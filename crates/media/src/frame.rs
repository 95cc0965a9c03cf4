//! Raw media: I420 video frames and 48 kHz PCM audio frames.

/// The sample rate of all audio inside Parley.
pub const SAMPLE_RATE: u32 = 48_000;

/// An uncompressed picture in I420 (YUV 4:2:0, planar): a full-size Y plane followed by
/// quarter-size U and V planes, each without padding.
#[derive(Clone, PartialEq, Eq)]
pub struct VideoFrame {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Y, then U, then V.
    pub data: Vec<u8>,
    /// When it was captured, in microseconds on the sender's media clock.
    pub capture_us: u64,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VideoFrame({}x{} at {} µs)",
            self.width, self.height, self.capture_us
        )
    }
}

impl VideoFrame {
    /// Bytes an I420 frame of this size takes.
    pub fn i420_len(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        w * h + 2 * (w.div_ceil(2) * h.div_ceil(2))
    }

    /// A black frame.
    pub fn black(width: u32, height: u32) -> Self {
        let luma = (width * height) as usize;
        let mut data = vec![16u8; Self::i420_len(width, height)];
        data[luma..].fill(128);
        VideoFrame {
            width,
            height,
            data,
            capture_us: 0,
        }
    }

    /// The Y plane.
    pub fn y(&self) -> &[u8] {
        &self.data[..(self.width * self.height) as usize]
    }

    /// The Y plane, writable.
    pub fn y_mut(&mut self) -> &mut [u8] {
        let n = (self.width * self.height) as usize;
        &mut self.data[..n]
    }

    /// The U and V planes, writable.
    pub fn uv_mut(&mut self) -> (&mut [u8], &mut [u8]) {
        let n = (self.width * self.height) as usize;
        let c = (self.width.div_ceil(2) * self.height.div_ceil(2)) as usize;
        let (u, v) = self.data[n..].split_at_mut(c);
        (u, &mut v[..c])
    }

    /// This picture at half its width and height (each rounded down to an even number;
    /// `None` below 2×2): every output pixel the mean of a 2×2 block, as a simulcast
    /// sender's smaller layers are made. Same capture time.
    pub fn halved(&self) -> Option<VideoFrame> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (ow, oh) = ((w / 2) & !1, (h / 2) & !1);
        if ow == 0 || oh == 0 || self.data.len() < Self::i420_len(self.width, self.height) {
            return None;
        }
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (ocw, och) = (ow / 2, oh / 2);
        let mut data = Vec::with_capacity(Self::i420_len(ow as u32, oh as u32));
        let planes = [
            (&self.data[..w * h], w, ow, oh),
            (&self.data[w * h..w * h + cw * ch], cw, ocw, och),
            (
                &self.data[w * h + cw * ch..w * h + 2 * cw * ch],
                cw,
                ocw,
                och,
            ),
        ];
        for (plane, stride, out_w, out_h) in planes {
            for y in 0..out_h {
                let top = &plane[2 * y * stride..][..2 * out_w];
                let bottom = &plane[(2 * y + 1) * stride..][..2 * out_w];
                data.extend(
                    top.chunks_exact(2)
                        .zip(bottom.chunks_exact(2))
                        .map(|(t, b)| {
                            let sum = u16::from(t[0])
                                + u16::from(t[1])
                                + u16::from(b[0])
                                + u16::from(b[1]);
                            ((sum + 2) / 4) as u8
                        }),
                );
            }
        }
        Some(VideoFrame {
            width: ow as u32,
            height: oh as u32,
            data,
            capture_us: self.capture_us,
        })
    }
}

/// 20 ms (or another length) of mono 16-bit PCM at [`SAMPLE_RATE`].
#[derive(Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// The samples.
    pub samples: Vec<i16>,
    /// When the first sample was captured, in microseconds on the sender's media clock.
    pub capture_us: u64,
}

impl AudioFrame {
    /// How loud this frame is, as the RFC 6464 audio level: its RMS in -dBov, from 0 (full
    /// scale) to 127 (silence, and anything quieter than -127 dBov).
    pub fn level(&self) -> u8 {
        if self.samples.is_empty() {
            return 127;
        }
        let energy: f64 = self
            .samples
            .iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            / self.samples.len() as f64;
        let rms = energy.sqrt() / 32768.0;
        if rms <= 0.0 {
            return 127;
        }
        let dbov = 20.0 * rms.log10();
        (-dbov).round().clamp(0.0, 127.0) as u8
    }
}

impl std::fmt::Debug for AudioFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AudioFrame({} samples at {} µs)",
            self.samples.len(),
            self.capture_us
        )
    }
}

#[cfg(test)]
mod level_tests {
    use super::AudioFrame;

    fn tone(amplitude: f64) -> AudioFrame {
        AudioFrame {
            samples: (0..960)
                .map(|i| (amplitude * (f64::from(i) * 0.1).sin()) as i16)
                .collect(),
            capture_us: 0,
        }
    }

    #[test]
    fn the_level_follows_loudness_in_dbov() {
        // A full-scale sine has an RMS of -3 dBov; each tenth of the amplitude is 20 dB less.
        assert_eq!(tone(32767.0).level(), 3);
        assert_eq!(tone(3276.7).level(), 23);
        assert_eq!(tone(327.67).level(), 43);
        assert_eq!(tone(0.0).level(), 127);
        let none = AudioFrame {
            samples: Vec::new(),
            capture_us: 0,
        };
        assert_eq!(none.level(), 127);
        // One LSB of noise is about -90 dBov: quiet, but not silence.
        let lsb = AudioFrame {
            samples: vec![1; 960],
            capture_us: 0,
        };
        assert_eq!(lsb.level(), 90);
    }
}

#[cfg(test)]
mod halved_tests {
    use super::VideoFrame;

    #[test]
    fn a_halved_picture_averages_each_two_by_two_block() {
        // 6×6: Y rows 0..6 each hold their row number times 10, plus the column; U all 100,
        // V all 200.
        let (w, h) = (6u32, 6u32);
        let mut f = VideoFrame::black(w, h);
        f.capture_us = 42;
        for y in 0..6 {
            for x in 0..6 {
                f.y_mut()[y * 6 + x] = (y * 10 + x) as u8;
            }
        }
        let (u, v) = f.uv_mut();
        u.fill(100);
        v.fill(200);
        let half = f.halved().unwrap();
        // 6/2 = 3, rounded down to even: 2×2.
        assert_eq!((half.width, half.height), (2, 2));
        assert_eq!(half.capture_us, 42);
        assert_eq!(half.data.len(), VideoFrame::i420_len(2, 2));
        // Block (0,0): 0,1,10,11 → 5.5 → 6; block (1,0): 2,3,12,13 → 7.5 → 8.
        assert_eq!(&half.data[..4], &[6, 8, 26, 28]);
        assert_eq!(half.data[4], 100);
        assert_eq!(half.data[5], 200);
        // 1280×720 → 640×360 → 320×180, the sizes of a simulcast sender's layers.
        let big = VideoFrame::black(1280, 720).halved().unwrap();
        assert_eq!((big.width, big.height), (640, 360));
        let small = big.halved().unwrap();
        assert_eq!((small.width, small.height), (320, 180));
        assert!(VideoFrame::black(2, 2).halved().is_none());
    }
}
