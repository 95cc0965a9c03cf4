//! In-process participants for media tests and benchmarks: join a meeting over signaling and
//! run a [`Call`] (answer the SFU's offers, send video and audio on time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_client::Signaling;
use parley_client::api::create_meeting;
use parley_client::call::Call;
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

/// One participant whose media reaches the SFU through a relay: who it is, its call, its
/// signaling halves (the offer already sent) and the relay.
pub struct RelayedCall {
    /// Its participant number.
    pub you: u32,
    /// Its call.
    pub call: Call,
    /// Signaling, sending half.
    pub tx: SignalingTx,
    /// Signaling, receiving half.
    pub rx: SignalingRx,
    /// The relay in front of the media address it was given.
    pub relay: Relay,
}

/// Join `room` as `name` and start a call whose media goes through a new relay in front of
/// `media` (one media worker's address); its offer is sent.
pub async fn join_via_relay(
    srv: &ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    room: &RoomToken,
    name: &str,
    host_secret: Option<HostSecret>,
    media: std::net::SocketAddr,
) -> RelayedCall {
    let (you, sig) = join(srv, tls, room, name, host_secret).await;
    let relay = Relay::start(media, crate::relay::LinkModel::default())
        .await
        .unwrap();
    let (call, offer) = Call::start(you, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (mut tx, rx) = sig.split();
    tx.send(&offer).await.unwrap();
    RelayedCall {
        you,
        call,
        tx,
        rx,
        relay,
    }
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
    /// The last session description the SFU offered, kept here (which tracks it sends).
    pub last_offer: Option<&'a std::sync::Mutex<String>>,
    /// Changes to the relay's network at these times after the start. Needs `via`.
    pub relay_schedule: &'a [(Duration, RelayChange)],
    /// Every 100 ms, (ms since the start, what congestion control allows in kbit/s).
    pub budget_trace: Option<&'a std::sync::Mutex<Vec<(u64, u32)>>>,
}

/// A change to a participant's network during a call (see [`Relay`]).
#[derive(Debug, Clone, Copy)]
pub enum RelayChange {
    /// The uplink's rate from now on, bit/s (`None`: unlimited).
    Uplink(Option<u64>),
    /// The downlink's rate from now on, bit/s (`None`: unlimited).
    Downlink(Option<u64>),
    /// The client's address goes away (it must find another path).
    DropClientAddress,
}

/// Run one participant's call: answer the SFU's offers, send video (at the call's frame rate)
/// and audio (every 20 ms).
pub async fn pump(call: &mut Call, tx: &mut SignalingTx, rx: &mut SignalingRx, p: Pump<'_>) {
    let mut video = tokio::time::interval(call.frame_interval());
    let mut audio = tokio::time::interval(Duration::from_millis(20));
    let until = p
        .end
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
    let start = Instant::now();
    let mut sample = tokio::time::interval(Duration::from_millis(100));
    let mut health = tokio::time::interval(Duration::from_millis(250));
    let mut schedule = p.relay_schedule.iter().peekable();
    while Instant::now() < until {
        let next_change = schedule.peek().map(|(at, _)| start + *at);
        tokio::select! {
            () = async { tokio::time::sleep_until(next_change.unwrap_or(until).into()).await }, if next_change.is_some() => {
                match (schedule.next(), p.via) {
                    (Some((_, RelayChange::Uplink(bps))), Some(relay)) => relay.set_uplink_bps(*bps),
                    (Some((_, RelayChange::Downlink(bps))), Some(relay)) => relay.set_downlink_bps(*bps),
                    (Some((_, RelayChange::DropClientAddress)), Some(relay)) => relay.drop_client_address(),
                    _ => {}
                }
            }
            _ = health.tick() => {
                // Media that stopped (the network changed): restart ICE over signaling.
                if let Some(offer) = call.restart_if_down().await.unwrap() {
                    tx.send(&offer).await.unwrap();
                }
            }
            _ = sample.tick(), if p.budget_trace.is_some() => {
                if let Some(trace) = p.budget_trace {
                    let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                    trace.lock().unwrap_or_else(|e| e.into_inner()).push((ms, call.send_budget_kbps()));
                }
            }
            () = tokio::time::sleep_until(until.into()) => break,
            m = rx.recv() => {
                let Ok(Some(mut m)) = m else { break };
                if let (Some(relay), ServerMessage::SdpOffer { sdp } | ServerMessage::SdpAnswer { sdp }) = (p.via, &mut m) {
                    *sdp = relay.rewrite_sdp(sdp);
                }
                if let (Some(keep), ServerMessage::SdpOffer { sdp }) = (p.last_offer, &m) {
                    sdp.clone_into(&mut keep.lock().unwrap_or_else(|e| e.into_inner()));
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

/// The participants whose tracks a session description from the SFU sends (the stream id of
/// each `sendonly` m-line still open; a stopped one has port 0).
pub fn senders_in_offer(sdp: &str) -> std::collections::BTreeSet<String> {
    let mut senders = std::collections::BTreeSet::new();
    for section in sdp.split("\nm=").skip(1) {
        let port = section.split_whitespace().nth(1);
        if port == Some("0") || !section.contains("a=sendonly") {
            continue;
        }
        let stream = section
            .lines()
            .find_map(|l| l.trim().strip_prefix("a=msid:"))
            .and_then(|v| v.split_whitespace().next());
        if let Some(stream) = stream {
            senders.insert(stream.to_owned());
        }
    }
    senders
}

/// What an end-to-end encrypted participant saw in [`pump_secure`].
#[derive(Debug, Default)]
pub struct Transcript {
    /// Every message as the server sent it (what the server relayed, ciphertext included).
    pub raw: Vec<ServerMessage>,
    /// What the participant was shown after decryption (chat in plaintext).
    pub shown: Vec<ServerMessage>,
    /// What end-to-end encryption reported.
    pub events: Vec<parley_client::e2ee::E2eeEvent>,
}

/// A participant with end-to-end encryption, as parley-cli and the app run one: join with a
/// fresh identity, publish the key package; the [`parley_client::e2ee::E2ee`] for `key`.
pub async fn join_secure(
    srv: &ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    room: &RoomToken,
    key: &parley_proto::MeetingKey,
    name: &str,
    host_secret: Option<HostSecret>,
) -> (u32, Signaling, parley_client::e2ee::E2ee, ServerMessage) {
    let me = Identity::generate();
    let mut sig = Signaling::connect(srv, tls).await.unwrap();
    let first = sig
        .join(
            room,
            &DisplayName::new(name).unwrap(),
            &me,
            None,
            host_secret,
        )
        .await
        .unwrap();
    let e2ee = parley_client::e2ee::E2ee::new(key, &me).unwrap();
    sig.send(&e2ee.key_package_message().unwrap())
        .await
        .unwrap();
    let ServerMessage::Joined { you, .. } = first else {
        panic!("{name} not admitted: {first:?}")
    };
    (you.0, sig, e2ee, first)
}

/// [`pump`] with end-to-end encryption: every message goes through `e2ee` (which adds and
/// removes members when it is its turn), and `say` lines are sealed and sent at their time
/// (measured from the start; `react:clap` sends a reaction).
pub async fn pump_secure(
    call: &mut Call,
    tx: &mut SignalingTx,
    rx: &mut SignalingRx,
    e2ee: &mut parley_client::e2ee::E2ee,
    p: Pump<'_>,
    mut say: Vec<(Duration, String)>,
    log: &mut Transcript,
) {
    let start = Instant::now();
    let mut video = tokio::time::interval(call.frame_interval());
    let mut audio = tokio::time::interval(Duration::from_millis(20));
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let until = p
        .end
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
    say.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    while Instant::now() < until {
        tokio::select! {
            () = tokio::time::sleep_until(until.into()) => break,
            m = rx.recv() => {
                let Ok(Some(m)) = m else { break };
                log.raw.push(m.clone());
                let inbound = e2ee.on_message(Instant::now(), m);
                for reply in &inbound.send {
                    tx.send(reply).await.unwrap();
                }
                log.events.extend(inbound.events);
                if let Some(m) = inbound.show {
                    if let Some(reply) = call.on_message(&m).await.unwrap() {
                        tx.send(&reply).await.unwrap();
                    }
                    log.shown.push(m);
                }
            }
            _ = tick.tick() => {
                for m in e2ee.poll(Instant::now()) {
                    tx.send(&m).await.unwrap();
                }
                while say.last().is_some_and(|(at, _)| start.elapsed() >= *at) {
                    let (_, text) = say.pop().expect("checked");
                    // `react:NAME` sends a (sealed) reaction; anything else is a chat line.
                    if let Some(name) = text.strip_prefix("react:") {
                        let reaction = serde_json::from_value(serde_json::Value::String(name.into())).unwrap();
                        tx.send(&e2ee.react(reaction).unwrap()).await.unwrap();
                    } else {
                        for m in e2ee.chat(None, &text).unwrap() {
                            tx.send(&m).await.unwrap();
                        }
                    }
                }
            }
            _ = video.tick(), if !p.silent => call.send_video().await.unwrap(),
            _ = audio.tick(), if !p.silent && !p.no_audio => call.send_audio().await.unwrap(),
        }
    }
}

/// Where an encrypted bot joins: the server, the meeting and its key.
#[derive(Clone)]
pub struct SecureMeeting {
    /// The meeting server.
    pub srv: ServerAddr,
    /// TLS for it.
    pub tls: Arc<rustls::ClientConfig>,
    /// The meeting.
    pub room: RoomToken,
    /// The meeting key (the link's `#k=`).
    pub key: parley_proto::MeetingKey,
}

/// A participant sending with end-to-end encryption, as the app and parley-cli expect (they
/// open no frame sent in the clear), until `end`; the host if given the `host_secret`. With
/// `watch` false it asks the server for no video, so its core carries a sender only. Answers
/// with what it received.
pub fn spawn_secure_sender(
    m: &SecureMeeting,
    name: String,
    host_secret: Option<HostSecret>,
    options: parley_client::call::CallOptions,
    end: Instant,
    watch: bool,
) -> tokio::task::JoinHandle<std::collections::BTreeMap<String, parley_client::call::RemoteMedia>> {
    let m = m.clone();
    tokio::spawn(async move {
        let (me, sig, mut e2ee, first) =
            join_secure(&m.srv, m.tls, &m.room, &m.key, &name, host_secret).await;
        let options = parley_client::call::CallOptions {
            transform: e2ee.frames(),
            ..options
        };
        let (mut call, offer) =
            Call::start_with_options(me, "127.0.0.1:0".parse().unwrap(), options)
                .await
                .unwrap();
        let (mut tx, mut rx) = sig.split();
        for msg in e2ee.on_message(Instant::now(), first).send {
            tx.send(&msg).await.unwrap();
        }
        tx.send(&offer).await.unwrap();
        if !watch {
            let none = parley_proto::ClientMessage::ReceiveVideo {
                from: Some(Vec::new()),
                height: None,
                heights: Vec::new(),
            };
            tx.send(&none).await.unwrap();
        }
        let how = Pump {
            end: Some(end),
            ..Pump::default()
        };
        let mut log = Transcript::default();
        pump_secure(
            &mut call,
            &mut tx,
            &mut rx,
            &mut e2ee,
            how,
            Vec::new(),
            &mut log,
        )
        .await;
        let stats = call.stats();
        call.close().await;
        stats
    })
}
