//! The frame-encryption insertion point: frames sealed after the encoder (here with a toy
//! keyed scramble that leaves only the codec header bytes clear, as SFrame will) still flow
//! through the SFU, which never needs to read them; a receiver with the wrong key sees and
//! hears nothing of the sender.

use std::sync::Arc;

use parley_client::call::{FrameKind, FrameTransform};

use crate::common::two_party;

/// A toy transform: XOR with a keyed stream, leaving the header bytes an SFU or decoder needs
/// in the clear (VP8 frame header, Opus TOC byte). Not encryption; a stand-in for SFrame.
struct Scramble(u8);

impl Scramble {
    fn apply(&self, kind: FrameKind, mut frame: Vec<u8>) -> Vec<u8> {
        let clear = match kind {
            FrameKind::Video => 10,
            FrameKind::Audio => 1,
        };
        for (i, b) in frame.iter_mut().enumerate().skip(clear) {
            *b ^= self.0.wrapping_mul(i as u8 | 1).wrapping_add(0x5a);
        }
        frame
    }
}

impl FrameTransform for Scramble {
    fn seal(&self, kind: FrameKind, frame: Vec<u8>) -> Vec<u8> {
        self.apply(kind, frame)
    }
    fn open(&self, kind: FrameKind, _: &str, frame: Vec<u8>) -> Option<Vec<u8>> {
        Some(self.apply(kind, frame))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_frames_cross_the_sfu_and_open_with_the_right_key() {
    let _turn = crate::common::one_call_at_a_time().await;
    let (ann, got) = two_party(Arc::new(Scramble(7)), Arc::new(Scramble(7)), 6, |_| {}).await;
    let got = got.expect("Bob received Ann's media");
    assert!(got.video_frames > 60, "{got:?}");
    assert_eq!(got.tone_of, Some(ann), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_wrong_key_nothing_decodes() {
    let _turn = crate::common::one_call_at_a_time().await;
    let (ann, got) = two_party(Arc::new(Scramble(7)), Arc::new(Scramble(8)), 5, |_| {}).await;
    let got = got.unwrap_or_default();
    // libvpx may turn the garbage into a picture now and then, but never Ann's: no frame
    // carries her pattern's stamp, and her tone is not heard. (With AEAD frame encryption,
    // `open` refuses such frames before the decoder.)
    assert_eq!(got.last_frame, None, "{got:?}");
    assert_ne!(got.tone_of, Some(ann), "{got:?}");
}
