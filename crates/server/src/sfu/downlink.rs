//! A receiver's downlink, judged from what its client reports: when its receiver reports show
//! heavy loss on the video it is sent, its path cannot carry it (a drop-tail queue that
//! overflows loses a large share; random loss on a poor radio stays a smaller, steady share,
//! which NACK and FEC repair and which is not congestion), so it gets smaller simulcast layers:
//! a cap on the picture height it is sent, one layer lower at a time. Once its reports stay
//! clean for a while the cap goes one layer up again; a try that brings the loss back at once
//! makes the next wait twice as long (a link that is still narrow is not probed every few
//! seconds).
//!
//! Layers are a factor of two apart in size (`l`, `m`, `h`), so one step is a halving or a
//! doubling of the height allowed.

use std::time::{Duration, Instant};

/// Loss (fraction of packets, from receiver reports) at which the downlink counts as too
/// narrow for what it is sent.
pub const CONGESTED_LOSS: f32 = 0.25;
/// Loss under which a report counts as clean.
pub const CLEAN_LOSS: f32 = 0.05;
/// Least time between two steps down: a lower layer needs a keyframe, the full queue before
/// it must drain, and a report must cover the time after (reports come about once a second).
pub const STEP_DOWN_GAP: Duration = Duration::from_millis(3500);
/// Clean reports for this long before the first try one layer up.
pub const FIRST_HOLD: Duration = Duration::from_secs(3);
/// The longest wait between tries up.
pub const LONGEST_HOLD: Duration = Duration::from_secs(30);
/// A try up that is followed by congestion within this long failed.
const TRY_FAILS_WITHIN: Duration = Duration::from_secs(5);
/// No cap above this height (taller pictures than any camera sends).
const NO_CAP_ABOVE: u16 = 4320;

/// What is known of one receiver's downlink.
#[derive(Debug, Clone)]
pub struct Downlink {
    /// The tallest picture it is sent (`None`: as its tiles ask).
    cap: Option<u16>,
    /// When the cap last went down.
    down_at: Option<Instant>,
    /// When the cap last went up.
    up_at: Option<Instant>,
    /// Since when its reports are clean (`None`: the last one was not).
    clean_since: Option<Instant>,
    /// Clean time needed before the next try up.
    hold: Duration,
}

impl Default for Downlink {
    fn default() -> Self {
        Downlink {
            cap: None,
            down_at: None,
            up_at: None,
            clean_since: None,
            hold: FIRST_HOLD,
        }
    }
}

impl Downlink {
    /// The tallest picture this receiver may be sent now (`None`: no limit).
    pub fn cap(&self) -> Option<u16> {
        self.cap
    }

    /// A receiver report for the video it is sent: `loss` the fraction lost since the last,
    /// while the tallest picture it gets is `height` high (0: not known). Whether the cap
    /// changed.
    pub fn report(&mut self, loss: f32, height: u16, now: Instant) -> bool {
        if loss >= CONGESTED_LOSS {
            self.clean_since = None;
            if self
                .down_at
                .is_some_and(|t| now.saturating_duration_since(t) < STEP_DOWN_GAP)
            {
                return false;
            }
            // A try up that failed soon: wait twice as long before the next.
            if self
                .up_at
                .is_some_and(|t| now.saturating_duration_since(t) < TRY_FAILS_WITHIN)
            {
                self.hold = (self.hold * 2).min(LONGEST_HOLD);
            }
            let now_at = match (height, self.cap) {
                (0, Some(cap)) => cap,
                (0, None) => return false,
                (h, Some(cap)) => h.min(cap),
                (h, None) => h,
            };
            if now_at <= 1 {
                return false;
            }
            // Strictly below what it gets: the next layer down.
            self.cap = Some(now_at - 1);
            self.down_at = Some(now);
            self.up_at = None;
            return true;
        }
        if loss >= CLEAN_LOSS {
            self.clean_since = None;
            return false;
        }
        let since = *self.clean_since.get_or_insert(now);
        let Some(cap) = self.cap else {
            return false;
        };
        // A try up that held for a while: the next one needs no longer wait.
        if self
            .up_at
            .is_some_and(|t| now.saturating_duration_since(t) >= 2 * TRY_FAILS_WITHIN)
        {
            self.hold = FIRST_HOLD;
        }
        let last_change = self.up_at.max(self.down_at).unwrap_or(since);
        if now.saturating_duration_since(since) < self.hold
            || now.saturating_duration_since(last_change) < self.hold
        {
            return false;
        }
        let up = u32::from(cap) * 2 + 1;
        self.cap = u16::try_from(up).ok().filter(|c| *c < NO_CAP_ABOVE);
        self.up_at = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_loss_steps_down_a_layer_at_a_time_and_clean_reports_step_back_up() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut d = Downlink::default();
        // Random loss of a poor radio is not a narrow link.
        assert!(!d.report(0.12, 360, at(0)));
        assert_eq!(d.cap(), None);
        // Heavy loss while getting 360 lines: below 360.
        assert!(d.report(0.6, 360, at(500)));
        assert_eq!(d.cap(), Some(359));
        // Not again before the lower layer could show.
        assert!(!d.report(0.6, 360, at(1000)));
        assert_eq!(d.cap(), Some(359));
        // Still heavy on 180 lines: below that.
        assert!(!d.report(0.6, 360, at(3900)));
        assert!(d.report(0.5, 180, at(4100)));
        assert_eq!(d.cap(), Some(179));
        // Clean for the hold: one layer up (180 lines allowed), then the next.
        assert!(!d.report(0.0, 90, at(5000)));
        assert!(!d.report(0.01, 90, at(7000)));
        assert!(d.report(0.0, 90, at(8100)));
        assert_eq!(d.cap(), Some(359));
        assert!(!d.report(0.0, 180, at(9000)));
        assert!(d.report(0.0, 180, at(11_200)));
        assert_eq!(d.cap(), Some(719));
        // ... until no cap is left.
        for s in 12..40 {
            d.report(0.0, 360, at(s * 1000));
        }
        assert_eq!(d.cap(), None);
    }

    #[test]
    fn a_try_up_that_fails_at_once_doubles_the_wait_before_the_next() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut d = Downlink::default();
        assert!(d.report(0.7, 360, at(0)));
        assert!(!d.report(0.0, 180, at(1000)));
        assert_eq!(
            d.cap(),
            Some(359),
            "still clean at the first report: no try yet"
        );
        assert!(d.report(0.0, 180, at(4000)));
        assert_eq!(d.cap(), Some(719), "tried 360 lines");
        // The link is still narrow: back down, and the next try waits 6 s, not 3.
        assert!(d.report(0.7, 360, at(5000)));
        assert_eq!(d.cap(), Some(359));
        assert!(!d.report(0.0, 180, at(6000)));
        assert!(!d.report(0.0, 180, at(9500)));
        assert_eq!(d.cap(), Some(359));
        assert!(d.report(0.0, 180, at(12_100)));
        assert_eq!(d.cap(), Some(719));
        // Reports in between that are neither clean nor heavy hold everything.
        let mut e = Downlink::default();
        assert!(e.report(0.9, 720, at(0)));
        for s in 1..20 {
            assert!(!e.report(0.1, 360, at(s * 1000)));
        }
        assert_eq!(e.cap(), Some(719));
        // With nothing known of what it gets, heavy loss changes nothing.
        let mut f = Downlink::default();
        assert!(!f.report(0.9, 0, at(0)));
        assert_eq!(f.cap(), None);
    }
}
