//! A task that panics during a meeting fails the test, though no one awaits it: the meeting's
//! guard reports the panic, and dropping the meeting fails with it.

use std::panic::AssertUnwindSafe;

use crate::common::{meeting, one_call_at_a_time};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_panics_during_a_meeting_is_reported_when_the_meeting_ends() {
    let _turn = one_call_at_a_time().await;
    let mut m = meeting("Panic").await;
    assert_eq!(m.server.check(), Ok(()), "nothing has gone wrong yet");

    // As the SFU's or a connection's task would: panic where no test holds the handle.
    let task = tokio::spawn(async { panic!("a task gave up on purpose") });
    assert!(task.await.expect_err("it panicked").is_panic());
    let found = m.server.check().expect_err("the panic is reported");
    assert!(found.contains("a task gave up on purpose"), "{found}");
    assert_eq!(m.server.check(), Ok(()), "each panic is reported once");

    // Unchecked, it fails the test when the meeting is dropped.
    let task = tokio::spawn(async { panic!("another task gave up") });
    assert!(task.await.expect_err("it panicked").is_panic());
    let dropped = std::panic::catch_unwind(AssertUnwindSafe(|| drop(m)));
    let payload = dropped.expect_err("dropping the meeting fails");
    let text = payload
        .downcast_ref::<String>()
        .expect("the guard panics with a message");
    assert!(text.contains("another task gave up"), "{text}");
}
