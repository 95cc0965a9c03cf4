//! Decoded pictures to the window: each is scaled down by an integer factor
//! to about the width of its tile on screen (at most [`MAX_WIDTH`]), and queued, at most
//! [`MAX_QUEUED`] per participant (older ones are dropped). The window **pulls** over its
//! loopback socket ([`crate::video_socket`]) and each batch carries **one** picture of each
//! participant who has one waiting, the oldest:
//! - decoded pictures come in bursts (two of one participant within a few milliseconds is
//!   common); keeping only the latest dropped about one in six of them;
//! - sending whole queues made batches grow whenever the window fell behind, so it fell
//!   further behind; one per participant per batch keeps batches small and spreads a burst
//!   over the next batches.
//!
//! A batch is one binary message: a little-endian `u32` count, then for each
//! picture its byte length (`u32`) and the picture — a 12-byte header (participant number,
//! width, height, each a little-endian `u32`) and `width × height × 4` bytes of RGBA, ready for
//! `putImageData`. RGBA rather than I420 (2.7 times the bytes): the window's main thread is
//! what limits how many pictures reach the screen, and copying RGBA costs it ~20 µs a picture
//! where converting I420 in JavaScript cost 0.5–2.8 ms (BENCHMARKS.md).
//!
//! Why pull, and why a socket: Tauri channel messages cost the webview a script call and a
//! fetch through its IPC scheme each, which capped the window at about 45–50 MB of pictures a
//! second (3 tiles got 13–17 pictures a second each). WebKit takes WebSocket messages on
//! loopback at about 350 MB a second (BENCHMARKS.md). Pulling means the backend never sends
//! more than the window draws: nothing piles up in either process.
//!
//! Only participants whose tiles are on screen are converted (the UI says which). A picture
//! replaced before it was sent is counted as dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use parley_client::sink::MediaSink;
use parley_media::VideoFrame;
use tokio::sync::Notify;

/// Widest picture sent to the window (wider ones are scaled down by an integer factor).
pub const MAX_WIDTH: u32 = 640;
/// Bytes before the RGBA pixels.
pub const HEADER_BYTES: usize = 12;
/// Most pictures of one participant waiting to be sent.
pub const MAX_QUEUED: usize = 2;

#[derive(Default)]
struct State {
    /// A window is connected and wants pictures.
    watching: bool,
    /// `None`: every tile is visible.
    visible: Option<HashSet<u32>>,
    /// Widest picture the tiles on screen need.
    tile_width: Option<u32>,
    /// Each participant's pictures not yet sent, oldest first.
    latest: HashMap<u32, VecDeque<Vec<u8>>>,
    sent: u64,
    dropped: u64,
    batches: u64,
}

/// The [`MediaSink`] that feeds the window.
#[derive(Default)]
pub struct VideoRelay {
    state: Mutex<State>,
    /// Woken when a picture arrives.
    arrived: Notify,
}

impl VideoRelay {
    /// Whether a window is watching (pictures are converted only then). Stopping forgets what
    /// was waiting.
    pub fn set_watching(&self, watching: bool) {
        let mut s = lock(&self.state);
        s.watching = watching;
        if !watching {
            s.latest.clear();
        }
    }

    /// Only these participants' tiles are on screen (`None`: all of them), each at most
    /// `tile_width` pixels wide.
    /// Whether the set of tiles changed (then the server should be told whose video to send).
    pub fn set_visible(&self, ids: Option<Vec<u32>>, tile_width: Option<u32>) -> bool {
        let mut s = lock(&self.state);
        let visible = ids.map(|v| v.into_iter().collect());
        let tile_width = tile_width.map(|w| w.clamp(16, MAX_WIDTH));
        let changed = s.visible != visible || s.tile_width != tile_width;
        s.visible = visible;
        s.tile_width = tile_width;
        changed
    }

    /// Pictures sent so far, and pictures dropped (more than [`MAX_QUEUED`] waited).
    pub fn sent_and_dropped(&self) -> (u64, u64) {
        let s = lock(&self.state);
        (s.sent, s.dropped)
    }

    /// The oldest waiting picture of each participant, as one batch; `None` if none waits.
    pub fn take_batch(&self) -> Option<Vec<u8>> {
        let mut s = lock(&self.state);
        let pictures: Vec<Vec<u8>> = s
            .latest
            .values_mut()
            .filter_map(VecDeque::pop_front)
            .collect();
        s.latest.retain(|_, q| !q.is_empty());
        if pictures.is_empty() {
            return None;
        }
        s.sent += pictures.len() as u64;
        s.batches += 1;
        Some(batch_of(&pictures))
    }

    /// The next batch: at once if pictures are waiting, else as soon as one arrives.
    pub async fn next_batch(&self) -> Vec<u8> {
        loop {
            let arrived = self.arrived.notified();
            if let Some(batch) = self.take_batch() {
                return batch;
            }
            arrived.await;
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pictures (each as [`encode`] makes them) in one message: count, then length and bytes of
/// each.
pub fn batch_of(pictures: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = pictures.iter().map(|p| p.len() + 4).sum();
    let mut out = Vec::with_capacity(4 + total);
    out.extend_from_slice(&(pictures.len() as u32).to_le_bytes());
    for p in pictures {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

impl MediaSink for VideoRelay {
    fn video(&self, from: &str, frame: &VideoFrame) {
        let Ok(id) = from.parse::<u32>() else {
            return;
        };
        let width = {
            let s = lock(&self.state);
            let hidden = id != crate::devices::PREVIEW_ID
                && s.visible.as_ref().is_some_and(|v| !v.contains(&id));
            if !s.watching || hidden {
                return;
            }
            s.tile_width.unwrap_or(MAX_WIDTH)
        };
        // Convert outside the lock: other senders' pictures keep flowing.
        let message = encode_for(id, frame, width);
        let mut s = lock(&self.state);
        let queue = s.latest.entry(id).or_default();
        queue.push_back(message);
        if queue.len() > MAX_QUEUED {
            queue.pop_front();
            s.dropped += 1;
        }
        drop(s);
        self.arrived.notify_one();
    }

    fn report(&self) {
        let s = lock(&self.state);
        tracing::info!(
            sent = s.sent,
            dropped = s.dropped,
            batches = s.batches,
            "pictures to the window"
        );
    }

    fn audio(&self, _from: &str, _pcm: &[i16]) {
        // Played by the device layer (issue 4); nothing to draw.
    }
}

/// One picture: header, then RGBA scaled down by an integer factor to at most [`MAX_WIDTH`].
pub fn encode(id: u32, frame: &VideoFrame) -> Vec<u8> {
    encode_for(id, frame, MAX_WIDTH)
}

/// One picture for a tile `tile_width` pixels wide: scaled down by the largest integer factor
/// that keeps it at least as wide as the tile (and never wider than [`MAX_WIDTH`]).
pub fn encode_for(id: u32, frame: &VideoFrame, tile_width: u32) -> Vec<u8> {
    let tile_width = tile_width.clamp(16, MAX_WIDTH);
    let fit = frame.width.div_ceil(MAX_WIDTH).max(1);
    let step = (frame.width / tile_width).max(fit);
    let (w, h) = (frame.width / step, frame.height / step);
    let mut out = Vec::with_capacity(HEADER_BYTES + (w * h * 4) as usize);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    // A malformed picture comes out black rather than read out of bounds.
    parley_media::convert::i420_to_rgba_scaled(frame, step, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The pictures in one batch message.
    fn unbatch(m: &[u8]) -> Vec<Vec<u8>> {
        let n = u32::from_le_bytes(m[..4].try_into().unwrap()) as usize;
        let mut at = 4;
        (0..n)
            .map(|_| {
                let len = u32::from_le_bytes(m[at..at + 4].try_into().unwrap()) as usize;
                at += 4 + len;
                m[at - len..at].to_vec()
            })
            .collect()
    }

    #[test]
    fn tiles_get_pictures_about_their_size() {
        let f = VideoFrame::black(1280, 720);
        assert_eq!(
            header(&encode_for(1, &f, 300)).1,
            320,
            "a 300 px tile gets 320 px"
        );
        assert_eq!(header(&encode_for(1, &f, 640)).1, 640);
        assert_eq!(
            header(&encode_for(1, &f, 5000)).1,
            640,
            "never wider than MAX_WIDTH"
        );
        let small = VideoFrame::black(320, 180);
        assert_eq!(
            header(&encode_for(1, &small, 640)).1,
            320,
            "never scaled up"
        );
    }

    #[test]
    fn a_batch_carries_the_oldest_waiting_picture_of_each_tile_and_a_backlog_loses_its_oldest() {
        let relay = VideoRelay::default();
        let frame = VideoFrame::black(16, 16);
        relay.video("1", &frame);
        assert!(relay.take_batch().is_none(), "no window yet: nothing kept");
        relay.set_watching(true);
        relay.set_visible(Some(vec![2, 3]), None);
        relay.video("1", &frame);
        // Participant 2 sends a burst of five pictures of growing size, so their order shows.
        for w in [16, 18, 20, 22, 24] {
            relay.video("2", &VideoFrame::black(w, 16));
        }
        relay.video("3", &frame);
        relay.video("not-a-number", &frame);
        let contents = |batch: Vec<u8>| -> Vec<(u32, u32)> {
            let mut p: Vec<(u32, u32)> = unbatch(&batch)
                .iter()
                .map(|p| (header(p).0, header(p).1))
                .collect();
            p.sort_unstable();
            p
        };
        let first = contents(relay.take_batch().expect("a batch"));
        assert_eq!(
            first,
            [(2, 22), (3, 16)],
            "one each, the oldest kept; hidden tile 1 and the bad id are not sent"
        );
        let second = contents(relay.take_batch().expect("the rest of the burst"));
        assert_eq!(second, [(2, 24)]);
        assert!(relay.take_batch().is_none(), "nothing new: nothing sent");
        assert_eq!(relay.sent_and_dropped(), (3, 3));
        relay.video("3", &frame);
        relay.set_watching(false);
        assert!(
            relay.take_batch().is_none(),
            "a window that left forgets what waited"
        );
    }
}
