//! Bytes from the meeting server → every E2EE decoder (key package, Welcome, commit or chat):
//! never panics, and the member keeps working after any of it.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::member;
use parley_e2ee::{MediaKind, Member};

thread_local! {
    static GROUP: RefCell<(Member, Member)> = RefCell::new({
        let mut a = member(1);
        let mut b = member(2);
        a.found_group().expect("found");
        let c = a.check_key_package(&b.key_package().expect("kp")).expect("check");
        let commit = a.commit(&[c], &[]).expect("commit");
        a.commit_accepted().expect("merge");
        b.join(&commit.welcome.expect("welcome")).expect("join");
        for _ in 0..=parley_e2ee::SWITCH_AFTER_FRAMES {
            a.frames().seal(MediaKind::Audio, &[0x78]).expect("seal");
        }
        (a, b)
    });
    static OUTSIDER: RefCell<Member> = RefCell::new(member(3));
}

fuzz_target!(|data: &[u8]| {
    GROUP.with(|g| {
        let (a, b) = &mut *g.borrow_mut();
        let _ = a.check_key_package(data);
        let _ = b.receive(data);
        // Still one group: a line from A reads at B.
        let line = a.seal_message(b"still here").expect("seal");
        assert!(b.receive(&line).is_ok());
        assert!(b.frames().open(MediaKind::Audio, &a.frames().seal(MediaKind::Audio, &[0x78, 1]).expect("seal")).is_ok());
    });
    OUTSIDER.with(|o| {
        let _ = o.borrow_mut().join(data);
    });
});
