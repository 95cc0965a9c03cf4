//! The device paths' cost on one core: a 720p30 camera delivering MJPEG, converted and encoded;
//! resampling and audio processing per 10 ms; the playout mixer; and the delay the capture and
//! playout buffers add (in virtual time). `cargo bench -p parley-media --bench devices` (a bench binary, not criterion).

use std::time::{Duration, Instant};

use parley_media::VideoFrame;
use parley_media::audio_buffer::{CaptureQueue, PlayoutQueue};
use parley_media::convert::{PixelFormat, to_i420_into};
use parley_media::mixer::Mixer;
use parley_media::processing::{AudioProcessor, BLOCK_SAMPLES, ProcessingSettings};
use parley_media::resample::Resampler;
use parley_media::vp8::{Vp8Config, Vp8Encoder};

const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/camera");

fn per(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

/// MJPEG 720p → I420 → VP8, as the camera path runs it at 30 fps, on a picture like a
/// camera's. The JPEG decoded every frame is the test pattern with sensor-like noise
/// (`pattern-1280x720-noisy.jpg`: a clean synthetic JPEG decodes faster than a camera's).
/// Between decoding and encoding, outside the timed parts, the picture pans 6 pixels a frame
/// and gets fresh noise (±8 levels of luma, as the codecs bench adds): a near-static picture
/// costs an encoder a fraction of what a camera's moving, noisy one does.
fn capture_encode() {
    let jpeg = std::fs::read(format!("{ASSETS}/pattern-1280x720-noisy.jpg")).unwrap();
    let (w, h) = (1280usize, 720usize);
    let mut decoded = VideoFrame::black(w as u32, h as u32);
    let mut moved = VideoFrame::black(w as u32, h as u32);
    let mut enc = Vp8Encoder::new(Vp8Config::realtime(w as u32, h as u32, 1500)).unwrap();
    let frames = 300u64;
    let (mut convert, mut encode, mut bytes) = (Duration::ZERO, Duration::ZERO, 0usize);
    let mut noise = 0x9e37_79b9u32;
    for i in 0..frames {
        let t = Instant::now();
        to_i420_into(
            PixelFormat::Mjpeg,
            &jpeg,
            1280,
            720,
            i * 33_333,
            &mut decoded,
        )
        .unwrap();
        convert += t.elapsed();
        pan_with_noise(&decoded, &mut moved, i as usize * 6, &mut noise);
        let t = Instant::now();
        let out = enc.encode(&moved, false).unwrap();
        encode += t.elapsed();
        bytes += out.iter().map(|e| e.data.len()).sum::<usize>();
    }
    let c = per(convert, frames);
    let e = per(encode, frames);
    println!(
        "camera 720p30 MJPEG ({} KB a frame, noisy; the picture pans and gets fresh noise): \
         convert {c:.0} µs + VP8 encode {e:.0} µs per frame = {:.1} % of a core; \
         {:.0} kbit/s produced (target 1,500)",
        jpeg.len() / 1000,
        (c + e) * 30.0 / 1e4,
        bytes as f64 * 8.0 / (frames as f64 / 30.0) / 1000.0
    );
}

/// `to` is `from` moved `shift` pixels to the left (wrapping round), with fresh noise on its
/// luma: a camera panning over a scene, with a sensor's noise.
fn pan_with_noise(from: &VideoFrame, to: &mut VideoFrame, shift: usize, noise: &mut u32) {
    let (w, h) = (from.width as usize, from.height as usize);
    let (cw, ch) = (w / 2, h / 2);
    // Rows of each plane: Y (w wide, h rows), then U and V (w/2 wide, h/2 rows each).
    let planes = [
        (0, w, h, shift % w),
        (w * h, cw, ch, shift / 2 % cw),
        (w * h + cw * ch, cw, ch, shift / 2 % cw),
    ];
    for (base, width, rows, s) in planes {
        for r in 0..rows {
            let row = base + r * width;
            let src = &from.data[row..row + width];
            let dst = &mut to.data[row..row + width];
            dst[..width - s].copy_from_slice(&src[s..]);
            dst[width - s..].copy_from_slice(&src[..s]);
        }
    }
    to.capture_us = from.capture_us;
    for p in to.y_mut() {
        *noise ^= *noise << 13;
        *noise ^= *noise >> 17;
        *noise ^= *noise << 5;
        *p = p.saturating_add((*noise >> 28) as u8).saturating_sub(8);
    }
}

fn resample() {
    for (from, to) in [
        (44_100u32, 48_000u32),
        (48_000, 44_100),
        (16_000, 48_000),
        (96_000, 48_000),
    ] {
        let mut r = Resampler::new(from, to).unwrap();
        let block: Vec<f32> = (0..from as usize / 100)
            .map(|i| (i as f32 * 0.05).sin() * 0.3)
            .collect();
        let mut out = Vec::with_capacity(4_096);
        let blocks = 5_000u64;
        let t = Instant::now();
        for _ in 0..blocks {
            out.clear();
            r.push(&block, &mut out);
        }
        let us = per(t.elapsed(), blocks);
        println!(
            "resample {from} → {to} Hz: {us:.1} µs per 10 ms ({:.2} % of a core); delay {:.2} ms + up to {:.1} ms filling a chunk",
            us / 100.0,
            r.delay_samples() as f64 * 1000.0 / f64::from(to),
            r.chunk_samples() as f64 * 1000.0 / f64::from(from)
        );
    }
}

fn processing() {
    let speech: Vec<i16> = (0..BLOCK_SAMPLES * 1_000)
        .map(|i| ((i as f32 * 0.031).sin() * (i as f32 * 0.0007).sin() * 9_000.0) as i16)
        .collect();
    for (label, settings) in [
        (
            "echo cancellation + noise suppression + gain control",
            ProcessingSettings::voice(),
        ),
        (
            "echo cancellation only",
            ProcessingSettings {
                echo_cancellation: true,
                ..ProcessingSettings::original_sound()
            },
        ),
        (
            "noise suppression only",
            ProcessingSettings {
                noise_suppression: true,
                ..ProcessingSettings::original_sound()
            },
        ),
    ] {
        let (mut capture, mut render) = AudioProcessor::new(settings).unwrap().split();
        let mut mic = vec![0i16; BLOCK_SAMPLES];
        let t = Instant::now();
        let blocks = 1_000u64;
        for (n, far) in speech.chunks_exact(BLOCK_SAMPLES).enumerate() {
            render.played(far);
            let from = ((n + 999) % 1_000) * BLOCK_SAMPLES;
            for (m, s) in mic.iter_mut().zip(&speech[from..from + BLOCK_SAMPLES]) {
                *m = s / 3;
            }
            capture.process(&mut mic).unwrap();
        }
        let us = per(t.elapsed(), blocks);
        println!(
            "audio processing, {label}: {us:.0} µs per 10 ms ({:.1} % of a core)",
            us / 100.0
        );
    }
}

fn mixing() {
    let mut m = Mixer::new();
    let voice = vec![3_000i16; BLOCK_SAMPLES];
    let mut out = vec![0i16; BLOCK_SAMPLES];
    let blocks = 20_000u64;
    let t = Instant::now();
    for _ in 0..blocks {
        for who in ["1", "2", "3", "4", "5", "6", "7", "8", "9"] {
            m.push(who, &voice);
        }
        m.mix(&mut out);
    }
    let us = per(t.elapsed(), blocks);
    println!(
        "mixer, 9 voices: {us:.1} µs per 10 ms ({:.2} % of a core)",
        us / 100.0
    );
}

/// The delay the capture and playout buffers add, in virtual time: a device at `rate` Hz with
/// a callback every `period_ms`, the call taking and giving 20 ms frames every 20 ms. Both
/// queues are sampled every 0.1 ms over 10 s; the means are averaged over 10 phases of the
/// call's loops against the device's.
///
/// 20 ms frames cost 10 ms on each side whatever the buffering (a sample waits on average half
/// a frame for its frame to be complete, and half a frame after its frame was decoded before
/// it is played): what is above 20 ms in total is what the buffers add.
fn buffering(rate: u32, period_ms: f64) {
    let step_us = 100u64;
    let period_us = (period_ms * 1000.0) as u64;
    // Frames per callback: at 44.1 kHz a 5 ms period alternates 220 and 221, as a device does.
    let frames_at = |k: u64| (k as f64 * f64::from(rate) * period_ms / 1000.0).floor() as usize;
    let device_block = vec![0.1f32; frames_at(1) + 1];
    let mut out = vec![0i16; (frames_at(1) + 1) * 2];
    let (mut cap_all, mut play_all, mut dropped) = (0.0, 0.0, 0u64);
    let phases = 10u64;
    for phase in 0..phases {
        let take_at = (phase * 1_900 + 300) % 20_000;
        let give_at = (phase * 3_700 + 11_100) % 20_000;
        let mut capture = CaptureQueue::new(rate).unwrap();
        let mut mixer = Mixer::new();
        let mut playout = PlayoutQueue::new(rate, None).unwrap();
        let (mut cap_sum, mut play_sum, mut n) = (0.0, 0.0, 0u64);
        for t in (0..10_000_000u64).step_by(step_us as usize) {
            if t % period_us == 0 {
                let k = t / period_us;
                let frames = frames_at(k + 1) - frames_at(k);
                capture.push_device(&device_block[..frames]);
                playout.fill(&mut mixer, &mut out[..frames * 2], 2, |v| {
                    (v * 32767.0) as i16
                });
            }
            if t % 20_000 == take_at {
                capture.take(960);
            }
            if t % 20_000 == give_at {
                mixer.push("far", &[1_000; 960]);
            }
            if t > 1_000_000 {
                cap_sum += capture.queued_ms();
                play_sum += mixer.queued("far") as f64 / 48.0 + playout.queued_ms();
                n += 1;
            }
        }
        cap_all += cap_sum / n as f64;
        play_all += play_sum / n as f64;
        dropped += capture.dropped();
    }
    let (cap, play) = (cap_all / phases as f64, play_all / phases as f64);
    println!(
        "buffering at {rate} Hz, {period_ms} ms device period: capture {cap:.1} ms, playout {play:.1} ms; \
         added beyond the 20 ms frames {:.1} ms ({dropped} samples skipped in 10 × 10 s)",
        cap + play - 20.0
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("devices bench: run with `cargo bench -p parley-media --bench devices`");
        return;
    }
    // A group name given (`cargo bench -p parley-media --bench devices -- camera`) runs only
    // the groups it names: camera, resample, processing, mixing, buffering.
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |group: &str| only.as_deref().is_none_or(|f| group.contains(f));
    if wanted("camera") {
        capture_encode();
    }
    if wanted("resample") {
        resample();
    }
    if wanted("processing") {
        processing();
    }
    if wanted("mixing") {
        mixing();
    }
    if wanted("buffering") {
        for rate in [48_000, 44_100] {
            for period in [5.0, 10.0, 20.0] {
                buffering(rate, period);
            }
        }
    }
}
