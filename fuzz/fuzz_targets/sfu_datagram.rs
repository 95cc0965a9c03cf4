//! Datagrams at a media worker's port, from its participant's address or a stranger's (what
//! str0m hands up: STUN, DTLS, RTP, RTCP or junk): never panics, and what the worker holds
//! stays bounded (at most its one participant, 8 routed addresses and one ICE name for it,
//! nothing once the participant is given up).
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use parley_server::sfu::fuzzing::Worker;

thread_local! {
    static WORKER: RefCell<Worker> = RefCell::new(Worker::new());
}

fuzz_target!(|data: &[u8]| {
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        // Each input: datagrams separated by 0xfe; the first byte of each says from whom and
        // whether time passes after it.
        for d in data.split(|b| *b == 0xfe) {
            let Some((&who, d)) = d.split_first() else {
                continue;
            };
            w.datagram(d, who & 1 == 0);
            if who & 0x10 != 0 {
                w.tick(u64::from(who >> 5) * 7);
            }
        }
        let held = w.held();
        // Its participant never completes a connection here: once the worker gives up on
        // it (after str0m's ICE timeout), a fresh worker takes over.
        assert!(held.clients <= 1, "{held:?}");
        assert!(held.names <= held.clients, "{held:?}");
        assert!(held.routes <= 8 * held.clients, "{held:?}");
        if held.clients == 0 {
            *w = Worker::new();
        }
    });
});
