//! Which of our packets the SFU's transport-wide feedback really spoke about.
//!
//! webrtc-rs's feedback history (rtc 0.21.1 `rtpfb::History::take_reports`) reports a packet
//! that no feedback ever named as **lost** once a later packet is acknowledged. When a
//! feedback message itself is lost on the way back (on a lossy path, as often as media is),
//! every packet it covered is then counted as lost though it arrived. On a path losing 10 %
//! each way that added runs like "10 of 14 lost" to the loss congestion control reads, and
//! the loss guard cut the rate to a third (2026-12-06, `media_survives_ten_percent_loss`).
//!
//! [`FeedbackTap`] sits on the read path before the congestion controller and notes the
//! range of transport-wide sequence numbers each feedback message covers; [`Coverage::covers`]
//! then tells a loss the SFU reported from one nobody reported.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rtc::interceptor::{Packet as IPacket, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;

use crate::tap::Tap;

/// Ranges remembered: far more than the feedback messages between two reports (one).
const RANGES: usize = 64;

/// The sequence ranges the last feedback messages covered.
#[derive(Debug, Default)]
pub struct Coverage {
    /// (first sequence number, how many), newest last.
    ranges: VecDeque<(u16, u16)>,
    /// The last message's feedback count and the sequence number after its range.
    last: Option<(u8, u16)>,
}

impl Coverage {
    /// Feedback message number `count_no` covered `count` packets from `base` on.
    ///
    /// str0m starts each message at the first packet it received after the last one reported,
    /// so packets lost just after a message's range are in no message's range. When no
    /// message came in between (the feedback count is the next one), such a gap is theirs:
    /// reported lost by omission. After a missing message it is not.
    pub fn note(&mut self, count_no: u8, base: u16, count: u16) {
        if let Some((last_no, next)) = self.last
            && count_no == last_no.wrapping_add(1)
        {
            let gap = base.wrapping_sub(next);
            if gap > 0 && gap < 0x8000 {
                self.push((next, gap));
            }
        }
        self.push((base, count));
        self.last = Some((count_no, base.wrapping_add(count)));
    }

    fn push(&mut self, range: (u16, u16)) {
        if self.ranges.len() == RANGES {
            self.ranges.pop_front();
        }
        self.ranges.push_back(range);
    }

    /// Whether a received feedback message named transport-wide sequence number `seq`.
    pub fn covers(&self, seq: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(base, count)| seq.wrapping_sub(base) < count)
    }
}

/// Shared between the tap and the congestion controller.
pub type SharedCoverage = Arc<Mutex<Coverage>>;

/// The interceptor that fills a [`Coverage`] from incoming transport-wide feedback.
pub(crate) struct FeedbackTap {
    coverage: SharedCoverage,
}

impl FeedbackTap {
    /// A tap filling `coverage`.
    pub(crate) fn new(coverage: SharedCoverage) -> Self {
        FeedbackTap { coverage }
    }
}

impl Tap for FeedbackTap {
    fn read(&mut self, msg: &mut TaggedPacket) -> bool {
        if let IPacket::Rtcp(pkts) = &msg.message.packet {
            for p in pkts {
                if let Some(cc) = p.as_any().downcast_ref::<TransportLayerCc>()
                    && let Ok(mut c) = self.coverage.lock()
                {
                    c.note(
                        cc.fb_pkt_count,
                        cc.base_sequence_number,
                        cc.packet_status_count,
                    );
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_feedback_named_is_covered() {
        let mut c = Coverage::default();
        c.note(1, 100, 10);
        // Message 2 (for 110..120) was lost; message 3 starts at 120.
        c.note(3, 120, 5);
        assert!(c.covers(100) && c.covers(109) && c.covers(120) && c.covers(124));
        assert!(!c.covers(110) && !c.covers(119) && !c.covers(125) && !c.covers(99));
    }

    #[test]
    fn a_gap_between_consecutive_messages_is_theirs() {
        let mut c = Coverage::default();
        c.note(7, 100, 10);
        // 110 and 111 were lost; the next message (number 8) starts at the next packet that
        // came, 112: they were lost, reported by omission.
        c.note(8, 112, 4);
        assert!(c.covers(110) && c.covers(111) && c.covers(115));
        assert!(!c.covers(116));
        // The feedback count wraps.
        let mut c = Coverage::default();
        c.note(255, 10, 2);
        c.note(0, 14, 2);
        assert!(c.covers(12) && c.covers(13));
    }

    #[test]
    fn ranges_wrap_and_old_ones_are_forgotten() {
        let mut c = Coverage::default();
        c.note(0, 65_530, 10);
        assert!(c.covers(65_535) && c.covers(0) && c.covers(3));
        assert!(!c.covers(4));
        for i in 0..RANGES as u16 {
            c.note(2 + 2 * i as u8, 1_000 + 10 * i, 10);
        }
        assert!(!c.covers(0), "the oldest range is gone");
        assert!(c.covers(1_000 + 10 * (RANGES as u16 - 1)));
    }
}
