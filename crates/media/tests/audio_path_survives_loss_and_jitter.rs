//! The audio receive path end to end, without a network: a participant's tone is encoded with
//! Opus, sent through a seeded lossy, jittery "network", held in the jitter buffer, decoded with
//! FEC and concealment, and the listener still hears that participant's tone, continuously.

use parley_media::AudioSource;
use parley_media::audio_codec::{FRAME_SAMPLES, OpusConfig, OpusDecoder, OpusEncoder};
use parley_media::jitter::{FRAME_US, JitterBuffer, Playout, frame_timestamp};
use parley_media::tone::{Tone, participant_frequency, power_at};

/// A tiny seeded generator so a failing run can be repeated exactly.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

#[test]
fn a_tone_survives_ten_percent_loss_and_sixty_ms_of_jitter() {
    let participant = 4;
    let freq = participant_frequency(participant);
    let mut src = Tone::for_participant(participant);
    let mut enc = OpusEncoder::new(&OpusConfig::default()).unwrap();
    let mut dec = OpusDecoder::new().unwrap();
    let mut jb = JitterBuffer::default();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let frames = 500u32; // 10 s
    // Send: encode every 20 ms; the network loses 10 % and delays 0–60 ms.
    let mut arrivals = Vec::new();
    for i in 0..frames {
        let f = src
            .next_frame(u64::from(i) * FRAME_US, FRAME_SAMPLES)
            .unwrap();
        let packet = enc.encode(&f).unwrap();
        if rng.chance(10) {
            continue;
        }
        let delay = rng.next() % 60_000;
        arrivals.push((u64::from(i) * FRAME_US + delay, i, packet));
    }
    arrivals.sort_by_key(|a| a.0);
    // Receive: push arrivals, pop every 20 ms, decode.
    let mut pcm = Vec::new();
    let mut a = 0;
    let mut t = 0u64;
    while t < u64::from(frames) * FRAME_US + 500_000 {
        while a < arrivals.len() && arrivals[a].0 <= t {
            let (at, i, ref p) = arrivals[a];
            jb.push(at, i as u16, frame_timestamp(0, i), p.clone());
            a += 1;
        }
        let out = match jb.pop(t) {
            Playout::Waiting => vec![0; FRAME_SAMPLES],
            Playout::Packet(p) => dec.decode(&p).unwrap(),
            Playout::Recover(next) => dec.recover_from(&next).unwrap(),
            Playout::Conceal => dec.conceal().unwrap(),
        };
        assert_eq!(out.len(), FRAME_SAMPLES);
        pcm.extend(out);
        t += FRAME_US;
    }
    let s = jb.stats();
    assert!(s.recovered > 10, "FEC recovered frames: {s:?}");
    assert!(s.played > 400, "{s:?}");
    // In every second of the middle of the call, the tone is there and dominant.
    for second in 1..9 {
        let window = &pcm[second * 48_000..(second + 1) * 48_000];
        let at = power_at(window, freq);
        let other = power_at(window, participant_frequency(participant + 3));
        assert!(at > 0.003, "second {second}: {at}");
        assert!(at > 20.0 * other, "second {second}: {at} vs {other}");
    }
    // The buffer adapted to the jitter but stayed bounded.
    assert!(jb.target_delay_us() >= 40_000 && jb.target_delay_us() <= 400_000);
}
