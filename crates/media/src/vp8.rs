//! VP8 through libvpx: a realtime, error-resilient encoder whose bitrate can change on the fly
//! and which makes a keyframe on request, and a decoder that treats its input as hostile.

use std::mem::MaybeUninit;
use std::ptr;

use vpx_sys as vpx;

use crate::frame::VideoFrame;

/// RTP's video clock: 90 kHz. Encoder timestamps use it.
pub const VIDEO_CLOCK_HZ: u64 = 90_000;
/// Largest encoded frame accepted by the decoder (a 4K keyframe at high quality fits).
pub const MAX_ENCODED_FRAME: usize = 4 * 1024 * 1024;
/// Largest picture the decoder accepts, in pixels per side.
pub const MAX_DIMENSION: u32 = 4096;

/// What went wrong in a codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The settings cannot be used (size, bitrate…).
    #[error("invalid codec settings: {0}")]
    Config(String),
    /// The frame does not match the encoder (size).
    #[error("the frame is {got_w}x{got_h} but the encoder was set up for {want_w}x{want_h}")]
    FrameSize {
        /// Frame width.
        got_w: u32,
        /// Frame height.
        got_h: u32,
        /// Encoder width.
        want_w: u32,
        /// Encoder height.
        want_h: u32,
    },
    /// The encoded data is corrupt, truncated or too large; the decoder skipped it.
    #[error("the encoded frame could not be decoded: {0}")]
    Corrupt(String),
    /// libvpx or libopus reported an error.
    #[error("codec library error: {0}")]
    Library(String),
}

fn vpx_error(code: vpx::vpx_codec_err_t) -> String {
    // SAFETY: vpx_codec_err_to_string returns a pointer to a static NUL-terminated string.
    unsafe {
        let s = vpx::vpx_codec_err_to_string(code);
        if s.is_null() {
            format!("{code:?}")
        } else {
            std::ffi::CStr::from_ptr(s).to_string_lossy().into_owned()
        }
    }
}

fn check(code: vpx::vpx_codec_err_t) -> Result<(), CodecError> {
    if code == vpx::vpx_codec_err_t::VPX_CODEC_OK {
        Ok(())
    } else {
        Err(CodecError::Library(vpx_error(code)))
    }
}

/// Encoder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp8Config {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Target bitrate in kbit/s.
    pub bitrate_kbps: u32,
    /// Frames per second the caller will feed.
    pub fps: u32,
    /// libvpx speed: -16 (fastest) … -1; -6 is a good realtime default on a laptop.
    pub cpu_used: i32,
    /// Longest gap between keyframes, in frames.
    pub keyframe_interval: u32,
    /// Encoder threads.
    pub threads: u32,
}

impl Vp8Config {
    /// Realtime defaults for a `width`×`height` stream at `bitrate_kbps`.
    pub fn realtime(width: u32, height: u32, bitrate_kbps: u32) -> Self {
        Vp8Config {
            width,
            height,
            bitrate_kbps,
            fps: 30,
            cpu_used: -6,
            keyframe_interval: 3000,
            threads: 1,
        }
    }
}

/// One encoded VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The VP8 bitstream of the frame.
    pub data: Vec<u8>,
    /// Whether it is a keyframe (decodable on its own).
    pub keyframe: bool,
    /// Its timestamp on the 90 kHz clock.
    pub timestamp: u64,
}

/// A VP8 encoder.
pub struct Vp8Encoder {
    // Boxed: libvpx keeps pointers into the context, so it must not move.
    ctx: Box<vpx::vpx_codec_ctx_t>,
    cfg: vpx::vpx_codec_enc_cfg_t,
    config: Vp8Config,
    last_pts: Option<i64>,
}

// SAFETY: the libvpx context is owned by this value and only used through `&mut self`; no
// `&self` method touches it, so sharing `&Vp8Encoder` between threads cannot race.
unsafe impl Send for Vp8Encoder {}
// SAFETY: as above.
unsafe impl Sync for Vp8Encoder {}

impl Vp8Encoder {
    /// An encoder with `config`.
    pub fn new(config: Vp8Config) -> Result<Self, CodecError> {
        let Vp8Config {
            width,
            height,
            bitrate_kbps,
            fps,
            ..
        } = config;
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(CodecError::Config(format!(
                "size {width}x{height} must be even and non-zero"
            )));
        }
        if width > MAX_DIMENSION || height > MAX_DIMENSION || bitrate_kbps == 0 || fps == 0 {
            return Err(CodecError::Config(format!(
                "{width}x{height} at {bitrate_kbps} kbit/s, {fps} fps is out of range"
            )));
        }
        // SAFETY: plain FFI calls with pointers to live, properly sized values; the context is
        // zeroed before init as libvpx expects and boxed so it never moves afterwards.
        unsafe {
            let iface = vpx::vpx_codec_vp8_cx();
            let mut cfg = MaybeUninit::<vpx::vpx_codec_enc_cfg_t>::zeroed();
            check(vpx::vpx_codec_enc_config_default(
                iface,
                cfg.as_mut_ptr(),
                0,
            ))?;
            let mut cfg = cfg.assume_init();
            cfg.g_w = width;
            cfg.g_h = height;
            cfg.g_timebase = vpx::vpx_rational {
                num: 1,
                den: VIDEO_CLOCK_HZ as i32,
            };
            cfg.g_threads = config.threads.max(1);
            cfg.g_error_resilient = vpx::VPX_ERROR_RESILIENT_DEFAULT;
            cfg.g_lag_in_frames = 0;
            cfg.rc_end_usage = vpx::vpx_rc_mode::VPX_CBR;
            cfg.rc_target_bitrate = bitrate_kbps;
            cfg.rc_min_quantizer = 2;
            cfg.rc_max_quantizer = 56;
            cfg.rc_undershoot_pct = 100;
            cfg.rc_overshoot_pct = 15;
            cfg.rc_buf_sz = 1000;
            cfg.rc_buf_initial_sz = 500;
            cfg.rc_buf_optimal_sz = 600;
            // Skip a frame rather than overshoot when the buffer runs low (the bitrate fell).
            cfg.rc_dropframe_thresh = 30;
            cfg.kf_mode = vpx::vpx_kf_mode::VPX_KF_AUTO;
            cfg.kf_max_dist = config.keyframe_interval.max(1);
            let mut ctx: Box<vpx::vpx_codec_ctx_t> = Box::new(MaybeUninit::zeroed().assume_init());
            check(vpx::vpx_codec_enc_init_ver(
                &mut *ctx,
                iface,
                &cfg,
                0,
                vpx::VPX_ENCODER_ABI_VERSION as i32,
            ))?;
            let mut enc = Vp8Encoder {
                ctx,
                cfg,
                config,
                last_pts: None,
            };
            enc.control(
                vpx::vp8e_enc_control_id::VP8E_SET_CPUUSED,
                enc.config.cpu_used,
            )?;
            enc.control(vpx::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY, 0)?;
            enc.control(vpx::vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD, 1)?;
            // A keyframe may be at most half the optimal buffer (as libwebrtc sets it): at
            // 30 fps, 9 average frames. Bigger ones sit in the pacer and delay everything.
            let max_intra_pct = 600 / 2 * enc.config.fps / 10;
            enc.control(
                vpx::vp8e_enc_control_id::VP8E_SET_MAX_INTRA_BITRATE_PCT,
                max_intra_pct.max(300) as i32,
            )?;
            Ok(enc)
        }
    }

    fn control(&mut self, id: vpx::vp8e_enc_control_id, value: i32) -> Result<(), CodecError> {
        // SAFETY: the context is initialised; these controls take one int.
        check(unsafe { vpx::vpx_codec_control_(&mut *self.ctx, id as i32, value) })
    }

    /// The settings in use.
    pub fn config(&self) -> &Vp8Config {
        &self.config
    }

    /// Change the target bitrate (congestion control calls this); takes effect at once.
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), CodecError> {
        if kbps == 0 {
            return Err(CodecError::Config("bitrate must be above 0".into()));
        }
        self.cfg.rc_target_bitrate = kbps;
        // SAFETY: the context is initialised and cfg is a valid configuration for it.
        check(unsafe { vpx::vpx_codec_enc_config_set(&mut *self.ctx, &self.cfg) })?;
        self.config.bitrate_kbps = kbps;
        Ok(())
    }

    /// Encode one frame; `keyframe` forces a keyframe (a receiver asked for one).
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        keyframe: bool,
    ) -> Result<Vec<EncodedFrame>, CodecError> {
        let (w, h) = (self.config.width, self.config.height);
        if frame.width != w || frame.height != h || frame.data.len() != VideoFrame::i420_len(w, h) {
            return Err(CodecError::FrameSize {
                got_w: frame.width,
                got_h: frame.height,
                want_w: w,
                want_h: h,
            });
        }
        // Timestamps must increase; a capture clock that stalls is nudged forward.
        let mut pts =
            (u128::from(frame.capture_us) * u128::from(VIDEO_CLOCK_HZ) / 1_000_000) as i64;
        if let Some(last) = self.last_pts
            && pts <= last
        {
            pts = last + 1;
        }
        self.last_pts = Some(pts);
        let duration = VIDEO_CLOCK_HZ / u64::from(self.config.fps);
        let flags = if keyframe {
            vpx::VPX_EFLAG_FORCE_KF as i64
        } else {
            0
        };
        let mut out = Vec::new();
        // SAFETY: `img` wraps `frame.data`, which is exactly one I420 picture of w×h (checked
        // above) and outlives the encode call; libvpx only reads from it. Packets returned by
        // get_cx_data stay valid until the next encode call, and are copied before that.
        unsafe {
            let mut img = MaybeUninit::<vpx::vpx_image_t>::zeroed();
            let wrapped = vpx::vpx_img_wrap(
                img.as_mut_ptr(),
                vpx::vpx_img_fmt::VPX_IMG_FMT_I420,
                w,
                h,
                1,
                frame.data.as_ptr() as *mut u8,
            );
            if wrapped.is_null() {
                return Err(CodecError::Library("vpx_img_wrap failed".into()));
            }
            check(vpx::vpx_codec_encode(
                &mut *self.ctx,
                wrapped,
                pts,
                duration,
                flags,
                vpx::VPX_DL_REALTIME as _,
            ))?;
            let mut iter: vpx::vpx_codec_iter_t = ptr::null();
            loop {
                let pkt = vpx::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter);
                if pkt.is_null() {
                    break;
                }
                if (*pkt).kind == vpx::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                    let f = (*pkt).data.frame;
                    let data =
                        std::slice::from_raw_parts(f.buf as *const u8, f.sz as usize).to_vec();
                    out.push(EncodedFrame {
                        data,
                        keyframe: f.flags & vpx::VPX_FRAME_IS_KEY != 0,
                        timestamp: f.pts as u64,
                    });
                }
            }
        }
        Ok(out)
    }
}

impl Drop for Vp8Encoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised in `new` and is destroyed once.
        unsafe {
            vpx::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// A VP8 decoder.
pub struct Vp8Decoder {
    ctx: Box<vpx::vpx_codec_ctx_t>,
}

// SAFETY: the libvpx context is owned by this value and only used through `&mut self`; no
// `&self` method touches it.
unsafe impl Send for Vp8Decoder {}
// SAFETY: as above.
unsafe impl Sync for Vp8Decoder {}

impl Vp8Decoder {
    /// A decoder.
    pub fn new() -> Result<Self, CodecError> {
        // SAFETY: the context is zeroed, boxed (never moves) and initialised once.
        unsafe {
            let mut ctx: Box<vpx::vpx_codec_ctx_t> = Box::new(MaybeUninit::zeroed().assume_init());
            let cfg = vpx::vpx_codec_dec_cfg_t {
                threads: 1,
                w: 0,
                h: 0,
            };
            check(vpx::vpx_codec_dec_init_ver(
                &mut *ctx,
                vpx::vpx_codec_vp8_dx(),
                &cfg,
                0,
                vpx::VPX_DECODER_ABI_VERSION as i32,
            ))?;
            Ok(Vp8Decoder { ctx })
        }
    }

    /// Decode one encoded frame (untrusted bytes). `Ok(None)` if it produced no picture.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<VideoFrame>, CodecError> {
        if data.is_empty() || data.len() > MAX_ENCODED_FRAME {
            return Err(CodecError::Corrupt(format!("{} bytes", data.len())));
        }
        // SAFETY: `data` is a live slice whose length fits in u32 (bounded above). The image
        // returned by get_frame is owned by the decoder and valid until the next decode call;
        // its planes are copied out, reading only within d_w×d_h and the plane strides.
        unsafe {
            let code = vpx::vpx_codec_decode(
                &mut *self.ctx,
                data.as_ptr(),
                data.len() as u32,
                ptr::null_mut(),
                0,
            );
            if code != vpx::vpx_codec_err_t::VPX_CODEC_OK {
                return Err(CodecError::Corrupt(vpx_error(code)));
            }
            let mut iter: vpx::vpx_codec_iter_t = ptr::null();
            let img = vpx::vpx_codec_get_frame(&mut *self.ctx, &mut iter);
            if img.is_null() {
                return Ok(None);
            }
            let img = &*img;
            let (w, h) = (img.d_w, img.d_h);
            if img.fmt != vpx::vpx_img_fmt::VPX_IMG_FMT_I420
                || w == 0
                || h == 0
                || w > MAX_DIMENSION
                || h > MAX_DIMENSION
            {
                return Err(CodecError::Corrupt(format!(
                    "unexpected picture {w}x{h} {:?}",
                    img.fmt
                )));
            }
            let mut frame = VideoFrame {
                width: w,
                height: h,
                data: Vec::with_capacity(VideoFrame::i420_len(w, h)),
                capture_us: 0,
            };
            let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
            for (plane, pw, ph) in [(0, w as usize, h as usize), (1, cw, ch), (2, cw, ch)] {
                let stride = img.stride[plane] as usize;
                let base = img.planes[plane] as *const u8;
                for row in 0..ph {
                    let line = std::slice::from_raw_parts(base.add(row * stride), pw);
                    frame.data.extend_from_slice(line);
                }
            }
            Ok(Some(frame))
        }
    }
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised in `new` and is destroyed once.
        unsafe {
            vpx::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{TestPattern, read_stamp};
    use crate::source::VideoSource;

    #[test]
    fn pattern_survives_encode_and_decode_with_its_stamps() {
        let mut src = TestPattern::new(640, 360, 7);
        let mut enc = Vp8Encoder::new(Vp8Config::realtime(640, 360, 800)).unwrap();
        let mut dec = Vp8Decoder::new().unwrap();
        let mut read = 0;
        for i in 0..30u64 {
            let f = src.next_frame(i * 33_333).unwrap();
            for e in enc.encode(&f, false).unwrap() {
                if i == 0 {
                    assert!(e.keyframe, "the first frame is a keyframe");
                }
                let d = dec.decode(&e.data).unwrap().expect("a picture");
                assert_eq!((d.width, d.height), (640, 360));
                let stamp = read_stamp(&d).expect("the block code survives VP8");
                assert_eq!(u64::from(stamp.seq), i);
                assert_eq!(u64::from(stamp.capture_ms), i * 33_333 / 1000);
                read += 1;
            }
        }
        assert_eq!(read, 30);
    }

    #[test]
    fn keyframes_come_on_request() {
        let mut src = TestPattern::new(320, 180, 1);
        let mut enc = Vp8Encoder::new(Vp8Config::realtime(320, 180, 300)).unwrap();
        let mut kinds = Vec::new();
        for i in 0..10u64 {
            let f = src.next_frame(i * 33_333).unwrap();
            for e in enc.encode(&f, i == 6).unwrap() {
                kinds.push(e.keyframe);
            }
        }
        assert_eq!(
            kinds,
            vec![
                true, false, false, false, false, false, true, false, false, false
            ]
        );
    }

    /// A frame of fresh noise: more detail than any bitrate can carry, so rate control shows.
    fn noise(i: u64) -> VideoFrame {
        let mut f = VideoFrame::black(640, 360);
        let mut x = (i as u32).wrapping_mul(2_654_435_761) | 1;
        for p in f.y_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *p = 100 + (x >> 28) as u8 * 4;
        }
        f.capture_us = i * 33_333;
        f
    }

    #[test]
    fn a_lower_bitrate_makes_smaller_frames() {
        let mut enc = Vp8Encoder::new(Vp8Config::realtime(640, 360, 2000)).unwrap();
        let bytes = |enc: &mut Vp8Encoder, from: u64| -> usize {
            (from..from + 30)
                .map(|i| {
                    let f = noise(i);
                    enc.encode(&f, false)
                        .unwrap()
                        .iter()
                        .map(|e| e.data.len())
                        .sum::<usize>()
                })
                .sum()
        };
        let high = bytes(&mut enc, 0);
        enc.set_bitrate(150).unwrap();
        bytes(&mut enc, 30); // let rate control settle
        let low = bytes(&mut enc, 60);
        assert!(low * 2 < high, "high {high} B, low {low} B per second");
    }

    #[test]
    fn wrong_sizes_and_corrupt_input_are_typed_errors() {
        assert!(matches!(
            Vp8Encoder::new(Vp8Config::realtime(641, 360, 500)),
            Err(CodecError::Config(_))
        ));
        let mut enc = Vp8Encoder::new(Vp8Config::realtime(320, 180, 300)).unwrap();
        let wrong = TestPattern::new(640, 360, 1).draw(0, 0);
        assert!(matches!(
            enc.encode(&wrong, false),
            Err(CodecError::FrameSize { .. })
        ));
        let mut dec = Vp8Decoder::new().unwrap();
        assert!(matches!(dec.decode(&[]), Err(CodecError::Corrupt(_))));
        assert!(matches!(
            dec.decode(&[0xff; 100]),
            Err(CodecError::Corrupt(_))
        ));
        // After garbage, a real keyframe still decodes.
        let f = TestPattern::new(320, 180, 1).draw(0, 0);
        let e = enc.encode(&f, true).unwrap().remove(0);
        assert!(dec.decode(&e.data).unwrap().is_some());
    }
}
