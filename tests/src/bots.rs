//! In-process participants for media tests and benchmarks: join a meeting over signaling and
//! run a [`SyntheticCall`] (answer the SFU's offers, send video and audio on time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_client::Signaling;
use parley_client::api::create_meeting;
use parley_client::call::SyntheticCall;
use parley_client::signaling::{SignalingRx, SignalingTx};
use parley_proto::api::{CreateMeeting, MeetingCreated};
use parley_proto::{
    DisplayName, HostSecret, Identity, PolicyChange, RoomToken, ServerAddr, ServerMessage, Title,
};

use crate::relay::Relay;

/// Create a meeting titled `title` on `srv` with the waiting room off (everyone is admitted
/// at once).
pub async fn open_meeting(
    srv: &ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    title: &str,
) -> MeetingCreated {
    create_meeting(
        srv,
        None,
        &CreateMeeting {
            title: Title::new(title).unwrap(),
            passcode: None,
            policy: PolicyChange {
                waiting_room: Some(false),
                ..Default::default()
            },
        },
        tls,
    )
    .await
    .unwrap()
}

/// Join room `room` on `srv` as `name` (as host with `host_secret`); the participant number
/// and the connection. Panics if not admitted at once.
pub async fn join(
    srv: &ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    room: &RoomToken,
    name: &str,
    host_secret: Option<HostSecret>,
) -> (u32, Signaling) {
    let (you, (sig, _)) = join_with_message(srv, tls, room, name, host_secret).await;
    (you, sig)
}

/// [`join`], keeping the `joined` message.
pub async fn join_with_message(
    srv: &ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    room: &RoomToken,
    name: &str,
    host_secret: Option<HostSecret>,
) -> (u32, (Signaling, ServerMessage)) {
    let mut sig = Signaling::connect(srv, tls).await.unwrap();
    let first = sig
        .join(
            room,
            &DisplayName::new(name).unwrap(),
            &Identity::generate(),
            None,
            host_secret,
        )
        .await
        .unwrap();
    let ServerMessage::Joined { you, .. } = first else {
        panic!("{name} not admitted: {first:?}")
    };
    (you.0, (sig, first))
}

/// How [`pump`] runs a call.
#[derive(Clone, Copy, Default)]
pub struct Pump<'a> {
    /// Stop then (or run until the signaling connection closes).
    pub end: Option<Instant>,
    /// Reach the SFU through this relay (a bad network).
    pub via: Option<&'a Relay>,
    /// Receive only: send no video or audio.
    pub silent: bool,
    /// Send video but no audio.
    pub no_audio: bool,
}

/// Run one participant's call: answer the SFU's offers, send video (at the call's frame rate)
/// and audio (every 20 ms).
pub async fn pump(
    call: &mut SyntheticCall,
    tx: &mut SignalingTx,
    rx: &mut SignalingRx,
    p: Pump<'_>,
) {
    let mut video = tokio::time::interval(call.frame_interval());
    let mut audio = tokio::time::interval(Duration::from_millis(20));
    let until = p
        .end
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
    while Instant::now() < until {
        tokio::select! {
            () = tokio::time::sleep_until(until.into()) => break,
            m = rx.recv() => {
                let Ok(Some(mut m)) = m else { break };
                if let (Some(relay), ServerMessage::SdpOffer { sdp } | ServerMessage::SdpAnswer { sdp }) = (p.via, &mut m) {
                    *sdp = relay.rewrite_sdp(sdp);
                }
                if let Some(reply) = call.on_message(&m).await.unwrap() {
                    tx.send(&reply).await.unwrap();
                }
            }
            _ = video.tick(), if !p.silent => call.send_video().await.unwrap(),
            _ = audio.tick(), if !p.silent && !p.no_audio => call.send_audio().await.unwrap(),
        }
    }
}
