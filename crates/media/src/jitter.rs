//! An adaptive jitter buffer for audio, sans-I/O.
//!
//! Drive it with [`JitterBuffer::push`] for every arriving packet (RTP sequence number and
//! timestamp, payload, arrival time) and [`JitterBuffer::pop`] once per 20 ms of playout. `pop`
//! says what to play: a packet, a packet to recover from the next one's in-band FEC, or
//! concealment. The buffer holds packets for a target delay that follows the measured network
//! jitter (RFC 3550's estimator): it grows quickly when packets arrive unevenly and shrinks
//! slowly when the network calms, dropping a frame now and then to catch up. Memory is bounded
//! whatever the sender does.

use std::collections::BTreeMap;

/// Length of one audio frame in microseconds (20 ms).
pub const FRAME_US: u64 = 20_000;
/// RTP clock ticks per frame (48 kHz × 20 ms).
const TICKS_PER_FRAME: u32 = 960;
/// Most packets held.
pub const CAPACITY: usize = 100;

/// What to play for the next 20 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Nothing has arrived yet, the buffer is filling to its target, or the stream stopped:
    /// play silence.
    Waiting,
    /// Decode this packet.
    Packet(Vec<u8>),
    /// The packet is missing but the next one is here: decode its in-band FEC data.
    Recover(Vec<u8>),
    /// The packet is missing: conceal.
    Conceal,
}

/// What happened to a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Held for playout.
    Accepted,
    /// Its playout time has passed.
    Late,
    /// Already held.
    Duplicate,
    /// So far from the current position that the stream was restarted from it.
    Resynced,
}

/// Counters for stats and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets played as they were.
    pub played: u64,
    /// Frames recovered from FEC.
    pub recovered: u64,
    /// Frames concealed.
    pub concealed: u64,
    /// Packets that came after their time.
    pub late: u64,
    /// Duplicate packets.
    pub duplicates: u64,
    /// Frames dropped to reduce delay.
    pub dropped: u64,
    /// Frames concealed to let the delay grow (or while the stream paused).
    pub expanded: u64,
    /// Restarts after a jump in sequence numbers.
    pub resyncs: u64,
}

/// The adaptive jitter buffer. See the module docs.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    packets: BTreeMap<u64, Vec<u8>>,
    /// Extended sequence number of the next frame to play, once playing.
    next: Option<u64>,
    /// Highest extended sequence number seen (for unwrapping).
    highest: Option<u64>,
    /// When the first packet of the current run arrived (to start after the target delay).
    first_arrival: Option<u64>,
    /// RFC 3550 interarrival jitter, in microseconds.
    jitter_us: f64,
    last_transit: Option<i64>,
    target_us: u64,
    min_us: u64,
    max_us: u64,
    stats: JitterStats,
    idle_frames: u32,
    /// Least buffered (µs) over the current window of pops, and the pops in it.
    window_min_us: u64,
    window_pops: u32,
}

/// Pops (20 ms each) over which the buffer level is watched before trimming it: one second.
const TRIM_WINDOW: u32 = 50;

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new(40_000, 400_000)
    }
}

impl JitterBuffer {
    /// A buffer whose target delay stays between `min_us` and `max_us`.
    pub fn new(min_us: u64, max_us: u64) -> Self {
        let min_us = min_us.max(FRAME_US);
        JitterBuffer {
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            first_arrival: None,
            jitter_us: 0.0,
            last_transit: None,
            target_us: min_us,
            min_us,
            max_us: max_us.max(min_us),
            stats: JitterStats::default(),
            idle_frames: 0,
            window_min_us: u64::MAX,
            window_pops: 0,
        }
    }

    /// The delay the buffer aims for now.
    pub fn target_delay_us(&self) -> u64 {
        self.target_us
    }

    /// The measured interarrival jitter.
    pub fn jitter_us(&self) -> u64 {
        self.jitter_us as u64
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether no packet is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    fn unwrap_seq(&self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            return u64::from(seq) + (1 << 16);
        };
        // Pick the extension of `seq` closest to the highest seen.
        let base = h & !0xffff;
        let candidates = [base.wrapping_sub(1 << 16), base, base + (1 << 16)];
        candidates
            .into_iter()
            .map(|b| b | u64::from(seq))
            .min_by_key(|c| c.abs_diff(h))
            .unwrap_or(base | u64::from(seq))
    }

    /// A packet arrived at `now_us` (the local clock).
    pub fn push(&mut self, now_us: u64, seq: u16, timestamp: u32, payload: Vec<u8>) -> Pushed {
        let ext = self.unwrap_seq(seq);
        self.update_jitter(now_us, timestamp);
        if let Some(next) = self.next {
            if ext < next {
                self.stats.late += 1;
                return Pushed::Late;
            }
            if ext >= next + CAPACITY as u64 {
                // The sender jumped (restart, or hostile): start over from here.
                self.restart(now_us, ext);
                self.packets.insert(ext, payload);
                self.stats.resyncs += 1;
                return Pushed::Resynced;
            }
        } else if let Some(h) = self.highest
            && ext.abs_diff(h) >= CAPACITY as u64
        {
            self.restart(now_us, ext);
            self.packets.insert(ext, payload);
            self.stats.resyncs += 1;
            return Pushed::Resynced;
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        self.packets.insert(ext, payload);
        while self.packets.len() > CAPACITY {
            self.packets.pop_first();
        }
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.first_arrival.get_or_insert(now_us);
        Pushed::Accepted
    }

    fn restart(&mut self, now_us: u64, ext: u64) {
        self.packets.clear();
        self.next = None;
        self.highest = Some(ext);
        self.first_arrival = Some(now_us);
    }

    fn update_jitter(&mut self, now_us: u64, timestamp: u32) {
        // Transit time (arrival minus media time) in µs; only its changes matter.
        let media_us = i64::from(timestamp) * 1_000_000 / 48_000;
        let transit = now_us as i64 - media_us;
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs() as f64;
            // Ignore timestamp wraps and restarts.
            if d < 10_000_000.0 {
                self.jitter_us += (d - self.jitter_us) / 16.0;
            }
        }
        self.last_transit = Some(transit);
        // Hold about two and a half times the jitter: grow at once, shrink slowly.
        let want = (self.jitter_us * 2.5) as u64 + FRAME_US;
        let want = want.clamp(self.min_us, self.max_us);
        if want > self.target_us {
            self.target_us = want;
        } else {
            self.target_us -= (self.target_us - want) / 64;
        }
    }

    /// What to play for the next 20 ms (call once per frame on the playout clock).
    pub fn pop(&mut self, now_us: u64) -> Playout {
        let mut next = match self.next {
            Some(n) => n,
            None => {
                // Start once the first packet has waited the target delay.
                let (Some(first), Some((&lowest, _))) =
                    (self.first_arrival, self.packets.first_key_value())
                else {
                    return Playout::Waiting;
                };
                if now_us.saturating_sub(first) < self.target_us {
                    return Playout::Waiting;
                }
                lowest
            }
        };
        let buffered_us = self.packets.range(next..).count() as u64 * FRAME_US;
        if !self.packets.contains_key(&next) && buffered_us < self.target_us {
            if self.packets.is_empty() {
                // The stream stopped: after a short fade of concealment, wait for it again.
                self.idle_frames += 1;
                if self.idle_frames > IDLE_FRAMES_BEFORE_WAITING {
                    self.next = None;
                    self.first_arrival = None;
                    self.idle_frames = 0;
                    return Playout::Waiting;
                }
            }
            // Under the target: hold the position (the delay grows by one frame) rather than
            // give up on a packet that may still come.
            self.next = Some(next);
            self.stats.expanded += 1;
            return Playout::Conceal;
        }
        self.idle_frames = 0;
        // Too much buffered for the target: drop the oldest frame to catch up — at once if far
        // over, or when the level stayed a frame over the target for a whole window (a burst
        // after a stall leaves that much behind for good otherwise).
        self.window_min_us = self.window_min_us.min(buffered_us);
        self.window_pops += 1;
        let far_over = buffered_us > self.target_us + 3 * FRAME_US;
        let stayed_over =
            self.window_pops >= TRIM_WINDOW && self.window_min_us > self.target_us + FRAME_US;
        if self.window_pops >= TRIM_WINDOW || far_over {
            self.window_pops = 0;
            self.window_min_us = u64::MAX;
        }
        if (far_over || stayed_over) && self.packets.remove(&next).is_some() {
            self.stats.dropped += 1;
            next += 1;
        }
        self.next = Some(next + 1);
        // Anything older than what plays now can never play.
        while self
            .packets
            .first_key_value()
            .is_some_and(|(&k, _)| k < next)
        {
            self.packets.pop_first();
        }
        if let Some(p) = self.packets.remove(&next) {
            self.stats.played += 1;
            return Playout::Packet(p);
        }
        if let Some(p) = self.packets.get(&(next + 1)) {
            self.stats.recovered += 1;
            return Playout::Recover(p.clone());
        }
        self.stats.concealed += 1;
        Playout::Conceal
    }
}

/// Concealed frames with nothing buffered before the buffer waits for the stream again.
const IDLE_FRAMES_BEFORE_WAITING: u32 = 5;

/// The RTP timestamp of frame `n` of a stream starting at `base` (for tests and senders).
pub fn frame_timestamp(base: u32, n: u32) -> u32 {
    base.wrapping_add(n.wrapping_mul(TICKS_PER_FRAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed frames `0..n` with per-frame network delay `delay(i)` (µs), popping every 20 ms.
    fn run(
        jb: &mut JitterBuffer,
        n: u32,
        seq0: u16,
        delay: impl Fn(u32) -> Option<u64>,
    ) -> Vec<Playout> {
        let mut arrivals: Vec<(u64, u32)> = (0..n)
            .filter_map(|i| delay(i).map(|d| (u64::from(i) * FRAME_US + d, i)))
            .collect();
        arrivals.sort();
        let mut out = Vec::new();
        let mut a = 0;
        let end = u64::from(n) * FRAME_US + 1_000_000;
        let mut t = 0;
        while t < end {
            while a < arrivals.len() && arrivals[a].0 <= t {
                let i = arrivals[a].1;
                jb.push(
                    arrivals[a].0,
                    seq0.wrapping_add(i as u16),
                    frame_timestamp(7, i),
                    vec![i as u8, (i >> 8) as u8],
                );
                a += 1;
            }
            out.push(jb.pop(t));
            t += FRAME_US;
        }
        out
    }

    fn played(out: &[Playout]) -> Vec<u32> {
        out.iter()
            .filter_map(|p| match p {
                Playout::Packet(d) => Some(u32::from(d[0]) | u32::from(d[1]) << 8),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn steady_packets_play_in_order_without_gaps() {
        let mut jb = JitterBuffer::default();
        let out = run(&mut jb, 200, 100, |_| Some(5_000));
        assert_eq!(played(&out), (0..200).collect::<Vec<_>>());
        assert_eq!(jb.stats().concealed, 0);
        assert_eq!(jb.target_delay_us(), 40_000, "no jitter, minimum delay");
    }

    #[test]
    fn a_backlog_left_by_a_stall_is_trimmed_away() {
        // Packets 100–102 are held up 60 ms and arrive with 103; the buffer conceals while it
        // waits, so three frames more are queued afterwards than the steady stream needs.
        let stall = |i: u32| {
            Some(match i {
                100..=102 => u64::from(103 - i) * FRAME_US + 1_000,
                _ => 1_000,
            })
        };
        let mut jb = JitterBuffer::new(20_000, 400_000);
        let out = run(&mut jb, 400, 0, stall);
        assert_eq!(played(&out).len(), 400 - jb.stats().dropped as usize);
        // Frames queued behind the one playing at the end: back to one or two, not four.
        assert!(
            jb.stats().dropped >= 2,
            "the backlog stayed: {:?}",
            jb.stats()
        );
        assert!(jb.len() <= 2, "{} frames still queued", jb.len());
        // A steady stream is never cut.
        let mut steady = JitterBuffer::new(20_000, 400_000);
        run(&mut steady, 400, 0, |_| Some(3_000));
        assert_eq!(steady.stats().dropped, 0);
    }

    #[test]
    fn reordered_packets_are_put_back_in_order() {
        let mut jb = JitterBuffer::default();
        // Every 5th packet arrives 30 ms late, after its successor.
        let out = run(&mut jb, 200, 0, |i| {
            Some(if i % 5 == 0 { 30_000 } else { 2_000 })
        });
        assert_eq!(played(&out), (0..200).collect::<Vec<_>>());
        assert_eq!(jb.stats().late, 0);
    }

    #[test]
    fn a_lost_packet_is_recovered_from_the_next_or_concealed() {
        let mut jb = JitterBuffer::default();
        let out = run(&mut jb, 100, 0, |i| match i {
            50 => None,
            70 | 71 => None,
            _ => Some(1_000),
        });
        let p = played(&out);
        assert!(!p.contains(&50) && !p.contains(&70) && !p.contains(&71));
        assert_eq!(p.len(), 97);
        let s = jb.stats();
        assert_eq!(s.recovered, 2, "50 from 51, 71 from 72");
        assert_eq!(s.concealed, 1, "70: 71 is missing too");
        assert!(out.contains(&Playout::Recover(vec![51, 0])));
    }

    #[test]
    fn jitter_raises_the_target_and_calm_lowers_it_again() {
        let mut jb = JitterBuffer::default();
        // Delays that swing by up to 80 ms.
        run(&mut jb, 300, 0, |i| Some(u64::from((i * 37) % 5) * 20_000));
        let jittery = jb.target_delay_us();
        assert!(jittery > 100_000, "target grew to {jittery} µs");
        let late_during_jitter = jb.stats().late;
        assert!(late_during_jitter < 30, "{late_during_jitter} late");
        let mut calm = JitterBuffer {
            target_us: jittery,
            ..Default::default()
        };
        run(&mut calm, 1000, 0, |_| Some(1_000));
        assert!(
            calm.target_delay_us() < jittery / 2,
            "{}",
            calm.target_delay_us()
        );
        assert!(calm.stats().dropped > 0, "frames were dropped to catch up");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut jb = JitterBuffer::default();
        let out = run(&mut jb, 200, 65_500, |_| Some(3_000));
        assert_eq!(played(&out), (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn duplicates_late_packets_and_jumps_are_handled_with_bounded_memory() {
        let mut jb = JitterBuffer::default();
        assert_eq!(jb.push(0, 10, 0, vec![1]), Pushed::Accepted);
        assert_eq!(jb.push(1, 10, 0, vec![1]), Pushed::Duplicate);
        assert_eq!(jb.pop(50_000), Playout::Packet(vec![1]));
        assert_eq!(jb.push(60_000, 9, 0, vec![1]), Pushed::Late);
        assert_eq!(jb.push(300_000, 30_000, 0, vec![1]), Pushed::Resynced);
        // A flood of distinct packets never grows the buffer past its capacity.
        for s in 0..5_000u16 {
            jb.push(400_000, 30_000u16.wrapping_add(s % 90), 0, vec![0; 10]);
        }
        assert!(jb.len() <= CAPACITY);
    }
}
