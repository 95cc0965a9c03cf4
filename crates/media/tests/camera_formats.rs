//! Frames in the formats webcams deliver convert to the picture they hold, and frames that are
//! not what the camera announced are refused with the error that says so.
//!
//! The samples in `assets/camera/` (see its README) are one test-pattern picture written by
//! `examples/camera_assets.rs`: raw formats must convert back to it exactly, JPEGs within the
//! error JPEG coding leaves, with the pattern's frame stamp still readable.

use parley_media::VideoFrame;
use parley_media::convert::{ConvertError, PixelFormat, to_i420, to_i420_into};
use parley_media::pattern::{Stamp, TestPattern, read_stamp};

// The picture the samples hold; examples/camera_assets.rs draws the same.
const PARTICIPANT: u32 = 52;
const SEQ: u32 = 7;
const CAPTURE_US: u64 = 1_234_567;

fn asset(name: &str) -> Vec<u8> {
    let path = format!("{}/../../assets/camera/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn pattern(width: u32, height: u32) -> VideoFrame {
    TestPattern::new(width, height, PARTICIPANT).draw(SEQ, CAPTURE_US)
}

fn planes(f: &VideoFrame) -> [&[u8]; 3] {
    let luma = (f.width * f.height) as usize;
    let (y, chroma) = f.data.split_at(luma);
    let (u, v) = chroma.split_at(luma / 4);
    [y, u, v]
}

/// Mean absolute error of Y, U and V.
fn mean_abs_error(got: &VideoFrame, want: &VideoFrame) -> [f64; 3] {
    assert_eq!((got.width, got.height), (want.width, want.height));
    let (got, want) = (planes(got), planes(want));
    std::array::from_fn(|i| {
        let sum: u64 = got[i]
            .iter()
            .zip(want[i])
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        sum as f64 / got[i].len() as f64
    })
}

fn the_stamp() -> Option<Stamp> {
    Some(Stamp {
        seq: SEQ,
        capture_ms: (CAPTURE_US / 1000) as u32,
    })
}

#[test]
fn yuyv_converts_to_the_pattern_exactly() {
    let f = to_i420(
        PixelFormat::Yuyv,
        &asset("pattern-320x180.yuyv"),
        320,
        180,
        CAPTURE_US,
    )
    .unwrap();
    assert_eq!(f, pattern(320, 180));
}

#[test]
fn nv12_converts_to_the_pattern_exactly() {
    let f = to_i420(
        PixelFormat::Nv12,
        &asset("pattern-320x180.nv12"),
        320,
        180,
        CAPTURE_US,
    )
    .unwrap();
    assert_eq!(f, pattern(320, 180));
}

#[test]
fn mjpeg_converts_to_the_pattern_within_jpeg_error() {
    for (name, width, height) in [
        ("pattern-320x180.jpg", 320, 180),
        ("pattern-320x180-420.jpg", 320, 180),
        ("pattern-1280x720.jpg", 1280, 720),
    ] {
        let f = to_i420(PixelFormat::Mjpeg, &asset(name), width, height, CAPTURE_US).unwrap();
        let [y, u, v] = mean_abs_error(&f, &pattern(width, height));
        assert!(
            y <= 3.0 && u <= 4.0 && v <= 4.0,
            "{name}: mean absolute error Y {y:.2} U {u:.2} V {v:.2}"
        );
        assert_eq!(read_stamp(&f), the_stamp(), "{name}");
        assert_eq!(f.capture_us, CAPTURE_US);
    }
}

#[test]
fn grey_mjpeg_gets_the_luma_and_neutral_chroma() {
    let f = to_i420(
        PixelFormat::Mjpeg,
        &asset("pattern-320x180-grey.jpg"),
        320,
        180,
        CAPTURE_US,
    )
    .unwrap();
    let [y, _, _] = mean_abs_error(&f, &pattern(320, 180));
    assert!(y <= 3.0, "mean absolute error of Y {y:.2}");
    let [_, u, v] = planes(&f);
    assert!(u.iter().chain(v).all(|&c| c == 128));
    assert_eq!(read_stamp(&f), the_stamp());
}

#[test]
fn converting_into_a_frame_reuses_its_buffer() {
    let yuyv = asset("pattern-320x180.yuyv");
    let jpeg = asset("pattern-320x180.jpg");
    let mut frame = VideoFrame::black(320, 180);
    let buffer = frame.data.as_ptr();
    for (i, (format, data)) in [(PixelFormat::Yuyv, &yuyv), (PixelFormat::Mjpeg, &jpeg)]
        .into_iter()
        .enumerate()
    {
        let us = i as u64 * 33_333;
        to_i420_into(format, data, 320, 180, us, &mut frame).unwrap();
        assert_eq!(frame.data.as_ptr(), buffer, "{format} reallocated");
        assert_eq!(frame, to_i420(format, data, 320, 180, us).unwrap());
    }
    // A smaller frame fits in the same buffer; the frame takes its size.
    to_i420_into(PixelFormat::I420, &[16; 6], 2, 2, 1, &mut frame).unwrap();
    assert_eq!(frame.data.as_ptr(), buffer);
    assert_eq!((frame.width, frame.height, frame.data.len()), (2, 2, 6));
}

#[test]
fn a_truncated_buffer_is_refused_with_both_lengths() {
    let mut yuyv = asset("pattern-320x180.yuyv");
    yuyv.pop();
    assert_eq!(
        to_i420(PixelFormat::Yuyv, &yuyv, 320, 180, 0),
        Err(ConvertError::Length {
            format: PixelFormat::Yuyv,
            width: 320,
            height: 180,
            expected: 115_200,
            got: 115_199
        })
    );
    let nv12 = asset("pattern-320x180.nv12");
    assert_eq!(
        to_i420(PixelFormat::Nv12, &nv12[..nv12.len() / 2], 320, 180, 0),
        Err(ConvertError::Length {
            format: PixelFormat::Nv12,
            width: 320,
            height: 180,
            expected: 86_400,
            got: 43_200
        })
    );
}

#[test]
fn odd_and_zero_sizes_are_refused() {
    let yuyv = asset("pattern-320x180.yuyv");
    for (width, height) in [(321, 180), (320, 179), (0, 180), (320, 0)] {
        assert_eq!(
            to_i420(PixelFormat::Yuyv, &yuyv, width, height, 0),
            Err(ConvertError::OddOrZeroSize { width, height })
        );
    }
}

#[test]
fn frames_over_4096_are_refused() {
    for (width, height) in [(4098, 2160), (3840, 4098)] {
        assert_eq!(
            to_i420(
                PixelFormat::Mjpeg,
                &asset("pattern-320x180.jpg"),
                width,
                height,
                0
            ),
            Err(ConvertError::TooLarge { width, height })
        );
    }
}

#[test]
fn garbage_is_refused_as_a_jpeg_that_does_not_decode() {
    let mut x = 0x2545_f491u32;
    let garbage: Vec<u8> = (0..10_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    for data in [&garbage[..], &[], &[0xff, 0xd8], b"not a jpeg at all"] {
        match to_i420(PixelFormat::Mjpeg, data, 320, 180, 0) {
            Err(ConvertError::JpegDecode(message)) => assert!(!message.is_empty()),
            other => panic!("{} garbage bytes gave {other:?}", data.len()),
        }
    }
}

#[test]
fn a_jpeg_of_another_size_than_announced_is_refused() {
    assert_eq!(
        to_i420(
            PixelFormat::Mjpeg,
            &asset("pattern-320x180.jpg"),
            640,
            360,
            0
        ),
        Err(ConvertError::JpegSizeMismatch {
            announced: (640, 360),
            decoded: (320, 180)
        })
    );
}

#[test]
fn damaged_jpegs_give_a_picture_or_an_error_never_a_panic() {
    let jpeg = asset("pattern-320x180.jpg");
    let mut out = VideoFrame::black(320, 180);
    let mut check = |data: &[u8], what: &str| {
        match to_i420_into(PixelFormat::Mjpeg, data, 320, 180, 0, &mut out) {
            Ok(()) | Err(ConvertError::JpegDecode(_)) => {}
            // A flipped bit in the frame header can change the size it states.
            Err(ConvertError::JpegSizeMismatch { .. }) => {}
            Err(other) => panic!("{what}: {other:?}"),
        }
    };
    for len in (0..jpeg.len()).step_by(61) {
        check(&jpeg[..len], &format!("cut at {len}"));
    }
    let mut x = 0x9e37_79b9u32;
    for _ in 0..150 {
        let mut damaged = jpeg.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            damaged[x as usize % jpeg.len()] ^= 1 << (x >> 29);
        }
        check(&damaged, "bit flips");
    }
    // Headers kept, the entropy-coded data replaced by noise.
    let sos = jpeg.windows(2).position(|w| w == [0xff, 0xda]).unwrap();
    let mut noisy = jpeg.clone();
    for b in &mut noisy[sos + 20..] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    check(&noisy, "noise after the scan header");
}
