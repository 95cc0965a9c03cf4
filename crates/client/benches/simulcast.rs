//! What simulcast costs the sender, on one core: a 1280x720@30 camera (the test pattern with
//! sensor-like noise) encoded as the three layers; as the small and middle ones (what a sender
//! encodes when nobody shows it larger than the middle layer: the SFU's `send_layers` names
//! every layer up to the largest anyone needs); as the small one (nobody shows it larger);
//! as each other layer alone, for comparison; and as nothing (nobody shows it). Each line is
//! milliseconds per camera picture (halving included) and the share of one core at 30 frames
//! a second. `cargo bench -p parley-client --bench simulcast` (a bench binary, not
//! criterion).

use std::time::Instant;

use parley_client::simulcast::LayeredEncoder;
use parley_media::pattern::TestPattern;
use parley_media::{VideoFrame, VideoSource};

const FRAMES: u64 = 300;

fn camera(width: u32, height: u32) -> Vec<VideoFrame> {
    let mut src = TestPattern::new(width, height, 1);
    let mut x = 0x9e37_79b9u32;
    (0..FRAMES)
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
        .collect()
}

fn run(input: &[VideoFrame], what: &str, wanted: u8) {
    let (w, h) = (input[0].width, input[0].height);
    let mut e = LayeredEncoder::new(w, h, 30, true).unwrap();
    e.set_wanted(wanted);
    e.follow(e.full_kbps()).unwrap();
    // Warm up (first keyframes), then measure.
    for f in &input[..10] {
        e.encode(f, 0).unwrap();
    }
    let t = Instant::now();
    let mut bytes = 0usize;
    for f in &input[10..] {
        bytes += e
            .encode(f, 0)
            .unwrap()
            .iter()
            .map(|(_, x)| x.data.len())
            .sum::<usize>();
    }
    let per = t.elapsed().as_secs_f64() * 1000.0 / (input.len() - 10) as f64;
    println!(
        "simulcast {w}x{h}@30, {what}: {per:.2} ms per picture, {:.0} % of a core, {:.0} kbit/s",
        per * 30.0 / 10.0,
        bytes as f64 * 8.0 / ((input.len() - 10) as f64 / 30.0) / 1000.0
    );
}

fn main() {
    let input = camera(1280, 720);
    run(&input, "all three layers (l m h)", 0b111);
    run(&input, "l and m (watched in small and middle tiles)", 0b011);
    run(&input, "h alone", 0b100);
    run(&input, "m alone", 0b010);
    run(&input, "l alone", 0b001);
    run(&input, "nothing (nobody watches)", 0);
}
