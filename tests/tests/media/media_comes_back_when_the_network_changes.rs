//! Ann's network changes under a running call: the address her media used goes away (as when
//! a laptop moves from Wi-Fi to a cable), while her signaling connection stays. Her client
//! notices that media stopped, restarts ICE over signaling on new sockets, and Bob sees and
//! hears her again; the meeting itself never noticed.

use std::time::Duration;

use parley_tests::bots::RelayChange;
use parley_tests::relay::LinkModel;

use crate::common::{Party, call};

const CHANGE_AT: Duration = Duration::from_secs(4);
const SECS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn media_comes_back_when_the_network_changes() {
    let _turn = crate::common::one_call_at_a_time().await;
    let ann = Party {
        link: Some(LinkModel::default()),
        relay_schedule: vec![(CHANGE_AT, RelayChange::DropClientAddress)],
        ..Party::plain("Ann")
    };
    let out = call(vec![ann, Party::plain("Bob")], SECS).await;
    let (ann, bob) = (&out[0], &out[1]);
    let got = bob.from(ann);
    println!(
        "Ann's ICE restarts: {}; Bob from Ann: {got:?}",
        ann.restarts
    );
    // 30 frames a second; the change is at 4 s. Frames numbered past what Ann captured by
    // then reached Bob only over the new path.
    let at_change = 30 * CHANGE_AT.as_secs() as u32;
    let last = got.last_frame.unwrap_or(0);
    println!(
        "Bob's last frame from Ann: number {last} (about {at_change} were captured before the change, {} in all); longest freeze {} ms",
        30 * SECS,
        got.longest_freeze_ms
    );
    assert!(ann.restarts >= 1, "Ann's client never restarted ICE");
    assert!(
        last > at_change + 150,
        "Bob saw nothing of Ann after the change: {got:?}"
    );
    assert_eq!(got.tone_of, Some(ann.id), "Bob does not hear Ann: {got:?}");
    // And the other way: Ann gets Bob's media again.
    let back = ann.from(bob);
    assert!(
        back.last_frame.unwrap_or(0) > at_change + 150,
        "Ann saw nothing of Bob after the change: {back:?}"
    );
}
