//! The SFU: one UDP socket, one task, one str0m `Rtc` per admitted participant who started
//! media. It forwards each participant's audio and video frames to everyone else in the same
//! meeting without decoding them (frame mode: str0m depacketises and repacketises, so every
//! receiver gets its own SSRCs, sequence numbers, NACK/RTX answers and sender reports), relays
//! keyframe requests to the sender, and renegotiates each receiver's peer connection as
//! participants' tracks come and go.
//!
//! The room decides who may have media ([`crate::room::Output::Media`] exists only for admitted
//! participants); the SFU only carries it. It never sees inside a frame beyond what str0m needs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_proto::{ErrorKind, ParticipantId, ServerMessage};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::control::Controls;
use crate::link::{ConnLink, Outbound};
use crate::room::{ConnId, MediaSignal};

/// Packets kept per track for retransmission to a receiver, and for how long (str0m's
/// defaults).
const RTX_CACHE_PACKETS: usize = 1024;
const RTX_CACHE_AGE: Duration = Duration::from_secs(3);
/// Share of a receiver's bytes that may be retransmissions before str0m stops answering its
/// NACKs. str0m's default, 0.15, is reached on a link that loses 10 % each way (a lost packet,
/// a lost retransmission, a lost NACK asked again; a keyframe's packets weigh most): it then
/// dropped every queued resend, holes outlasted the receiver's wait and its video froze until
/// the next keyframe. In the 10 % loss test the lossy downlink decoded 117–207 of 360 frames
/// with 0.15, 196–285 with 0.35, 209–317 with 0.5 and 299–333 (freezes under 350 ms) with 0.8,
/// as many as with no cap at all. 0.8 only stops resends that outweigh the stream four to one.
const RTX_RATIO_CAP: f32 = 0.8;

/// Shortest gap between two keyframe requests to one sender's track: protects a publisher from
/// many receivers asking at once, short enough that a new viewer starts quickly.
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(250);

/// Commands from the signaling side.
#[derive(Debug)]
pub enum SfuCommand {
    /// SDP from an admitted participant.
    Signal {
        /// The meeting (its per-process serial).
        room: u64,
        /// The participant's signaling connection (answers and offers go back through it).
        link: Arc<ConnLink>,
        /// Who.
        participant: ParticipantId,
        /// Offer or answer.
        signal: MediaSignal,
    },
    /// This connection's media controls changed (its audio forwarded or dropped by a host's
    /// hard mute; whose video it receives): the newest values are in [`Controls`].
    Controls {
        /// Which.
        conn: ConnId,
    },
    /// The connection left the meeting: drop its media.
    Gone {
        /// Which.
        conn: ConnId,
    },
}

/// Sends commands to the SFU task; cheap to clone.
#[derive(Debug, Clone)]
pub struct SfuHandle {
    tx: mpsc::Sender<SfuCommand>,
    controls: Arc<Controls>,
    addr: SocketAddr,
}

impl SfuHandle {
    /// The UDP address media flows through.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Pass SDP from an admitted participant.
    pub fn signal(
        &self,
        room: u64,
        link: Arc<ConnLink>,
        participant: ParticipantId,
        signal: MediaSignal,
    ) {
        let busy = link.clone();
        let cmd = SfuCommand::Signal {
            room,
            link,
            participant,
            signal,
        };
        if self.tx.try_send(cmd).is_err() {
            busy.push(Outbound::Text(
                ServerMessage::error(ErrorKind::ServerBusy, false)
                    .encode()
                    .into(),
            ));
        }
    }

    /// Allow or stop forwarding a connection's audio. The newest call wins: an older unmute
    /// never overtakes a hard mute, however busy the SFU is.
    pub fn audio(&self, conn: ConnId, allowed: bool) {
        if self.controls.set_audio(conn, allowed) {
            self.announce(conn);
        }
    }

    /// Forward to `conn` only the video of `from` (`None`: everyone's). The newest call wins.
    pub fn video_from(&self, conn: ConnId, from: Option<Vec<ParticipantId>>) {
        if self.controls.set_video_from(conn, from) {
            self.announce(conn);
        }
    }

    /// Tell the SFU that `conn`'s controls changed. Must not be lost (the receiver would keep
    /// paying for video it hides; a muted voice would go on): with the queue full, the notice
    /// waits for room. At most one notice per connection is in flight, so the waiting is
    /// bounded, and it carries no value that could arrive out of order.
    fn announce(&self, conn: ConnId) {
        if let Err(mpsc::error::TrySendError::Full(cmd)) =
            self.tx.try_send(SfuCommand::Controls { conn })
        {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(cmd).await;
            });
        }
    }

    /// A connection left.
    pub fn gone(&self, conn: ConnId) {
        self.controls.forget(conn);
        // A full queue only delays the cleanup: the peer connection times out on its own.
        let _ = self.tx.try_send(SfuCommand::Gone { conn });
    }

    /// A handle whose commands go to `tx` (tests drive the receiving side themselves).
    #[cfg(test)]
    fn detached(capacity: usize) -> (Self, mpsc::Receiver<SfuCommand>) {
        let (tx, rx) = mpsc::channel(capacity);
        let handle = SfuHandle {
            tx,
            controls: Arc::default(),
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
        };
        (handle, rx)
    }
}

/// Bytes of socket buffer asked for, each way.
const SOCKET_BUFFER: usize = 8 << 20;

/// What kind of media error this is, for the log. str0m's messages quote what the participant
/// sent (SDP lines, candidates, m-line ids), and the log must carry none of that.
fn error_kind(e: &str0m::RtcError) -> &'static str {
    use str0m::RtcError as E;
    match e {
        E::RemoteSdp(_) | E::Sdp(_) | E::ChangesOutOfOrder => "session description",
        E::Ice(_) => "ICE",
        E::Dtls(_) => "DTLS",
        E::Net(_) => "malformed packet",
        E::Io(_) => "I/O",
        E::Rtp(_) | E::Packet(..) => "RTP",
        _ => "media engine",
    }
}

/// Bind the media socket on `addr` (an explicit IP: it is the ICE candidate clients reach)
/// and start the SFU task.
pub async fn start(addr: SocketAddr) -> std::io::Result<SfuHandle> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Room for bursts (keyframes to many receivers at once): the kernel caps these at
    // net.core.rmem_max / wmem_max, which deployments should raise.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let socket = UdpSocket::from_std(socket.into())?;
    let addr = socket.local_addr()?;
    if addr.ip().is_unspecified() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the media address must be a concrete IP (it is announced to clients), not 0.0.0.0",
        ));
    }
    str0m::crypto::from_feature_flags().install_process_default();
    let (tx, rx) = mpsc::channel(4096);
    let controls = Arc::<Controls>::default();
    tokio::spawn(run(socket, addr, rx, controls.clone()));
    Ok(SfuHandle { tx, controls, addr })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    /// To be offered to the receiver.
    ToOpen,
    /// Offered, waiting for the answer.
    Negotiating(Mid),
    /// Flowing.
    Open(Mid),
    /// The sender left: to be stopped in the next offer.
    ToClose(Mid),
    /// Stopped in an offer in flight; gone once it is answered.
    Closing(Mid),
}

#[derive(Debug)]
struct TrackOut {
    origin: ConnId,
    origin_mid: Mid,
    kind: MediaKind,
    stream: String,
    state: OutState,
}

struct Client {
    conn: ConnId,
    room: u64,
    participant: ParticipantId,
    link: Arc<ConnLink>,
    rtc: Rtc,
    /// What the participant may send: (its m-line, kind, whether media has come on it yet).
    /// Others are offered a track only once media flows on it, so a participant with camera
    /// or microphone off costs nobody a renegotiation.
    tracks_in: Vec<(Mid, MediaKind, bool)>,
    tracks_out: Vec<TrackOut>,
    pending: Option<SdpPendingOffer>,
    last_keyframe_request: HashMap<Mid, Instant>,
    /// Keyframe requests that came too soon after the last one: sent when the gap has passed
    /// (dropping them left a receiver frozen until it asked again).
    deferred_keyframe: HashMap<Mid, KeyframeRequestKind>,
    /// Whose video this receiver wants (`None`: everyone's).
    video_from: Option<HashSet<ParticipantId>>,
    /// Senders whose video resumes for this receiver at their next keyframe (a delta frame
    /// after a pause would decode against a stale picture).
    resume_at_keyframe: HashSet<ConnId>,
    /// When str0m next wants `Input::Timeout`.
    next_timeout: Instant,
    /// When it last had one.
    last_timer: Instant,
}

enum Propagate {
    TrackAdded(ConnId, Mid, MediaKind),
    Media(ConnId, Box<MediaData>),
    Keyframe(ConnId, Mid, KeyframeRequestKind),
}

impl Client {
    fn send(&self, msg: ServerMessage) {
        self.link.push(Outbound::Text(msg.encode().into()));
    }

    /// Drain str0m's outputs until it wants a timeout; collect what other clients must hear.
    fn drive(&mut self, socket: &UdpSocket, props: &mut VecDeque<Propagate>) -> Instant {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return t,
                Ok(Output::Transmit(t)) => {
                    // UDP: a full socket buffer drops the datagram, as the network would.
                    let _ = socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(e)) => self.event(e, props),
                Err(e) => {
                    tracing::info!(
                        conn = self.conn.0,
                        error = error_kind(&e),
                        "media connection failed"
                    );
                    self.rtc.disconnect();
                    return Instant::now() + Duration::from_millis(100);
                }
            }
        }
    }

    fn event(&mut self, e: Event, props: &mut VecDeque<Propagate>) {
        match e {
            Event::IceConnectionStateChange(state) => {
                tracing::debug!(conn = self.conn.0, ?state, "media connection");
                if state == IceConnectionState::Disconnected {
                    self.rtc.disconnect();
                }
            }
            Event::Connected => tracing::debug!(conn = self.conn.0, "media encrypted (DTLS up)"),
            // A remote-created m-line: the participant sends us this track.
            Event::MediaAdded(m) if m.direction != Direction::Inactive => {
                tracing::debug!(conn = self.conn.0, kind = %m.kind, "track announced");
                self.tracks_in.push((m.mid, m.kind, false));
            }
            Event::MediaData(d) => {
                if let Some(t) = self.tracks_in.iter_mut().find(|t| t.0 == d.mid && !t.2) {
                    tracing::debug!(conn = self.conn.0, kind = %t.1, "media flowing");
                    t.2 = true;
                    props.push_back(Propagate::TrackAdded(self.conn, t.0, t.1));
                }
                if !d.contiguous {
                    self.request_keyframe(d.mid, KeyframeRequestKind::Fir);
                }
                props.push_back(Propagate::Media(self.conn, Box::new(d)));
            }
            Event::KeyframeRequest(r) => {
                if let Some(t) = self
                    .tracks_out
                    .iter()
                    .find(|t| t.state == OutState::Open(r.mid))
                {
                    props.push_back(Propagate::Keyframe(t.origin, t.origin_mid, r.kind));
                }
            }
            _ => {}
        }
    }

    fn request_keyframe(&mut self, mid: Mid, kind: KeyframeRequestKind) {
        let now = Instant::now();
        if self
            .last_keyframe_request
            .get(&mid)
            .is_some_and(|t| now.duration_since(*t) < KEYFRAME_REQUEST_GAP)
        {
            self.deferred_keyframe.entry(mid).or_insert(kind);
            return;
        }
        self.deferred_keyframe.remove(&mid);
        if let Some(mut w) = self.rtc.writer(mid)
            && w.is_request_keyframe_possible(kind)
            && w.request_keyframe(None, kind).is_ok()
        {
            // Throttle only requests that went out: one made too early must not block the next.
            self.last_keyframe_request.insert(mid, now);
        }
    }

    /// Send the keyframe requests that were held back, once their gap has passed.
    fn send_deferred_keyframe_requests(&mut self, now: Instant) {
        if self.deferred_keyframe.is_empty() {
            return;
        }
        let due: Vec<(Mid, KeyframeRequestKind)> = self
            .deferred_keyframe
            .iter()
            .filter(|(mid, _)| {
                self.last_keyframe_request
                    .get(mid)
                    .is_none_or(|t| now.duration_since(*t) >= KEYFRAME_REQUEST_GAP)
            })
            .map(|(m, k)| (*m, *k))
            .collect();
        for (mid, kind) in due {
            self.request_keyframe(mid, kind);
        }
    }

    /// Offer the participant the tracks it should receive but does not have yet; whether an
    /// offer was made.
    fn negotiate(&mut self) -> bool {
        if self.pending.is_some()
            || !self.rtc.is_connected()
            || !self
                .tracks_out
                .iter()
                .any(|t| matches!(t.state, OutState::ToOpen | OutState::ToClose(_)))
        {
            return false;
        }
        let mut change = self.rtc.sdp_api();
        for t in &mut self.tracks_out {
            if let OutState::ToClose(mid) = t.state {
                change.stop_media(mid);
                t.state = OutState::Closing(mid);
            }
            if t.state == OutState::ToOpen {
                let mid = change.add_media(
                    t.kind,
                    Direction::SendOnly,
                    Some(t.stream.clone()),
                    None,
                    None,
                );
                t.state = OutState::Negotiating(mid);
            }
        }
        match change.apply() {
            Some((offer, pending)) => {
                self.pending = Some(pending);
                tracing::trace!(
                    conn = self.conn.0,
                    tracks = self.tracks_out.len(),
                    "offer sent"
                );
                self.send(ServerMessage::SdpOffer {
                    sdp: offer.to_sdp_string(),
                });
                true
            }
            None => false,
        }
    }

    /// Write a frame from `origin` to this receiver; whether anything was written.
    fn forward(&mut self, origin: ConnId, data: &MediaData) -> bool {
        let Some(mid) = self.tracks_out.iter().find_map(|t| match t.state {
            OutState::Open(mid) if t.origin == origin && t.origin_mid == data.mid => Some(mid),
            _ => None,
        }) else {
            return false;
        };
        let Some(writer) = self.rtc.writer(mid) else {
            return false;
        };
        let Some(pt) = writer.match_params(data.params) else {
            return false;
        };
        if let Err(e) = writer.write(pt, data.network_time, data.time, data.data.clone()) {
            tracing::info!(
                conn = self.conn.0,
                error = error_kind(&e),
                "forwarding failed"
            );
        }
        true
    }
}

struct Sfu {
    socket: UdpSocket,
    addr: SocketAddr,
    clients: Vec<Client>,
    /// Connections whose audio is not forwarded (hard-muted by a host).
    audio_blocked: HashSet<ConnId>,
    /// The newest media controls set by the rooms.
    controls: Arc<Controls>,
}

impl Sfu {
    fn client(&mut self, conn: ConnId) -> Option<&mut Client> {
        self.clients.iter_mut().find(|c| c.conn == conn)
    }

    fn command(&mut self, cmd: SfuCommand, dirty: &mut HashSet<ConnId>) {
        match cmd {
            SfuCommand::Controls { conn } => {
                let control = self.controls.take(conn);
                if let Some(allowed) = control.audio {
                    if allowed {
                        self.audio_blocked.remove(&conn);
                    } else {
                        self.audio_blocked.insert(conn);
                    }
                }
                if let Some(from) = control.video_from {
                    self.video_from(conn, from, dirty);
                }
            }
            SfuCommand::Gone { conn } => {
                self.audio_blocked.remove(&conn);
                self.clients.retain(|c| c.conn != conn);
                for c in &mut self.clients {
                    dirty.insert(c.conn);
                    c.resume_at_keyframe.remove(&conn);
                    // Their tracks stop at once; receivers are told by an offer that stops the
                    // m-lines, so their apps can drop the tiles.
                    c.tracks_out.retain_mut(|t| {
                        if t.origin != conn {
                            return true;
                        }
                        match t.state {
                            OutState::ToOpen => return false,
                            OutState::Negotiating(mid) | OutState::Open(mid) => {
                                t.state = OutState::ToClose(mid);
                            }
                            OutState::ToClose(_) | OutState::Closing(_) => {}
                        }
                        true
                    });
                }
            }
            SfuCommand::Signal {
                room,
                link,
                participant,
                signal: MediaSignal::Offer(sdp),
            } => {
                dirty.insert(link.id);
                self.offer(room, link, participant, &sdp);
            }
            SfuCommand::Signal {
                link,
                signal: MediaSignal::Answer(sdp),
                ..
            } => {
                dirty.insert(link.id);
                for origin in self.answer(&link, &sdp) {
                    dirty.insert(origin);
                }
            }
        }
    }

    fn offer(&mut self, room: u64, link: Arc<ConnLink>, participant: ParticipantId, sdp: &str) {
        let refuse = |link: &ConnLink| {
            link.push(Outbound::Text(
                ServerMessage::error(ErrorKind::InvalidValue, false)
                    .encode()
                    .into(),
            ));
        };
        let Ok(offer) = SdpOffer::from_sdp_string(sdp) else {
            return refuse(&link);
        };
        let conn = link.id;
        if self.client(conn).is_none() {
            let mut rtc = Rtc::builder()
                .clear_codecs()
                .enable_opus(true, false)
                .enable_vp8(true)
                .set_ice_lite(true)
                // Audio is never retransmitted: release it after two packets instead of
                // holding 300 ms for a lost one; the receiver's jitter buffer and FEC do the rest.
                .set_reordering_size_audio(2)
                .build(Instant::now());
            match Candidate::host(self.addr, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(_) => return refuse(&link),
            }
            // The newcomer will receive every track already flowing in this meeting.
            let tracks_out = self
                .clients
                .iter()
                .filter(|c| c.room == room)
                .flat_map(|c| {
                    c.tracks_in
                        .iter()
                        .filter(|t| t.2)
                        .map(|(mid, kind, _)| TrackOut {
                            origin: c.conn,
                            origin_mid: *mid,
                            kind: *kind,
                            stream: c.participant.to_string(),
                            state: OutState::ToOpen,
                        })
                })
                .collect();
            self.clients.push(Client {
                conn,
                room,
                participant,
                link,
                rtc,
                tracks_in: Vec::new(),
                tracks_out,
                pending: None,
                last_keyframe_request: HashMap::new(),
                deferred_keyframe: HashMap::new(),
                video_from: None,
                resume_at_keyframe: HashSet::new(),
                next_timeout: Instant::now(),
                last_timer: Instant::now(),
            });
        }
        let Some(c) = self.client(conn) else { return };
        match c.rtc.sdp_api().accept_offer(offer) {
            Ok(answer) => {
                // A remote offer voids any offer of ours in flight: renegotiate those later.
                if c.pending.take().is_some() {
                    for t in &mut c.tracks_out {
                        match t.state {
                            OutState::Negotiating(_) => t.state = OutState::ToOpen,
                            OutState::Closing(mid) => t.state = OutState::ToClose(mid),
                            _ => {}
                        }
                    }
                }
                tracing::trace!(conn = conn.0, "offer answered");
                c.send(ServerMessage::SdpAnswer {
                    sdp: answer.to_sdp_string(),
                });
            }
            Err(e) => {
                tracing::info!(conn = conn.0, error = error_kind(&e), "unusable SDP offer");
                refuse(&c.link);
            }
        }
    }

    /// Apply an answer; returns the senders asked for a keyframe.
    fn answer(&mut self, link: &ConnLink, sdp: &str) -> Vec<ConnId> {
        let Some(c) = self.client(link.id) else {
            return Vec::new();
        };
        let (Ok(answer), Some(pending)) = (SdpAnswer::from_sdp_string(sdp), c.pending.take())
        else {
            c.send(ServerMessage::error(ErrorKind::InvalidValue, false));
            return Vec::new();
        };
        if c.rtc.sdp_api().accept_answer(pending, answer).is_err() {
            c.send(ServerMessage::error(ErrorKind::InvalidValue, false));
            return Vec::new();
        }
        tracing::trace!(conn = link.id.0, "answer accepted");
        let mut opened = Vec::new();
        c.tracks_out
            .retain(|t| !matches!(t.state, OutState::Closing(_)));
        for t in &mut c.tracks_out {
            if let OutState::Negotiating(mid) = t.state {
                t.state = OutState::Open(mid);
                opened.push((t.origin, t.origin_mid));
                // Answer this receiver's NACKs on a lossy link too (see RTX_RATIO_CAP).
                // Video only: audio is never retransmitted.
                if t.kind == MediaKind::Video
                    && let Some(tx) = c.rtc.direct_api().stream_tx_by_mid(mid, None)
                {
                    tx.set_rtx_cache(RTX_CACHE_PACKETS, RTX_CACHE_AGE, Some(RTX_RATIO_CAP));
                }
            }
        }
        // A new viewer needs a keyframe to start decoding.
        let mut asked = Vec::new();
        for (origin, mid) in opened {
            if let Some(o) = self.client(origin) {
                o.request_keyframe(mid, KeyframeRequestKind::Pli);
                asked.push(origin);
            }
        }
        asked
    }

    /// A receiver changed whose video it wants: senders it wants again resume at their next
    /// keyframe, which they are asked for now.
    fn video_from(
        &mut self,
        conn: ConnId,
        from: Option<Vec<ParticipantId>>,
        dirty: &mut HashSet<ConnId>,
    ) {
        let Some(c) = self.clients.iter().find(|c| c.conn == conn) else {
            return;
        };
        let room = c.room;
        let before = c.video_from.clone();
        let after: Option<HashSet<ParticipantId>> = from.map(|ids| ids.into_iter().collect());
        let wanted = |set: &Option<HashSet<ParticipantId>>, p: ParticipantId| {
            set.as_ref().is_none_or(|s| s.contains(&p))
        };
        let resumed: Vec<(ConnId, Vec<Mid>)> = self
            .clients
            .iter()
            .filter(|o| o.room == room && o.conn != conn)
            .filter(|o| !wanted(&before, o.participant) && wanted(&after, o.participant))
            .map(|o| {
                let video: Vec<Mid> = o
                    .tracks_in
                    .iter()
                    .filter(|(_, kind, _)| *kind == MediaKind::Video)
                    .map(|(mid, _, _)| *mid)
                    .collect();
                (o.conn, video)
            })
            .collect();
        if let Some(c) = self.clients.iter_mut().find(|c| c.conn == conn) {
            c.video_from = after;
            for (origin, _) in &resumed {
                c.resume_at_keyframe.insert(*origin);
            }
        }
        for (origin, mids) in resumed {
            if let Some(o) = self.client(origin) {
                for mid in mids {
                    o.request_keyframe(mid, KeyframeRequestKind::Pli);
                }
                dirty.insert(origin);
            }
        }
    }

    fn propagate(&mut self, p: Propagate, dirty: &mut HashSet<ConnId>) {
        match p {
            Propagate::TrackAdded(origin, mid, kind) => {
                let Some(o) = self.clients.iter().find(|c| c.conn == origin) else {
                    return;
                };
                let (room, stream) = (o.room, o.participant.to_string());
                for c in &mut self.clients {
                    if c.room == room && c.conn != origin {
                        dirty.insert(c.conn);
                        c.tracks_out.push(TrackOut {
                            origin,
                            origin_mid: mid,
                            kind,
                            stream: stream.clone(),
                            state: OutState::ToOpen,
                        });
                    }
                }
            }
            Propagate::Media(origin, data) => {
                let Some(o) = self.clients.iter().find(|c| c.conn == origin) else {
                    return;
                };
                let (room, sender) = (o.room, o.participant);
                let is_audio = o
                    .tracks_in
                    .iter()
                    .any(|(mid, kind, _)| *mid == data.mid && *kind == MediaKind::Audio);
                if is_audio && self.audio_blocked.contains(&origin) {
                    return;
                }
                let mut still_waiting = false;
                for c in &mut self.clients {
                    if c.room != room || c.conn == origin {
                        continue;
                    }
                    if !is_audio {
                        if c.video_from.as_ref().is_some_and(|s| !s.contains(&sender)) {
                            continue;
                        }
                        if c.resume_at_keyframe.contains(&origin) {
                            if !data.is_keyframe() {
                                still_waiting = true;
                                continue;
                            }
                            c.resume_at_keyframe.remove(&origin);
                        }
                    }
                    if c.forward(origin, &data) {
                        dirty.insert(c.conn);
                    }
                }
                // Someone waits for this sender's keyframe: ask again (at most every
                // KEYFRAME_REQUEST_GAP). A request that was throttled, or a keyframe that
                // went by before the receiver started waiting, would otherwise leave it
                // without video until the sender happens to send one.
                if still_waiting && let Some(o) = self.client(origin) {
                    o.request_keyframe(data.mid, KeyframeRequestKind::Pli);
                    dirty.insert(origin);
                }
            }
            Propagate::Keyframe(origin, mid, kind) => {
                if let Some(o) = self.client(origin) {
                    o.request_keyframe(mid, kind);
                    dirty.insert(origin);
                }
            }
        }
    }
}

/// Least time between two timer turns of one client. str0m asks for one every few
/// milliseconds; each turn walks all the client's streams, so with many participants the
/// turns cost more than the forwarding (4–8 thousand a second for 30 clients; capped, the SFU forwards 10–20 % more per core). Its timers
/// (NACK, RTCP, transport feedback every 50 ms) keep their meaning at this granularity.
const MIN_TIMER_GAP: Duration = Duration::from_millis(10);

/// Most datagrams taken from the socket before the clients they concern are driven.
const RECV_BATCH: usize = 64;

impl Sfu {
    /// Hand one datagram to the client it belongs to.
    fn receive(
        &mut self,
        data: &[u8],
        source: SocketAddr,
        routes: &mut HashMap<SocketAddr, ConnId>,
        dirty: &mut HashSet<ConnId>,
    ) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.addr,
                contents,
            },
        );
        let cached = routes
            .get(&source)
            .and_then(|conn| self.clients.iter().position(|c| c.conn == *conn))
            .filter(|i| self.clients[*i].rtc.accepts(&input));
        let found = cached.or_else(|| self.clients.iter().position(|c| c.rtc.accepts(&input)));
        if let Some(i) = found {
            let c = &mut self.clients[i];
            routes.insert(source, c.conn);
            if c.rtc.handle_input(input).is_err() {
                c.rtc.disconnect();
            }
            dirty.insert(c.conn);
        }
    }
}

async fn run(
    socket: UdpSocket,
    addr: SocketAddr,
    mut rx: mpsc::Receiver<SfuCommand>,
    controls: Arc<Controls>,
) {
    let mut sfu = Sfu {
        socket,
        addr,
        clients: Vec::new(),
        audio_blocked: HashSet::new(),
        controls,
    };
    let mut buf = vec![0u8; 2000];
    let mut props = VecDeque::new();
    // Only clients something happened to are driven: the work per datagram does not grow with
    // the number of participants.
    let mut dirty: HashSet<ConnId> = HashSet::new();
    // Where each remote address's datagrams went last (checked with `accepts` before use).
    let mut routes: HashMap<SocketAddr, ConnId> = HashMap::new();
    let mut next_wake = Instant::now();
    loop {
        loop {
            for conn in dirty.drain().collect::<Vec<_>>() {
                if let Some(c) = sfu.clients.iter_mut().find(|c| c.conn == conn) {
                    let mut t = c.drive(&sfu.socket, &mut props);
                    if c.negotiate() {
                        t = t.min(c.drive(&sfu.socket, &mut props));
                    }
                    c.next_timeout = t.max(c.last_timer + MIN_TIMER_GAP);
                    next_wake = next_wake.min(c.next_timeout);
                }
            }
            if props.is_empty() {
                break;
            }
            while let Some(p) = props.pop_front() {
                sfu.propagate(p, &mut dirty);
            }
        }
        let before = sfu.clients.len();
        sfu.clients.retain(|c| c.rtc.is_alive());
        if sfu.clients.len() != before {
            let clients = &sfu.clients;
            routes.retain(|_, conn| clients.iter().any(|c| c.conn == *conn));
        }
        let wait = next_wake
            .saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), Duration::from_millis(100));
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => sfu.command(cmd, &mut dirty),
                None => return,
            },
            r = sfu.socket.recv_from(&mut buf) => {
                // Take what else has arrived too (up to a batch), so each receiver is driven
                // once per batch rather than once per incoming frame.
                let mut r = r;
                for _ in 0..RECV_BATCH {
                    let Ok((n, source)) = r else { break };
                    sfu.receive(&buf[..n], source, &mut routes, &mut dirty);
                    r = sfu.socket.try_recv_from(&mut buf);
                }
            }
            () = tokio::time::sleep(wait) => {}
        }
        let now = Instant::now();
        if now >= next_wake {
            next_wake = now + Duration::from_millis(100);
            for c in &mut sfu.clients {
                if c.next_timeout <= now {
                    c.last_timer = now;
                    if c.rtc.handle_input(Input::Timeout(now)).is_err() {
                        c.rtc.disconnect();
                    }
                    c.send_deferred_keyframe_requests(now);
                    dirty.insert(c.conn);
                } else {
                    next_wake = next_wake.min(c.next_timeout);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Receive what reaches the SFU until nothing more comes, applying controls as the SFU
    /// does: the last audio and video settings seen for `conn`, and how many notices came.
    async fn drain(
        sfu: &SfuHandle,
        rx: &mut mpsc::Receiver<SfuCommand>,
        conn: ConnId,
    ) -> (Option<bool>, Option<Option<Vec<ParticipantId>>>, usize) {
        let (mut audio, mut video, mut notices) = (None, None, 0);
        while let Ok(Some(cmd)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await
        {
            if let SfuCommand::Controls { conn: c } = cmd
                && c == conn
            {
                notices += 1;
                let control = sfu.controls.take(conn);
                audio = control.audio.or(audio);
                video = control.video_from.or(video);
            }
        }
        (audio, video, notices)
    }

    #[test]
    fn a_hard_mute_is_never_overtaken_by_an_older_unmute_when_the_queue_is_full() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (sfu, mut rx) = SfuHandle::detached(2);
            // The queue is full of other connections' business.
            sfu.gone(ConnId(100));
            sfu.gone(ConnId(101));
            let x = ConnId(1);
            // A host flips the switch a thousand times, ending on "muted".
            for i in 0..1000 {
                sfu.audio(x, i % 2 == 1);
            }
            sfu.video_from(x, Some(vec![ParticipantId(3)]));
            sfu.audio(x, false);
            let (audio, video, notices) = drain(&sfu, &mut rx, x).await;
            assert_eq!(audio, Some(false), "the newest setting, the mute, holds");
            assert_eq!(video, Some(Some(vec![ParticipantId(3)])));
            assert_eq!(notices, 1, "one notice in flight per connection");

            // Later changes are applied in order, with room in the queue or without.
            sfu.audio(x, true);
            assert_eq!(drain(&sfu, &mut rx, x).await.0, Some(true));
            sfu.gone(ConnId(102));
            sfu.gone(ConnId(103));
            sfu.audio(x, true);
            sfu.audio(x, false);
            assert_eq!(drain(&sfu, &mut rx, x).await, (Some(false), None, 1));

            // A connection that left keeps nothing pending.
            sfu.audio(ConnId(5), false);
            sfu.gone(ConnId(5));
            assert_eq!(sfu.controls.pending_len(), 0);
        });
    }
}
