//! Simulcast: a sender's video comes in up to [`MAX_LAYERS`] layers of one picture at
//! different sizes (rids, e.g. `l`, `m`, `h`), and each receiver gets the one that fits the
//! tile it shows that sender in. What this reads of a frame is what stays outside the
//! end-to-end encryption: the rid, and on a keyframe the VP8 frame tag with the picture's
//! size (RFC 6386 §9.1).
//!
//! A receiver moves to another layer only at a keyframe of that layer (a delta frame of one
//! layer does not decode against another's picture), up or down alike; until it comes, the
//! layer it has goes on. Its timestamps stay continuous across the switch ([`Timeline`]);
//! str0m numbers the packets of each receiver's stream itself, so sequence numbers do too.

use std::time::{Duration, Instant};

use parley_proto::ParticipantId;
use str0m::media::{MediaTime, Rid};

/// Layers of one track the SFU tells apart; further rids are not forwarded.
pub const MAX_LAYERS: usize = 4;

/// A layer that sent nothing for this long is not chosen (its sender stopped it: nobody
/// watched, or its uplink is short).
const LAYER_IDLE: Duration = Duration::from_secs(1);
/// Nor is one that missed this many pictures while the other layers went on: the sender
/// stopped it, and at 30 frames a second this tells in about a quarter second (an encoder
/// skipping a frame or two under rate pressure does not switch anyone).
pub const MISSED_PICTURES: u32 = 8;

pub use parley_proto::vp8::vp8_keyframe_size;

#[derive(Debug, Clone, Copy)]
struct Layer {
    rid: Rid,
    /// Picture height of its last keyframe (0 until one came).
    height: u16,
    /// When a frame of it last came.
    last: Instant,
    /// Frames of the other layers since its last one.
    behind: u32,
}

/// The layers of one sender's video track, as its frames show them.
#[derive(Debug)]
pub struct Layers {
    seen: Vec<Layer>,
    /// Who sends the track (receivers size their tiles by participant).
    pub sender: ParticipantId,
    /// The media worker that receives it from its sender.
    pub worker: usize,
}

impl Layers {
    /// The layers of `sender`'s track, received on `worker`: none seen yet.
    pub fn new(sender: ParticipantId, worker: usize) -> Self {
        Layers {
            seen: Vec::new(),
            sender,
            worker,
        }
    }

    /// The layers told apart, in the order they were first seen.
    pub fn rids(&self) -> Vec<Rid> {
        self.seen.iter().map(|l| l.rid).collect()
    }

    /// A frame of layer `rid` came at `now` (its size is read if it is a keyframe).
    pub fn saw(&mut self, rid: Rid, frame: &[u8], now: Instant) {
        if !self.knows(rid) {
            if self.seen.len() >= MAX_LAYERS {
                return;
            }
            self.seen.push(Layer {
                rid,
                height: 0,
                last: now,
                behind: 0,
            });
        }
        let height = vp8_keyframe_size(frame).map(|(_, h)| h);
        for l in &mut self.seen {
            if l.rid == rid {
                l.last = now;
                l.behind = 0;
                if let Some(h) = height {
                    l.height = h;
                }
            } else {
                l.behind = l.behind.saturating_add(1);
            }
        }
    }

    /// Whether `rid` is one of the layers told apart (a further one is never forwarded).
    pub fn knows(&self, rid: Rid) -> bool {
        self.seen.iter().any(|l| l.rid == rid)
    }

    /// The layer for a tile `height` pixels high (`None`: as large as sent): the smallest
    /// layer still sending whose pictures are at least nine tenths of that, else the largest.
    /// Layers whose size is not known yet (no keyframe seen) are chosen only when no size is
    /// known at all, the last-named one then.
    /// Only layers at most `cap` high are chosen (a receiver's downlink, `None`: any; see
    /// [`super::downlink`]), or the smallest if none is.
    pub fn choose_within(
        &self,
        height: Option<u16>,
        cap: Option<u16>,
        now: Instant,
    ) -> Option<Rid> {
        let others = u32::try_from(self.seen.len().saturating_sub(1)).unwrap_or(0);
        let live: Vec<&Layer> = self
            .seen
            .iter()
            .filter(|l| {
                now.saturating_duration_since(l.last) < LAYER_IDLE
                    && l.behind < MISSED_PICTURES * others.max(1)
            })
            .collect();
        let live = within(live, cap);
        pick(&live, height).or_else(|| live.last().map(|l| l.rid))
    }

    /// The layer that would fit a tile `height` pixels high if the sender sent every layer it
    /// has sent (stopped ones too, by the size they had): what a receiver wants, so that a
    /// sender can stop the layers nobody wants and start one again when someone does.
    /// `None` while no layer's size is known.
    /// Only layers at most `cap` high count (a receiver's downlink), or the smallest.
    pub fn ideal_within(&self, height: Option<u16>, cap: Option<u16>) -> Option<Rid> {
        let all: Vec<&Layer> = self.seen.iter().collect();
        pick(&within(all, cap), height)
    }

    /// The picture height of layer `rid` (0: not known yet).
    pub fn height(&self, rid: Rid) -> u16 {
        self.seen
            .iter()
            .find(|l| l.rid == rid)
            .map_or(0, |l| l.height)
    }
}

/// Of `layers`, those of known size at most `cap` high; if none is, the smallest of known
/// size; if no size is known, all of them.
fn within(layers: Vec<&Layer>, cap: Option<u16>) -> Vec<&Layer> {
    let Some(cap) = cap else {
        return layers;
    };
    let low: Vec<&Layer> = layers
        .iter()
        .copied()
        .filter(|l| l.height > 0 && l.height <= cap)
        .collect();
    if !low.is_empty() {
        return low;
    }
    match layers
        .iter()
        .filter(|l| l.height > 0)
        .min_by_key(|l| l.height)
    {
        Some(smallest) => vec![*smallest],
        None => layers,
    }
}

impl Layers {
    /// The layers up to `a` or `b`, whichever is higher (by picture height; those of unknown
    /// size only if named), smallest first: what a receiver on `a` that would fit `b` wants
    /// sent. Smaller layers stay on because they are what its sender falls back to when its
    /// own uplink is short, and they cost it little.
    pub fn up_to(&self, a: Rid, b: Rid) -> Vec<Rid> {
        let height = |r: Rid| {
            self.seen
                .iter()
                .find(|l| l.rid == r)
                .map_or(0, |l| l.height)
        };
        let top = height(a).max(height(b));
        let mut chosen: Vec<&Layer> = self
            .seen
            .iter()
            .filter(|l| l.rid == a || l.rid == b || (l.height > 0 && l.height <= top))
            .collect();
        chosen.sort_by_key(|l| l.height);
        chosen.iter().map(|l| l.rid).collect()
    }
}

/// Among `layers`, those of known size: the smallest at least nine tenths of `height` high,
/// else the largest (`None` if no size is known).
fn pick(layers: &[&Layer], height: Option<u16>) -> Option<Rid> {
    let sized = || layers.iter().filter(|l| l.height > 0);
    let largest = sized().max_by_key(|l| l.height)?;
    let fits = height.and_then(|h| {
        sized()
            .filter(|l| u32::from(l.height) * 10 >= u32::from(h) * 9)
            .min_by_key(|l| l.height)
    });
    Some(fits.unwrap_or(largest).rid)
}

/// Keeps the RTP timestamps of one of a receiver's streams continuous when what it carries
/// changes (another layer, another sender): each source keeps its own clock, so at a change
/// the new source's time is offset to follow on from the last one written, by the time that
/// passed between their frames.
#[derive(Debug, Default)]
pub struct Timeline {
    /// The source written last (sender's connection and layer), its offset, the last time
    /// written and when its frame came.
    last: Option<(u64, Option<Rid>, i128, u64, Instant)>,
}

impl Timeline {
    /// The time to write for a frame of `source` with time `time` that came at `at`.
    pub fn map(&mut self, source: (u64, Option<Rid>), time: MediaTime, at: Instant) -> MediaTime {
        let freq = time.frequency();
        let t = i128::from(time.numer());
        let offset = match self.last {
            Some((conn, rid, offset, _, _)) if (conn, rid) == source => offset,
            Some((_, _, _, out, when)) => {
                let passed = at.saturating_duration_since(when).as_micros()
                    * u128::from(freq.get())
                    / 1_000_000;
                let follow = i128::from(out) + i128::try_from(passed).unwrap_or(0).max(1);
                follow - t
            }
            None => 0,
        };
        let out = u64::try_from((t + offset).max(0)).unwrap_or(u64::MAX);
        self.last = Some((source.0, source.1, offset, out, at));
        MediaTime::new(out, freq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyframe(width: u16, height: u16) -> Vec<u8> {
        let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        f.extend_from_slice(&width.to_le_bytes());
        f.extend_from_slice(&height.to_le_bytes());
        f.extend_from_slice(&[0; 20]);
        f
    }

    #[test]
    fn a_keyframe_tells_its_size_and_a_delta_frame_does_not() {
        assert_eq!(vp8_keyframe_size(&keyframe(1280, 720)), Some((1280, 720)));
        // The top two bits of each are the scaling mode, not the size.
        let mut scaled = keyframe(640, 360);
        scaled[7] |= 0xc0;
        scaled[9] |= 0x40;
        assert_eq!(vp8_keyframe_size(&scaled), Some((640, 360)));
        let mut delta = keyframe(640, 360);
        delta[0] |= 1;
        assert_eq!(vp8_keyframe_size(&delta), None);
        assert_eq!(vp8_keyframe_size(&keyframe(640, 360)[..9]), None);
        let mut no_start_code = keyframe(640, 360);
        no_start_code[4] = 0;
        assert_eq!(vp8_keyframe_size(&no_start_code), None);
    }

    #[test]
    fn a_narrow_downlink_gets_only_layers_under_its_cap() {
        let t0 = Instant::now();
        let mut layers = Layers::new(ParticipantId(1), 0);
        let (l, m, h) = (Rid::from("l"), Rid::from("m"), Rid::from("h"));
        layers.saw(l, &keyframe(320, 180), t0);
        layers.saw(m, &keyframe(640, 360), t0);
        layers.saw(h, &keyframe(1280, 720), t0);
        assert_eq!(layers.choose_within(None, Some(719), t0), Some(m));
        assert_eq!(layers.choose_within(Some(720), Some(359), t0), Some(l));
        // A small tile stays small under a higher cap.
        assert_eq!(layers.choose_within(Some(180), Some(719), t0), Some(l));
        // Below the smallest layer: the smallest still goes.
        assert_eq!(layers.choose_within(None, Some(100), t0), Some(l));
        assert_eq!(layers.choose_within(None, None, t0), Some(h));
        // What it wants of the sender follows the cap (the top layer may stop).
        assert_eq!(layers.ideal_within(None, Some(719)), Some(m));
        assert_eq!(layers.ideal_within(None, None), Some(h));
        assert_eq!((layers.height(m), layers.height(Rid::from("x"))), (360, 0));
        // Sizes not known yet: the cap cannot apply.
        let mut unknown = Layers::new(ParticipantId(2), 0);
        unknown.saw(l, &[1, 0, 0], t0);
        unknown.saw(h, &[1, 0, 0], t0);
        assert_eq!(unknown.choose_within(None, Some(100), t0), Some(h));
    }

    #[test]
    fn the_smallest_layer_that_fills_the_tile_is_chosen_among_those_still_sending() {
        let t0 = Instant::now();
        let mut layers = Layers::new(ParticipantId(1), 0);
        let (l, m, h) = (Rid::from("l"), Rid::from("m"), Rid::from("h"));
        // Before any keyframe: the last layer named.
        layers.saw(l, &[1, 0, 0], t0);
        layers.saw(h, &[1, 0, 0], t0);
        assert_eq!(layers.choose_within(Some(100), None, t0), Some(h));
        layers.saw(l, &keyframe(320, 180), t0);
        layers.saw(m, &keyframe(640, 360), t0);
        layers.saw(h, &keyframe(1280, 720), t0);
        assert_eq!(layers.choose_within(Some(120), None, t0), Some(l));
        // A tile a little larger than a layer still takes it (nine tenths).
        assert_eq!(layers.choose_within(Some(200), None, t0), Some(l));
        assert_eq!(layers.choose_within(Some(201), None, t0), Some(m));
        assert_eq!(layers.choose_within(Some(400), None, t0), Some(m));
        assert_eq!(layers.choose_within(Some(401), None, t0), Some(h));
        assert_eq!(layers.choose_within(Some(2000), None, t0), Some(h));
        assert_eq!(layers.choose_within(None, None, t0), Some(h));
        // The top layer stops (its sender's uplink is short): the next one down.
        let later = t0 + Duration::from_millis(1500);
        layers.saw(l, &[1, 0, 0], later);
        layers.saw(m, &[1, 0, 0], later);
        assert_eq!(layers.choose_within(None, None, later), Some(m));
        assert_eq!(layers.choose_within(Some(100), None, later), Some(l));
        // What a receiver would want is still the top layer, stopped or not.
        assert_eq!(layers.ideal_within(None, None), Some(h));
        assert_eq!(layers.ideal_within(Some(720), None), Some(h));
        assert_eq!(layers.ideal_within(Some(180), None), Some(l));
        // A receiver on l that would fit h wants every layer up to h; one on m that would fit
        // l, up to m; every one of them the smallest.
        assert_eq!(layers.up_to(l, h), vec![l, m, h]);
        assert_eq!(layers.up_to(m, l), vec![l, m]);
        assert_eq!(layers.up_to(l, l), vec![l]);
        // It comes back, then misses eight pictures while the others go on: stopped again.
        layers.saw(h, &[1, 0, 0], later);
        assert_eq!(layers.choose_within(None, None, later), Some(h));
        for _ in 0..7 {
            layers.saw(l, &[1, 0, 0], later);
            layers.saw(m, &[1, 0, 0], later);
        }
        assert_eq!(
            layers.choose_within(None, None, later),
            Some(h),
            "seven missed: still on"
        );
        layers.saw(l, &[1, 0, 0], later);
        layers.saw(m, &[1, 0, 0], later);
        assert_eq!(layers.choose_within(None, None, later), Some(m));
        // At most MAX_LAYERS layers are told apart.
        for name in ["a", "b", "c"] {
            layers.saw(Rid::from(name), &[1, 0, 0], later);
        }
        assert!(layers.knows(Rid::from("a")));
        assert!(!layers.knows(Rid::from("b")));
    }

    #[test]
    fn timestamps_follow_on_across_a_change_of_source() {
        let t0 = Instant::now();
        let frame = Duration::from_millis(33);
        let mut tl = Timeline::default();
        let l = (7, Some(Rid::from("l")));
        let h = (7, Some(Rid::from("h")));
        assert_eq!(
            tl.map(l, MediaTime::from_90khz(1_000_000), t0).numer(),
            1_000_000
        );
        let t1 = t0 + frame;
        assert_eq!(
            tl.map(l, MediaTime::from_90khz(1_002_970), t1).numer(),
            1_002_970
        );
        // Layer h has its own clock, far away: it follows on by the 33 ms that passed.
        let t2 = t1 + frame;
        assert_eq!(
            tl.map(h, MediaTime::from_90khz(5), t2).numer(),
            1_002_970 + 2970
        );
        let t3 = t2 + frame;
        assert_eq!(
            tl.map(h, MediaTime::from_90khz(2975), t3).numer(),
            1_002_970 + 5940
        );
        // Another sender, whose clock is behind: still forward, never back.
        let other = (9, None);
        let t4 = t3 + frame;
        let out = tl.map(other, MediaTime::from_90khz(0), t4).numer();
        assert_eq!(out, 1_002_970 + 8910);
        // A frame that came at the same instant as the last one still moves time on.
        let same = tl.map(l, MediaTime::from_90khz(1_010_000), t4).numer();
        assert_eq!(same, out + 1);
    }
}
