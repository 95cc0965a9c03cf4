//! Bytes from the SFU → SFrame open: never panics; a sealed frame always opens to itself.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::member;
use parley_e2ee::{FrameCipher, MediaKind, Member};
use std::sync::Arc;

thread_local! {
    static CIPHER: RefCell<(Member, Arc<FrameCipher>)> = RefCell::new({
        let mut m = member(1);
        m.found_group().expect("found");
        let f = m.frames();
        (m, f)
    });
}

fuzz_target!(|data: &[u8]| {
    CIPHER.with(|c| {
        let c = c.borrow();
        let frames = &c.1;
        for kind in [MediaKind::Audio, MediaKind::Video] {
            // Whatever arrives: a typed refusal or (only for a real frame) the frame.
            let _ = frames.open(kind, data);
            match frames.seal(kind, data) {
                Ok(sealed) => {
                    assert_eq!(frames.open(kind, &sealed).expect("our own frame opens"), data);
                }
                // Only a frame shorter than its codec's clear bytes is refused.
                Err(e) => {
                    assert_eq!(e, parley_e2ee::FrameError::Malformed);
                    assert!(data.len() < parley_e2ee::clear_prefix(kind, data));
                }
            }
        }
    });
});
