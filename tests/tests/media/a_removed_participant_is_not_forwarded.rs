//! A participant the host removes is cut off at the SFU: even a modified client that ignores
//! the removal and keeps sending reaches nobody.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parley_client::call::SyntheticCall;
use parley_proto::{ClientMessage, ParticipantId};

use crate::common::{joined, meeting};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_from_a_removed_participant_stops_even_if_they_keep_sending() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting("Removal").await;
    let (ann_id, ann) = joined(&m, "Ann", true).await;
    let (bob_id, bob) = joined(&m, "Bob", false).await;
    // Bob: sends for the whole test, whatever the server says (a modified client).
    let stop = Arc::new(AtomicBool::new(false));
    let bob_task = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut call, offer) = SyntheticCall::start(bob_id, "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            let (mut tx, mut rx) = bob.split();
            tx.send(&offer).await.unwrap();
            let mut video = tokio::time::interval(Duration::from_millis(33));
            let mut audio = tokio::time::interval(Duration::from_millis(20));
            let mut signaling_open = true;
            while !stop.load(Ordering::SeqCst) {
                tokio::select! {
                    m = rx.recv(), if signaling_open => match m {
                        Ok(Some(m)) => {
                            if let Some(reply) = call.on_message(&m).await.unwrap() {
                                let _ = tx.send(&reply).await;
                            }
                        }
                        _ => signaling_open = false,
                    },
                    _ = video.tick() => { let _ = call.send_video().await; }
                    _ = audio.tick() => { let _ = call.send_audio().await; }
                }
            }
        })
    };
    // Ann receives Bob, then removes him.
    let (mut call, offer) = SyntheticCall::start(ann_id, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (mut tx, mut rx) = ann.split();
    tx.send(&offer).await.unwrap();
    let mut video = tokio::time::interval(Duration::from_millis(33));
    let mut check = tokio::time::interval(Duration::from_millis(500));
    let who = bob_id.to_string();
    let frames = |call: &SyntheticCall| call.stats().get(&who).map_or(0, |s| s.video_frames);
    let mut removed_at: Option<u64> = None;
    let mut after_removal = Vec::new();
    for _ in 0..400 {
        tokio::select! {
            m = rx.recv() => {
                let Ok(Some(m)) = m else { break };
                if let Some(reply) = call.on_message(&m).await.unwrap() {
                    tx.send(&reply).await.unwrap();
                }
            }
            _ = video.tick() => call.send_video().await.unwrap(),
            _ = check.tick() => {
                let n = frames(&call);
                match removed_at {
                    None if n > 30 => {
                        tx.send(&ClientMessage::Remove { id: ParticipantId(bob_id) }).await.unwrap();
                        removed_at = Some(n);
                    }
                    Some(_) => after_removal.push(n),
                    None => {}
                }
                if after_removal.len() >= 6 {
                    break;
                }
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    bob_task.abort();
    let at = removed_at.expect("Bob's video arrived before the removal");
    assert!(
        after_removal.len() >= 6,
        "the test ran long enough: {after_removal:?}"
    );
    // Allow what was in flight (the first half second), then nothing more.
    let settled = after_removal[1];
    assert!(
        after_removal.iter().skip(1).all(|n| *n == settled),
        "frames from Bob kept arriving after his removal at {at}: {after_removal:?}"
    );
}
