//! A late joiner: Ann has been sending for a while when Bob is admitted. Bob decodes her video
//! at once, because the SFU and Bob ask Ann for a keyframe on join; her periodic keyframes are
//! 100 s apart, so without that Bob would see nothing in this test. How fast is measured, not
//! asserted (BENCHMARKS.md): timing never decides a test.

use std::time::{Duration, Instant};

use parley_client::call::Call;

use crate::common::{joined, meeting, pump};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_gets_a_keyframe_and_decodes_at_once() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting("Late").await;
    // Ann sends for the whole test.
    let (ann_id, ann) = joined(&m, "Ann", true).await;
    let ann_task = tokio::spawn(async move {
        let (mut call, offer) = Call::start(ann_id, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (mut tx, mut rx) = ann.split();
        tx.send(&offer).await.unwrap();
        pump(&mut call, &mut tx, &mut rx, None).await;
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Bob joins late and starts his call at once.
    let (bob_id, bob) = joined(&m, "Bob", false).await;
    let (mut call, offer) = Call::start(bob_id, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (mut tx, mut rx) = bob.split();
    tx.send(&offer).await.unwrap();
    let end = Instant::now() + Duration::from_secs(3);
    pump(&mut call, &mut tx, &mut rx, Some(end)).await;
    let got = call
        .stats()
        .get(&ann_id.to_string())
        .cloned()
        .unwrap_or_default();
    eprintln!("late joiner: {got:?}");
    let first = got.first_video_ms.expect("Bob decoded Ann's video");
    eprintln!("late joiner's first frame after {first} ms");
    assert!(got.video_frames > 30, "{got:?}");
    ann_task.abort();
}
