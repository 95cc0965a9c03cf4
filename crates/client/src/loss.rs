//! Packet loss of one RTP stream, counted from sequence numbers.
//!
//! Feed every arriving packet's sequence number to [`LossCounter::packet`], then read
//! [`LossCounter::lost`] and [`LossCounter::expected`] whenever wanted. Sequence numbers are
//! extended from 16 to 64 bits (a wrap counts as a step forward, not back), and a packet counts
//! as received once per sequence number: a duplicate, or a retransmission of a packet that had
//! already arrived, does not cancel a real loss. A retransmission that fills a hole removes the
//! loss it repairs.
//!
//! Memory is bounded: which of the last [`WINDOW`] sequence numbers arrived is kept in a bitmap.
//! A packet older than that cannot be told from a duplicate and is not counted, so a repair
//! arriving more than [`WINDOW`] packets late still counts as lost (the figure can only err
//! towards more loss).

/// How many of the most recent sequence numbers are remembered (about 27 s of 720p video at
/// 150 packets a second).
pub const WINDOW: u64 = 4096;

const WORDS: usize = (WINDOW / 64) as usize;

/// Loss of one RTP stream (one SSRC), by sequence number.
#[derive(Debug, Clone)]
pub struct LossCounter {
    /// The lowest extended sequence number counted, and the highest; `None` before the first.
    span: Option<(i64, i64)>,
    /// Distinct sequence numbers received within the span.
    received: u64,
    /// Bit `n % WINDOW` is set when sequence number `n` arrived, for `n` in
    /// `highest - WINDOW + 1 ..= highest`.
    seen: [u64; WORDS],
}

impl Default for LossCounter {
    fn default() -> Self {
        LossCounter {
            span: None,
            received: 0,
            seen: [0; WORDS],
        }
    }
}

impl LossCounter {
    /// Count one arriving packet by its RTP sequence number.
    pub fn packet(&mut self, seq: u16) {
        let Some((lowest, highest)) = self.span else {
            let ext = i64::from(seq);
            self.span = Some((ext, ext));
            self.received = 1;
            self.set(ext);
            return;
        };
        // The extended number nearest the highest so far: within 32,767 ahead or 32,768 behind.
        let delta = i64::from(seq.wrapping_sub(highest as u16) as i16);
        let ext = highest + delta;
        if ext > highest {
            // Forget the numbers that fall out of the window as it moves forward.
            if (ext - highest) as u64 >= WINDOW {
                self.seen = [0; WORDS];
            } else {
                for n in highest + 1..ext {
                    self.clear(n);
                }
            }
            self.set(ext);
            self.received += 1;
            self.span = Some((lowest, ext));
        } else if highest - ext < WINDOW as i64 {
            if self.is_set(ext) {
                return; // a duplicate or a needless retransmission
            }
            self.set(ext);
            self.received += 1;
            self.span = Some((lowest.min(ext), highest));
        }
        // Older than the window: cannot tell a repair from a duplicate, so not counted.
    }

    /// Packets the sequence numbers span so far, from the lowest to the highest seen.
    pub fn expected(&self) -> u64 {
        self.span.map_or(0, |(lo, hi)| (hi - lo + 1) as u64)
    }

    /// Packets in that span that never arrived (not even retransmitted).
    pub fn lost(&self) -> u64 {
        // `received` counts distinct numbers within the span, so it never exceeds `expected`.
        self.expected().saturating_sub(self.received)
    }

    fn bit(n: i64) -> (usize, u64) {
        let i = n.rem_euclid(WINDOW as i64) as usize;
        (i / 64, 1 << (i % 64))
    }

    fn set(&mut self, n: i64) {
        let (w, b) = Self::bit(n);
        self.seen[w] |= b;
    }

    fn clear(&mut self, n: i64) {
        let (w, b) = Self::bit(n);
        self.seen[w] &= !b;
    }

    fn is_set(&self, n: i64) -> bool {
        let (w, b) = Self::bit(n);
        self.seen[w] & b != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(seqs: impl IntoIterator<Item = u16>) -> LossCounter {
        let mut l = LossCounter::default();
        for s in seqs {
            l.packet(s);
        }
        l
    }

    #[test]
    fn nothing_arrived_means_nothing_expected() {
        let l = LossCounter::default();
        assert_eq!((l.expected(), l.lost()), (0, 0));
    }

    #[test]
    fn duplicates_do_not_cancel_losses() {
        // 10..=19 with 12 and 15 missing; 11 and 17 arrive three times each.
        let l = count([10, 11, 11, 13, 14, 11, 16, 17, 17, 18, 17, 19]);
        assert_eq!(l.expected(), 10);
        assert_eq!(l.lost(), 2);
    }

    #[test]
    fn reordering_is_not_loss() {
        let l = count([5, 7, 6, 9, 8, 4, 10]);
        assert_eq!(l.expected(), 7);
        assert_eq!(l.lost(), 0);
    }

    #[test]
    fn losses_are_counted_across_sequence_wraps() {
        // 65533..=7 is 11 numbers; 4, 5 and 6 never come; 2 and 0 come twice.
        let l = count([65_533, 65_534, 0, 1, 3, 2, 65_535, 2, 0, 7]);
        assert_eq!(l.expected(), 11);
        assert_eq!(l.lost(), 3);
        // Further laps keep extending the count.
        let mut l = LossCounter::default();
        for i in 0..3 * 65_536u32 {
            if i % 100 != 0 {
                l.packet(i as u16);
            }
        }
        // The first to arrive is 1; every hundredth after it is missing.
        assert_eq!(l.expected(), 3 * 65_536 - 1);
        let missing = (1..3 * 65_536u64).filter(|i| i % 100 == 0).count() as u64;
        assert_eq!(l.lost(), missing);
    }

    #[test]
    fn a_late_retransmission_fills_its_hole_once() {
        let mut l = count(0..100);
        // 100 and 101 lost; the stream goes on.
        for s in 102..400 {
            l.packet(s);
        }
        assert_eq!(l.lost(), 2);
        l.packet(101); // the retransmission
        assert_eq!(l.lost(), 1);
        l.packet(101); // and a second copy of it
        assert_eq!(l.lost(), 1);
        assert_eq!(l.expected(), 400);
    }

    #[test]
    fn a_repair_older_than_the_window_still_counts_as_lost() {
        let mut l = count([0, 2]);
        for s in 3..(WINDOW as u16 + 10) {
            l.packet(s);
        }
        assert_eq!(l.lost(), 1);
        l.packet(1);
        l.packet(0); // nor does an old duplicate count
        assert_eq!(l.lost(), 1);
    }

    #[test]
    fn a_jump_longer_than_the_window_forgets_the_old_numbers() {
        let mut l = count([0, 1]);
        let far = WINDOW as u16 + 500;
        l.packet(far);
        assert_eq!(l.lost(), u64::from(far) - 2);
        // WINDOW shares its bit with 0, which arrived before the jump: it still counts as new.
        l.packet(WINDOW as u16);
        assert_eq!(l.lost(), u64::from(far) - 3);
        l.packet(WINDOW as u16);
        assert_eq!(l.lost(), u64::from(far) - 3);
    }

    #[test]
    fn packets_before_the_first_one_widen_the_span() {
        // The stream's first packets overtaken by later ones.
        let l = count([3, 4, 1, 2, 5]);
        assert_eq!((l.expected(), l.lost()), (5, 0));
        let l = count([1, 65_535, 2]); // 65535 is two before 1
        assert_eq!((l.expected(), l.lost()), (4, 1));
    }
}
