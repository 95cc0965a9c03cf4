//! Codec speed on one core: VP8 encode and decode of the noisy test pattern at 360p and 720p, Opus
//! encode of 20 ms frames, camera frames (720p MJPEG and YUYV) to I420, decoded pictures to RGBA for
//! the window. `cargo bench -p parley-media` (a bench binary, not criterion); `-- vp8`, `-- opus`,
//! `-- convert` or `-- rgba` runs one group.

use std::time::{Duration, Instant};

use parley_media::audio_codec::{FRAME_SAMPLES, OpusConfig, OpusEncoder};
use parley_media::convert::{
    PixelFormat, i420_to_rgba_scaled, i420_to_rgba_scaled_reference, to_i420_into,
};
use parley_media::pattern::TestPattern;
use parley_media::tone::Tone;
use parley_media::vp8::{Vp8Config, Vp8Decoder, Vp8Encoder};
use parley_media::{AudioSource, VideoFrame, VideoSource};

fn vp8(width: u32, height: u32, kbps: u32, cpu_used: i32) {
    let frames = 300u64;
    let mut src = TestPattern::new(width, height, 1);
    // The test pattern plus fresh sensor-like noise (±8 levels) in every frame: flat synthetic
    // pictures cost an encoder far less than a camera does.
    let mut x = 0x9e37_79b9u32;
    let input: Vec<_> = (0..frames)
        .map(|i| {
            let mut f = src.next_frame(i * 33_333).unwrap();
            for p in f.y_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *p = p.saturating_add((x >> 28) as u8).saturating_sub(8);
            }
            f
        })
        .collect();
    let mut config = Vp8Config::realtime(width, height, kbps);
    config.cpu_used = cpu_used;
    let mut enc = Vp8Encoder::new(config).unwrap();
    let t = Instant::now();
    let mut encoded = Vec::new();
    for f in &input {
        encoded.extend(enc.encode(f, false).unwrap());
    }
    let enc_time = t.elapsed();
    let bytes: usize = encoded.iter().map(|e| e.data.len()).sum();
    let mut dec = Vp8Decoder::new().unwrap();
    let t = Instant::now();
    for e in &encoded {
        dec.decode(&e.data).unwrap();
    }
    let dec_time = t.elapsed();
    println!(
        "vp8 {width}x{height} {kbps} kbit/s cpu-used {cpu_used}: encode {:.0} fps, decode {:.0} fps, {:.0} kbit/s produced",
        fps(frames, enc_time),
        fps(frames, dec_time),
        bytes as f64 * 8.0 / (frames as f64 / 30.0) / 1000.0
    );
}

fn fps(frames: u64, d: Duration) -> f64 {
    frames as f64 / d.as_secs_f64()
}

fn opus() {
    let frames = 1500u64; // 30 s
    let mut src = Tone::new(440.0, 0.3);
    let input: Vec<_> = (0..frames)
        .map(|i| src.next_frame(i * 20_000, FRAME_SAMPLES).unwrap())
        .collect();
    let mut enc = OpusEncoder::new(&OpusConfig::default()).unwrap();
    let t = Instant::now();
    for f in &input {
        enc.encode(f).unwrap();
    }
    let d = t.elapsed();
    println!(
        "opus 48 kHz mono 32 kbit/s complexity 10: {:.1} µs per 20 ms frame = {:.2} % of a core",
        d.as_secs_f64() * 1e6 / frames as f64,
        d.as_secs_f64() / (frames as f64 * 0.02) * 100.0
    );
}

/// Camera frames to I420 at 720p, into one reused frame as the capture loop does.
fn convert() {
    let (width, height) = (1280u32, 720u32);
    let jpeg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../assets/camera/pattern-1280x720.jpg"
    ))
    .expect("assets/camera/pattern-1280x720.jpg");
    // YUYV of the test pattern: each row with the chroma of its 2x2 block.
    let picture = TestPattern::new(width, height, 1).draw(0, 0);
    let (w, h) = (width as usize, height as usize);
    let (y, chroma) = picture.data.split_at(w * h);
    let (u, v) = chroma.split_at(w * h / 4);
    let mut yuyv = Vec::with_capacity(w * h * 2);
    for row in 0..h {
        for col in (0..w).step_by(2) {
            let c = row / 2 * (w / 2) + col / 2;
            yuyv.extend([y[row * w + col], u[c], y[row * w + col + 1], v[c]]);
        }
    }
    let mut out = VideoFrame::black(width, height);
    for (format, data, frames) in [
        (PixelFormat::Mjpeg, &jpeg, 300u64),
        (PixelFormat::Yuyv, &yuyv, 3000),
    ] {
        let t = Instant::now();
        for i in 0..frames {
            to_i420_into(format, data, width, height, i * 33_333, &mut out).unwrap();
        }
        let d = t.elapsed();
        println!(
            "convert {format} {width}x{height} to I420: {:.3} ms per frame = {:.1} % of a core at 30 fps",
            d.as_secs_f64() * 1e3 / frames as f64,
            d.as_secs_f64() / (frames as f64 / 30.0) * 100.0
        );
    }
}

/// Decoded pictures to RGBA for the app's window at the size shown: the SIMD conversion against
/// the per-pixel loop it replaced, on the noisy test pattern.
fn to_rgba() {
    for (width, height, step) in [
        (640u32, 360u32, 1u32),
        (640, 360, 2),
        (1280, 720, 2),
        (1280, 720, 1),
    ] {
        let picture = TestPattern::new(width, height, 1).draw(0, 0);
        let frames = 600u64;
        let mut out = Vec::new();
        let mut per_frame = Vec::new();
        for (name, f) in [
            (
                "SIMD (yuvutils-rs)",
                i420_to_rgba_scaled as fn(&VideoFrame, u32, &mut Vec<u8>) -> (u32, u32),
            ),
            ("per pixel (before)", i420_to_rgba_scaled_reference),
        ] {
            let t = Instant::now();
            for _ in 0..frames {
                out.clear();
                std::hint::black_box(f(&picture, step, &mut out));
            }
            let ms = t.elapsed().as_secs_f64() * 1e3 / frames as f64;
            per_frame.push(ms);
            println!(
                "to RGBA {width}x{height} / {step} ({}x{}), {name}: {ms:.3} ms per picture = {:.1} % of a core for ten tiles at 30 fps",
                width / step,
                height / step,
                ms * 300.0 / 10.0
            );
        }
        println!("  {:.1}x faster", per_frame[1] / per_frame[0]);
    }
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("codecs bench: run with `cargo bench -p parley-media`");
        return;
    }
    // A group name given (`cargo bench -p parley-media -- convert`) runs only the groups it names.
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |group: &str| only.as_deref().is_none_or(|f| group.contains(f));
    if wanted("vp8") {
        vp8(640, 360, 600, -6);
        vp8(1280, 720, 1500, -6);
        vp8(1280, 720, 1500, -12);
    }
    if wanted("opus") {
        opus();
    }
    if wanted("convert") {
        convert();
    }
    if wanted("rgba") {
        to_rgba();
    }
}
