//! Codec speed on one core: VP8 encode and decode of the noisy test pattern at 360p and 720p, Opus
//! encode of 20 ms frames. `cargo bench -p parley-media` (a bench binary, not criterion).

use std::time::{Duration, Instant};

use parley_media::audio_codec::{FRAME_SAMPLES, OpusConfig, OpusEncoder};
use parley_media::pattern::TestPattern;
use parley_media::tone::Tone;
use parley_media::vp8::{Vp8Config, Vp8Decoder, Vp8Encoder};
use parley_media::{AudioSource, VideoSource};

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

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("codecs bench: run with `cargo bench -p parley-media`");
        return;
    }
    vp8(640, 360, 600, -6);
    vp8(1280, 720, 1500, -6);
    vp8(1280, 720, 1500, -12);
    opus();
}
