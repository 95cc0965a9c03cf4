//! A participant the host removes is cut off at the SFU: even a modified client that ignores
//! the removal and keeps sending reaches nobody.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use parley_client::call::Call;
use parley_proto::{ClientMessage, GoodbyeReason, ParticipantId, ServerMessage};
use parley_tests::relay::{LinkModel, Relay, RelayCounts};
use tokio::sync::oneshot;

use crate::common::{joined, meeting};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_from_a_removed_participant_stops_even_if_they_keep_sending() {
    let _turn = crate::common::one_call_at_a_time().await;
    let m = meeting("Removal").await;
    let (ann_id, ann) = joined(&m, "Ann", true).await;
    let (bob_id, bob) = joined(&m, "Bob", false).await;
    // Bob: sends for the whole test, whatever the server says (a modified client). Every
    // failure ends his task with its text, except two that follow from being told he is
    // removed (Goodbye { Removed }): a failed audio or video send (the SFU has forgotten his
    // connection, so it may be failing), kept and shown; and his signaling closing.
    let (stop_bob, mut stop) = oneshot::channel::<()>();
    let sent_since_removal = Arc::new(AtomicU32::new(0));
    // Bob's packets go through a relay that counts them.
    let relay = Arc::new(Relay::start(m.media, LinkModel::default()).await.unwrap());
    let bob_task = {
        let sent_since_removal = sent_since_removal.clone();
        let relay = relay.clone();
        tokio::spawn(async move {
            let (mut call, offer) = Call::start(bob_id, "127.0.0.1:0".parse().unwrap())
                .await
                .map_err(|e| format!("Bob's call: {e}"))?;
            let (mut tx, mut rx) = bob.split();
            tx.send(&offer)
                .await
                .map_err(|e| format!("Bob's offer: {e}"))?;
            let mut video = tokio::time::interval(Duration::from_millis(33));
            let mut audio = tokio::time::interval(Duration::from_millis(20));
            let mut removed = false;
            let mut packets_at_removal = None;
            let mut signaling_open = true;
            let mut failed_since_removal = Vec::new();
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    m = rx.recv(), if signaling_open => match m {
                        Ok(Some(ServerMessage::Goodbye { reason: GoodbyeReason::Removed, .. })) => {
                            removed = true;
                            packets_at_removal = Some(RelayCounts::get(&relay.counts().up_packets));
                        }
                        Ok(Some(mut m)) => {
                            if let ServerMessage::SdpOffer { sdp } | ServerMessage::SdpAnswer { sdp } = &mut m {
                                *sdp = relay.rewrite_sdp(sdp);
                            }
                            let reply = call.on_message(&m).await
                                .map_err(|e| format!("Bob's call on {m:?}: {e}"))?;
                            if let Some(reply) = reply {
                                tx.send(&reply).await.map_err(|e| format!("Bob's reply: {e}"))?;
                            }
                        }
                        Ok(None) | Err(_) if removed => signaling_open = false,
                        other => return Err(format!("Bob's signaling ended before his removal: {other:?}")),
                    },
                    _ = video.tick() => match call.send_video().await {
                        Ok(()) if removed => {
                            sent_since_removal.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(()) => {}
                        Err(e) if removed => failed_since_removal.push(format!("video: {e}")),
                        Err(e) => return Err(format!("Bob's video: {e}")),
                    },
                    _ = audio.tick() => match call.send_audio().await {
                        Ok(()) => {}
                        Err(e) if removed => failed_since_removal.push(format!("audio: {e}")),
                        Err(e) => return Err(format!("Bob's audio: {e}")),
                    },
                }
            }
            call.close().await;
            Ok::<_, String>((packets_at_removal, failed_since_removal))
        })
    };
    // Ann receives Bob, then removes him.
    let (mut call, offer) = Call::start(ann_id, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (mut tx, mut rx) = ann.split();
    tx.send(&offer).await.unwrap();
    let mut video = tokio::time::interval(Duration::from_millis(33));
    let mut check = tokio::time::interval(Duration::from_millis(500));
    let who = bob_id.to_string();
    let frames = |call: &Call| call.stats().get(&who).map_or(0, |s| s.video_frames);
    let mut removed_at: Option<u64> = None;
    let mut after_removal = Vec::new();
    // Until Bob has sent 30 video frames since he was told he is removed (a second's worth),
    // and at least three seconds of checks; a minute at most.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
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
                if after_removal.len() >= 6 && sent_since_removal.load(Ordering::SeqCst) >= 30 {
                    break;
                }
            }
        }
    }
    // (Refused only if Bob's task has already ended; awaiting it says why.)
    let _ = stop_bob.send(());
    let (packets_at_removal, failed) = bob_task.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    let sent = sent_since_removal.load(Ordering::SeqCst);
    let at = removed_at.expect("Bob's video arrived before the removal");
    let packets_at_removal = packets_at_removal.expect("Bob was told he is removed");
    let packets = RelayCounts::get(&relay.counts().up_packets) - packets_at_removal;
    eprintln!(
        "after his removal Bob sent {sent} video frames, {packets} packets reached the SFU's \
         address; failed sends: {failed:?}"
    );
    assert!(
        sent >= 30,
        "Bob kept sending video after his removal: {sent} frames (failed: {failed:?})"
    );
    assert!(
        packets >= 30,
        "Bob's packets kept reaching the SFU after his removal: {packets}"
    );
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
