//! Session descriptions from participants as the SFU parses them (a participant's new offer,
//! its answer, a newcomer's first offer): never panics, a newcomer who leaves leaves nothing,
//! and nothing is held beyond the one participant.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use parley_server::sfu::fuzzing::Worker;

thread_local! {
    static WORKER: RefCell<Worker> = RefCell::new(Worker::new());
}

fuzz_target!(|data: &[u8]| {
    let Some((&how, sdp)) = data.split_first() else {
        return;
    };
    let Ok(sdp) = std::str::from_utf8(sdp) else {
        return;
    };
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        w.sdp(sdp, how);
        w.tick(10);
        let held = w.held();
        // Its participant never completes a connection here: once the worker gives up on
        // it (after str0m's ICE timeout), a fresh worker takes over.
        assert!(held.clients <= 1, "{held:?}");
        assert!(held.names <= held.clients, "{held:?}");
        if held.clients == 0 {
            *w = Worker::new();
        }
    });
});
