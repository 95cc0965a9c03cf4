//! VP8 frames from RTP packets (RFC 7741), sans-I/O.
//!
//! Packets go in as they arrive, in any order; a frame comes out as soon as its last packet
//! (the one with the marker bit) and every packet before it back to the frame's start are
//! here — not one frame later, as assemblers that wait for the next frame's timestamp do. A
//! hole (a lost packet) is waited for while a retransmission may still come ([`MAX_WAIT_US`]);
//! after that the assembler skips to the next frame start and says so, so the receiver asks
//! for a keyframe. A complete keyframe after a hole is taken at once. Memory is bounded.

use std::collections::BTreeMap;

/// How long a hole is waited for (NACK and retransmission) before it is given up.
pub const MAX_WAIT_US: u64 = 400_000;
/// Most packets held.
pub const CAPACITY: usize = 1024;

/// A packet the assembler could not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpPayloadError {
    /// The payload ends inside the VP8 payload descriptor, or carries no data.
    #[error("the VP8 RTP payload is truncated")]
    Truncated,
}

#[derive(Debug, Clone)]
struct Packet {
    timestamp: u32,
    marker: bool,
    /// First packet of a frame (S bit with partition index 0).
    start: bool,
    data: Vec<u8>,
}

/// A complete VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledFrame {
    /// The VP8 bitstream (payload descriptors removed).
    pub data: Vec<u8>,
    /// The RTP timestamp.
    pub timestamp: u32,
    /// Whether it is a keyframe.
    pub keyframe: bool,
    /// Whether frames were skipped before this one (the decoder needs a keyframe unless this
    /// is one).
    pub after_gap: bool,
}

/// Strip the VP8 payload descriptor; `(frame start?, data)`.
pub fn parse_descriptor(payload: &[u8]) -> Result<(bool, &[u8]), RtpPayloadError> {
    let first = *payload.first().ok_or(RtpPayloadError::Truncated)?;
    let mut at = 1;
    if first & 0x80 != 0 {
        let ext = *payload.get(at).ok_or(RtpPayloadError::Truncated)?;
        at += 1;
        if ext & 0x80 != 0 {
            let pid = *payload.get(at).ok_or(RtpPayloadError::Truncated)?;
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1;
        }
        if ext & 0x30 != 0 {
            at += 1;
        }
    }
    let data = payload.get(at..).filter(|d| !d.is_empty());
    let data = data.ok_or(RtpPayloadError::Truncated)?;
    let start = first & 0x10 != 0 && first & 0x07 == 0;
    Ok((start, data))
}

/// The assembler. See the module docs.
#[derive(Debug, Default)]
pub struct FrameAssembler {
    packets: BTreeMap<u64, Packet>,
    highest: Option<u64>,
    /// Where the next frame to emit starts (one past the last emitted packet).
    next: Option<u64>,
    /// Since when the assembler has been waiting for a hole to fill.
    waiting_since: Option<u64>,
    skipped: bool,
}

impl FrameAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    fn unwrap_seq(&mut self, seq: u16) -> u64 {
        let Some(h) = self.highest else {
            // Start high enough that earlier packets never go below zero.
            let ext = (1u64 << 32) + u64::from(seq);
            self.highest = Some(ext);
            return ext;
        };
        let delta = i64::from(seq.wrapping_sub(h as u16) as i16);
        let ext = (h as i64 + delta) as u64;
        self.highest = Some(h.max(ext));
        ext
    }

    /// Take in one RTP packet's sequence number, timestamp, marker bit and payload.
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), RtpPayloadError> {
        let (start, data) = parse_descriptor(payload)?;
        let ext = self.unwrap_seq(seq);
        if self.next.is_some_and(|n| ext < n) {
            return Ok(()); // too late: its frame is gone
        }
        self.packets.insert(
            ext,
            Packet {
                timestamp,
                marker,
                start,
                data: data.to_vec(),
            },
        );
        while self.packets.len() > CAPACITY {
            self.packets.pop_first();
            self.skipped = true;
        }
        Ok(())
    }

    /// The next complete frame, if there is one (call after every push, and now and then).
    pub fn pop(&mut self, now_us: u64) -> Option<AssembledFrame> {
        loop {
            let &first = self.packets.keys().next()?;
            let next = match self.next {
                Some(n) if first > n => {
                    // A hole before the next frame: wait for it, unless a whole keyframe is
                    // already here or the wait is over.
                    let since = *self.waiting_since.get_or_insert(now_us);
                    if let Some(k) = self.complete_keyframe_after(n) {
                        self.skip_to(k);
                        continue;
                    }
                    if now_us.saturating_sub(since) < MAX_WAIT_US {
                        return None;
                    }
                    let s = self.first_start()?;
                    self.skip_to(s);
                    continue;
                }
                Some(n) => n,
                None => {
                    // Nothing emitted yet: begin at the first frame start.
                    let s = self.first_start()?;
                    self.drop_before(s);
                    self.next = Some(s);
                    s
                }
            };
            if !self.packets[&next].start {
                // The middle of a frame whose start was given up: skip to a start.
                let s = self.start_after(next)?;
                self.skip_to(s);
                continue;
            }
            match self.frame_at(next) {
                Some(end) => return Some(self.take(next, end)),
                None => {
                    // Incomplete: wait for the missing packets, as for a hole.
                    let since = *self.waiting_since.get_or_insert(now_us);
                    if let Some(k) = self.complete_keyframe_after(next + 1) {
                        self.skip_to(k);
                        continue;
                    }
                    if now_us.saturating_sub(since) < MAX_WAIT_US {
                        return None;
                    }
                    let s = self.start_after(next)?;
                    self.skip_to(s);
                }
            }
        }
    }

    /// The last packet of the frame starting at `start`, if the frame is complete.
    fn frame_at(&self, start: u64) -> Option<u64> {
        let ts = self.packets.get(&start)?.timestamp;
        let mut k = start;
        loop {
            let p = self.packets.get(&k)?;
            if p.timestamp != ts {
                return Some(k - 1);
            }
            if p.marker {
                return Some(k);
            }
            k += 1;
        }
    }

    fn is_keyframe(p: &Packet) -> bool {
        p.start && p.data.first().is_some_and(|b| b & 1 == 0)
    }

    fn complete_keyframe_after(&self, from: u64) -> Option<u64> {
        self.packets
            .range(from..)
            .filter(|(_, p)| Self::is_keyframe(p))
            .map(|(&k, _)| k)
            .find(|&k| self.frame_at(k).is_some())
    }

    fn first_start(&self) -> Option<u64> {
        self.packets.iter().find(|(_, p)| p.start).map(|(&k, _)| k)
    }

    fn start_after(&self, after: u64) -> Option<u64> {
        self.packets
            .range(after + 1..)
            .find(|(_, p)| p.start)
            .map(|(&k, _)| k)
    }

    fn drop_before(&mut self, k: u64) {
        while self.packets.first_key_value().is_some_and(|(&f, _)| f < k) {
            self.packets.pop_first();
        }
    }

    fn skip_to(&mut self, k: u64) {
        self.drop_before(k);
        self.next = Some(k);
        self.waiting_since = None;
        self.skipped = true;
    }

    fn take(&mut self, start: u64, end: u64) -> AssembledFrame {
        let mut data = Vec::new();
        let mut timestamp = 0;
        let mut keyframe = false;
        for k in start..=end {
            if let Some(p) = self.packets.remove(&k) {
                if k == start {
                    timestamp = p.timestamp;
                    keyframe = Self::is_keyframe(&p);
                }
                data.extend_from_slice(&p.data);
            }
        }
        self.next = Some(end + 1);
        self.waiting_since = None;
        let after_gap = std::mem::take(&mut self.skipped);
        AssembledFrame {
            data,
            timestamp,
            keyframe,
            after_gap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame's RTP payloads: descriptor with a 15-bit picture id, then `parts` chunks.
    fn packets(key: bool, parts: usize) -> Vec<Vec<u8>> {
        (0..parts)
            .map(|i| {
                let s = if i == 0 { 0x10 } else { 0 };
                let mut p = vec![0x80 | s, 0x80, 0x80, 0x01];
                // First data byte: bit 0 clear for a keyframe.
                p.push(if i == 0 && key { 0x10 } else { 0x11 });
                p.push(i as u8);
                p
            })
            .collect()
    }

    struct Sender {
        seq: u16,
        ts: u32,
    }

    impl Sender {
        fn frame(&mut self, key: bool, parts: usize) -> Vec<(u16, u32, bool, Vec<u8>)> {
            self.ts = self.ts.wrapping_add(3000);
            let ps = packets(key, parts);
            let n = ps.len();
            ps.into_iter()
                .enumerate()
                .map(|(i, p)| {
                    self.seq = self.seq.wrapping_add(1);
                    (self.seq, self.ts, i + 1 == n, p)
                })
                .collect()
        }
    }

    fn push_all(a: &mut FrameAssembler, ps: &[(u16, u32, bool, Vec<u8>)]) {
        for (s, t, m, p) in ps {
            a.push(*s, *t, *m, p).unwrap();
        }
    }

    #[test]
    fn a_frame_comes_out_as_soon_as_its_last_packet_is_in() {
        let mut tx = Sender { seq: 65_530, ts: 0 };
        let mut a = FrameAssembler::new();
        let f = tx.frame(true, 3);
        a.push(f[0].0, f[0].1, f[0].2, &f[0].3).unwrap();
        a.push(f[1].0, f[1].1, f[1].2, &f[1].3).unwrap();
        assert_eq!(a.pop(0), None, "not complete yet");
        a.push(f[2].0, f[2].1, f[2].2, &f[2].3).unwrap();
        let got = a.pop(0).expect("complete on the marker packet");
        assert!(got.keyframe && !got.after_gap);
        assert_eq!(got.data, vec![0x10, 0, 0x11, 1, 0x11, 2]);
        // Across the sequence-number wrap, out of order.
        let mut f = tx.frame(false, 4);
        f.swap(1, 3);
        push_all(&mut a, &f);
        let got = a.pop(0).unwrap();
        assert!(!got.keyframe && !got.after_gap);
        assert_eq!(got.data.len(), 8);
        assert!(a.is_empty());
    }

    #[test]
    fn a_hole_is_waited_for_then_skipped_and_reported() {
        let mut tx = Sender { seq: 1, ts: 0 };
        let mut a = FrameAssembler::new();
        push_all(&mut a, &tx.frame(true, 1));
        assert!(a.pop(0).is_some());
        let lost = tx.frame(false, 2);
        push_all(&mut a, &lost[..1]); // second packet lost
        push_all(&mut a, &tx.frame(false, 1));
        assert_eq!(a.pop(1_000), None, "waiting for a retransmission");
        // The retransmission comes: both frames, no gap.
        push_all(&mut a, &lost[1..]);
        assert!(!a.pop(2_000).unwrap().after_gap);
        assert!(!a.pop(2_000).unwrap().after_gap);
        // Now a packet that never comes.
        let lost = tx.frame(false, 2);
        push_all(&mut a, &lost[..1]);
        push_all(&mut a, &tx.frame(false, 1));
        assert_eq!(a.pop(10_000), None);
        let got = a.pop(10_000 + MAX_WAIT_US).expect("gave up the hole");
        assert!(got.after_gap && !got.keyframe);
    }

    #[test]
    fn a_complete_keyframe_after_a_hole_is_taken_at_once() {
        let mut tx = Sender { seq: 1, ts: 0 };
        let mut a = FrameAssembler::new();
        push_all(&mut a, &tx.frame(true, 1));
        assert!(a.pop(0).is_some());
        let _lost = tx.frame(false, 2);
        push_all(&mut a, &tx.frame(true, 3));
        let got = a.pop(0).expect("no need to wait: a keyframe is here");
        assert!(got.keyframe && got.after_gap);
    }

    #[test]
    fn hostile_payloads_are_refused_and_memory_is_bounded() {
        let mut a = FrameAssembler::new();
        for bad in [
            &[][..],
            &[0x80][..],
            &[0x80, 0x80][..],
            &[0x90][..],
            &[0x80, 0x80, 0x80, 1][..],
        ] {
            assert_eq!(
                a.push(1, 0, true, bad),
                Err(RtpPayloadError::Truncated),
                "{bad:?}"
            );
        }
        // Endless middles of frames that never start.
        for i in 0..5_000u16 {
            a.push(i, u32::from(i), false, &[0x00, 1, 2]).unwrap();
            assert_eq!(a.pop(u64::from(i) * 1_000_000), None);
        }
        assert!(a.len() <= CAPACITY);
    }
}
