//! A media worker over its capacity keeps the voices and the main pictures whole and lets the
//! other pictures go, instead of losing everyone's packets alike.
//!
//! A worker that cannot keep up loses what arrives at random: its socket's buffer overflows
//! before it reads, and voices break up with the rest (the town hall at 300 on one core:
//! voices at 30 packets a second of 50, every picture at 20 frames a second of 30). The worker
//! measures how much of each second it was busy ([`Shedding::second`]). Busy all of three
//! seconds in a row (a burst of keyframes is shorter), it sheds a level:
//!
//! - **level 1**: each receiver gets only its main pictures: a presenter's, the dominant
//!   speaker's, and those it shows larger than the rest (a spotlight, a screen share);
//! - **level 2**: no video at all; voices only.
//!
//! After a change, [`SETTLE_SECONDS`] pass before the seconds count again (what queued before
//! it is still being worked off). A level comes back once the work with it (the busy share
//! scaled by the frames written and those that level would bring back) has stayed under
//! [`COOL`] for [`COOL_SECONDS`]; a level that must be shed again soon after waits twice as
//! long the next time. A picture that stops waits for a keyframe when it comes back (asked
//! for then).

/// Busy this share of a second or more counts as over capacity.
pub const HOT: f64 = 0.95;
/// Seconds over capacity in a row before a level is shed.
pub const HOT_SECONDS: u32 = 3;
/// Seconds after a change that count neither way: what queued before it (a full socket
/// buffer) is still being worked off, and pictures coming back start with keyframes.
pub const SETTLE_SECONDS: u32 = 4;
/// A level comes back when the work with it would stay under this share of a second...
pub const COOL: f64 = 0.80;
/// ... for this many seconds in a row (doubled after each try that had to be shed again soon,
/// up to [`MAX_COOL_SECONDS`]).
pub const COOL_SECONDS: u32 = 5;
/// The longest wait before a level is tried again.
pub const MAX_COOL_SECONDS: u32 = 80;
/// A level back for this long without being shed again: the next wait is the first again.
pub const HELD_SECONDS: u32 = 30;
/// Voices only.
pub const MAX_LEVEL: u8 = 2;

/// One worker's shedding state.
#[derive(Debug)]
pub struct Shedding {
    level: u8,
    hot: u32,
    cool: u32,
    /// Seconds still to pass before the seconds count again (after a change).
    settle: u32,
    /// Seconds of cool needed before a level comes back.
    cool_needed: u32,
    /// Seconds since a level last came back (`None`: none did, or it held).
    since_back: Option<u32>,
    /// Frames written to receivers this second.
    written: u64,
    /// Frames not written this second, by the lowest level that sheds them (index 0: level 1).
    shed: [u64; MAX_LEVEL as usize],
}

impl Default for Shedding {
    fn default() -> Self {
        Shedding {
            level: 0,
            hot: 0,
            cool: 0,
            settle: 0,
            cool_needed: COOL_SECONDS,
            since_back: None,
            written: 0,
            shed: [0; MAX_LEVEL as usize],
        }
    }
}

impl Shedding {
    /// What is shed now: 0 nothing, 1 all but the main pictures, 2 all pictures.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// A frame was written to a receiver.
    pub fn wrote(&mut self) {
        self.written += 1;
    }

    /// A frame was not written to a receiver because of shedding; `from` is the lowest level
    /// that sheds it (1: not a main picture; 2: a main picture).
    pub fn shed(&mut self, from: u8) {
        let i = usize::from(from.clamp(1, MAX_LEVEL) - 1);
        self.shed[i] += 1;
    }

    /// The second that ended was `busy` (0 to 1) busy; the new level if it changed.
    pub fn second(&mut self, busy: f64) -> Option<u8> {
        let written = std::mem::take(&mut self.written);
        let shed = std::mem::take(&mut self.shed);
        tracing::debug!(written, shed = ?shed, "frames written and shed");
        if let Some(s) = &mut self.since_back {
            *s += 1;
            if *s >= HELD_SECONDS {
                self.since_back = None;
                self.cool_needed = COOL_SECONDS;
            }
        }
        if self.settle > 0 {
            self.settle -= 1;
            return None;
        }
        // The work one level lower: each frame costs about the same (a packet or two to
        // write and send), so it grows with the frames that level would bring back.
        let back = match self.level {
            0 => 0,
            l => shed[usize::from(l) - 1],
        };
        let lower = busy * (written + back) as f64 / written.max(1) as f64;
        self.hot = if busy >= HOT { self.hot + 1 } else { 0 };
        self.cool = if self.level > 0 && lower < COOL {
            self.cool + 1
        } else {
            0
        };
        if self.hot >= HOT_SECONDS && self.level < MAX_LEVEL {
            if self.since_back.is_some() {
                // The level that came back did not fit after all: wait longer next time.
                self.cool_needed = (self.cool_needed * 2).min(MAX_COOL_SECONDS);
                self.since_back = None;
            }
            return Some(self.change(self.level + 1));
        }
        if self.cool >= self.cool_needed && self.level > 0 {
            self.since_back = Some(0);
            return Some(self.change(self.level - 1));
        }
        None
    }

    fn change(&mut self, level: u8) -> u8 {
        self.level = level;
        self.hot = 0;
        self.cool = 0;
        self.settle = SETTLE_SECONDS;
        level
    }

    /// Set the level (tests).
    #[cfg(test)]
    pub fn force(&mut self, level: u8) {
        self.level = level.min(MAX_LEVEL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds at `busy`, writing `written` frames each and shedding `shed` of the pictures
    /// that are not main and `main` of the main ones (as far as the level sheds them); the
    /// levels after each second.
    fn run(
        s: &mut Shedding,
        seconds: u32,
        busy: f64,
        written: u64,
        shed: u64,
        main: u64,
    ) -> Vec<u8> {
        (0..seconds)
            .map(|_| {
                for _ in 0..written {
                    s.wrote();
                }
                for _ in 0..if s.level() >= 1 { shed } else { 0 } {
                    s.shed(1);
                }
                for _ in 0..if s.level() >= 2 { main } else { 0 } {
                    s.shed(2);
                }
                s.second(busy);
                s.level()
            })
            .collect()
    }

    #[test]
    fn three_full_seconds_shed_a_level_and_two_do_not() {
        let mut s = Shedding::default();
        assert_eq!(
            run(&mut s, 3, 0.90, 100, 0, 0),
            [0, 0, 0],
            "busy but keeping up"
        );
        // Two full seconds (a burst of keyframes) shed nothing.
        assert_eq!(run(&mut s, 2, 0.99, 100, 0, 0), [0, 0]);
        assert_eq!(run(&mut s, 1, 0.50, 100, 0, 0), [0]);
        assert_eq!(run(&mut s, 3, 0.99, 100, 0, 0), [0, 0, 1]);
        // Still full once settled, with the small pictures gone: the rest go too, no further.
        assert_eq!(run(&mut s, 4, 0.99, 100, 100, 0), [1, 1, 1, 1], "settling");
        assert_eq!(run(&mut s, 6, 0.99, 100, 100, 0), [1, 1, 2, 2, 2, 2]);
    }

    #[test]
    fn a_level_comes_back_only_when_the_work_with_it_would_fit() {
        let mut s = Shedding::default();
        s.force(1);
        // Half busy, but half the frames are shed: with them it would be full.
        assert_eq!(run(&mut s, 10, 0.50, 100, 100, 0), [1; 10]);
        // The meeting shrank: a tenth of the frames shed, 60 % busy → 66 % with them.
        assert_eq!(run(&mut s, 5, 0.60, 100, 10, 0), [1, 1, 1, 1, 0]);
        assert_eq!(run(&mut s, 10, 0.66, 110, 0, 0), [0; 10], "and it holds");
    }

    #[test]
    fn voices_only_comes_back_to_the_main_pictures_when_those_fit() {
        let mut s = Shedding::default();
        s.force(2);
        // The small pictures would not fit (as many as written), the main ones would.
        assert_eq!(run(&mut s, 5, 0.50, 100, 100, 20), [2, 2, 2, 2, 1]);
        // Level 1 fits: it stays (the small pictures still would not).
        assert_eq!(run(&mut s, 20, 0.60, 120, 100, 0), [1; 20]);
    }

    #[test]
    fn a_level_that_comes_back_too_soon_waits_twice_as_long_next_time() {
        let mut s = Shedding::default();
        s.force(1);
        assert_eq!(run(&mut s, 5, 0.30, 100, 10, 0), [1, 1, 1, 1, 0]);
        // It did not fit after all: shed again once settled.
        assert_eq!(run(&mut s, 7, 0.99, 110, 0, 0), [0, 0, 0, 0, 0, 0, 1]);
        // Now it takes ten cool seconds (after settling).
        let levels = run(&mut s, 15, 0.30, 100, 10, 0);
        assert_eq!(levels[..13], [1; 13], "{levels:?}");
        assert_eq!(levels[13], 0, "{levels:?}");
        // Held for the whole time: the next wait is five seconds again.
        run(&mut s, HELD_SECONDS, 0.70, 110, 0, 0);
        assert_eq!(run(&mut s, 7, 0.99, 110, 0, 0), [0, 0, 1, 1, 1, 1, 1]);
        // (It settled while still hot.)
        assert_eq!(run(&mut s, 5, 0.30, 100, 10, 0), [1, 1, 1, 1, 0]);
    }

    #[test]
    fn a_hot_second_restarts_the_cool_spell() {
        let mut s = Shedding::default();
        s.force(2);
        assert_eq!(run(&mut s, 4, 0.30, 100, 10, 10), [2; 4]);
        assert_eq!(
            run(&mut s, 1, 0.99, 100, 0, 0),
            [2],
            "over the cool line: starts again"
        );
        assert_eq!(run(&mut s, 5, 0.30, 100, 10, 10), [2, 2, 2, 2, 1]);
    }
}
