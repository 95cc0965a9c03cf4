//! The frame-encryption insertion point: frames sealed after the encoder (here with a toy
//! keyed scramble that leaves only the codec header bytes clear, as SFrame will) still flow
//! through the SFU, which never needs to read them; a receiver with the wrong key decodes
//! nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_client::Signaling;
use parley_client::api::create_meeting;
use parley_client::call::{FrameKind, FrameTransform, RemoteMedia, SyntheticCall};
use parley_proto::api::CreateMeeting;
use parley_proto::{DisplayName, Identity, PolicyChange, ServerAddr, ServerMessage, Title};
use parley_server::{Config, Server};

/// A toy transform: XOR with a keyed stream, leaving the header bytes an SFU or decoder needs
/// in the clear (VP8 frame header, Opus TOC byte). Not encryption; a stand-in for SFrame.
struct Scramble(u8);

impl Scramble {
    fn apply(&self, kind: FrameKind, mut frame: Vec<u8>) -> Vec<u8> {
        let clear = match kind {
            FrameKind::Video => 10,
            FrameKind::Audio => 1,
        };
        for (i, b) in frame.iter_mut().enumerate().skip(clear) {
            *b ^= self.0.wrapping_mul(i as u8 | 1).wrapping_add(0x5a);
        }
        frame
    }
}

impl FrameTransform for Scramble {
    fn seal(&self, kind: FrameKind, frame: Vec<u8>) -> Vec<u8> {
        self.apply(kind, frame)
    }
    fn open(&self, kind: FrameKind, _: &str, frame: Vec<u8>) -> Option<Vec<u8>> {
        Some(self.apply(kind, frame))
    }
}

/// Ann and Bob in one meeting for `secs`; what Bob received from Ann.
async fn call(ann_key: u8, bob_key: u8, secs: u64) -> (u32, Option<RemoteMedia>) {
    let server = Server::bind(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let srv = ServerAddr::parse(&format!("http://{}", server.local_addr())).unwrap();
    tokio::spawn(server.run());
    let tls = parley_client::tls::client_config(None).unwrap();
    let created = create_meeting(
        &srv,
        None,
        &CreateMeeting {
            title: Title::new("Sealed").unwrap(),
            passcode: None,
            policy: PolicyChange {
                waiting_room: Some(false),
                ..Default::default()
            },
        },
        tls.clone(),
    )
    .await
    .unwrap();
    let mut sides = Vec::new();
    for (name, key, secret) in [
        ("Ann", ann_key, Some(created.host_secret.clone())),
        ("Bob", bob_key, None),
    ] {
        let mut sig = Signaling::connect(&srv, tls.clone()).await.unwrap();
        let first = sig
            .join(
                &created.room,
                &DisplayName::new(name).unwrap(),
                &Identity::generate(),
                None,
                secret,
            )
            .await
            .unwrap();
        let ServerMessage::Joined { you, .. } = first else {
            panic!("{name} not admitted: {first:?}")
        };
        let (call, offer) = SyntheticCall::start_with(
            you.0,
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(Scramble(key)),
        )
        .await
        .unwrap();
        let (mut tx, rx) = sig.split();
        tx.send(&offer).await.unwrap();
        sides.push((you.0, call, tx, rx));
    }
    let ann_id = sides[0].0;
    let mut tasks = Vec::new();
    let bob_stats = Arc::new(std::sync::Mutex::new(None));
    for (me, mut call, mut tx, mut rx) in sides {
        let bob_stats = bob_stats.clone();
        tasks.push(tokio::spawn(async move {
            let mut video = tokio::time::interval(Duration::from_millis(33));
            let mut audio = tokio::time::interval(Duration::from_millis(20));
            let end = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < end {
                tokio::select! {
                    m = rx.recv() => {
                        let Ok(Some(m)) = m else { break };
                        if let Some(reply) = call.on_message(&m).await.unwrap() {
                            tx.send(&reply).await.unwrap();
                        }
                    }
                    _ = video.tick() => call.send_video().await.unwrap(),
                    _ = audio.tick() => call.send_audio().await.unwrap(),
                }
            }
            if me != ann_id {
                *bob_stats.lock().unwrap() = call.stats().get(&ann_id.to_string()).cloned();
            }
            call.close().await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = bob_stats.lock().unwrap().clone();
    (ann_id, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_frames_cross_the_sfu_and_open_with_the_right_key() {
    let (ann, got) = call(7, 7, 6).await;
    let got = got.expect("Bob received Ann's media");
    assert!(got.video_frames > 60, "{got:?}");
    assert_eq!(got.tone_of, Some(ann), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_wrong_key_nothing_decodes() {
    let (ann, got) = call(7, 8, 5).await;
    let got = got.unwrap_or_default();
    assert_eq!(got.video_frames, 0, "{got:?}");
    assert_ne!(got.tone_of, Some(ann), "{got:?}");
}
