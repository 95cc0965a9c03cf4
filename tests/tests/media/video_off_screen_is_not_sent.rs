//! A tile off screen costs nothing: Cy tells the server she shows only Ann, and the SFU stops
//! sending her Bob's video (audio goes on); when she shows Bob again his video comes back at a
//! keyframe and decodes at once. Ann and Bob notice nothing.

use std::time::{Duration, Instant};

use parley_client::call::{Call, CallOptions, RemoteMedia};
use parley_client::signaling::{SignalingRx, SignalingTx};
use parley_proto::{ClientMessage, ParticipantId};
use parley_tests::bots::{self, Pump};

use crate::common::{joined, meeting};

fn from(stats: &std::collections::BTreeMap<String, RemoteMedia>, id: u32) -> RemoteMedia {
    stats.get(&id.to_string()).cloned().unwrap_or_default()
}

/// Join as `name` and start the call; the number, the call and the signaling halves.
async fn enter(
    m: &crate::common::Meeting,
    name: &str,
    host: bool,
) -> (u32, Call, SignalingTx, SignalingRx) {
    let (you, sig) = joined(m, name, host).await;
    let (call, offer) =
        Call::start_with_options(you, "127.0.0.1:0".parse().unwrap(), CallOptions::default())
            .await
            .unwrap();
    let (mut tx, rx) = sig.split();
    tx.send(&offer).await.unwrap();
    (you, call, tx, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sfu_sends_only_the_video_a_participant_shows() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting("Tiles").await;
    let start = Instant::now();
    let mut others = Vec::new();
    let mut ids = Vec::new();
    for (name, host) in [("Ann", true), ("Bob", false)] {
        let (you, mut call, mut tx, mut rx) = enter(&m, name, host).await;
        ids.push(you);
        others.push(tokio::spawn(async move {
            let how = Pump {
                end: Some(start + Duration::from_secs(11)),
                ..Pump::default()
            };
            bots::pump(&mut call, &mut tx, &mut rx, how).await;
            let stats = call.stats();
            call.close().await;
            stats
        }));
    }
    let (ann, bob) = (ids[0], ids[1]);
    let (_cy, mut call, mut tx, mut rx) = enter(&m, "Cy", false).await;
    let run_until = |secs: u64| Pump {
        end: Some(start + Duration::from_secs(secs)),
        ..Pump::default()
    };
    bots::pump(&mut call, &mut tx, &mut rx, run_until(4)).await;
    let before = call.stats();
    assert!(
        from(&before, bob).video_frames > 20,
        "Bob's video flows at first: {before:?}"
    );

    // Cy shows only Ann.
    tx.send(&ClientMessage::ReceiveVideo {
        from: Some(vec![ParticipantId(ann)]),
        height: None,
        heights: Vec::new(),
    })
    .await
    .unwrap();
    bots::pump(&mut call, &mut tx, &mut rx, run_until(5)).await;
    let paused = call.stats();
    bots::pump(&mut call, &mut tx, &mut rx, run_until(7)).await;
    let later = call.stats();
    let bob_packets = from(&later, bob).video_packets - from(&paused, bob).video_packets;
    let ann_packets = from(&later, ann).video_packets - from(&paused, ann).video_packets;
    assert_eq!(
        bob_packets, 0,
        "no video of Bob's is sent to Cy while hidden"
    );
    assert!(
        ann_packets > 30,
        "Ann's video goes on: {ann_packets} packets in 2 s"
    );
    let bob_audio = from(&later, bob).audio_ms - from(&paused, bob).audio_ms;
    assert!(
        bob_audio > 1_000,
        "Bob is still heard: {bob_audio} ms in 2 s"
    );

    // Cy shows everyone again: Bob's video resumes at a keyframe and decodes.
    tx.send(&ClientMessage::ReceiveVideo {
        from: None,
        height: None,
        heights: Vec::new(),
    })
    .await
    .unwrap();
    bots::pump(&mut call, &mut tx, &mut rx, run_until(10)).await;
    let after = call.stats();
    let resumed = from(&after, bob).video_frames - from(&later, bob).video_frames;
    assert!(
        resumed > 45,
        "Bob's video decodes again: {resumed} frames in 3 s"
    );
    call.close().await;

    // Ann and Bob received everyone throughout.
    let ann_got = others.remove(0).await.unwrap();
    let bob_got = others.remove(0).await.unwrap();
    assert!(from(&ann_got, bob).video_frames > 200, "{ann_got:?}");
    assert!(from(&bob_got, ann).video_frames > 200, "{bob_got:?}");
}
