//! Decoded pictures to the window: each is converted to RGBA (scaled down to at most
//! [`MAX_WIDTH`] wide) and sent as one binary message on the Tauri channel the UI opened with
//! `watch_video`. The message is a 12-byte header — participant number, width, height, each a
//! little-endian `u32` — then `width × height × 4` bytes of RGBA, ready for `putImageData`.
//!
//! Only participants whose tiles are on screen are sent (the UI says which); others cost a
//! decode but no conversion or IPC.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parley_client::sink::MediaSink;
use parley_media::VideoFrame;

/// Widest picture sent to the window (wider ones are scaled down by an integer factor).
pub const MAX_WIDTH: u32 = 640;
/// Bytes before the RGBA pixels.
pub const HEADER_BYTES: usize = 12;
/// Most pictures per second sent per participant.
pub const MAX_FPS: u32 = 30;

/// Something that takes a finished message (the Tauri channel in the app).
pub trait FrameOut: Send + Sync {
    /// Send one message; false if the window is gone.
    fn send(&self, message: Vec<u8>) -> bool;
}

#[derive(Default)]
struct State {
    out: Option<Box<dyn FrameOut>>,
    /// `None`: every tile is visible.
    visible: Option<HashSet<u32>>,
    last_sent: HashMap<u32, Instant>,
    sent: u64,
}

/// The [`MediaSink`] that feeds the window.
#[derive(Default)]
pub struct VideoRelay {
    state: Mutex<State>,
}

impl VideoRelay {
    /// Send pictures to `out` from now on (replaces an earlier window's channel).
    pub fn attach(&self, out: Box<dyn FrameOut>) {
        let mut s = self.lock();
        s.out = Some(out);
        s.last_sent.clear();
    }

    /// Only these participants' tiles are on screen (`None`: all of them).
    pub fn set_visible(&self, ids: Option<Vec<u32>>) {
        self.lock().visible = ids.map(|v| v.into_iter().collect());
    }

    /// Pictures sent so far.
    pub fn sent(&self) -> u64 {
        self.lock().sent
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MediaSink for VideoRelay {
    fn video(&self, from: &str, frame: &VideoFrame) {
        let Ok(id) = from.parse::<u32>() else {
            return;
        };
        {
            let mut s = self.lock();
            if s.out.is_none() || s.visible.as_ref().is_some_and(|v| !v.contains(&id)) {
                return;
            }
            let now = Instant::now();
            let min_gap = Duration::from_micros(1_000_000 / u64::from(MAX_FPS)) / 2;
            if s.last_sent
                .get(&id)
                .is_some_and(|t| now.duration_since(*t) < min_gap)
            {
                return;
            }
            s.last_sent.insert(id, now);
        }
        // Convert outside the lock: other senders' pictures keep flowing.
        let message = encode(id, frame);
        let mut s = self.lock();
        let delivered = s.out.as_ref().is_some_and(|o| o.send(message));
        if delivered {
            s.sent += 1;
        } else {
            s.out = None;
        }
    }

    fn audio(&self, _from: &str, _pcm: &[i16]) {
        // Played by the device layer (issue 4); nothing to draw.
    }
}

/// One message: header, then RGBA scaled down by an integer factor to at most [`MAX_WIDTH`].
pub fn encode(id: u32, frame: &VideoFrame) -> Vec<u8> {
    let step = frame.width.div_ceil(MAX_WIDTH).max(1);
    let (w, h) = (frame.width / step, frame.height / step);
    let mut out = Vec::with_capacity(HEADER_BYTES + (w * h * 4) as usize);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    let fw = frame.width as usize;
    let cw = frame.width.div_ceil(2) as usize;
    let luma = fw * frame.height as usize;
    let chroma = cw * frame.height.div_ceil(2) as usize;
    let (y, rest) = frame.data.split_at(luma.min(frame.data.len()));
    if rest.len() < 2 * chroma {
        // A malformed picture: send black rather than read out of bounds.
        out.resize(HEADER_BYTES + (w * h * 4) as usize, 0);
        return out;
    }
    let (u, v) = rest.split_at(chroma);
    let step = step as usize;
    for row in 0..h as usize {
        let sy = row * step;
        for col in 0..w as usize {
            let sx = col * step;
            let yy = i32::from(y[sy * fw + sx]) - 16;
            let ci = (sy / 2) * cw + sx / 2;
            let uu = i32::from(u[ci]) - 128;
            let vv = i32::from(v[ci]) - 128;
            // BT.601 limited range, fixed point.
            let c = 298 * yy;
            let r = (c + 409 * vv + 128) >> 8;
            let g = (c - 100 * uu - 208 * vv + 128) >> 8;
            let b = (c + 516 * uu + 128) >> 8;
            out.extend_from_slice(&[clamp(r), clamp(g), clamp(b), 255]);
        }
    }
    out
}

fn clamp(x: i32) -> u8 {
    x.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Collect(Arc<Mutex<Vec<Vec<u8>>>>);
    impl FrameOut for Collect {
        fn send(&self, m: Vec<u8>) -> bool {
            self.0.lock().unwrap().push(m);
            true
        }
    }

    fn header(m: &[u8]) -> (u32, u32, u32) {
        let w = |i: usize| u32::from_le_bytes(m[i..i + 4].try_into().unwrap());
        (w(0), w(4), w(8))
    }

    #[test]
    fn black_and_white_convert_to_black_and_white() {
        let black = VideoFrame::black(4, 2);
        let m = encode(7, &black);
        assert_eq!(header(&m), (7, 4, 2));
        assert_eq!(m.len(), HEADER_BYTES + 4 * 2 * 4);
        assert_eq!(&m[12..16], &[0, 0, 0, 255]);
        let mut white = VideoFrame::black(4, 2);
        white.y_mut().fill(235);
        let m = encode(7, &white);
        assert_eq!(&m[12..16], &[255, 255, 255, 255]);
    }

    #[test]
    fn wide_pictures_are_scaled_down() {
        let m = encode(1, &VideoFrame::black(1280, 720));
        assert_eq!(header(&m), (1, 640, 360));
        assert_eq!(m.len(), HEADER_BYTES + 640 * 360 * 4);
    }

    #[test]
    fn a_truncated_picture_is_sent_black_not_read_past_its_end() {
        let mut f = VideoFrame::black(8, 8);
        f.data.truncate(20);
        let m = encode(1, &f);
        assert_eq!(m.len(), HEADER_BYTES + 8 * 8 * 4);
    }

    #[test]
    fn hidden_tiles_and_unattached_windows_get_nothing() {
        let relay = VideoRelay::default();
        let frame = VideoFrame::black(16, 16);
        relay.video("1", &frame);
        assert_eq!(relay.sent(), 0, "no window yet");
        let got = Arc::new(Mutex::new(Vec::new()));
        relay.attach(Box::new(Collect(got.clone())));
        relay.set_visible(Some(vec![2]));
        relay.video("1", &frame);
        relay.video("2", &frame);
        relay.video("not-a-number", &frame);
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(header(&got[0]).0, 2);
    }
}
