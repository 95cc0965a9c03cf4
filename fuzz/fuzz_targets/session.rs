//! A sequence of frames from a hostile client through the per-connection session: never
//! panics, and once it says close, that is its last word for the frame.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use parley_server::session::{Session, SessionLimits, Step};

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut s = Session::new(SessionLimits::default(), start);
    for (i, frame) in data.split(|b| *b == 0xff).enumerate() {
        let now = start + Duration::from_millis(i as u64 * 7);
        let steps = match std::str::from_utf8(frame) {
            Ok(text) => s.on_text(now, text),
            Err(_) => s.on_binary(),
        };
        if let Some(pos) = steps.iter().position(|s| *s == Step::Close) {
            assert_eq!(pos, steps.len() - 1, "nothing follows a close");
            break;
        }
    }
});
