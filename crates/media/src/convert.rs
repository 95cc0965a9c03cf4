//! Camera frames to I420.
//!
//! A camera delivers its frames in the [`PixelFormat`] it was opened with; the rest of Parley
//! works on [`VideoFrame`]s in I420. Call [`to_i420`] for a new frame, or [`to_i420_into`] in the
//! capture loop to convert into the same frame every time and keep its allocation:
//!
//! ```
//! use parley_media::VideoFrame;
//! use parley_media::convert::{PixelFormat, to_i420_into};
//! // One 2x2 YUYV frame: two rows of Y0 U Y1 V.
//! let yuyv = [50, 100, 60, 200, 70, 110, 80, 210];
//! let mut frame = VideoFrame::black(2, 2);
//! to_i420_into(PixelFormat::Yuyv, &yuyv, 2, 2, 33_333, &mut frame)?;
//! assert_eq!(frame.data, [50, 60, 70, 80, 105, 205]);
//! # Ok::<(), parley_media::convert::ConvertError>(())
//! ```
//!
//! Chroma is subsampled by averaging: the two rows of a YUYV frame, the 2x2 blocks of a decoded
//! JPEG or an RGB picture. RGB and the full-range YCbCr of a JPEG are brought to the BT.601
//! limited range (Y 16–235, U and V 16–240) that the rest of Parley uses, in integer arithmetic.
//! Sizes must be even, and at most [`MAX_DIMENSION`] on each side.

use std::fmt;

use thiserror::Error;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::frame::VideoFrame;

/// The largest width or height converted; larger frames are refused before any work is done.
pub const MAX_DIMENSION: u32 = 4096;

/// How a camera (or its driver) lays out the pixels of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// YUYV 4:2:2 (YUY2), packed: Y0 U Y1 V for each two pixels of a row.
    Yuyv,
    /// NV12: a Y plane, then one plane of interleaved U V at quarter resolution.
    Nv12,
    /// Motion JPEG: each frame a JPEG picture (baseline or progressive, any subsampling).
    Mjpeg,
    /// I420 already: Y, U, V planes without padding, as [`VideoFrame`] holds them.
    I420,
    /// Packed 8-bit RGB, R G B for each pixel, what some backends decode to.
    Rgb24,
    /// Packed 32-bit B G R X for each pixel (X unused): an X11 screen's pixels.
    Bgrx,
}

impl PixelFormat {
    /// Bytes an uncompressed frame of this format and size takes; `None` for [`Mjpeg`], whose
    /// frames vary in length.
    ///
    /// [`Mjpeg`]: PixelFormat::Mjpeg
    pub fn frame_len(self, width: u32, height: u32) -> Option<usize> {
        let pixels = width as usize * height as usize;
        match self {
            PixelFormat::Yuyv => Some(pixels * 2),
            PixelFormat::Nv12 | PixelFormat::I420 => Some(VideoFrame::i420_len(width, height)),
            PixelFormat::Rgb24 => Some(pixels * 3),
            PixelFormat::Bgrx => Some(pixels * 4),
            PixelFormat::Mjpeg => None,
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PixelFormat::Yuyv => "YUYV",
            PixelFormat::Nv12 => "NV12",
            PixelFormat::Mjpeg => "MJPEG",
            PixelFormat::I420 => "I420",
            PixelFormat::Rgb24 => "RGB24",
            PixelFormat::Bgrx => "BGRX",
        })
    }
}

/// Why a camera frame could not be converted. The frame should be dropped; the next one may
/// convert.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The buffer is not as long as a frame of this format and size.
    #[error(
        "a {width}x{height} {format} frame takes {expected} bytes but the camera gave {got}; \
         the camera is not delivering the format or size it was opened with"
    )]
    Length {
        /// The format the frame was said to be in.
        format: PixelFormat,
        /// The width it was said to have.
        width: u32,
        /// The height it was said to have.
        height: u32,
        /// Bytes such a frame takes.
        expected: usize,
        /// Bytes the buffer holds.
        got: usize,
    },
    /// The width or height is odd or zero; I420 needs both even.
    #[error("frame size {width}x{height}: width and height must be even and not zero")]
    OddOrZeroSize {
        /// The width asked for.
        width: u32,
        /// The height asked for.
        height: u32,
    },
    /// The frame is larger than [`MAX_DIMENSION`] on a side.
    #[error(
        "frame size {width}x{height} is larger than the {MAX_DIMENSION}x{MAX_DIMENSION} \
         Parley converts; open the camera at a smaller size"
    )]
    TooLarge {
        /// The width asked for.
        width: u32,
        /// The height asked for.
        height: u32,
    },
    /// The MJPEG frame does not decode; the decoder's message says why.
    #[error("the camera's JPEG frame does not decode: {0}")]
    JpegDecode(String),
    /// The MJPEG frame decodes to a size other than the one the camera announced.
    #[error(
        "the camera announced {}x{} but its JPEG frame is {}x{}",
        announced.0, announced.1, decoded.0, decoded.1
    )]
    JpegSizeMismatch {
        /// Width and height the camera announced.
        announced: (u32, u32),
        /// Width and height in the JPEG's frame header.
        decoded: (u32, u32),
    },
}

/// Convert one camera frame of `format` and size `width`x`height` to a new I420 frame stamped
/// `capture_us`.
///
/// Allocates the frame; a capture loop should call [`to_i420_into`] instead.
pub fn to_i420(
    format: PixelFormat,
    data: &[u8],
    width: u32,
    height: u32,
    capture_us: u64,
) -> Result<VideoFrame, ConvertError> {
    let mut out = VideoFrame {
        width: 0,
        height: 0,
        data: Vec::new(),
        capture_us: 0,
    };
    to_i420_into(format, data, width, height, capture_us, &mut out)?;
    Ok(out)
}

/// Convert one camera frame like [`to_i420`], into `out`: its buffer is resized (which does not
/// allocate once it has held a frame this large) and overwritten, and its size and capture
/// time are set.
///
/// On error `out` is left as it was. Raw formats convert with no allocation; MJPEG needs the
/// decoder's working memory and one full-size YCbCr picture per frame.
pub fn to_i420_into(
    format: PixelFormat,
    data: &[u8],
    width: u32,
    height: u32,
    capture_us: u64,
    out: &mut VideoFrame,
) -> Result<(), ConvertError> {
    check_size(width, height)?;
    let (w, h) = (width as usize, height as usize);
    match format {
        PixelFormat::Mjpeg => {
            let decoded = decode_jpeg(data, width, height)?;
            let planes = prepare(out, width, height, capture_us);
            match decoded {
                Decoded::Ycc(ycc) => full_range_ycc_to_i420(&ycc, w, planes),
                Decoded::Rgb(rgb) => rgb24_to_i420(&rgb, w, planes),
            }
        }
        PixelFormat::Yuyv => {
            check_len(format, data, width, height)?;
            yuyv_to_i420(data, w, prepare(out, width, height, capture_us));
        }
        PixelFormat::Nv12 => {
            check_len(format, data, width, height)?;
            nv12_to_i420(data, w * h, prepare(out, width, height, capture_us));
        }
        PixelFormat::I420 => {
            check_len(format, data, width, height)?;
            prepare(out, width, height, capture_us);
            out.data.copy_from_slice(data);
        }
        PixelFormat::Rgb24 => {
            check_len(format, data, width, height)?;
            rgb24_to_i420(data, w, prepare(out, width, height, capture_us));
        }
        PixelFormat::Bgrx => {
            check_len(format, data, width, height)?;
            packed_to_i420::<4>(
                data,
                w,
                prepare(out, width, height, capture_us),
                |px| rgb_luma(px[2], px[1], px[0]),
                |[b, g, r]| rgb_chroma(r, g, b),
            );
        }
    }
    Ok(())
}

fn check_size(width: u32, height: u32) -> Result<(), ConvertError> {
    if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
        return Err(ConvertError::OddOrZeroSize { width, height });
    }
    if width > MAX_DIMENSION || height > MAX_DIMENSION {
        return Err(ConvertError::TooLarge { width, height });
    }
    Ok(())
}

fn check_len(
    format: PixelFormat,
    data: &[u8],
    width: u32,
    height: u32,
) -> Result<(), ConvertError> {
    let expected = format.frame_len(width, height).unwrap_or(data.len());
    if data.len() != expected {
        return Err(ConvertError::Length {
            format,
            width,
            height,
            expected,
            got: data.len(),
        });
    }
    Ok(())
}

/// The three planes of an I420 picture, writable.
struct Planes<'a> {
    y: &'a mut [u8],
    u: &'a mut [u8],
    v: &'a mut [u8],
}

/// Size `out` for a `width`x`height` frame and hand out its planes (sizes already checked even).
fn prepare(out: &mut VideoFrame, width: u32, height: u32, capture_us: u64) -> Planes<'_> {
    out.width = width;
    out.height = height;
    out.capture_us = capture_us;
    out.data.resize(VideoFrame::i420_len(width, height), 0);
    let luma = width as usize * height as usize;
    let (y, chroma) = out.data.split_at_mut(luma);
    let (u, v) = chroma.split_at_mut(luma / 4);
    Planes { y, u, v }
}

/// Mean of two samples, rounded half up.
#[inline]
fn mean2(a: u8, b: u8) -> u8 {
    ((u16::from(a) + u16::from(b) + 1) >> 1) as u8
}

/// One step of a packed-to-I420 loop: two source rows of `stride` bytes, their two luma rows,
/// and the one U and one V row they share.
struct RowPair<'s, 'p> {
    top: &'s [u8],
    bottom: &'s [u8],
    y_top: &'p mut [u8],
    y_bottom: &'p mut [u8],
    u: &'p mut [u8],
    v: &'p mut [u8],
}

/// The picture `w` pixels wide, two rows at a time.
fn row_pairs<'s, 'p>(
    src: &'s [u8],
    stride: usize,
    w: usize,
    planes: Planes<'p>,
) -> impl Iterator<Item = RowPair<'s, 'p>> {
    src.chunks_exact(2 * stride)
        .zip(planes.y.chunks_exact_mut(2 * w))
        .zip(planes.u.chunks_exact_mut(w / 2))
        .zip(planes.v.chunks_exact_mut(w / 2))
        .map(move |(((src, y), u), v)| {
            let (top, bottom) = src.split_at(stride);
            let (y_top, y_bottom) = y.split_at_mut(w);
            RowPair {
                top,
                bottom,
                y_top,
                y_bottom,
                u,
                v,
            }
        })
}

fn yuyv_to_i420(src: &[u8], w: usize, planes: Planes<'_>) {
    for RowPair {
        top,
        bottom,
        y_top,
        y_bottom,
        u,
        v,
    } in row_pairs(src, 2 * w, w, planes)
    {
        yuyv_luma(top, y_top);
        yuyv_luma(bottom, y_bottom);
        yuyv_chroma(top, bottom, u, v);
    }
}

/// Pixels handled per step of the YUYV loops: fixed-size steps let the compiler use vectors.
const STEP: usize = 16;

/// The Y of one YUYV row.
fn yuyv_luma(src: &[u8], y: &mut [u8]) {
    let mut src = src.chunks_exact(2 * STEP);
    let mut dst = y.chunks_exact_mut(STEP);
    for (y, px) in (&mut dst).zip(&mut src) {
        for i in 0..STEP {
            y[i] = px[2 * i];
        }
    }
    for (y, px) in dst
        .into_remainder()
        .iter_mut()
        .zip(src.remainder().chunks_exact(2))
    {
        *y = px[0];
    }
}

/// U and V of two YUYV rows, averaged.
fn yuyv_chroma(top: &[u8], bottom: &[u8], u: &mut [u8], v: &mut [u8]) {
    let mut t = top.chunks_exact(4 * STEP);
    let mut b = bottom.chunks_exact(4 * STEP);
    let mut us = u.chunks_exact_mut(STEP);
    let mut vs = v.chunks_exact_mut(STEP);
    for (((u, v), t), b) in (&mut us).zip(&mut vs).zip(&mut t).zip(&mut b) {
        for i in 0..STEP {
            u[i] = mean2(t[4 * i + 1], b[4 * i + 1]);
            v[i] = mean2(t[4 * i + 3], b[4 * i + 3]);
        }
    }
    let tail = us
        .into_remainder()
        .iter_mut()
        .zip(vs.into_remainder())
        .zip(t.remainder().chunks_exact(4))
        .zip(b.remainder().chunks_exact(4));
    for (((u, v), t), b) in tail {
        *u = mean2(t[1], b[1]);
        *v = mean2(t[3], b[3]);
    }
}

fn nv12_to_i420(src: &[u8], luma: usize, planes: Planes<'_>) {
    let (y, uv) = src.split_at(luma);
    planes.y.copy_from_slice(y);
    for ((u, v), uv) in planes
        .u
        .iter_mut()
        .zip(planes.v.iter_mut())
        .zip(uv.chunks_exact(2))
    {
        *u = uv[0];
        *v = uv[1];
    }
}

// BT.601 limited range from 8-bit RGB, in 1/65536 steps: Y = 16 + (219/255)(0.299 R + 0.587 G
// + 0.114 B), U and V = 128 + (224/255)(B − Y′) / 1.772 and (R − Y′) / 1.402. Each chroma row
// sums to 0 so that greys get U = V = 128 exactly.
const Y_R: i32 = 16_829;
const Y_G: i32 = 33_039;
const Y_B: i32 = 6_416;
const U_R: i32 = -9_714;
const U_G: i32 = -19_070;
const U_B: i32 = 28_784;
const V_R: i32 = 28_784;
const V_G: i32 = -24_103;
const V_B: i32 = -4_681;

#[inline]
fn rgb_luma(r: u8, g: u8, b: u8) -> u8 {
    let y = Y_R * i32::from(r) + Y_G * i32::from(g) + Y_B * i32::from(b);
    (16 + ((y + (1 << 15)) >> 16)) as u8
}

/// U and V from the sums of R, G and B over a 2x2 block.
#[inline]
fn rgb_chroma(r: i32, g: i32, b: i32) -> (u8, u8) {
    let u = U_R * r + U_G * g + U_B * b;
    let v = V_R * r + V_G * g + V_B * b;
    // Sums of four: divide by 4 × 65536, rounding (the shift floors, also below zero).
    (
        (128 + ((u + (1 << 17)) >> 18)) as u8,
        (128 + ((v + (1 << 17)) >> 18)) as u8,
    )
}

/// A packed `N`-byte-per-pixel picture (RGB or JPEG's YCbCr with 3, BGRX with 4) to I420:
/// `luma` turns one pixel into Y, `chroma` turns the sums of each of the first three bytes
/// over a 2×2 block into U and V.
#[inline(always)]
fn packed_to_i420<const N: usize>(
    src: &[u8],
    w: usize,
    planes: Planes<'_>,
    luma: impl Fn(&[u8]) -> u8,
    chroma: impl Fn([i32; 3]) -> (u8, u8),
) {
    for RowPair {
        top,
        bottom,
        y_top,
        y_bottom,
        u,
        v,
    } in row_pairs(src, N * w, w, planes)
    {
        for (y, px) in y_top.iter_mut().zip(top.chunks_exact(N)) {
            *y = luma(px);
        }
        for (y, px) in y_bottom.iter_mut().zip(bottom.chunks_exact(N)) {
            *y = luma(px);
        }
        for (((u, v), t), b) in u
            .iter_mut()
            .zip(v.iter_mut())
            .zip(top.chunks_exact(2 * N))
            .zip(bottom.chunks_exact(2 * N))
        {
            let sum = |i: usize| {
                i32::from(t[i]) + i32::from(t[i + N]) + i32::from(b[i]) + i32::from(b[i + N])
            };
            (*u, *v) = chroma([sum(0), sum(1), sum(2)]);
        }
    }
}

fn rgb24_to_i420(src: &[u8], w: usize, planes: Planes<'_>) {
    packed_to_i420::<3>(
        src,
        w,
        planes,
        |px| rgb_luma(px[0], px[1], px[2]),
        |[r, g, b]| rgb_chroma(r, g, b),
    );
}

// JPEG (JFIF) YCbCr is full range; Parley's I420 is limited: Y′ = 16 + Y·219/255 and
// C′ = 128 + (C − 128)·224/255, in 1/65536 steps.
const FULL_TO_LIMITED_Y: i32 = 56_284;
/// 224/255 for a sum of four chroma samples: (224/255)/4.
const FULL_TO_LIMITED_C4: i32 = 14_392;

#[inline]
fn full_range_luma(y: u8) -> u8 {
    (16 + ((i32::from(y) * FULL_TO_LIMITED_Y + (1 << 15)) >> 16)) as u8
}

/// A limited-range chroma sample from the sum of four full-range ones.
#[inline]
fn full_range_chroma4(sum: i32) -> u8 {
    (128 + (((sum - 4 * 128) * FULL_TO_LIMITED_C4 + (1 << 15)) >> 16)) as u8
}

fn full_range_ycc_to_i420(src: &[u8], w: usize, planes: Planes<'_>) {
    packed_to_i420::<3>(
        src,
        w,
        planes,
        |px| full_range_luma(px[0]),
        |[_, cb, cr]| (full_range_chroma4(cb), full_range_chroma4(cr)),
    );
}

/// A decoded JPEG picture, packed, three bytes a pixel.
enum Decoded {
    /// Full-range YCbCr, as a JPEG holds it.
    Ycc(Vec<u8>),
    /// RGB, for JPEGs in other colour spaces (grey, CMYK, Adobe RGB).
    Rgb(Vec<u8>),
}

fn decode_jpeg(data: &[u8], width: u32, height: u32) -> Result<Decoded, ConvertError> {
    let options = DecoderOptions::default()
        .set_max_width(MAX_DIMENSION as usize)
        .set_max_height(MAX_DIMENSION as usize)
        .jpeg_set_out_colorspace(ColorSpace::YCbCr);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
    decoder.decode_headers().map_err(jpeg_error)?;
    let Some((w, h)) = decoder.dimensions() else {
        return Err(ConvertError::JpegDecode("no frame header".into()));
    };
    // The decoder refuses sizes above MAX_DIMENSION, so these fit.
    let decoded = (w as u32, h as u32);
    if decoded != (width, height) {
        return Err(ConvertError::JpegSizeMismatch {
            announced: (width, height),
            decoded,
        });
    }
    let len = w * h * 3;
    if decoder.input_colorspace() == Some(ColorSpace::YCbCr) {
        // The decoder hands out its YCbCr as is: no round trip through RGB.
        let mut ycc = vec![0; len];
        decoder.decode_into(&mut ycc).map_err(jpeg_error)?;
        return Ok(Decoded::Ycc(ycc));
    }
    // Grey, CMYK, YCCK or RGB inside: let the decoder make RGB of it.
    let options = options.jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
    decoder.decode_headers().map_err(jpeg_error)?;
    if decoder.output_buffer_size() != Some(len) {
        return Err(ConvertError::JpegDecode(format!(
            "{:?} pictures do not convert to RGB",
            decoder.input_colorspace()
        )));
    }
    let mut rgb = vec![0; len];
    decoder.decode_into(&mut rgb).map_err(jpeg_error)?;
    Ok(Decoded::Rgb(rgb))
}

fn jpeg_error(e: zune_jpeg::errors::DecodeErrors) -> ConvertError {
    ConvertError::JpegDecode(e.to_string())
}

/// Append `frame` as RGBA (BT.601 limited range, alpha 255) scaled down by the integer factor
/// `step` (every `step`-th pixel of every `step`-th row: the picture is shown that much
/// smaller), `width / step` × `height / step` pixels; how many (width, height). The scaling
/// picks samples; the colour conversion is SIMD (`yuvutils-rs`). A frame whose data is shorter
/// than its size says is appended black.
pub fn i420_to_rgba_scaled(frame: &VideoFrame, step: u32, out: &mut Vec<u8>) -> (u32, u32) {
    let step = step.max(1);
    let (w, h) = (frame.width / step, frame.height / step);
    let start = out.len();
    out.resize(start + (w * h * 4) as usize, 0);
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    let cw = fw.div_ceil(2);
    let luma = fw * fh;
    let chroma = cw * fh.div_ceil(2);
    if w == 0 || h == 0 || frame.data.len() < luma + 2 * chroma {
        return (w, h);
    }
    let (y, rest) = frame.data.split_at(luma);
    let (u, v) = rest.split_at(chroma);
    let (sw, sh) = (w as usize, h as usize);
    let (scw, sch) = (sw.div_ceil(2), sh.div_ceil(2));
    let picked;
    let (yp, up, vp, ys, cs) = if step == 1 {
        (y, &u[..chroma], &v[..chroma], fw, cw)
    } else {
        // Output pixel (x, y) takes luma at (x·step, y·step) and chroma at half that, as the
        // subsampled picture's chroma sample (x/2, y/2) covers output pixels 2·(x/2)…
        let s = step as usize;
        let mut planes = Vec::with_capacity(sw * sh + 2 * scw * sch);
        for row in 0..sh {
            let src = &y[row * s * fw..][..(sw - 1) * s + 1];
            planes.extend(src.iter().step_by(s));
        }
        for plane in [u, v] {
            for row in 0..sch {
                let src = &plane[row * s * cw..][..(scw - 1) * s + 1];
                planes.extend(src.iter().step_by(s));
            }
        }
        picked = planes;
        let (yp, c) = picked.split_at(sw * sh);
        let (up, vp) = c.split_at(scw * sch);
        (yp, up, vp, sw, scw)
    };
    let image = yuvutils_rs::YuvPlanarImage {
        y_plane: yp,
        y_stride: ys as u32,
        u_plane: up,
        u_stride: cs as u32,
        v_plane: vp,
        v_stride: cs as u32,
        width: w,
        height: h,
    };
    let rgba = &mut out[start..];
    if yuvutils_rs::yuv420_to_rgba(
        &image,
        rgba,
        w * 4,
        yuvutils_rs::YuvRange::Limited,
        yuvutils_rs::YuvStandardMatrix::Bt601,
    )
    .is_err()
    {
        rgba.fill(0);
    }
    (w, h)
}

/// The same picture as [`i420_to_rgba_scaled`], one pixel at a time in fixed point: what the
/// app did before, kept as the reference the SIMD path is checked and measured against.
#[doc(hidden)]
pub fn i420_to_rgba_scaled_reference(
    frame: &VideoFrame,
    step: u32,
    out: &mut Vec<u8>,
) -> (u32, u32) {
    let step = step.max(1);
    let (w, h) = (frame.width / step, frame.height / step);
    let fw = frame.width as usize;
    let cw = frame.width.div_ceil(2) as usize;
    let luma = fw * frame.height as usize;
    let chroma = cw * frame.height.div_ceil(2) as usize;
    if frame.data.len() < luma + 2 * chroma {
        out.resize(out.len() + (w * h * 4) as usize, 0);
        return (w, h);
    }
    let (y, rest) = frame.data.split_at(luma);
    let (u, v) = rest.split_at(chroma);
    let step = step as usize;
    let clamp = |x: i32| x.clamp(0, 255) as u8;
    for row in 0..h as usize {
        let sy = row * step;
        for col in 0..w as usize {
            let sx = col * step;
            let yy = i32::from(y[sy * fw + sx]) - 16;
            let ci = (sy / 2) * cw + sx / 2;
            let uu = i32::from(u[ci]) - 128;
            let vv = i32::from(v[ci]) - 128;
            let c = 298 * yy;
            let r = (c + 409 * vv + 128) >> 8;
            let g = (c - 100 * uu - 208 * vv + 128) >> 8;
            let b = (c + 516 * uu + 128) >> 8;
            out.extend_from_slice(&[clamp(r), clamp(g), clamp(b), 255]);
        }
    }
    (w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i420(w: u32, h: u32, y: &[u8], u: &[u8], v: &[u8]) -> Vec<u8> {
        assert_eq!(y.len(), (w * h) as usize);
        [y, u, v].concat()
    }

    /// Pixel by pixel, the largest difference of any channel.
    fn furthest(a: &[u8], b: &[u8]) -> u8 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0)
    }

    fn varied(width: u32, height: u32, seed: u32) -> VideoFrame {
        let mut f = VideoFrame::black(width, height);
        let mut x = seed.max(1);
        for p in &mut f.data {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *p = (x >> 24) as u8;
        }
        f
    }

    #[test]
    fn pictures_convert_to_rgba_as_the_per_pixel_reference_does_within_two_levels() {
        // Random Y over the limited range at full size, under chroma that is flat (the library
        // blends chroma between samples where the loop took the nearest). Far out of gamut the
        // two clip differently, which a decoder's pictures do not reach.
        for (w, h, u, v) in [
            (64, 36, 128, 128),
            (2, 2, 60, 200),
            (30, 6, 200, 60),
            (640, 360, 110, 150),
        ] {
            let mut f = varied(w, h, w * 7 + h);
            let (y, c) = f.data.split_at_mut((w * h) as usize);
            for p in y {
                *p = 16 + (u16::from(*p) * 219 / 255) as u8;
            }
            let half = c.len() / 2;
            c[..half].fill(u);
            c[half..].fill(v);
            let (mut simd, mut slow) = (Vec::new(), Vec::new());
            assert_eq!(i420_to_rgba_scaled(&f, 1, &mut simd), (w, h));
            assert_eq!(i420_to_rgba_scaled_reference(&f, 1, &mut slow), (w, h));
            assert!(
                furthest(&simd, &slow) <= 2,
                "{w}x{h} ({u}, {v}): {}",
                furthest(&simd, &slow)
            );
            assert!(simd.chunks(4).all(|p| p[3] == 255));
        }
        // Known colours: limited-range black, white, and pure red, green, blue.
        for (yuv, rgb) in [
            ((16, 128, 128), [0, 0, 0]),
            ((235, 128, 128), [255, 255, 255]),
            ((81, 90, 240), [255, 0, 0]),
            ((145, 54, 34), [0, 255, 0]),
            ((41, 240, 110), [0, 0, 255]),
        ] {
            let mut f = VideoFrame::black(4, 4);
            let (y, c) = f.data.split_at_mut(16);
            y.fill(yuv.0);
            c[..4].fill(yuv.1);
            c[4..].fill(yuv.2);
            let mut out = Vec::new();
            i420_to_rgba_scaled(&f, 1, &mut out);
            for p in out.chunks(4) {
                assert!(furthest(&p[..3], &rgb) <= 3, "{yuv:?}: {p:?} for {rgb:?}");
            }
        }
    }

    #[test]
    fn scaled_pictures_keep_their_sizes_and_colours_and_a_short_one_is_black() {
        // Scaled by 2 and 3, with odd results (213x120, 25x7): exact sizes, and a picture of
        // four flat quarters stays four flat quarters of the same colours.
        for (w, h, step) in [(640, 360, 3), (50, 14, 2), (640, 360, 2)] {
            let mut f = VideoFrame::black(w, h);
            let (cw, ch) = (w as usize / 2, h as usize / 2);
            let (y, c) = f.data.split_at_mut((w * h) as usize);
            let (u, v) = c.split_at_mut(cw * ch);
            for row in 0..h as usize {
                for col in 0..w as usize {
                    y[row * w as usize + col] = if col < w as usize / 2 { 60 } else { 200 };
                }
            }
            for row in 0..ch {
                for col in 0..cw {
                    u[row * cw + col] = if row < ch / 2 { 90 } else { 160 };
                    v[row * cw + col] = if row < ch / 2 { 200 } else { 100 };
                }
            }
            let (mut simd, mut slow) = (Vec::new(), Vec::new());
            let size = i420_to_rgba_scaled(&f, step, &mut simd);
            assert_eq!(size, (w / step, h / step));
            assert_eq!(simd.len(), (size.0 * size.1 * 4) as usize);
            i420_to_rgba_scaled_reference(&f, step, &mut slow);
            // Away from the quarters' edges (where a sample may come from either side).
            let (sw, sh) = (size.0 as usize, size.1 as usize);
            for row in (0..sh).filter(|r| r.abs_diff(sh / 2) > 2) {
                for col in (0..sw).filter(|c| c.abs_diff(sw / 2) > 2) {
                    let i = (row * sw + col) * 4;
                    assert!(
                        furthest(&simd[i..i + 4], &slow[i..i + 4]) <= 2,
                        "{w}x{h}/{step} at {col},{row}"
                    );
                }
            }
        }
        let mut short = varied(64, 36, 3);
        short.data.truncate(100);
        let mut out = vec![9];
        assert_eq!(i420_to_rgba_scaled(&short, 2, &mut out), (32, 18));
        assert_eq!(out.len(), 1 + 32 * 18 * 4);
        assert!(
            out[1..].iter().all(|b| *b == 0),
            "black, and what was there before kept"
        );
        assert_eq!(out[0], 9);
    }

    #[test]
    fn yuyv_takes_luma_as_is_and_averages_chroma_of_two_rows() {
        // 4x2: top row chroma (10, 200) (20, 100), bottom (13, 201) (20, 90).
        let yuyv = [
            1, 10, 2, 200, 3, 20, 4, 100, //
            5, 13, 6, 201, 7, 20, 8, 90,
        ];
        let f = to_i420(PixelFormat::Yuyv, &yuyv, 4, 2, 7).unwrap();
        // (10+13)/2 = 11.5 and (200+201)/2 = 200.5 round up.
        assert_eq!(
            f.data,
            i420(4, 2, &[1, 2, 3, 4, 5, 6, 7, 8], &[12, 20], &[201, 95])
        );
        assert_eq!((f.width, f.height, f.capture_us), (4, 2, 7));
    }

    #[test]
    fn yuyv_rows_of_any_even_width_follow_the_plain_rule() {
        // 36 pixels: two full steps of the vector loop for Y, one for chroma, and tails.
        let (w, h) = (36usize, 4usize);
        let mut x = 0x2545_f491u32;
        let yuyv: Vec<u8> = (0..w * h * 2)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let f = to_i420(PixelFormat::Yuyv, &yuyv, w as u32, h as u32, 0).unwrap();
        let at = |row: usize, byte: usize| u16::from(yuyv[row * 2 * w + byte]);
        let y: Vec<u8> = (0..w * h).map(|i| yuyv[2 * i]).collect();
        let chroma = |offset: usize| -> Vec<u8> {
            (0..h / 2)
                .flat_map(|r| (0..w / 2).map(move |c| (r, c)))
                // The mean of the two rows, rounded half up.
                .map(|(r, c)| {
                    (at(2 * r, 4 * c + offset) + at(2 * r + 1, 4 * c + offset)).div_ceil(2) as u8
                })
                .collect()
        };
        assert_eq!(f.data, i420(w as u32, h as u32, &y, &chroma(1), &chroma(3)));
    }

    #[test]
    fn nv12_deinterleaves_chroma() {
        let nv12 = [1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 11, 21];
        let f = to_i420(PixelFormat::Nv12, &nv12, 4, 2, 0).unwrap();
        assert_eq!(f.data, [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 20, 21]);
    }

    #[test]
    fn i420_is_copied() {
        let data: Vec<u8> = (0..6).collect();
        assert_eq!(
            to_i420(PixelFormat::I420, &data, 2, 2, 0).unwrap().data,
            data
        );
    }

    #[test]
    fn rgb_primaries_get_their_bt601_limited_values() {
        // Reference values: ITU-R BT.601 in 8-bit limited range, rounded.
        for (rgb, yuv) in [
            ([255, 255, 255], [235, 128, 128]),
            ([0, 0, 0], [16, 128, 128]),
            ([128, 128, 128], [126, 128, 128]),
            ([255, 0, 0], [81, 90, 240]),
            ([0, 255, 0], [145, 54, 34]),
            ([0, 0, 255], [41, 240, 110]),
        ] {
            let block: Vec<u8> = rgb.repeat(4);
            let f = to_i420(PixelFormat::Rgb24, &block, 2, 2, 0).unwrap();
            assert_eq!(
                f.data,
                [yuv[0]; 4]
                    .iter()
                    .chain(&yuv[1..])
                    .copied()
                    .collect::<Vec<_>>(),
                "RGB {rgb:?}"
            );
        }
    }

    #[test]
    fn rgb_chroma_is_the_mean_of_its_block() {
        // Left block half red, half blue (by rows); the right block white.
        let mut rgb = Vec::new();
        rgb.extend([255, 0, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255]);
        rgb.extend([0, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255, 255]);
        let f = to_i420(PixelFormat::Rgb24, &rgb, 4, 2, 0).unwrap();
        // Mean of red (90, 240) and blue (240, 110): (165, 175).
        assert_eq!(&f.data[8..], [165, 128, 175, 128]);
        assert_eq!(&f.data[..8], [81, 81, 235, 235, 41, 41, 235, 235]);
    }

    #[test]
    fn bgrx_screen_pixels_convert_like_the_same_rgb() {
        // The same picture as rgb_chroma_is_the_mean_of_its_block, as an X11 screen holds it.
        let mut rgb = Vec::new();
        rgb.extend([255, 0, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255]);
        rgb.extend([0, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255, 255]);
        let bgrx: Vec<u8> = rgb
            .chunks_exact(3)
            .flat_map(|p| [p[2], p[1], p[0], 0xAB])
            .collect();
        let want = to_i420(PixelFormat::Rgb24, &rgb, 4, 2, 0).unwrap();
        let got = to_i420(PixelFormat::Bgrx, &bgrx, 4, 2, 0).unwrap();
        assert_eq!(got.data, want.data);
        assert!(
            to_i420(PixelFormat::Bgrx, &bgrx[..20], 4, 2, 0).is_err(),
            "short data refused"
        );
    }

    #[test]
    fn full_range_jpeg_samples_map_to_limited_range() {
        assert_eq!(full_range_luma(0), 16);
        assert_eq!(full_range_luma(255), 235);
        assert_eq!(full_range_luma(128), 126);
        assert_eq!(full_range_chroma4(0), 16);
        assert_eq!(full_range_chroma4(4 * 255), 240);
        assert_eq!(full_range_chroma4(4 * 128), 128);
        assert_eq!(full_range_chroma4(4 * 64), 72);
    }

    #[test]
    fn frame_lengths() {
        assert_eq!(PixelFormat::Yuyv.frame_len(320, 180), Some(115_200));
        assert_eq!(PixelFormat::Nv12.frame_len(320, 180), Some(86_400));
        assert_eq!(PixelFormat::I420.frame_len(320, 180), Some(86_400));
        assert_eq!(PixelFormat::Rgb24.frame_len(320, 180), Some(172_800));
        assert_eq!(PixelFormat::Mjpeg.frame_len(320, 180), None);
    }

    #[test]
    fn sizes_are_checked_before_the_buffer() {
        for (w, h) in [(0, 2), (2, 0), (3, 2), (2, 5)] {
            assert_eq!(
                to_i420(PixelFormat::Yuyv, &[], w, h, 0),
                Err(ConvertError::OddOrZeroSize {
                    width: w,
                    height: h
                })
            );
        }
        assert_eq!(
            to_i420(PixelFormat::Mjpeg, &[], 4096, 4098, 0),
            Err(ConvertError::TooLarge {
                width: 4096,
                height: 4098
            })
        );
        assert!(
            to_i420(
                PixelFormat::I420,
                &vec![0; 4096 * 4096 * 3 / 2],
                4096,
                4096,
                0
            )
            .is_ok()
        );
    }

    #[test]
    fn a_failed_conversion_leaves_the_frame_as_it_was() {
        let mut f = VideoFrame::black(4, 2);
        f.capture_us = 5;
        let before = f.clone();
        for (format, data) in [
            (PixelFormat::Yuyv, &[0u8; 15][..]),
            (PixelFormat::Mjpeg, &[0xff, 0xd8, 0xff, 0xc0, 0, 0][..]),
        ] {
            assert!(to_i420_into(format, data, 4, 2, 9, &mut f).is_err());
            assert_eq!(f, before);
            assert_eq!(f.capture_us, 5);
        }
    }

    #[test]
    fn messages_say_what_the_camera_did() {
        let e = to_i420(PixelFormat::Yuyv, &[0; 10], 4, 2, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a 4x2 YUYV frame takes 16 bytes but the camera gave 10; the camera is not \
             delivering the format or size it was opened with"
        );
    }
}
