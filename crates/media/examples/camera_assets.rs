//! Writes the sample camera frames in `assets/camera/` that the conversion tests and the codecs
//! and devices benches read: one test-pattern picture in the raw formats webcams deliver (YUYV, NV12) and as
//! JPEG (made by ImageMagick from an RGB or grey picture of it, as a webcam's MJPEG would be).
//!
//! `cargo run -p parley-media --example camera_assets [DIR]` (default `assets/camera/` of the
//! workspace). ImageMagick's `convert` is taken from `$IMAGEMAGICK_CONVERT`, else `convert`.

use std::path::{Path, PathBuf};
use std::process::Command;

use parley_media::VideoFrame;
use parley_media::pattern::TestPattern;

/// The picture: `TestPattern::new(w, h, PARTICIPANT).draw(SEQ, CAPTURE_US)`. A participant whose
/// background chroma is near grey, so that the black and white code cells stay inside the RGB
/// gamut on the way to JPEG. `tests/camera_formats.rs` draws the same.
const PARTICIPANT: u32 = 52;
const SEQ: u32 = 7;
const CAPTURE_US: u64 = 1_234_567;

fn main() {
    let dir = std::env::args().nth(1).map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/camera")),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("create the output directory");
    let dir = dir.canonicalize().expect("the output directory exists");
    let small = TestPattern::new(320, 180, PARTICIPANT).draw(SEQ, CAPTURE_US);
    write(&dir.join("pattern-320x180.yuyv"), &yuyv(&small));
    write(&dir.join("pattern-320x180.nv12"), &nv12(&small));
    jpeg(&small, &dir.join("pattern-320x180.jpg"), "2x1", 90, false);
    jpeg(
        &small,
        &dir.join("pattern-320x180-420.jpg"),
        "2x2",
        90,
        false,
    );
    jpeg(
        &small,
        &dir.join("pattern-320x180-grey.jpg"),
        "1x1",
        90,
        true,
    );
    let large = TestPattern::new(1280, 720, PARTICIPANT).draw(SEQ, CAPTURE_US);
    jpeg(&large, &dir.join("pattern-1280x720.jpg"), "2x1", 90, false);
    jpeg(
        &with_noise(large),
        &dir.join("pattern-1280x720-noisy.jpg"),
        "2x1",
        90,
        false,
    );
}

/// The frame with sensor-like noise on its luma: ±8 levels from a fixed xorshift sequence (the
/// noise the codecs bench adds), so the JPEG costs a decoder what a camera's does.
fn with_noise(mut f: VideoFrame) -> VideoFrame {
    let mut x = 0x9e37_79b9u32;
    for p in f.y_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *p = p.saturating_add((x >> 28) as u8).saturating_sub(8);
    }
    f
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    println!("{} ({} bytes)", path.display(), bytes.len());
}

/// The planes of an I420 frame.
struct Planes<'a> {
    y: &'a [u8],
    u: &'a [u8],
    v: &'a [u8],
    width: usize,
}

impl<'a> Planes<'a> {
    fn of(f: &'a VideoFrame) -> Self {
        let width = f.width as usize;
        let (y, chroma) = f.data.split_at(width * f.height as usize);
        let (u, v) = chroma.split_at(chroma.len() / 2);
        Planes { y, u, v, width }
    }

    /// Where the chroma of the pixel at `row`, `col` is in U and V.
    fn chroma_at(&self, row: usize, col: usize) -> usize {
        row / 2 * (self.width / 2) + col / 2
    }
}

/// YUYV 4:2:2: each row keeps the chroma of its 2x2 block, so averaging the two rows back
/// gives the I420 chroma exactly.
fn yuyv(f: &VideoFrame) -> Vec<u8> {
    let (w, h) = (f.width as usize, f.height as usize);
    let p = Planes::of(f);
    let mut out = Vec::with_capacity(w * h * 2);
    for row in 0..h {
        for col in (0..w).step_by(2) {
            let (i, c) = (row * w + col, p.chroma_at(row, col));
            out.extend([p.y[i], p.u[c], p.y[i + 1], p.v[c]]);
        }
    }
    out
}

fn nv12(f: &VideoFrame) -> Vec<u8> {
    let p = Planes::of(f);
    let mut out = p.y.to_vec();
    for (u, v) in p.u.iter().zip(p.v) {
        out.extend([*u, *v]);
    }
    out
}

/// BT.601 limited range to full-range RGB (or, for `grey`, the full-range luma alone).
fn pnm(f: &VideoFrame, grey: bool) -> Vec<u8> {
    let (w, h) = (f.width as usize, f.height as usize);
    let p = Planes::of(f);
    let magic = if grey { "P5" } else { "P6" };
    let mut out = format!("{magic}\n{w} {h}\n255\n").into_bytes();
    let clamp = |x: f32| x.round().clamp(0.0, 255.0) as u8;
    for row in 0..h {
        for col in 0..w {
            let luma = 255.0 / 219.0 * (f32::from(p.y[row * w + col]) - 16.0);
            if grey {
                out.push(clamp(luma));
                continue;
            }
            let c = p.chroma_at(row, col);
            let cb = 255.0 / 224.0 * (f32::from(p.u[c]) - 128.0);
            let cr = 255.0 / 224.0 * (f32::from(p.v[c]) - 128.0);
            out.extend([
                clamp(luma + 1.402 * cr),
                clamp(luma - 0.344_136 * cb - 0.714_136 * cr),
                clamp(luma + 1.772 * cb),
            ]);
        }
    }
    out
}

/// A baseline JPEG of `f` with chroma `sampling` ("2x1" is 4:2:2, "2x2" 4:2:0).
fn jpeg(f: &VideoFrame, path: &Path, sampling: &str, quality: u32, grey: bool) {
    let convert = std::env::var("IMAGEMAGICK_CONVERT").unwrap_or_else(|_| "convert".into());
    let pnm_path = path.with_extension(if grey { "pgm" } else { "ppm" });
    std::fs::write(&pnm_path, pnm(f, grey)).expect("write the intermediate picture");
    let status = Command::new(&convert)
        .arg(&pnm_path)
        .args(["-strip", "-interlace", "none", "-sampling-factor", sampling])
        .args(["-quality", &quality.to_string()])
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("run {convert} (ImageMagick): {e}"));
    std::fs::remove_file(&pnm_path).expect("remove the intermediate picture");
    assert!(status.success(), "{convert} failed: {status}");
    let len = std::fs::metadata(path).expect("the JPEG was written").len();
    println!("{} ({len} bytes)", path.display());
}
