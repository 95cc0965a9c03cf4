//! Whose voice a meeting hears: the media server forwards only the audio of the `K` loudest
//! current speakers of a meeting (a server setting, 3 by default), so a receiver in a meeting
//! of 1,000 is sent a handful of audio streams, not 999.
//!
//! Loudness comes from the audio-level header extension (RFC 6464) that clients put on every
//! audio packet. It travels outside the end-to-end encrypted payload: the server learns who
//! speaks when, which it could infer from packet sizes and rates anyway (the privacy panel
//! says so). Packets without a level (a client that does not send one) are always forwarded:
//! the server cannot judge them.
//!
//! The choice has hysteresis, so voices are not cut mid-word: a chosen speaker keeps its slot
//! through pauses shorter than [`QUIET_HOLD`]; a new voice takes the slot of the chosen one
//! that has been quiet longest, or, when no chosen one has paused that long, of the quietest
//! of those still talking if it is clearly louder ([`TAKEOVER_MARGIN`]) and that one has held its slot for at least
//! [`MIN_TENURE`]. A speaker who mutes sends nothing, so it falls quiet and is replaced.
//!
//! Pure state, with time passed in: each media worker keeps one per meeting and feeds it every
//! audio packet of that meeting it sees (its own participants' and those handed over by other
//! workers), so workers carrying the same meeting choose alike.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parley_proto::ParticipantId;

use crate::room::ConnId;

/// Default number of voices forwarded at once (`loudest_voices` in the server's settings).
pub const DEFAULT_LOUDEST_VOICES: usize = 3;
/// A chosen speaker keeps its slot through a pause this long.
pub const QUIET_HOLD: Duration = Duration::from_millis(1200);
/// Least time a chosen speaker keeps its slot against a louder voice.
pub const MIN_TENURE: Duration = Duration::from_millis(1500);
/// How much louder (dB of smoothed level) a voice must be to take the slot of a chosen speaker
/// who is still talking.
pub const TAKEOVER_MARGIN: f32 = 10.0;
/// Smoothed loudness at or above which a voice counts as speaking: levels of -50 dBov and
/// louder (speech is typically -20 to -40 dBov; room noise and silence are below).
pub const SPEAKING: f32 = 77.0;
/// The dominant speaker stays so through a pause this long, unless clearly outshone.
pub const DOMINANT_HOLD: Duration = Duration::from_millis(1000);
/// Weight of each new packet's level in the smoothed loudness (packets come every 20 ms, so
/// the loudness follows a voice within about 100 ms).
const SMOOTHING: f32 = 0.2;

/// One voice of the meeting.
#[derive(Debug, Clone, Copy)]
struct Voice {
    /// Smoothed loudness, 0 (silence) to 127 (full scale): 127 minus the level in -dBov.
    loudness: f32,
    /// When it last counted as speaking.
    last_loud: Instant,
    /// When it got its slot (meaningful while chosen).
    chosen_at: Instant,
    /// Who it is.
    who: ParticipantId,
}

/// The speakers of one meeting and the `K` whose audio is forwarded.
#[derive(Debug)]
pub struct Speakers {
    slots: usize,
    voices: HashMap<ConnId, Voice>,
    /// The chosen ones, at most `slots`, in the order they got their slot.
    chosen: Vec<ConnId>,
    /// The dominant speaker (one of the chosen), and since when.
    dominant: Option<(ConnId, Instant)>,
}

impl Speakers {
    /// A meeting where `slots` voices (at least one) are forwarded at once.
    pub fn new(slots: usize) -> Self {
        Speakers {
            slots: slots.max(1),
            voices: HashMap::new(),
            chosen: Vec::new(),
            dominant: None,
        }
    }

    /// One audio packet from `origin` (participant `who`) with its RFC 6464 level (`0`
    /// loudest to `-127` silence, as str0m reports it; `None` when the packet carries none).
    /// Returns whether the packet is to be forwarded.
    pub fn hear(
        &mut self,
        origin: ConnId,
        who: ParticipantId,
        level: Option<i8>,
        now: Instant,
    ) -> bool {
        let Some(level) = level else {
            return true;
        };
        let forward = self.choose(origin, who, level, now);
        self.follow_dominant(origin, now);
        forward
    }

    /// The dominant speaker: the loudest chosen voice that speaks. It stays so through pauses
    /// of [`DOMINANT_HOLD`], unless a chosen voice [`TAKEOVER_MARGIN`] louder has spoken while
    /// it held the place [`MIN_TENURE`]. Only `origin`'s packet can change it.
    fn follow_dominant(&mut self, origin: ConnId, now: Instant) {
        let Some(v) = self.voices.get(&origin).copied() else {
            return;
        };
        if v.loudness < SPEAKING || !self.chosen.contains(&origin) {
            return;
        }
        let take = match self.dominant {
            None => true,
            Some((d, _)) if d == origin => false,
            Some((d, since)) => match self.voices.get(&d) {
                None => true,
                Some(dv) => {
                    now.saturating_duration_since(dv.last_loud) >= DOMINANT_HOLD
                        || (v.loudness >= dv.loudness + TAKEOVER_MARGIN
                            && now.saturating_duration_since(since) >= MIN_TENURE)
                }
            },
        };
        if take {
            self.dominant = Some((origin, now));
        }
    }

    /// The dominant speaker now, if any: (connection, participant).
    pub fn dominant(&self) -> Option<(ConnId, ParticipantId)> {
        let (d, _) = self.dominant?;
        Some((d, self.voices.get(&d)?.who))
    }

    /// Choose whether `origin`'s packet at `level` is forwarded (and whether it takes a slot).
    fn choose(&mut self, origin: ConnId, who: ParticipantId, level: i8, now: Instant) -> bool {
        let loud = 127.0 - f32::from(level.unsigned_abs().min(127));
        let v = self.voices.entry(origin).or_insert(Voice {
            loudness: 0.0,
            last_loud: now.checked_sub(QUIET_HOLD * 2).unwrap_or(now),
            chosen_at: now,
            who,
        });
        v.loudness += (loud - v.loudness) * SMOOTHING;
        let speaking = v.loudness >= SPEAKING;
        if speaking {
            v.last_loud = now;
        }
        let loudness = v.loudness;
        if self.chosen.contains(&origin) {
            return true;
        }
        if !speaking {
            return false;
        }
        let slot = if self.chosen.len() < self.slots {
            None
        } else if let Some(i) = self.longest_quiet(now) {
            Some(i)
        } else if let Some(i) = self.weakest_outshone(loudness, now) {
            Some(i)
        } else {
            return false;
        };
        if let Some(v) = self.voices.get_mut(&origin) {
            v.chosen_at = now;
        }
        match slot {
            None => self.chosen.push(origin),
            Some(i) => {
                self.chosen.remove(i);
                self.chosen.push(origin);
            }
        }
        true
    }

    /// The chosen speaker that has been quiet for at least [`QUIET_HOLD`], quiet longest.
    fn longest_quiet(&self, now: Instant) -> Option<usize> {
        self.chosen
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let last = self.voices.get(c).map(|v| v.last_loud);
                match last {
                    None => Some((i, None)),
                    Some(t) if now.saturating_duration_since(t) >= QUIET_HOLD => Some((i, Some(t))),
                    Some(_) => None,
                }
            })
            .min_by_key(|(_, t)| *t)
            .map(|(i, _)| i)
    }

    /// The quietest chosen speaker still talking, if a voice this loud outshines it and it has
    /// had its slot for [`MIN_TENURE`] (one in a pause is protected by [`QUIET_HOLD`] instead).
    fn weakest_outshone(&self, loudness: f32, now: Instant) -> Option<usize> {
        let (i, v) = self
            .chosen
            .iter()
            .enumerate()
            .filter_map(|(i, c)| self.voices.get(c).map(|v| (i, *v)))
            .filter(|(_, v)| v.loudness >= SPEAKING)
            .min_by(|a, b| a.1.loudness.total_cmp(&b.1.loudness))?;
        (loudness >= v.loudness + TAKEOVER_MARGIN
            && now.saturating_duration_since(v.chosen_at) >= MIN_TENURE)
            .then_some(i)
    }

    /// `origin` left the meeting (or stopped sending audio): its slot is free at once.
    pub fn forget(&mut self, origin: ConnId) {
        self.voices.remove(&origin);
        self.chosen.retain(|c| *c != origin);
        if self.dominant.is_some_and(|(d, _)| d == origin) {
            self.dominant = None;
        }
    }

    /// Whose audio is forwarded now, in the order they got their slot.
    pub fn chosen(&self) -> &[ConnId] {
        &self.chosen
    }

    /// Voices this meeting remembers (each one that sent a level and has not left).
    pub fn len(&self) -> usize {
        self.voices.len()
    }

    /// Whether no voice is remembered.
    pub fn is_empty(&self) -> bool {
        self.voices.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TALK: i8 = -30;
    const LOUD: i8 = -10;
    const NOISE: i8 = -60;
    const SILENT: i8 = -127;

    /// A meeting on virtual time: every 20 ms each voice sends one packet at its level (or
    /// nothing when `None`, muted); counts what was forwarded of each.
    struct Meeting {
        speakers: Speakers,
        now: Instant,
        forwarded: HashMap<u64, usize>,
    }

    impl Meeting {
        fn new(slots: usize) -> Self {
            Meeting {
                speakers: Speakers::new(slots),
                now: Instant::now(),
                forwarded: HashMap::new(),
            }
        }

        /// `levels[i]` is voice i's level for `ms` milliseconds.
        fn run(&mut self, levels: &[Option<i8>], ms: u64) {
            for _ in 0..ms / 20 {
                self.now += Duration::from_millis(20);
                for (i, level) in levels.iter().enumerate() {
                    let Some(level) = level else { continue };
                    let who = ConnId(i as u64);
                    if self
                        .speakers
                        .hear(who, ParticipantId(i as u32), Some(*level), self.now)
                    {
                        *self.forwarded.entry(who.0).or_default() += 1;
                    }
                }
            }
        }

        fn chosen(&self) -> Vec<u64> {
            let mut c: Vec<u64> = self.speakers.chosen().iter().map(|c| c.0).collect();
            c.sort_unstable();
            c
        }
    }

    #[test]
    fn only_the_voices_that_speak_are_forwarded_and_never_more_than_k() {
        let mut m = Meeting::new(3);
        // Five talk, five sit in silence or room noise.
        let mut levels = vec![Some(TALK); 5];
        levels.extend([
            Some(SILENT),
            Some(NOISE),
            Some(SILENT),
            Some(NOISE),
            Some(SILENT),
        ]);
        m.run(&levels, 2000);
        assert_eq!(m.speakers.chosen().len(), 3);
        assert!(m.chosen().iter().all(|c| *c < 5), "{:?}", m.chosen());
        for quiet in 5..10 {
            assert_eq!(m.forwarded.get(&quiet), None, "voice {quiet} is not speech");
        }
    }

    #[test]
    fn a_pause_shorter_than_the_hold_keeps_the_slot() {
        let mut m = Meeting::new(1);
        m.run(&[Some(TALK), Some(SILENT)], 1000);
        assert_eq!(m.chosen(), vec![0]);
        // 0 pauses 800 ms between words while 1 talks: 0 keeps its slot, 1 is not heard.
        m.run(&[Some(SILENT), Some(TALK)], 800);
        assert_eq!(m.chosen(), vec![0]);
        assert_eq!(m.forwarded.get(&1), None);
        // A longer pause: 1 takes over.
        m.run(&[Some(SILENT), Some(TALK)], 800);
        assert_eq!(m.chosen(), vec![1]);
        assert!(m.forwarded[&1] > 0);
    }

    #[test]
    fn a_clearly_louder_voice_takes_the_weakest_slot_only_after_its_tenure() {
        let mut m = Meeting::new(2);
        m.run(&[Some(TALK), Some(-40), Some(SILENT)], 400);
        assert_eq!(m.chosen(), vec![0, 1]);
        // 2 shouts while both keep talking: not before 1 has held its slot MIN_TENURE.
        m.run(&[Some(TALK), Some(-40), Some(LOUD)], 600);
        assert_eq!(m.chosen(), vec![0, 1]);
        m.run(&[Some(TALK), Some(-40), Some(LOUD)], 1200);
        assert_eq!(m.chosen(), vec![0, 2], "the weaker of the two gave way");
        // A voice only a little louder than the weakest does not take over.
        let mut m = Meeting::new(1);
        m.run(&[Some(-30), Some(SILENT)], 2000);
        m.run(&[Some(-30), Some(-25)], 3000);
        assert_eq!(m.chosen(), vec![0]);
    }

    #[test]
    fn muting_or_leaving_frees_the_slot() {
        let mut m = Meeting::new(1);
        m.run(&[Some(TALK), Some(SILENT)], 1000);
        // 0 mutes (sends nothing); 1 starts talking and gets the slot after the hold.
        m.run(&[None, Some(TALK)], 1400);
        assert_eq!(m.chosen(), vec![1]);
        // 1 leaves: 0, back and talking, gets the slot at once.
        m.speakers.forget(ConnId(1));
        assert_eq!(m.speakers.len(), 1);
        m.run(&[Some(TALK), None], 200);
        assert_eq!(m.chosen(), vec![0]);
    }

    #[test]
    fn the_dominant_speaker_holds_through_pauses_and_yields_to_a_clear_voice() {
        let mut m = Meeting::new(3);
        let dominant = |m: &Meeting| m.speakers.dominant().map(|(c, p)| (c.0, p.0));
        assert_eq!(dominant(&m), None);
        m.run(&[Some(TALK), Some(SILENT), Some(SILENT)], 500);
        assert_eq!(dominant(&m), Some((0, 0)));
        // 1 talks during 0's short pause: 0 stays dominant; after a longer pause, 1 is.
        m.run(&[Some(SILENT), Some(TALK), Some(SILENT)], 600);
        assert_eq!(dominant(&m), Some((0, 0)));
        m.run(&[Some(SILENT), Some(TALK), Some(SILENT)], 800);
        assert_eq!(dominant(&m), Some((1, 1)));
        // 2 is clearly louder while 1 goes on: it takes over once 1 has been dominant 1.5 s.
        m.run(&[Some(SILENT), Some(TALK), Some(LOUD)], 400);
        assert_eq!(dominant(&m), Some((1, 1)));
        m.run(&[Some(SILENT), Some(TALK), Some(LOUD)], 1200);
        assert_eq!(dominant(&m), Some((2, 2)));
        // The dominant one leaves: nobody, until someone speaks.
        m.speakers.forget(ConnId(2));
        assert_eq!(dominant(&m), None);
        m.run(&[Some(SILENT), Some(TALK), None], 100);
        assert_eq!(dominant(&m), Some((1, 1)));
    }

    #[test]
    fn packets_without_a_level_are_forwarded() {
        let mut s = Speakers::new(1);
        let now = Instant::now();
        assert!(s.hear(ConnId(1), ParticipantId(1), None, now));
        assert!(s.is_empty());
        assert!(s.chosen().is_empty());
    }
}
