//! The camera's video as simulcast: up to three VP8 encoders, one per layer of
//! [`LAYERS`] (a quarter, half and all of the camera's size), each fed the picture scaled
//! down from the one above. The send budget congestion control allows is shared smallest
//! layer first: when the uplink is short the top layer stops first, then the middle one; the
//! smallest always goes on. A layer that starts again starts with a keyframe.

use parley_media::VideoFrame;
use parley_media::vp8::{CodecError, EncodedFrame, Vp8Config, Vp8Encoder};

use crate::peer::LAYERS;

/// A layer narrower than this is not sent (its pictures would be too small to use).
pub const MIN_LAYER_WIDTH: u32 = 160;
/// Video never goes below this (a picture that still moves).
pub const MIN_VIDEO_KBPS: u32 = 50;

/// The VP8 bitrate to aim for at `width`×`height`@`fps`, in kbit/s: about 800 for
/// 640x360@30, in proportion to the pixels per second, from 100 to 2,500.
pub fn bitrate_for(width: u32, height: u32, fps: u32) -> u32 {
    let pixels_per_s = u64::from(width) * u64::from(height) * u64::from(fps);
    (pixels_per_s * 800 / (640 * 360 * 30)).clamp(100, 2500) as u32
}

/// The sizes of the layers sent for a `width`×`height` camera, smallest first, as (index
/// into [`LAYERS`], width, height): the full size always (`h`), and each half size (rounded
/// down to even) while it is at least [`MIN_LAYER_WIDTH`] wide. Without `simulcast`, only
/// the full size.
pub fn layer_sizes(width: u32, height: u32, simulcast: bool) -> Vec<(usize, u32, u32)> {
    let top = LAYERS.len() - 1;
    let mut sizes = vec![(top, width, height)];
    let (mut w, mut h) = (width, height);
    for layer in (0..top).rev() {
        (w, h) = ((w / 2) & !1, (h / 2) & !1);
        if !simulcast || w < MIN_LAYER_WIDTH || h == 0 {
            break;
        }
        sizes.push((layer, w, h));
    }
    sizes.reverse();
    sizes
}

/// How `budget_kbps` of video is shared among layers whose full rates are `caps` (smallest
/// first): each gets up to its cap, smallest first; a layer above the first that would get
/// less than a third of its cap gets nothing (it pauses), and so do all above it. The first
/// always gets at least [`MIN_VIDEO_KBPS`].
pub fn share(budget_kbps: u32, caps: &[u32]) -> Vec<u32> {
    share_with(budget_kbps, caps, &vec![true; caps.len()])
}

/// [`share`] with hysteresis: a layer that is `running` goes on while it would get a third of
/// its cap; a paused one starts again only at half of it. A budget that wavers around one
/// threshold (random loss, a shared link) then does not stop and start the layer each time,
/// and each start costs a keyframe and a wait for it at every receiver switching up.
pub fn share_with(budget_kbps: u32, caps: &[u32], running: &[bool]) -> Vec<u32> {
    let mut left = budget_kbps;
    let mut out = Vec::with_capacity(caps.len());
    for (i, &cap) in caps.iter().enumerate() {
        let needs = if running.get(i).copied().unwrap_or(false) {
            cap.div_ceil(3)
        } else {
            cap.div_ceil(2)
        };
        let give = if i == 0 {
            left.min(cap).max(MIN_VIDEO_KBPS.min(cap))
        } else if left >= needs && out.last().is_some_and(|r| *r > 0) {
            left.min(cap)
        } else {
            0
        };
        left = left.saturating_sub(give);
        out.push(give);
    }
    out
}

struct Layer {
    /// Index into [`LAYERS`].
    index: usize,
    encoder: Vp8Encoder,
    /// Its rate at full quality, in kbit/s.
    cap_kbps: u32,
    /// Paused (no budget for it): nothing is encoded; it restarts with a keyframe.
    paused: bool,
}

/// The camera's encoders, one per layer sent.
pub struct LayeredEncoder {
    layers: Vec<Layer>,
    fps: u32,
    simulcast: bool,
    /// Bit *i* set: layer [`LAYERS`]\[*i*\] is received by someone (the SFU says which); the
    /// others are not encoded.
    wanted: u8,
    /// The budget last shared, in kbit/s.
    budget_kbps: u32,
}

impl LayeredEncoder {
    /// Encoders for a `width`×`height` camera at `fps` (simulcast layers if `simulcast`),
    /// starting at their full rates.
    pub fn new(width: u32, height: u32, fps: u32, simulcast: bool) -> Result<Self, CodecError> {
        let mut e = LayeredEncoder {
            layers: Vec::new(),
            fps,
            simulcast,
            wanted: u8::MAX,
            budget_kbps: 0,
        };
        e.resize(width, height)?;
        e.budget_kbps = e.full_kbps();
        Ok(e)
    }

    fn resize(&mut self, width: u32, height: u32) -> Result<(), CodecError> {
        let mut layers = Vec::new();
        for (index, w, h) in layer_sizes(width, height, self.simulcast) {
            let cap_kbps = bitrate_for(w, h, self.fps);
            let encoder = Vp8Encoder::new(Vp8Config {
                fps: self.fps,
                ..Vp8Config::realtime(w, h, cap_kbps)
            })?;
            layers.push(Layer {
                index,
                encoder,
                cap_kbps,
                paused: false,
            });
        }
        self.layers = layers;
        Ok(())
    }

    /// Send simulcast layers (`true`) or only the full size (a shared screen: sharp text
    /// matters more than a small picture). A change takes effect at the next picture, with new
    /// encoders (each starts with a keyframe).
    pub fn set_simulcast(&mut self, simulcast: bool) {
        if self.simulcast != simulcast {
            self.simulcast = simulcast;
            self.layers.clear();
        }
    }

    /// The rate of all layers at full quality, in kbit/s.
    pub fn full_kbps(&self) -> u32 {
        self.layers.iter().map(|l| l.cap_kbps).sum()
    }

    /// What the layers aim at now, in kbit/s (paused ones count nothing).
    pub fn bitrate_kbps(&self) -> u32 {
        self.layers
            .iter()
            .filter(|l| !l.paused)
            .map(|l| l.encoder.config().bitrate_kbps)
            .sum()
    }

    /// The layers being encoded now (indexes into [`LAYERS`]).
    pub fn active(&self) -> Vec<usize> {
        self.layers
            .iter()
            .filter(|l| !l.paused)
            .map(|l| l.index)
            .collect()
    }

    /// Encode only the layers whose bits are set in `wanted` (bit *i*: [`LAYERS`]\[*i*\]), the
    /// ones someone receives; takes effect at the next [`LayeredEncoder::follow`].
    pub fn set_wanted(&mut self, wanted: u8) {
        self.wanted = wanted;
    }

    /// Share `budget_kbps` among the layers someone receives (see [`share`]); the others
    /// pause. A layer's encoder is told a new rate only when it falls or rises by at least a
    /// tenth (each change costs a little quality).
    pub fn follow(&mut self, budget_kbps: u32) -> Result<(), CodecError> {
        self.budget_kbps = budget_kbps;
        // One layer alone (a shared screen) goes whichever layer is wanted: receivers get it.
        let wanted = if self.simulcast || self.wanted == 0 {
            self.wanted
        } else {
            u8::MAX
        };
        let is_wanted = |l: &Layer| wanted & (1 << l.index) != 0;
        let (caps, running): (Vec<u32>, Vec<bool>) = self
            .layers
            .iter()
            .filter(|l| is_wanted(l))
            .map(|l| (l.cap_kbps, !l.paused))
            .unzip();
        let mut shares = share_with(budget_kbps, &caps, &running).into_iter();
        for layer in &mut self.layers {
            let kbps = if is_wanted(layer) {
                shares.next().unwrap_or(0)
            } else {
                0
            };
            if kbps == 0 {
                layer.paused = true;
                continue;
            }
            layer.paused = false;
            let current = layer.encoder.config().bitrate_kbps;
            if kbps < current || kbps >= current + current / 10 {
                layer.encoder.set_bitrate(kbps)?;
            }
        }
        Ok(())
    }

    /// Encode one camera picture into every active layer; `keyframes` has bit *i* set for
    /// each layer [`LAYERS`]\[*i*\] that must start with a keyframe. A picture of another
    /// size than before makes new encoders (each starts with a keyframe). Returns (layer,
    /// frame) pairs, smallest layer first.
    pub fn encode(
        &mut self,
        frame: &VideoFrame,
        keyframes: u8,
    ) -> Result<Vec<(usize, EncodedFrame)>, CodecError> {
        let top = self.layers.last().map(|l| l.encoder.config());
        if self.layers.is_empty()
            || top.is_none_or(|c| (c.width, c.height) != (frame.width, frame.height))
        {
            self.resize(frame.width, frame.height)?;
            self.follow(self.budget_kbps)?;
        }
        // Nothing received by anyone: nothing to do.
        let Some(smallest) = self.layers.iter().position(|l| !l.paused) else {
            return Ok(Vec::new());
        };
        // The pictures below the camera's, down to the smallest layer encoded: each half of
        // the one above.
        let count = self.layers.len();
        let mut halves: Vec<VideoFrame> = Vec::with_capacity(count - 1);
        for layer in self.layers[smallest..count - 1].iter().rev() {
            let above = halves.last().unwrap_or(frame);
            let c = layer.encoder.config();
            let half = above.halved().ok_or(CodecError::FrameSize {
                got_w: above.width / 2,
                got_h: above.height / 2,
                want_w: c.width,
                want_h: c.height,
            })?;
            halves.push(half);
        }
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate().skip(smallest) {
            if layer.paused {
                continue;
            }
            // Layer i is the camera's picture halved (count - 1 - i) times.
            let picture = match count - 1 - i {
                0 => frame,
                depth => &halves[depth - 1],
            };
            let key = keyframes & (1 << layer.index) != 0;
            for e in layer.encoder.encode(picture, key)? {
                out.push((layer.index, e));
            }
        }
        Ok(out)
    }

    /// Note that a paused layer must restart with a keyframe: returns the keyframe bits to add
    /// for layers that were paused before `follow` and run now.
    pub fn resumed(before: &[usize], now: &[usize]) -> u8 {
        now.iter()
            .filter(|i| !before.contains(i))
            .fold(0u8, |bits, i| bits | (1 << i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_halves_of_the_camera_while_at_least_160_wide() {
        assert_eq!(
            layer_sizes(1280, 720, true),
            vec![(0, 320, 180), (1, 640, 360), (2, 1280, 720)]
        );
        assert_eq!(
            layer_sizes(640, 480, true),
            vec![(0, 160, 120), (1, 320, 240), (2, 640, 480)]
        );
        assert_eq!(
            layer_sizes(320, 180, true),
            vec![(1, 160, 90), (2, 320, 180)]
        );
        assert_eq!(layer_sizes(200, 100, true), vec![(2, 200, 100)]);
        assert_eq!(layer_sizes(1280, 720, false), vec![(2, 1280, 720)]);
    }

    #[test]
    fn a_short_budget_stops_the_top_layer_first_and_never_the_smallest() {
        let caps = [200, 800, 2500];
        assert_eq!(share(5000, &caps), vec![200, 800, 2500]);
        assert_eq!(share(2000, &caps), vec![200, 800, 1000]);
        // The top layer would get less than a third of its cap: it pauses.
        assert_eq!(share(1500, &caps), vec![200, 800, 0]);
        assert_eq!(share(600, &caps), vec![200, 400, 0]);
        // The middle one too.
        assert_eq!(share(300, &caps), vec![200, 0, 0]);
        // The smallest goes on, at the floor if it must.
        assert_eq!(share(10, &caps), vec![50, 0, 0]);
        assert_eq!(share(700, &[800]), vec![700]);
    }

    #[test]
    fn a_paused_layer_starts_again_only_at_half_its_cap() {
        let caps = [200, 800, 2500];
        // 1,200 left for the top layer: a third of 2,500 but not half.
        let budget = 200 + 800 + 1_000;
        assert_eq!(
            share_with(budget, &caps, &[true, true, true]),
            vec![200, 800, 1000],
            "running: it goes on"
        );
        assert_eq!(
            share_with(budget, &caps, &[true, true, false]),
            vec![200, 800, 0],
            "paused: it waits for more"
        );
        assert_eq!(
            share_with(200 + 800 + 1_250, &caps, &[true, true, false]),
            vec![200, 800, 1250]
        );
        // A budget wavering around the third stops the layer once, not every time.
        let mut e = LayeredEncoder::new(1280, 720, 30, true).unwrap();
        e.set_wanted(0b111);
        let full: Vec<u32> = e.layers.iter().map(|l| l.cap_kbps).collect();
        let (low, high) = (full[0] + full[1], full[2]);
        let mut starts = 0;
        let mut was = e.active();
        for k in 0..20 {
            let top = if k % 2 == 0 {
                high / 3 - 20
            } else {
                high / 3 + 20
            };
            e.follow(low + top).unwrap();
            let now = e.active();
            if now.len() > was.len() {
                starts += 1;
            }
            was = now;
        }
        assert_eq!(
            starts, 0,
            "the top layer restarted while the budget wavered"
        );
    }

    #[test]
    fn every_active_layer_is_encoded_at_its_size_and_a_resumed_one_starts_with_a_keyframe() {
        let mut e = LayeredEncoder::new(640, 360, 30, true).unwrap();
        let frame = VideoFrame::black(640, 360);
        let out = e.encode(&frame, 0).unwrap();
        let layers: Vec<usize> = out.iter().map(|(i, _)| *i).collect();
        assert_eq!(layers, vec![0, 1, 2]);
        assert!(
            out.iter().all(|(_, f)| f.keyframe),
            "each starts with a keyframe"
        );
        let delta = e.encode(&frame, 0).unwrap();
        assert!(delta.iter().all(|(_, f)| !f.keyframe));
        // Asked for a keyframe of the middle layer only.
        let asked = e.encode(&frame, 0b010).unwrap();
        let keys: Vec<usize> = asked
            .iter()
            .filter(|(_, f)| f.keyframe)
            .map(|(i, _)| *i)
            .collect();
        assert_eq!(keys, vec![1]);
        // A short uplink: the top layer stops.
        let before = e.active();
        e.follow(300).unwrap();
        assert_eq!(e.active(), vec![0, 1]);
        let short = e.encode(&frame, 0).unwrap();
        assert!(short.iter().all(|(i, _)| *i < 2));
        e.follow(5000).unwrap();
        assert_eq!(LayeredEncoder::resumed(&[0, 1], &e.active()), 0b100);
        assert_eq!(LayeredEncoder::resumed(&before, &e.active()), 0);
        // Another camera size: new encoders, all at keyframes.
        let other = e.encode(&VideoFrame::black(320, 180), 0).unwrap();
        assert_eq!(
            other.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(other.iter().all(|(_, f)| f.keyframe));
    }

    #[test]
    fn only_the_layers_someone_receives_are_encoded() {
        let mut e = LayeredEncoder::new(1280, 720, 30, true).unwrap();
        let frame = VideoFrame::black(1280, 720);
        e.encode(&frame, 0).unwrap();
        // Nobody gets the small layer: the budget goes to the others.
        e.set_wanted(0b110);
        e.follow(2500).unwrap();
        assert_eq!(e.active(), vec![1, 2]);
        let out = e.encode(&frame, 0).unwrap();
        assert_eq!(out.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![1, 2]);
        // Only the top one, and the uplink is short: it still goes (the smallest wanted never
        // stops).
        e.set_wanted(0b100);
        e.follow(300).unwrap();
        assert_eq!(e.active(), vec![2]);
        // Nobody watches: nothing is encoded.
        e.set_wanted(0);
        e.follow(5000).unwrap();
        assert!(e.active().is_empty());
        assert!(e.encode(&frame, 0).unwrap().is_empty());
        assert_eq!(e.bitrate_kbps(), 0);
        // Someone again: the layer resumes, with a keyframe.
        let before = e.active();
        e.set_wanted(0b001);
        e.follow(5000).unwrap();
        let keys = LayeredEncoder::resumed(&before, &e.active());
        assert_eq!(keys, 0b001);
        let out = e.encode(&frame, keys).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].1.keyframe);
    }

    #[test]
    fn a_shared_screen_goes_out_as_one_full_size_layer_and_the_camera_comes_back_in_three() {
        let mut e = LayeredEncoder::new(1280, 720, 30, true).unwrap();
        e.encode(&VideoFrame::black(1280, 720), 0).unwrap();
        e.set_simulcast(false);
        let screen = e.encode(&VideoFrame::black(1280, 800), 0).unwrap();
        assert_eq!(screen.len(), 1, "one layer");
        assert_eq!(screen[0].0, LAYERS.len() - 1, "the top layer's rid");
        assert!(screen[0].1.keyframe);
        assert_eq!(e.active(), vec![2]);
        // Someone wants a small picture of it: the one layer there is goes.
        e.set_wanted(0b001);
        e.follow(5000).unwrap();
        assert_eq!(e.active(), vec![2]);
        e.set_wanted(u8::MAX);
        // The same size again after the switch back still makes three layers.
        e.set_simulcast(true);
        let camera = e.encode(&VideoFrame::black(1280, 800), 0).unwrap();
        assert_eq!(
            camera.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(camera.iter().all(|(_, f)| f.keyframe));
    }
}
