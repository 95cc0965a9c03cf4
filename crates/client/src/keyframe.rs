//! When a receiver asks a sender for a keyframe ([`KeyframeAsks`]): every 300 ms while its
//! decoder needs one; but while it cannot open the sender's frames (no keys yet, or keys it
//! does not hold), only when its keys change, and otherwise less and less often. Every sender
//! encodes a keyframe for each request, so a receiver left without keys must not ask three
//! times a second for as long as it waits.

use std::time::{Duration, Instant};

/// Between two requests while the decoder needs a keyframe.
pub const ASK_EVERY: Duration = Duration::from_millis(300);
/// The longest wait between requests while the frames cannot be opened and the keys have not
/// changed (the request might have been lost; the sender's keyframe then helps once keys come).
pub const MAX_LOCKED_OUT_WAIT: Duration = Duration::from_secs(8);

/// One receiver's keyframe requests to one sender. Sans I/O: time is passed in.
#[derive(Debug)]
pub struct KeyframeAsks {
    last: Option<Instant>,
    /// The frames could not be opened with the keys of this generation.
    locked_out: Option<u64>,
    /// The wait before the next request while locked out (doubling).
    wait: Duration,
}

impl Default for KeyframeAsks {
    fn default() -> Self {
        KeyframeAsks {
            last: None,
            locked_out: None,
            wait: ASK_EVERY,
        }
    }
}

impl KeyframeAsks {
    /// The decoder needs a keyframe now; the keys are at `keys` (see
    /// `FrameTransform::key_generation`). Whether to ask (the request is counted as made).
    pub fn ask(&mut self, now: Instant, keys: u64) -> bool {
        let wait = match self.locked_out {
            Some(g) if g == keys => self.wait,
            // New keys: the keyframe sealed with them can be opened now.
            Some(_) => {
                self.locked_out = None;
                self.wait = ASK_EVERY;
                Duration::ZERO
            }
            None => ASK_EVERY,
        };
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < wait)
        {
            return false;
        }
        self.last = Some(now);
        if self.locked_out.is_some() {
            self.wait = (self.wait * 2).min(MAX_LOCKED_OUT_WAIT);
        }
        true
    }

    /// A frame could not be opened with the keys at `keys`.
    pub fn unreadable(&mut self, keys: u64) {
        if self.locked_out != Some(keys) {
            self.locked_out = Some(keys);
            self.wait = ASK_EVERY;
        }
    }

    /// A frame was opened and decoded: back to asking whenever the decoder needs it.
    pub fn decoded(&mut self) {
        self.locked_out = None;
        self.wait = ASK_EVERY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The requests a receiver that needs a keyframe the whole time makes in `secs` seconds,
    /// asked every 20 ms (packets arriving); `keys_at` gives the keys' generation by time.
    fn asks_over(
        a: &mut KeyframeAsks,
        t0: Instant,
        secs: u64,
        keys_at: impl Fn(Duration) -> u64,
        unreadable: bool,
    ) -> Vec<Duration> {
        let mut made = Vec::new();
        for step in 0..secs * 50 {
            let at = Duration::from_millis(step * 20);
            let keys = keys_at(at);
            if a.ask(t0 + at, keys) {
                made.push(at);
            }
            if unreadable {
                a.unreadable(keys);
            }
        }
        made
    }

    #[test]
    fn a_decoder_that_needs_a_keyframe_asks_every_300_ms() {
        let t0 = Instant::now();
        let made = asks_over(&mut KeyframeAsks::default(), t0, 3, |_| 0, false);
        // 0, 320, 640, … (the first packet after each 300 ms).
        assert_eq!(made.len(), 10, "{made:?}");
    }

    #[test]
    fn without_keys_it_backs_off_and_asks_at_once_when_they_change() {
        let t0 = Instant::now();
        let mut a = KeyframeAsks::default();
        // Thirty seconds without the sender's keys: a handful of requests, not a hundred.
        let made = asks_over(&mut a, t0, 30, |_| 1, true);
        assert!(made.len() <= 8, "{} requests: {made:?}", made.len());
        let gaps: Vec<Duration> = made.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.windows(2).all(|g| g[1] >= g[0]),
            "waits grow: {gaps:?}"
        );
        assert!(
            gaps.iter()
                .all(|g| *g <= MAX_LOCKED_OUT_WAIT + Duration::from_millis(20))
        );
        // The keys change: asked at once.
        let now = t0 + Duration::from_secs(30);
        assert!(a.ask(now, 2));
        // Opened and decoded: back to every 300 ms.
        a.decoded();
        assert!(!a.ask(now + Duration::from_millis(100), 2));
        assert!(a.ask(now + Duration::from_millis(300), 2));
    }

    #[test]
    fn keys_that_change_without_helping_start_a_new_back_off() {
        let t0 = Instant::now();
        let mut a = KeyframeAsks::default();
        // The keys change every 10 s (people join) but never include this sender's.
        let made = asks_over(&mut a, t0, 30, |at| at.as_secs() / 10, true);
        // Each change asks at once (3), each stretch backs off again.
        for change in [10, 20] {
            assert!(
                made.contains(&Duration::from_secs(change)),
                "asked when the keys changed at {change} s: {made:?}"
            );
        }
        assert!(made.len() <= 3 * 7, "{made:?}");
    }
}
