//! A two-party call over the real server, shared by the media tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_client::Signaling;
use parley_client::api::create_meeting;
use parley_client::call::{FrameTransform, RemoteMedia, SyntheticCall};
use parley_client::signaling::{SignalingRx, SignalingTx};
use parley_proto::api::{CreateMeeting, MeetingCreated};
use parley_proto::{DisplayName, Identity, PolicyChange, ServerAddr, ServerMessage, Title};
use parley_server::{Config, Server};

/// A running server (signaling and SFU) with one meeting, waiting room off.
pub struct Meeting {
    /// The server.
    pub srv: ServerAddr,
    /// Client TLS settings.
    pub tls: Arc<rustls::ClientConfig>,
    /// The meeting.
    pub created: MeetingCreated,
    /// The SFU's UDP address.
    pub media: SocketAddr,
}

/// Start a server on loopback and create a meeting on it.
pub async fn meeting(title: &str) -> Meeting {
    let server = Server::bind(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let srv = ServerAddr::parse(&format!("http://{}", server.local_addr())).unwrap();
    let media = server.media_addr().expect("the server has an SFU");
    tokio::spawn(server.run());
    let tls = parley_client::tls::client_config(None).unwrap();
    let created = create_meeting(
        &srv,
        None,
        &CreateMeeting {
            title: Title::new(title).unwrap(),
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
    Meeting {
        srv,
        tls,
        created,
        media,
    }
}

/// Join `m` as `name` (as host if `host`); the participant number and the connection.
pub async fn joined(m: &Meeting, name: &str, host: bool) -> (u32, Signaling) {
    let mut sig = Signaling::connect(&m.srv, m.tls.clone()).await.unwrap();
    let secret = host.then(|| m.created.host_secret.clone());
    let first = sig
        .join(
            &m.created.room,
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
    (you.0, sig)
}

/// Ann and Bob in one meeting for `secs`, each sealing and opening frames with their
/// transform; `during` is called with the SFU's UDP address when media starts. Returns Ann's
/// participant number and what Bob received from her.
pub async fn two_party(
    ann: Arc<dyn FrameTransform>,
    bob: Arc<dyn FrameTransform>,
    secs: u64,
    during: impl FnOnce(SocketAddr),
) -> (u32, Option<RemoteMedia>) {
    let m = meeting("Sealed").await;
    let mut sides = Vec::new();
    for (name, transform, host) in [("Ann", ann, true), ("Bob", bob, false)] {
        let (you, sig) = joined(&m, name, host).await;
        let (call, offer) =
            SyntheticCall::start_with(you, "127.0.0.1:0".parse().unwrap(), transform)
                .await
                .unwrap();
        let (mut tx, rx) = sig.split();
        tx.send(&offer).await.unwrap();
        sides.push((you, call, tx, rx));
    }
    let ann_id = sides[0].0;
    during(m.media);
    let mut tasks = Vec::new();
    let bob_stats = Arc::new(std::sync::Mutex::new(None));
    for (me, mut call, mut tx, mut rx) in sides {
        let bob_stats = bob_stats.clone();
        tasks.push(tokio::spawn(async move {
            let end = Instant::now() + Duration::from_secs(secs);
            pump(&mut call, &mut tx, &mut rx, Some(end)).await;
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

/// Run one participant's call: answer the SFU's offers, send video (30 fps) and audio (every
/// 20 ms), until `end` (or for ever) or until the signaling connection closes.
pub async fn pump(
    call: &mut SyntheticCall,
    tx: &mut SignalingTx,
    rx: &mut SignalingRx,
    end: Option<Instant>,
) {
    let mut video = tokio::time::interval(call.frame_interval());
    let mut audio = tokio::time::interval(Duration::from_millis(20));
    while end.is_none_or(|e| Instant::now() < e) {
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
}
