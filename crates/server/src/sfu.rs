//! The SFU: media workers (one per core by default), each with its own UDP socket and task,
//! and one str0m `Rtc` per admitted participant who started media. A participant's media runs
//! on one worker, chosen when it starts media: a meeting's participants go to one worker (the
//! least loaded when the meeting's media starts) until it carries `media_spread_after` of
//! them, then to the least loaded, so many meetings spread over all cores and a large meeting
//! uses all of them; frames reach receivers on other workers by a hand-off ([`crate::mesh`]).
//! It forwards each participant's audio and video frames to everyone else in the same
//! meeting without decoding them (frame mode: str0m depacketises and repacketises, so every
//! receiver gets its own SSRCs, sequence numbers, NACK/RTX answers and sender reports), relays
//! keyframe requests to the sender, and renegotiates each receiver's peer connection as
//! participants' tracks come and go.
//!
//! The room decides who may have media ([`crate::room::Output::Media`] exists only for admitted
//! participants); the SFU only carries it. It never sees inside a frame beyond what str0m needs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use parley_proto::{ErrorKind, ParticipantId, ServerMessage, Shedding as Told};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, MediaTime, Mid, Rid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::control::{Controls, TileHeights};
use crate::link::{ConnLink, Outbound};
use crate::mesh::{Flowing, Handoff, Inbox, Mesh, Peer};
use crate::outbox::Outbox;
use crate::room::{ConnId, MediaSignal};
use crate::speakers::Speakers;

mod demand;
mod downlink;
mod layers;
mod shedding;
use demand::Demand;
use downlink::Downlink;
use layers::{Layers, Timeline};
use shedding::Shedding;

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

/// Keyframe requests to other workers remembered before old ones are swept.
const REMOTE_KEYFRAME_ENTRIES: usize = 4096;

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

/// One media worker as the signaling side sees it.
#[derive(Debug)]
struct WorkerHandle {
    tx: mpsc::Sender<SfuCommand>,
    addr: SocketAddr,
}

/// Which worker carries which meeting and connection. Touched on signaling events only
/// (an offer, a control change, a leave), never per packet.
#[derive(Debug, Default)]
struct Placement {
    /// Meeting → its connections on each worker.
    rooms: HashMap<u64, Vec<usize>>,
    /// Connection → (its worker, its meeting).
    conns: HashMap<ConnId, (usize, u64)>,
    /// Connections per worker.
    load: Vec<usize>,
    /// Connections of one meeting a worker takes before the meeting spreads to others.
    spread_after: usize,
}

impl Placement {
    fn new(workers: usize, spread_after: usize) -> Self {
        Placement {
            load: vec![0; workers.max(1)],
            spread_after: spread_after.max(1),
            ..Placement::default()
        }
    }

    /// The worker of `conn` in `room`: one that already carries the meeting and has fewer
    /// than `spread_after` of its connections (the least loaded of those), or else the least
    /// loaded worker. A small meeting stays on one worker (no hand-offs); a large one spreads
    /// over all of them.
    fn place(&mut self, room: u64, conn: ConnId) -> usize {
        if let Some((w, _)) = self.conns.get(&conn) {
            return *w;
        }
        let n = self.load.len();
        let counts = self.rooms.entry(room).or_insert_with(|| vec![0; n]);
        let load = &self.load;
        let w = (0..n)
            .filter(|w| counts[*w] > 0 && counts[*w] < self.spread_after)
            .min_by_key(|w| load[*w])
            .or_else(|| (0..n).min_by_key(|w| load[*w]))
            .unwrap_or(0);
        counts[w] += 1;
        self.load[w] += 1;
        self.conns.insert(conn, (w, room));
        w
    }

    /// `conn` left: its worker, if it had one.
    fn remove(&mut self, conn: ConnId) -> Option<usize> {
        let (w, room) = self.conns.remove(&conn)?;
        self.load[w] -= 1;
        if let Some(counts) = self.rooms.get_mut(&room) {
            counts[w] -= 1;
            if counts.iter().all(|n| *n == 0) {
                self.rooms.remove(&room);
            }
        }
        Some(w)
    }

    fn worker_of(&self, conn: ConnId) -> Option<usize> {
        self.conns.get(&conn).map(|(w, _)| *w)
    }
}

/// Sends commands to the media workers; cheap to clone.
#[derive(Debug, Clone)]
pub struct SfuHandle {
    workers: Arc<[WorkerHandle]>,
    controls: Arc<Controls>,
    placement: Arc<Mutex<Placement>>,
    mesh: Arc<Mesh>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SfuHandle {
    /// The UDP address of the first media worker.
    pub fn addr(&self) -> SocketAddr {
        self.workers[0].addr
    }

    /// The UDP address of every media worker, in order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|w| w.addr).collect()
    }

    /// Which worker carries `conn`'s media, if it started any (for tests and logs).
    pub fn worker_of(&self, conn: ConnId) -> Option<usize> {
        lock(&self.placement).worker_of(conn)
    }

    /// Frames not handed from one worker to another because the receiving worker was behind
    /// (since the start).
    pub fn handoffs_dropped(&self) -> u64 {
        self.mesh.dropped()
    }

    /// Pass SDP from an admitted participant.
    pub fn signal(
        &self,
        room: u64,
        link: Arc<ConnLink>,
        participant: ParticipantId,
        signal: MediaSignal,
    ) {
        let w = lock(&self.placement).place(room, link.id);
        let busy = link.clone();
        let cmd = SfuCommand::Signal {
            room,
            link,
            participant,
            signal,
        };
        if self.workers[w].tx.try_send(cmd).is_err() {
            tracing::debug!(
                conn = busy.id.0,
                worker = w,
                "media worker behind: SDP refused as busy"
            );
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

    /// Forward any of `conn`'s media, or (`false`) none of it: its tracks stop for everyone
    /// as if it had left, until it is allowed again (event mode's stage). The newest call wins.
    pub fn media(&self, conn: ConnId, allowed: bool) {
        if self.controls.set_media(conn, allowed) {
            self.announce(conn);
        }
    }

    /// Forward `conn`'s voice whether or not it is among the loudest (a presenter: someone a
    /// host put on the stage), or (`false`) only when it is. The newest call wins.
    pub fn presenter(&self, conn: ConnId, on: bool) {
        if self.controls.set_presenter(conn, on) {
            self.announce(conn);
        }
    }

    /// Forward to `conn` only the video of `from` (`None`: everyone's), each in the
    /// simulcast layer that fits its tile's height. The newest call wins.
    pub fn video_from(&self, conn: ConnId, from: Option<Vec<ParticipantId>>, heights: TileHeights) {
        if self.controls.set_video_from(conn, from, heights) {
            self.announce(conn);
        }
    }

    /// Tell `conn`'s worker that its controls changed. Must not be lost (the receiver would
    /// keep paying for video it hides; a muted voice would go on): with the queue full, the
    /// notice waits for room. At most one notice per connection is in flight, so the waiting
    /// is bounded, and it carries no value that could arrive out of order. A connection with
    /// no media yet has no worker: its worker takes the settings when its media starts.
    fn announce(&self, conn: ConnId) {
        let Some(w) = lock(&self.placement).worker_of(conn) else {
            return;
        };
        let tx = &self.workers[w].tx;
        if let Err(mpsc::error::TrySendError::Full(cmd)) =
            tx.try_send(SfuCommand::Controls { conn })
        {
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(cmd).await;
            });
        }
    }

    /// A connection left.
    pub fn gone(&self, conn: ConnId) {
        self.controls.forget(conn);
        let Some(w) = lock(&self.placement).remove(conn) else {
            return;
        };
        // Must not be lost to a full queue: a participant's peer connection stays up as long
        // as its ICE answers, and a removed participant would go on receiving the meeting's
        // media. With the queue full, the notice waits for room (once per connection).
        let tx = &self.workers[w].tx;
        if let Err(mpsc::error::TrySendError::Full(cmd)) = tx.try_send(SfuCommand::Gone { conn }) {
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send(cmd).await;
            });
        }
    }

    /// A handle whose commands go to `tx` (tests drive the receiving side themselves).
    #[cfg(test)]
    fn detached(capacity: usize) -> (Self, mpsc::Receiver<SfuCommand>) {
        let (tx, rx) = mpsc::channel(capacity);
        let handle = SfuHandle {
            workers: Arc::new([WorkerHandle {
                tx,
                addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            }]),
            controls: Arc::default(),
            placement: Arc::new(Mutex::new(Placement::new(1, 1))),
            mesh: Mesh::new(1).0,
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

/// Bind one media socket (an explicit IP: it is the ICE candidate clients reach).
fn bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
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
    Ok(socket.into())
}

/// Start `workers` media workers on `addr`'s IP: worker *i* listens on `addr`'s port + *i*
/// (with port 0, each on a free port the system picks), and on the same port of each IP of
/// `also` (announced as further candidates). Their main addresses are what a firewall must
/// open: [`SfuHandle::addrs`]. A meeting stays on one worker until that worker carries
/// `spread_after` of its participants; more go to the least loaded worker. Each meeting's
/// `voices` loudest speakers are heard (see [`crate::speakers`]).
pub async fn start(
    addr: SocketAddr,
    also: &[IpAddr],
    workers: usize,
    spread_after: usize,
    voices: usize,
) -> std::io::Result<SfuHandle> {
    if addr.ip().is_unspecified() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the media address must be a concrete IP (it is announced to clients), not 0.0.0.0",
        ));
    }
    str0m::crypto::from_feature_flags().install_process_default();
    let controls = Arc::<Controls>::default();
    let workers = workers.max(1);
    let (mesh, inboxes) = Mesh::new(workers);
    let mut handles = Vec::new();
    for (i, inbox) in inboxes.into_iter().enumerate() {
        let port = if addr.port() == 0 {
            Some(0)
        } else {
            u16::try_from(i)
                .ok()
                .and_then(|i| addr.port().checked_add(i))
        };
        let Some(port) = port else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the media ports (media_listen's port + one per worker) pass 65535",
            ));
        };
        let socket = bind(SocketAddr::new(addr.ip(), port))?;
        let bound = socket.local_addr()?;
        let extras = also
            .iter()
            .map(|ip| bind(SocketAddr::new(*ip, bound.port())))
            .collect::<std::io::Result<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel(4096);
        let (controls, mesh) = (controls.clone(), mesh.clone());
        // Its own thread and runtime: a worker at full load must not starve the signaling
        // connections (a host's mute, an answer to the media server's offer), as it did as
        // a task among them (the town hall at 300: connections unread for seconds).
        let (started, ready) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name(format!("parley-media-{i}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let socket = match UdpSocket::from_std(socket) {
                        Ok(s) => Arc::new(s),
                        Err(e) => {
                            let _ = started.send(Err(e));
                            return;
                        }
                    };
                    let mut sfu = Sfu::new(Some(socket.clone()), bound, i, controls, mesh, voices);
                    let (also_tx, also_rx) = mpsc::channel(ALSO_QUEUE);
                    for extra in extras {
                        let extra = match UdpSocket::from_std(extra) {
                            Ok(s) => Arc::new(s),
                            Err(e) => {
                                let _ = started.send(Err(e));
                                return;
                            }
                        };
                        let local = match extra.local_addr() {
                            Ok(a) => a,
                            Err(e) => {
                                let _ = started.send(Err(e));
                                return;
                            }
                        };
                        sfu.also_on(extra.clone(), local);
                        tokio::spawn(read_also(extra, local, also_tx.clone()));
                    }
                    drop(also_tx);
                    let _ = started.send(Ok(()));
                    // Ends when every handle is gone (the server stopped).
                    run(sfu, socket, rx, inbox, also_rx).await;
                });
            })?;
        ready
            .recv()
            .map_err(|_| std::io::Error::other("a media worker stopped before it started"))??;
        handles.push(WorkerHandle { tx, addr: bound });
    }
    Ok(SfuHandle {
        workers: handles.into(),
        controls,
        placement: Arc::new(Mutex::new(Placement::new(workers, spread_after))),
        mesh,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    /// To be offered to the receiver.
    ToOpen,
    /// Offered, waiting for the answer.
    Negotiating(Mid),
    /// Open (slots are never closed: they stay while the receiver does).
    Open(Mid),
}

/// A video track flowing in the meeting that this receiver may be shown.
#[derive(Debug)]
struct TrackOut {
    origin: ConnId,
    origin_mid: Mid,
    /// The worker that receives it from its sender.
    origin_worker: usize,
    /// Who sends it.
    sender: ParticipantId,
}

impl TrackOut {
    fn new(t: &Flowing) -> Self {
        TrackOut {
            origin: t.origin,
            origin_mid: t.mid,
            origin_worker: t.worker,
            sender: t.sender,
        }
    }
}

/// One of a receiver's m-lines that carry whichever sender the SFU maps onto it, so its
/// session description does not grow with the meeting: **voice slots**, as many as voices are
/// heard at once (each carries one of the chosen voices), and **video slots**, as many as the
/// receiver is shown at once (up to [`MAX_VIDEO_SLOTS`]; made as needed, never closed). Each
/// packet says whose it is ([`SENDER_EXTENSION`]); a video slot switches to another sender at
/// that sender's keyframe.
#[derive(Debug)]
struct Slot {
    kind: MediaKind,
    state: OutState,
    /// The track it carries: (sender's connection, the sender's m-line).
    carrying: Option<(ConnId, Mid)>,
    /// The simulcast layer of that track it forwards now (`None`: the track has one layer,
    /// or none was chosen yet).
    layer: Option<Rid>,
    /// Whether a keyframe of what it carries went out since it began carrying it: until
    /// then its frames are held back (a delta frame would decode against another picture).
    synced: bool,
    /// The picture height of the layer it forwards (0: not known, or not simulcast).
    height: u16,
    /// Keeps its timestamps continuous across changes of sender and layer (video).
    timeline: Timeline,
}

impl Slot {
    fn new(kind: MediaKind) -> Self {
        Slot {
            kind,
            state: OutState::ToOpen,
            carrying: None,
            layer: None,
            synced: false,
            height: 0,
            timeline: Timeline::default(),
        }
    }
}

/// Most video slots a receiver has: the largest page of tiles (7×7).
pub const MAX_VIDEO_SLOTS: usize = 49;

/// The RTP header extension (one-byte form) on every packet the SFU forwards: the sender's
/// participant number, 4 bytes big-endian. A receiver's slots carry whoever is chosen or
/// shown, so this is how it tells the senders apart. (The server knows who sends what anyway;
/// the extension is inside SRTP.)
pub const SENDER_EXTENSION: &str = "urn:parley:rtp-hdrext:sender";
/// Its id in the SFU's sessions.
const SENDER_EXTENSION_ID: u8 = 9;
/// The stream id (`msid`) of a receiver's voice slots.
pub const VOICES_STREAM: &str = "voices";
/// The stream id (`msid`) of a receiver's video slots.
pub const VIDEO_STREAM: &str = "video";

/// The sender of a forwarded packet, as [`SENDER_EXTENSION`] carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SenderOf(u32);

/// Writes and reads [`SENDER_EXTENSION`].
#[derive(Debug)]
struct SenderExtension;

impl str0m::rtp::ExtensionSerializer for SenderExtension {
    fn write_to(&self, buf: &mut [u8], ev: &str0m::rtp::ExtensionValues) -> usize {
        match ev.user_values.get::<SenderOf>() {
            Some(SenderOf(id)) if buf.len() >= 4 => {
                buf[..4].copy_from_slice(&id.to_be_bytes());
                4
            }
            _ => 0,
        }
    }

    fn parse_value(&self, buf: &[u8], ev: &mut str0m::rtp::ExtensionValues) -> bool {
        let Ok(b) = <[u8; 4]>::try_from(buf) else {
            return false;
        };
        ev.user_values.set(SenderOf(u32::from_be_bytes(b)));
        true
    }

    fn is_video(&self) -> bool {
        true
    }

    fn is_audio(&self) -> bool {
        true
    }
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
    /// The offer in flight (`pending`) as sent.
    offered: Option<Offered>,
    /// M-lines in the session as last agreed. Our offers only add m-lines, so an answer
    /// with no more than these answers an offer already applied (one sent again, answered
    /// twice) and is ignored.
    agreed_m_lines: usize,
    /// When a keyframe was last asked of each of its tracks (m-line, layer).
    last_keyframe_request: HashMap<(Mid, Option<Rid>), Instant>,
    /// Keyframe requests that came too soon after the last one: sent when the gap has passed
    /// (dropping them left a receiver frozen until it asked again).
    deferred_keyframe: HashMap<(Mid, Option<Rid>), KeyframeRequestKind>,
    /// Whose video this receiver wants (`None`: everyone's).
    video_from: Option<HashSet<ParticipantId>>,
    /// How high it shows each sender's tile (which simulcast layer it gets).
    heights: TileHeights,
    /// What its receiver reports say of its downlink (a cap on the layers it gets).
    downlink: Downlink,
    /// When str0m wants `Input::Timeout`, as of its last drain.
    wants: Instant,
    /// When it gets it (`wants`, but not sooner than [`MIN_TIMER_GAP`] after the last).
    next_timeout: Instant,
    /// The earliest entry for this client in the worker's timer heap, if any.
    scheduled: Option<Instant>,
    /// When it last had one.
    last_timer: Instant,
    /// Our ICE username fragment in its session (a STUN request from a new address names it).
    ufrag: String,
    /// Remote addresses routed to this client (at most [`MAX_ADDRS_PER_CLIENT`]).
    addrs: VecDeque<SocketAddr>,
    /// Open outgoing tracks by (sender, sender's m-line): the video slot (index into
    /// `slots`) that carries it.
    open: HashMap<(ConnId, Mid), usize>,
    /// Its voice slots (none until someone else's audio flows in the meeting), then its video
    /// slots.
    slots: Vec<Slot>,
    /// Whether its client takes the sender extension (its last SDP names it): without it,
    /// none is written.
    names_sender: bool,
}

/// Remote addresses one participant's media may come from at once (its candidates); older
/// ones are forgotten first.
const MAX_ADDRS_PER_CLIENT: usize = 8;

/// An offer of ours unanswered this long goes again, unchanged. Its answer can be lost: the
/// server refuses a participant's `sdp_answer` as `server_busy` when this worker is behind
/// (seen in the town hall at 300 and 1,000), and without this the participant would never
/// get a slot. A participant that did answer answers the same offer again alike.
const OFFER_AGAIN: Duration = Duration::from_secs(5);

/// The m-lines of a session description.
fn m_lines(sdp: &str) -> usize {
    sdp.lines().filter(|l| l.starts_with("m=")).count()
}

/// An offer of ours in flight.
struct Offered {
    /// As sent.
    sdp: String,
    /// When it was last sent.
    at: Instant,
}

/// What changes to the clients produce, and the time they happen at: datagrams to send and
/// what other clients must hear. Every change to a client's `Rtc` is drained into it at once.
struct Effects {
    now: Instant,
    out: Outbox,
    props: VecDeque<Propagate>,
}

enum Propagate {
    TrackAdded(ConnId, Mid, MediaKind),
    Media(ConnId, Arc<MediaData>),
    /// A receiver wants a keyframe: (sender, its worker, its m-line and layer, PLI or FIR).
    Keyframe(ConnId, usize, Mid, Option<Rid>, KeyframeRequestKind),
}

impl Client {
    fn send(&self, msg: ServerMessage) {
        // Not once the connection has moved to another meeting (a breakout room): an answer
        // or offer of this one would confuse its new call.
        self.link
            .push_for_room(self.room, Outbound::Text(msg.encode().into()));
    }

    /// Drain str0m's outputs until it wants a timeout (kept in `wants`): datagrams into the
    /// outbox, what other clients must hear into the propagation queue. Called after every
    /// change to the `Rtc` (str0m's contract: mutate, drain to the timeout, mutate again).
    fn drive(&mut self, fx: &mut Effects) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.wants = t;
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    fx.out.push_from(t.source, t.destination, t.contents.into());
                }
                Ok(Output::Event(e)) => self.event(e, fx),
                Err(e) => {
                    tracing::info!(
                        conn = self.conn.0,
                        error = error_kind(&e),
                        "media connection failed"
                    );
                    self.rtc.disconnect();
                    self.wants = fx.now + Duration::from_millis(100);
                    return;
                }
            }
        }
    }

    /// One event from str0m, inside a drain (changes made here are drained by the same loop).
    fn event(&mut self, e: Event, fx: &mut Effects) {
        let props = &mut fx.props;
        match e {
            Event::IceConnectionStateChange(state) => {
                // A path that stops answering is not the end: the participant may restart ICE
                // from another address (a changed network) over signaling, and this `Rtc` takes
                // it up. It goes when the participant leaves the meeting.
                tracing::debug!(conn = self.conn.0, ?state, "media connection");
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
                // A gap in audio needs no keyframe (Opus concealment and FEC fill it).
                if !d.contiguous && d.params.spec().codec.is_video() {
                    self.ask_keyframe(d.mid, d.rid, KeyframeRequestKind::Fir, fx.now);
                }
                props.push_back(Propagate::Media(self.conn, Arc::new(d)));
            }
            // A receiver report on video it is sent: its downlink, judged by the loss.
            Event::MediaEgressStats(s) => {
                let video =
                    |v: &Slot| v.kind == MediaKind::Video && v.state == OutState::Open(s.mid);
                if let Some(loss) = s.loss
                    && self.slots.iter().any(video)
                {
                    let height = self
                        .slots
                        .iter()
                        .filter(|v| v.kind == MediaKind::Video)
                        .map(|v| v.height)
                        .max()
                        .unwrap_or(0);
                    if self.downlink.report(loss, height, fx.now) {
                        tracing::debug!(
                            conn = self.conn.0,
                            loss,
                            cap = ?self.downlink.cap(),
                            "downlink: tallest picture sent"
                        );
                    }
                }
            }
            Event::KeyframeRequest(r) => {
                let carried = self
                    .slots
                    .iter()
                    .find(|s| s.state == OutState::Open(r.mid))
                    .and_then(|s| s.carrying.map(|c| (c, s.layer)));
                if let Some(((origin, mid), layer)) = carried
                    && let Some(t) = self
                        .tracks_out
                        .iter()
                        .find(|t| t.origin == origin && t.origin_mid == mid)
                {
                    props.push_back(Propagate::Keyframe(
                        t.origin,
                        t.origin_worker,
                        t.origin_mid,
                        layer,
                        r.kind,
                    ));
                }
            }
            _ => {}
        }
    }

    /// The simulcast layers its video m-lines said it sends.
    fn simulcast_rids(&self) -> Vec<Rid> {
        let mut out = Vec::new();
        for (mid, kind, _) in &self.tracks_in {
            if *kind != MediaKind::Video {
                continue;
            }
            if let Some(str0m::media::Rids::Specific(rids)) =
                self.rtc.media(*mid).map(|m| m.rids_rx())
            {
                out.extend(rids.iter().take(layers::MAX_LAYERS).copied());
            }
        }
        out
    }

    /// Ask this participant for a keyframe and drain what that produces.
    fn request_keyframe(
        &mut self,
        mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
        fx: &mut Effects,
    ) {
        if self.ask_keyframe(mid, rid, kind, fx.now) {
            self.drive(fx);
        }
    }

    /// Ask this participant for a keyframe of its track `mid`, layer `rid` (`None` on a
    /// simulcast track: of every layer), at most once per [`KEYFRAME_REQUEST_GAP`] per layer
    /// (one that comes sooner is sent when the gap has passed); whether the `Rtc` was changed
    /// (and must be drained).
    fn ask_keyframe(
        &mut self,
        mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) -> bool {
        if rid.is_none()
            && let Some(str0m::media::Rids::Specific(rids)) =
                self.rtc.media(mid).map(|m| m.rids_rx())
            && !rids.is_empty()
        {
            let rids: Vec<Rid> = rids.iter().take(layers::MAX_LAYERS).copied().collect();
            let mut asked = false;
            for rid in rids {
                asked |= self.ask_keyframe(mid, Some(rid), kind, now);
            }
            return asked;
        }
        let key = (mid, rid);
        if self
            .last_keyframe_request
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < KEYFRAME_REQUEST_GAP)
        {
            self.deferred_keyframe.entry(key).or_insert(kind);
            return false;
        }
        self.deferred_keyframe.remove(&key);
        if let Some(mut w) = self.rtc.writer(mid)
            && w.is_request_keyframe_possible(kind)
            && w.request_keyframe(rid, kind).is_ok()
        {
            // Throttle only requests that went out: one made too early must not block the next.
            self.last_keyframe_request.insert(key, now);
            return true;
        }
        false
    }

    /// Send the keyframe requests that were held back, once their gap has passed.
    fn send_deferred_keyframe_requests(&mut self, fx: &mut Effects) {
        let now = fx.now;
        if self.deferred_keyframe.is_empty() {
            return;
        }
        let due: Vec<((Mid, Option<Rid>), KeyframeRequestKind)> = self
            .deferred_keyframe
            .iter()
            .filter(|(key, _)| {
                self.last_keyframe_request
                    .get(key)
                    .is_none_or(|t| now.duration_since(*t) >= KEYFRAME_REQUEST_GAP)
            })
            .map(|(key, k)| (*key, *k))
            .collect();
        for ((mid, rid), kind) in due {
            self.request_keyframe(mid, rid, kind, fx);
        }
    }

    /// Offer the participant the tracks it should receive but does not have yet; whether an
    /// offer was made.
    fn negotiate(&mut self, fx: &mut Effects) -> bool {
        if self.pending.is_some() {
            if let Some(o) = &mut self.offered
                && fx.now.saturating_duration_since(o.at) >= OFFER_AGAIN
            {
                o.at = fx.now;
                tracing::debug!(conn = self.conn.0, "offer unanswered: sent again");
                let sdp = o.sdp.clone();
                self.send(ServerMessage::SdpOffer { sdp });
                return true;
            }
            return false;
        }
        if !self.rtc.is_connected() || !self.slots.iter().any(|v| v.state == OutState::ToOpen) {
            return false;
        }
        let mut change = self.rtc.sdp_api();
        for v in &mut self.slots {
            if v.state == OutState::ToOpen {
                let stream = if v.kind == MediaKind::Audio {
                    VOICES_STREAM
                } else {
                    VIDEO_STREAM
                };
                let mid = change.add_media(
                    v.kind,
                    Direction::SendOnly,
                    Some(stream.to_owned()),
                    None,
                    None,
                );
                v.state = OutState::Negotiating(mid);
            }
        }
        let applied = change.apply();
        self.drive(fx);
        match applied {
            Some((offer, pending)) => {
                self.pending = Some(pending);
                tracing::trace!(conn = self.conn.0, slots = self.slots.len(), "offer sent");
                let sdp = offer.to_sdp_string();
                self.offered = Some(Offered {
                    sdp: sdp.clone(),
                    at: fx.now,
                });
                self.send(ServerMessage::SdpOffer { sdp });
                true
            }
            None => false,
        }
    }

    /// Rebuild the index of the video each open slot carries (after a slot opened or its
    /// sender changed).
    fn reindex(&mut self) {
        self.open = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == MediaKind::Video)
            .filter_map(|(i, s)| match (s.state, s.carrying) {
                (OutState::Open(_), Some(track)) => Some((track, i)),
                _ => None,
            })
            .collect();
    }

    /// Map the video this receiver is to be shown onto its video slots: a slot whose sender is
    /// no longer shown (or gone) is freed, each shown track without a slot takes a free open
    /// one (and resumes at its sender's next keyframe), and slots are added (up to
    /// [`MAX_VIDEO_SLOTS`]) for those still without. Shown: the senders `video_from` names,
    /// or everyone, in the order their video started. Returns the tracks that got a slot,
    /// whose senders are to be asked for a keyframe: (sender, its worker, its m-line).
    fn assign_video(&mut self) -> Vec<(ConnId, usize, Mid)> {
        let shown: Vec<(ConnId, Mid)> = self
            .tracks_out
            .iter()
            .filter(|t| {
                self.video_from
                    .as_ref()
                    .is_none_or(|s| s.contains(&t.sender))
            })
            .map(|t| (t.origin, t.origin_mid))
            .collect();
        let mut changed = false;
        for s in &mut self.slots {
            if s.kind == MediaKind::Video && s.carrying.is_some_and(|t| !shown.contains(&t)) {
                s.carrying = None;
                s.layer = None;
                s.synced = false;
                changed = true;
            }
        }
        let mut placed = Vec::new();
        let mut waiting = 0usize;
        for track in shown {
            if self.slots.iter().any(|s| s.carrying == Some(track)) {
                continue;
            }
            let free = self.slots.iter_mut().find(|s| {
                s.kind == MediaKind::Video
                    && matches!(s.state, OutState::Open(_))
                    && s.carrying.is_none()
            });
            match free {
                Some(s) => {
                    s.carrying = Some(track);
                    s.layer = None;
                    s.synced = false;
                    changed = true;
                    if let Some(t) = self
                        .tracks_out
                        .iter()
                        .find(|t| (t.origin, t.origin_mid) == track)
                    {
                        placed.push((t.origin, t.origin_worker, t.origin_mid));
                    }
                }
                None => waiting += 1,
            }
        }
        // Slots on their way (offered, not answered yet) will take the waiting ones.
        let coming = self
            .slots
            .iter()
            .filter(|s| s.kind == MediaKind::Video && !matches!(s.state, OutState::Open(_)))
            .count();
        let video_slots = self
            .slots
            .iter()
            .filter(|s| s.kind == MediaKind::Video)
            .count();
        let more = waiting
            .saturating_sub(coming)
            .min(MAX_VIDEO_SLOTS.saturating_sub(video_slots));
        for _ in 0..more {
            self.slots.push(Slot::new(MediaKind::Video));
        }
        if changed {
            self.reindex();
        }
        placed
    }

    /// Whether this receiver shows `sender` larger than the rest (a spotlight, a presenter,
    /// a screen share): one of its main pictures, kept when its worker sheds.
    fn shows_larger(&self, sender: ParticipantId) -> bool {
        let h = &self.heights;
        h.by.get(&sender)
            .is_some_and(|&own| h.default.is_some_and(|rest| own > rest))
    }

    /// A frame of `origin`'s video is not written here (its worker sheds): the slot that
    /// carries it starts again at a keyframe when it is forwarded again. Whether the frame
    /// would have been written (of a simulcast track, the layer the slot forwards).
    fn pause(&mut self, origin: ConnId, data: &MediaData) -> bool {
        let Some(&i) = self.open.get(&(origin, data.mid)) else {
            return false;
        };
        let slot = &mut self.slots[i];
        let counts = data.rid.is_none() || slot.layer.is_none() || slot.layer == data.rid;
        slot.synced = false;
        counts
    }

    /// Write a video frame from `origin` (participant `sender`) to this receiver, on the slot
    /// that carries it, and drain the packets it makes. Of a simulcast track (`layers` of it
    /// known) only the layer the slot forwards goes out; it moves to the layer that fits the
    /// receiver's tile at that layer's keyframe, asked for meanwhile.
    fn forward(
        &mut self,
        origin: ConnId,
        sender: ParticipantId,
        data: &MediaData,
        layers: Option<&Layers>,
        fx: &mut Effects,
    ) -> Forwarded {
        let Some(&i) = self.open.get(&(origin, data.mid)) else {
            return Forwarded::Not;
        };
        let key = data.is_keyframe();
        let slot = &mut self.slots[i];
        let mut wanted = None;
        match (data.rid, layers) {
            (Some(rid), Some(layers)) => {
                if !layers.knows(rid) {
                    return Forwarded::Not;
                }
                let cap = self.downlink.cap();
                let target = layers.choose_within(self.heights.of(sender), cap, fx.now);
                if target != slot.layer || !slot.synced {
                    wanted = target.map(Some);
                }
                // A layer its downlink cannot carry is not sent on while the lower one's
                // keyframe comes: the queue before the receiver drains, and that keyframe gets
                // through (the pictures of the layer it had were breaking up anyway).
                if slot.synced
                    && slot.layer == Some(rid)
                    && target.is_some_and(|t| t != rid)
                    && cap.is_some_and(|c| slot.height > c)
                {
                    return wanted.map_or(Forwarded::Not, Forwarded::Waiting);
                }
                if !(slot.synced && slot.layer == Some(rid)) {
                    if target != Some(rid) || !key {
                        return wanted.map_or(Forwarded::Not, Forwarded::Waiting);
                    }
                    slot.layer = Some(rid);
                    slot.height = layers.height(rid);
                    slot.synced = true;
                    wanted = None;
                }
            }
            _ => {
                if !slot.synced {
                    if !key {
                        return Forwarded::Waiting(None);
                    }
                    slot.synced = true;
                }
            }
        }
        let OutState::Open(mid) = slot.state else {
            return Forwarded::Not;
        };
        let time = slot
            .timeline
            .map((origin.0, data.rid), data.time, data.network_time);
        self.write(mid, sender, data, time, fx);
        match wanted {
            Some(rid) => Forwarded::WrittenWaiting(rid),
            None => Forwarded::Written,
        }
    }

    /// Write a frame of `sender`'s on this receiver's m-line `mid` at `time`, naming the
    /// sender (and, for audio, keeping its level), and drain the packets it makes; whether it
    /// was written.
    fn write(
        &mut self,
        mid: Mid,
        sender: ParticipantId,
        data: &MediaData,
        time: MediaTime,
        fx: &mut Effects,
    ) -> bool {
        let Some(writer) = self.rtc.writer(mid) else {
            return false;
        };
        let Some(pt) = writer.match_params(data.params) else {
            return false;
        };
        let mut writer = writer;
        if self.names_sender {
            writer = writer.user_extension_value(SenderOf(sender.0));
        }
        if let Some(level) = data.ext_vals.audio_level {
            writer = writer.audio_level(level, data.ext_vals.voice_activity.unwrap_or(false));
        }
        if let Err(e) = writer.write(pt, data.network_time, time, data.data.clone()) {
            tracing::info!(
                conn = self.conn.0,
                error = error_kind(&e),
                "forwarding failed"
            );
        }
        self.drive(fx);
        true
    }

    /// Write an audio frame from `origin` (participant `sender`) into one of this receiver's
    /// voice slots (the one that carries it, else one that carries nobody still to `keep`: a
    /// chosen speaker or a presenter) and drain; whether anything was written (all slots busy
    /// with voices to keep: nothing).
    fn forward_voice(
        &mut self,
        origin: ConnId,
        sender: ParticipantId,
        data: &MediaData,
        keep: &dyn Fn(ConnId) -> bool,
        fx: &mut Effects,
    ) -> bool {
        let open = |v: &Slot| v.kind == MediaKind::Audio && matches!(v.state, OutState::Open(_));
        let slot = match self
            .slots
            .iter()
            .position(|v| open(v) && v.carrying.is_some_and(|c| c.0 == origin))
        {
            Some(i) => i,
            None => {
                let free = self
                    .slots
                    .iter()
                    .position(|v| open(v) && v.carrying.is_none_or(|c| !keep(c.0)));
                let Some(i) = free else {
                    return false;
                };
                self.slots[i].carrying = Some((origin, data.mid));
                i
            }
        };
        let OutState::Open(mid) = self.slots[slot].state else {
            return false;
        };
        self.write(mid, sender, data, data.time, fx)
    }
}

/// What became of a video frame for one receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forwarded {
    /// Not for it (not shown, or a layer it does not get).
    Not,
    /// Written.
    Written,
    /// Written, and it waits for a keyframe of this layer of the track (to move to it).
    WrittenWaiting(Option<Rid>),
    /// Held back until a keyframe of this layer of the track.
    Waiting(Option<Rid>),
}

/// Voice slots a receiver has beyond the loudest voices, for presenters (people a host put on
/// the stage), who are heard whether or not among the loudest.
pub const PRESENTER_SLOTS: usize = 2;

/// A receiver's voice slots, to be offered: one for each of the `n` loudest voices, and
/// [`PRESENTER_SLOTS`] more.
fn voice_slots(n: usize) -> impl Iterator<Item = Slot> {
    (0..n + PRESENTER_SLOTS).map(|_| Slot::new(MediaKind::Audio))
}

/// One media worker: its socket, its clients and their indexes. Nothing here is found by
/// walking all clients: a datagram's client by its address (or, for a STUN request from a new
/// address, by the ICE username it names), a meeting's clients by the meeting, a receiver's
/// track by (sender, m-line), the next timer from a heap.
struct Sfu {
    /// Where datagrams go when the outbox is flushed, one socket per local address (none:
    /// they stay there, for tests).
    wires: Vec<Arc<UdpSocket>>,
    /// The local addresses clients reach this worker at (the ICE candidates announced), the
    /// main one first.
    addrs: Vec<SocketAddr>,
    clients: HashMap<ConnId, Client>,
    /// Meeting → its clients on this worker, in the order they came.
    rooms: HashMap<u64, Vec<ConnId>>,
    /// Remote address → the client its datagrams go to.
    routes: HashMap<SocketAddr, ConnId>,
    /// Our ICE username fragment → the client it belongs to.
    ufrags: HashMap<String, ConnId>,
    /// (when, whom): each client's next timer, earliest first; entries a client no longer
    /// has are skipped when they come up.
    timers: BinaryHeap<Reverse<(Instant, ConnId)>>,
    /// Datagrams to send (in batches), what is to propagate, and the time.
    fx: Effects,
    /// Connections whose audio is not forwarded (hard-muted by a host).
    audio_blocked: HashSet<ConnId>,
    /// Connections whose voice is forwarded beyond the loudest (presenters: on the stage).
    presenters: HashSet<ConnId>,
    /// Connections none of whose media is forwarded (off the stage in event mode): their
    /// tracks are not offered to anyone.
    media_blocked: HashSet<ConnId>,
    /// The newest media controls set by the rooms.
    controls: Arc<Controls>,
    /// This worker's number.
    me: usize,
    /// The other workers and the directory of who carries which meeting.
    mesh: Arc<Mesh>,
    /// Meeting → the other workers carrying it (its frames are handed to them).
    carriers: HashMap<u64, Vec<usize>>,
    /// Keyframe requests sent to other workers, by (sender, m-line): when, at most one per
    /// [`KEYFRAME_REQUEST_GAP`] (a receiver's flood of requests must not flood the channel).
    remote_keyframe: HashMap<(ConnId, Mid, Option<Rid>), Instant>,
    /// Requests that came too soon: (sender's worker, kind), sent when the gap has passed.
    remote_deferred: HashMap<(ConnId, Mid, Option<Rid>), (usize, KeyframeRequestKind)>,
    /// The simulcast layers of each sender's video track seen here, by (sender, m-line).
    layers: HashMap<(ConnId, Mid), Layers>,
    /// Which layers receivers want, so that senders send only those.
    demand: Demand,
    /// Voices forwarded at once per meeting.
    voices: usize,
    /// Meeting (with participants on this worker) → its speakers and whose audio is heard.
    speakers: HashMap<u64, Speakers>,
    /// Presenters whose voice was seen here lately (this worker's and other workers'): their
    /// voice slot at a receiver is theirs, as a chosen speaker's is.
    voiced_presenters: HashSet<ConnId>,
    /// What this worker sheds when over its capacity (voices go first).
    shedding: Shedding,
    /// Datagrams received since the start, and (received, sent, dropped) at the last second.
    received: u64,
    counted: (u64, u64, u64),
}

impl Sfu {
    fn new(
        wire: Option<Arc<UdpSocket>>,
        addr: SocketAddr,
        me: usize,
        controls: Arc<Controls>,
        mesh: Arc<Mesh>,
        voices: usize,
    ) -> Self {
        Sfu {
            wires: wire.into_iter().collect(),
            addrs: vec![addr],
            clients: HashMap::new(),
            rooms: HashMap::new(),
            routes: HashMap::new(),
            ufrags: HashMap::new(),
            timers: BinaryHeap::new(),
            fx: Effects {
                now: Instant::now(),
                out: Outbox::from_sources(vec![addr]),
                props: VecDeque::new(),
            },
            audio_blocked: HashSet::new(),
            presenters: HashSet::new(),
            media_blocked: HashSet::new(),
            controls,
            me,
            mesh,
            carriers: HashMap::new(),
            remote_keyframe: HashMap::new(),
            remote_deferred: HashMap::new(),
            layers: HashMap::new(),
            demand: Demand::default(),
            voices,
            speakers: HashMap::new(),
            voiced_presenters: HashSet::new(),
            shedding: Shedding::default(),
            received: 0,
            counted: (0, 0, 0),
        }
    }

    /// The second that ended had this worker busy `busy` of it (0 to 1): shed pictures when
    /// over capacity, or take them back (see [`shedding`]).
    fn second(&mut self, busy: f64) {
        let now = (self.received, self.fx.out.sent(), self.fx.out.dropped());
        let (received, sent, dropped) = (
            now.0 - self.counted.0,
            now.1 - self.counted.1,
            now.2 - self.counted.2,
        );
        self.counted = now;
        tracing::debug!(
            worker = self.me,
            busy,
            received,
            sent,
            dropped,
            level = self.shedding.level(),
            "media worker's second"
        );
        if let Some(level) = self.shedding.second(busy) {
            let what = match level {
                0 => "every picture forwarded again",
                1 => "over capacity: each receiver gets only its main pictures and the voices",
                _ => "over capacity: voices only",
            };
            tracing::info!(worker = self.me, level, busy, "{what}");
            let told = self.load_message();
            for c in self.clients.values() {
                c.send(told.clone());
            }
        }
    }

    /// What this worker sheds, as its participants are told.
    fn load_message(&self) -> ServerMessage {
        ServerMessage::ServerLoad {
            shedding: match self.shedding.level() {
                0 => Told::None,
                1 => Told::MainVideo,
                _ => Told::VoicesOnly,
            },
        }
    }

    /// Also listen on `addr` (another address of this machine), through `socket`.
    fn also_on(&mut self, socket: Arc<UdpSocket>, addr: SocketAddr) {
        self.wires.push(socket);
        self.addrs.push(addr);
        self.fx.out = Outbox::from_sources(self.addrs.clone());
    }

    fn client(&mut self, conn: ConnId) -> Option<&mut Client> {
        self.clients.get_mut(&conn)
    }

    /// Forget a client and every index entry that leads to it.
    fn remove(&mut self, conn: ConnId) -> Option<Client> {
        let c = self.clients.remove(&conn)?;
        if let Some(members) = self.rooms.get_mut(&c.room) {
            members.retain(|m| *m != conn);
            if members.is_empty() {
                self.rooms.remove(&c.room);
                self.speakers.remove(&c.room);
            }
        }
        for a in &c.addrs {
            if self.routes.get(a) == Some(&conn) {
                self.routes.remove(a);
            }
        }
        if self.ufrags.get(&c.ufrag) == Some(&conn) {
            self.ufrags.remove(&c.ufrag);
        }
        Some(c)
    }

    /// Drop a client (it left, or its media connection died): its tracks stop at once for
    /// the others in its meeting, here and on the other workers carrying it; they are told by
    /// an offer that stops the m-lines, so their apps can drop the tiles.
    fn drop_client(&mut self, conn: ConnId, dirty: &mut HashSet<ConnId>) {
        let Some(gone) = self.remove(conn) else {
            return;
        };
        let (room, me) = (gone.room, self.me);
        self.mesh.change(|dir| ((), dir.leave(room, me, conn)));
        if !self.rooms.contains_key(&room) {
            self.carriers.remove(&room);
        }
        self.origin_gone(room, conn, dirty);
    }

    /// `origin` left `room`: stop its tracks for this worker's receivers.
    fn origin_gone(&mut self, room: u64, origin: ConnId, dirty: &mut HashSet<ConnId>) {
        self.remote_keyframe.retain(|(o, _, _), _| *o != origin);
        self.remote_deferred.retain(|(o, _, _), _| *o != origin);
        self.layers.retain(|(o, _), _| *o != origin);
        self.demand.forget(origin);
        if let Some(s) = self.speakers.get_mut(&room) {
            let was = s.dominant();
            s.forget(origin);
            if was.is_some_and(|(d, _)| d == origin) {
                self.tell_dominant(room, None);
            }
        }
        let mut placed = Vec::new();
        let Sfu { rooms, clients, .. } = self;
        for m in rooms.get(&room).map_or(&[][..], Vec::as_slice) {
            let Some(c) = clients.get_mut(m) else {
                continue;
            };
            for v in &mut c.slots {
                if v.carrying.is_some_and(|t| t.0 == origin) {
                    v.carrying = None;
                    v.layer = None;
                    v.synced = false;
                }
            }
            let before = c.tracks_out.len();
            c.tracks_out.retain(|t| t.origin != origin);
            if c.tracks_out.len() != before {
                // Someone else shown may take the freed slot.
                placed.extend(c.assign_video());
                c.reindex();
                dirty.insert(c.conn);
            }
        }
        for (o, worker, mid) in placed {
            self.keyframe_from(o, worker, mid, None, KeyframeRequestKind::Pli, dirty);
        }
    }

    /// Forward `conn`'s media or stop all of it. Stopped, its tracks go for everyone, here and
    /// on the other workers, as if it had left (its slots are freed for others); allowed again,
    /// each track that flowed is offered anew (from a keyframe).
    fn set_media_allowed(&mut self, conn: ConnId, allowed: bool, dirty: &mut HashSet<ConnId>) {
        let Some(c) = self.clients.get(&conn) else {
            if allowed {
                self.media_blocked.remove(&conn);
            } else {
                self.media_blocked.insert(conn);
            }
            return;
        };
        let flowed: Vec<(Mid, MediaKind)> = c
            .tracks_in
            .iter()
            .filter(|t| t.2)
            .map(|t| (t.0, t.1))
            .collect();
        let (room, me) = (c.room, self.me);
        // A simulcast sender encodes nothing while nobody may see it, and everything again
        // once allowed (receivers then narrow it down).
        let rids = c.simulcast_rids();
        // Blocked and now allowed, or the other way round.
        let changes = self.media_blocked.contains(&conn) == allowed;
        if !rids.is_empty() && changes {
            let send = if allowed { rids } else { Vec::new() };
            c.send(ServerMessage::SendLayers {
                rids: send.iter().map(|r| r.to_string()).collect(),
            });
        }
        if allowed {
            if self.media_blocked.remove(&conn) {
                for (mid, kind) in flowed {
                    self.fx
                        .props
                        .push_back(Propagate::TrackAdded(conn, mid, kind));
                }
                dirty.insert(conn);
            }
            return;
        }
        if self.media_blocked.insert(conn) && !flowed.is_empty() {
            self.mesh.change(|dir| ((), dir.silence(room, me, conn)));
            self.origin_gone(room, conn, dirty);
        }
    }

    /// Apply `conn`'s newest media controls.
    fn apply_controls(&mut self, conn: ConnId, dirty: &mut HashSet<ConnId>) {
        let control = self.controls.take(conn);
        if let Some(allowed) = control.audio {
            if allowed {
                self.audio_blocked.remove(&conn);
            } else {
                self.audio_blocked.insert(conn);
            }
        }
        if let Some(allowed) = control.media {
            self.set_media_allowed(conn, allowed, dirty);
        }
        if let Some(on) = control.presenter {
            if on {
                self.presenters.insert(conn);
            } else {
                self.presenters.remove(&conn);
                self.voiced_presenters.remove(&conn);
            }
        }
        if let Some(heights) = control.tile_heights
            && let Some(c) = self.clients.get_mut(&conn)
        {
            c.heights = heights;
        }
        if let Some(from) = control.video_from {
            self.video_from(conn, from, dirty);
        }
    }

    fn command(&mut self, cmd: SfuCommand, now: Instant, dirty: &mut HashSet<ConnId>) {
        self.fx.now = now;
        match cmd {
            SfuCommand::Controls { conn } => self.apply_controls(conn, dirty),
            SfuCommand::Gone { conn } => {
                self.audio_blocked.remove(&conn);
                self.media_blocked.remove(&conn);
                self.presenters.remove(&conn);
                self.drop_client(conn, dirty);
            }
            SfuCommand::Signal {
                room,
                link,
                participant,
                signal: MediaSignal::Offer(sdp),
            } => {
                dirty.insert(link.id);
                self.offer(room, link, participant, &sdp, dirty);
            }
            SfuCommand::Signal {
                link,
                signal: MediaSignal::Answer(sdp),
                ..
            } => {
                dirty.insert(link.id);
                self.answer(&link, &sdp, dirty);
            }
        }
    }

    fn offer(
        &mut self,
        room: u64,
        link: Arc<ConnLink>,
        participant: ParticipantId,
        sdp: &str,
        dirty: &mut HashSet<ConnId>,
    ) {
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
                // Receiver reports, read each second: a downlink too narrow for the layers a
                // receiver gets shows as heavy loss ([`downlink`]).
                .set_stats_interval(Some(STATS_EVERY))
                .set_extension(
                    SENDER_EXTENSION_ID,
                    str0m::rtp::Extension::with_serializer(SENDER_EXTENSION, SenderExtension),
                )
                .build(self.fx.now);
            for addr in &self.addrs {
                let Ok(candidate) = Candidate::host(*addr, "udp") else {
                    return refuse(&link);
                };
                rtc.add_local_candidate(candidate);
            }
            // The newcomer will receive every track already flowing in this meeting, on
            // this worker or another; later ones come as they start (see `mesh`).
            let me = self.me;
            let (flowing, carriers) = self.mesh.change(|dir| {
                let (flowing, out) = dir.join(room, me);
                ((flowing, dir.carriers(room, me)), out)
            });
            self.carriers.insert(room, carriers);
            let tracks_out = flowing
                .iter()
                .filter(|t| t.kind == MediaKind::Video)
                .map(TrackOut::new)
                .collect();
            // Voice slots if anyone's audio flows; video slots come as the video is mapped.
            let slots = if flowing.iter().any(|t| t.kind == MediaKind::Audio) {
                voice_slots(self.voices).collect()
            } else {
                Vec::new()
            };
            let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
            self.ufrags.insert(ufrag.clone(), conn);
            self.rooms.entry(room).or_default().push(conn);
            self.clients.insert(
                conn,
                Client {
                    conn,
                    room,
                    participant,
                    link,
                    rtc,
                    tracks_in: Vec::new(),
                    tracks_out,
                    pending: None,
                    offered: None,
                    agreed_m_lines: 0,
                    last_keyframe_request: HashMap::new(),
                    deferred_keyframe: HashMap::new(),
                    video_from: None,
                    heights: TileHeights::default(),
                    downlink: Downlink::default(),
                    wants: self.fx.now,
                    next_timeout: self.fx.now,
                    scheduled: None,
                    last_timer: self.fx.now,
                    ufrag,
                    addrs: VecDeque::new(),
                    open: HashMap::new(),
                    slots,
                    names_sender: false,
                },
            );
            if let Some(c) = self.clients.get_mut(&conn) {
                c.drive(&mut self.fx);
                // Slots for the video already flowing (offered once the connection is up).
                c.assign_video();
            }
            // Settings a host made before this participant's media started.
            self.apply_controls(conn, dirty);
            // A worker that sheds says so to whoever comes.
            if self.shedding.level() > 0
                && let Some(c) = self.clients.get(&conn)
            {
                c.send(self.load_message());
            }
            // Who speaks now, if anyone does.
            if let Some((_, who)) = self.speakers.get(&room).and_then(Speakers::dominant)
                && let Some(c) = self.clients.get(&conn)
            {
                c.send(ServerMessage::Speaker { id: Some(who) });
            }
        }
        let Some(c) = self.clients.get_mut(&conn) else {
            return;
        };
        c.names_sender = sdp.contains(SENDER_EXTENSION);
        let accepted = c.rtc.sdp_api().accept_offer(offer);
        c.drive(&mut self.fx);
        match accepted {
            Ok(answer) => {
                // A remote offer voids any offer of ours in flight: renegotiate those later.
                c.offered = None;
                if c.pending.take().is_some() {
                    for v in &mut c.slots {
                        if matches!(v.state, OutState::Negotiating(_)) {
                            v.state = OutState::ToOpen;
                        }
                    }
                }
                // A remote ICE restart may renew our credentials too.
                let ufrag = c.rtc.direct_api().local_ice_credentials().ufrag;
                if ufrag != c.ufrag {
                    let old = std::mem::replace(&mut c.ufrag, ufrag.clone());
                    self.ufrags.remove(&old);
                    self.ufrags.insert(ufrag, conn);
                }
                tracing::trace!(conn = conn.0, "offer answered");
                let sdp = answer.to_sdp_string();
                c.agreed_m_lines = m_lines(&sdp);
                c.send(ServerMessage::SdpAnswer { sdp });
            }
            Err(e) => {
                tracing::info!(conn = conn.0, error = error_kind(&e), "unusable SDP offer");
                refuse(&c.link);
            }
        }
    }

    /// Apply an answer; the senders of the tracks it opens are asked for a keyframe.
    fn answer(&mut self, link: &ConnLink, sdp: &str, dirty: &mut HashSet<ConnId>) {
        let Some(c) = self.clients.get_mut(&link.id) else {
            return;
        };
        let m_lines = m_lines(sdp);
        if m_lines <= c.agreed_m_lines {
            // Another answer to an offer sent again: the first one was applied.
            tracing::trace!(
                conn = link.id.0,
                m_lines,
                "answer to an applied offer ignored"
            );
            return;
        }
        let (Ok(answer), Some(pending)) = (SdpAnswer::from_sdp_string(sdp), c.pending.take())
        else {
            tracing::debug!(
                conn = link.id.0,
                pending = c.pending.is_some(),
                "answer refused: unreadable, or no offer of ours in flight"
            );
            c.send(ServerMessage::error(ErrorKind::InvalidValue, false));
            return;
        };
        c.offered = None;
        c.names_sender = sdp.contains(SENDER_EXTENSION);
        let accepted = c.rtc.sdp_api().accept_answer(pending, answer);
        c.drive(&mut self.fx);
        if accepted.is_err() {
            // Nothing of that offer took effect: its slots are offered again.
            for v in &mut c.slots {
                if matches!(v.state, OutState::Negotiating(_)) {
                    v.state = OutState::ToOpen;
                }
            }
            dirty.insert(link.id);
            c.send(ServerMessage::error(ErrorKind::InvalidValue, false));
            return;
        }
        tracing::trace!(conn = link.id.0, "answer accepted");
        c.agreed_m_lines = m_lines;
        let mut video = Vec::new();
        for v in &mut c.slots {
            if let OutState::Negotiating(mid) = v.state {
                v.state = OutState::Open(mid);
                if v.kind == MediaKind::Video {
                    video.push(mid);
                }
            }
        }
        // Answer this receiver's NACKs on a lossy link too (see RTX_RATIO_CAP). Video only:
        // audio is never retransmitted.
        for mid in video {
            if let Some(tx) = c.rtc.direct_api().stream_tx_by_mid(mid, None) {
                tx.set_rtx_cache(RTX_CACHE_PACKETS, RTX_CACHE_AGE, Some(RTX_RATIO_CAP));
                c.drive(&mut self.fx);
            }
        }
        // The new slots take the video waiting for them; a new viewer needs a keyframe.
        let opened = c.assign_video();
        c.reindex();
        for (origin, worker, mid) in opened {
            self.keyframe_from(origin, worker, mid, None, KeyframeRequestKind::Pli, dirty);
        }
    }

    /// Ask `origin`, whose media comes in on `worker`, for a keyframe on its track `mid`.
    /// Requests to another worker go at most once per [`KEYFRAME_REQUEST_GAP`] per track; one
    /// that comes sooner is sent when the gap has passed.
    fn keyframe_from(
        &mut self,
        origin: ConnId,
        worker: usize,
        mid: Mid,
        rid: Option<Rid>,
        kind: KeyframeRequestKind,
        dirty: &mut HashSet<ConnId>,
    ) {
        let now = self.fx.now;
        if worker == self.me {
            if let Some(o) = self.clients.get_mut(&origin) {
                o.request_keyframe(mid, rid, kind, &mut self.fx);
                dirty.insert(origin);
            }
            return;
        }
        let key = (origin, mid, rid);
        if self
            .remote_keyframe
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < KEYFRAME_REQUEST_GAP)
        {
            self.remote_deferred.entry(key).or_insert((worker, kind));
            return;
        }
        self.remote_deferred.remove(&key);
        if self.remote_keyframe.len() >= REMOTE_KEYFRAME_ENTRIES {
            self.remote_keyframe
                .retain(|_, t| now.duration_since(*t) < KEYFRAME_REQUEST_GAP);
        }
        self.remote_keyframe.insert(key, now);
        self.mesh.tell(
            worker,
            Peer::Keyframe {
                origin,
                mid,
                rid,
                kind,
            },
        );
    }

    /// Send the keyframe requests to other workers that were held back, once their gap has
    /// passed.
    fn send_deferred_remote_keyframes(&mut self, dirty: &mut HashSet<ConnId>) {
        if self.remote_deferred.is_empty() {
            return;
        }
        let now = self.fx.now;
        let due: Vec<_> = self
            .remote_deferred
            .iter()
            .filter(|(key, _)| {
                self.remote_keyframe
                    .get(key)
                    .is_none_or(|t| now.duration_since(*t) >= KEYFRAME_REQUEST_GAP)
            })
            .map(|(key, v)| (*key, *v))
            .collect();
        for ((origin, mid, rid), (worker, kind)) in due {
            self.keyframe_from(origin, worker, mid, rid, kind, dirty);
        }
    }

    /// A receiver changed whose video it wants: senders it wants again resume at their next
    /// keyframe, which they are asked for now.
    fn video_from(
        &mut self,
        conn: ConnId,
        from: Option<Vec<ParticipantId>>,
        dirty: &mut HashSet<ConnId>,
    ) {
        let Some(c) = self.clients.get_mut(&conn) else {
            return;
        };
        c.video_from = from.map(|ids| ids.into_iter().collect());
        // Who is shown changed: slots are remapped; those shown again resume at a keyframe.
        let placed = c.assign_video();
        dirty.insert(conn);
        for (origin, worker, mid) in placed {
            self.keyframe_from(origin, worker, mid, None, KeyframeRequestKind::Pli, dirty);
        }
    }

    /// A track started flowing in `room`: offer it to this worker's receivers there that do
    /// not have it yet.
    fn track_added(&mut self, room: u64, track: Flowing, dirty: &mut HashSet<ConnId>) {
        let mut placed = Vec::new();
        let Sfu {
            rooms,
            clients,
            voices,
            ..
        } = self;
        for m in rooms.get(&room).map_or(&[][..], Vec::as_slice) {
            let Some(c) = clients.get_mut(m) else {
                continue;
            };
            if c.conn == track.origin {
                continue;
            }
            // Voices come in the receiver's voice slots, made once.
            if track.kind == MediaKind::Audio {
                if !c.slots.iter().any(|s| s.kind == MediaKind::Audio) {
                    c.slots.extend(voice_slots(*voices));
                    dirty.insert(c.conn);
                }
                continue;
            }
            if c.tracks_out
                .iter()
                .any(|t| t.origin == track.origin && t.origin_mid == track.mid)
            {
                continue;
            }
            dirty.insert(c.conn);
            c.tracks_out.push(TrackOut::new(&track));
            placed.extend(c.assign_video());
        }
        for (origin, worker, mid) in placed {
            self.keyframe_from(origin, worker, mid, None, KeyframeRequestKind::Pli, dirty);
        }
    }

    /// Forward a frame of `origin` (participant `sender`) to this worker's receivers in
    /// `room`; the layers of its track (`None`: the one there is) of which a receiver waits
    /// for a keyframe.
    #[allow(clippy::too_many_arguments)]
    fn fan_out(
        &mut self,
        room: u64,
        origin: ConnId,
        origin_worker: usize,
        sender: ParticipantId,
        audio: bool,
        data: &MediaData,
        dirty: &mut HashSet<ConnId>,
    ) -> Vec<Option<Rid>> {
        let mut waiting = Vec::new();
        let Sfu {
            rooms,
            clients,
            fx,
            wires,
            speakers,
            layers,
            voiced_presenters,
            presenters,
            shedding,
            ..
        } = self;
        let chosen = speakers.get(&room).map_or(&[][..], Speakers::chosen);
        let dominant = speakers
            .get(&room)
            .and_then(Speakers::dominant)
            .map(|(c, _)| c);
        // Shedding level 1 keeps a presenter's and the dominant speaker's pictures for
        // everyone; level 2 keeps no pictures.
        let shed_level = shedding.level();
        let main_for_all = dominant == Some(origin)
            || presenters.contains(&origin)
            || voiced_presenters.contains(&origin);
        let keep = |c: ConnId| chosen.contains(&c) || voiced_presenters.contains(&c);
        let layers = match data.rid {
            Some(rid) if !audio => {
                let l = layers
                    .entry((origin, data.mid))
                    .or_insert_with(|| Layers::new(sender, origin_worker));
                l.saw(rid, &data.data, fx.now);
                Some(&*l)
            }
            _ => None,
        };
        for m in rooms.get(&room).map_or(&[][..], Vec::as_slice) {
            let Some(c) = clients.get_mut(m) else {
                continue;
            };
            if c.conn == origin {
                continue;
            }
            let written = if audio {
                c.forward_voice(origin, sender, data, &keep, fx)
            } else {
                if c.video_from.as_ref().is_some_and(|s| !s.contains(&sender)) {
                    continue;
                }
                if shed_level > 0 {
                    // The lowest level that sheds this picture for this receiver.
                    let from = if main_for_all || c.shows_larger(sender) {
                        2
                    } else {
                        1
                    };
                    if shed_level >= from {
                        if c.pause(origin, data) {
                            shedding.shed(from);
                        }
                        continue;
                    }
                }
                let f = c.forward(origin, sender, data, layers, fx);
                if let Forwarded::Waiting(rid) | Forwarded::WrittenWaiting(rid) = f
                    && !waiting.contains(&rid)
                {
                    waiting.push(rid);
                }
                matches!(f, Forwarded::Written | Forwarded::WrittenWaiting(_))
            };
            if written {
                shedding.wrote();
                dirty.insert(c.conn);
                if fx.out.len() >= FLUSH_AT && !wires.is_empty() {
                    fx.out.flush(wires);
                }
            }
        }
        waiting
    }

    /// Whether an audio packet of `origin` in `room` is forwarded: it is one of the loudest
    /// voices (the packet's level updates the meeting's speakers).
    /// A change of dominant speaker is told to this worker's participants in the meeting.
    fn heard(
        &mut self,
        room: u64,
        origin: ConnId,
        sender: ParticipantId,
        data: &MediaData,
        presenter: bool,
    ) -> bool {
        if !self.rooms.contains_key(&room) {
            return false;
        }
        let voices = self.voices;
        let speakers = self
            .speakers
            .entry(room)
            .or_insert_with(|| Speakers::new(voices));
        let before = speakers.dominant();
        let heard = speakers.hear(origin, sender, data.ext_vals.audio_level, self.fx.now);
        let after = speakers.dominant();
        if after != before {
            self.tell_dominant(room, after.map(|(_, who)| who));
        }
        // A presenter is heard whether or not among the loudest (and still counts for them).
        // Touched only on a change (this runs for every audio packet; most meetings have no
        // presenter, and then the set stays empty).
        if presenter {
            if !self.voiced_presenters.contains(&origin) {
                self.voiced_presenters.insert(origin);
            }
        } else if !self.voiced_presenters.is_empty() {
            self.voiced_presenters.remove(&origin);
        }
        heard || presenter
    }

    /// Tell this worker's participants in `room` who the dominant speaker is now.
    fn tell_dominant(&self, room: u64, id: Option<ParticipantId>) {
        for m in self.rooms.get(&room).map_or(&[][..], Vec::as_slice) {
            if let Some(c) = self.clients.get(m) {
                c.send(ServerMessage::Speaker { id });
            }
        }
    }

    /// A frame from another worker.
    fn handoff(&mut self, h: Handoff, now: Instant, dirty: &mut HashSet<ConnId>) {
        self.fx.now = now;
        if h.audio && !self.heard(h.room, h.origin, h.sender, &h.data, h.presenter) {
            return;
        }
        let (room, origin, from) = (h.room, h.origin, h.from);
        for rid in self.fan_out(room, origin, from, h.sender, h.audio, &h.data, dirty) {
            self.keyframe_from(
                h.origin,
                h.from,
                h.data.mid,
                rid,
                KeyframeRequestKind::Pli,
                dirty,
            );
        }
    }

    /// A message from another worker.
    fn peer(&mut self, msg: Peer, now: Instant, dirty: &mut HashSet<ConnId>) {
        self.fx.now = now;
        let me = self.me;
        match msg {
            Peer::Carriers { room } => {
                if self.rooms.contains_key(&room) {
                    let carriers = self.mesh.read(|d| d.carriers(room, me));
                    self.carriers.insert(room, carriers);
                }
            }
            // Only if the track still flows: the message may be older than this worker's view
            // (its sender left while this worker did not carry the meeting).
            Peer::TrackAdded { room, track } => {
                if self.rooms.contains_key(&room) && self.mesh.read(|d| d.flows(room, &track)) {
                    self.track_added(room, track, dirty);
                }
            }
            Peer::OriginGone { room, origin } => self.origin_gone(room, origin, dirty),
            Peer::Keyframe {
                origin,
                mid,
                rid,
                kind,
            } => {
                if let Some(o) = self.clients.get_mut(&origin) {
                    o.request_keyframe(mid, rid, kind, &mut self.fx);
                    dirty.insert(origin);
                }
            }
            Peer::Wants {
                origin,
                mid,
                worker,
                rids,
            } => {
                if self.clients.contains_key(&origin) {
                    self.demand.wants((origin, mid), worker, rids);
                }
            }
        }
    }

    fn propagate(&mut self, p: Propagate, dirty: &mut HashSet<ConnId>) {
        match p {
            Propagate::TrackAdded(origin, mid, kind) => {
                if self.media_blocked.contains(&origin) {
                    // Not offered while blocked: offered when it is allowed again.
                    return;
                }
                let Some(o) = self.clients.get(&origin) else {
                    return;
                };
                let room = o.room;
                let track = Flowing {
                    origin,
                    sender: o.participant,
                    mid,
                    kind,
                    worker: self.me,
                };
                self.mesh.change(|dir| ((), dir.track(room, track)));
                self.track_added(room, track, dirty);
            }
            Propagate::Media(origin, data) => {
                if self.media_blocked.contains(&origin) {
                    return;
                }
                let Some(o) = self.clients.get(&origin) else {
                    return;
                };
                let (room, sender) = (o.room, o.participant);
                let audio = o
                    .tracks_in
                    .iter()
                    .any(|(mid, kind, _)| *mid == data.mid && *kind == MediaKind::Audio);
                if audio && self.audio_blocked.contains(&origin) {
                    return;
                }
                // Every worker carrying the meeting sees all its audio and chooses alike.
                let presenter = self.presenters.contains(&origin);
                let heard = !audio || self.heard(room, origin, sender, &data, presenter);
                // Someone waits for this sender's keyframe: ask again (at most every
                // KEYFRAME_REQUEST_GAP). A request that was throttled, or a keyframe that
                // went by before the receiver started waiting, would otherwise leave it
                // without video until the sender happens to send one.
                if heard {
                    let me = self.me;
                    let waiting = self.fan_out(room, origin, me, sender, audio, &data, dirty);
                    if !waiting.is_empty()
                        && let Some(o) = self.clients.get_mut(&origin)
                    {
                        for rid in waiting {
                            o.request_keyframe(
                                data.mid,
                                rid,
                                KeyframeRequestKind::Pli,
                                &mut self.fx,
                            );
                        }
                        dirty.insert(origin);
                    }
                }
                // Once to each other worker carrying the meeting, for its receivers.
                for &w in self.carriers.get(&room).map_or(&[][..], Vec::as_slice) {
                    self.mesh.hand(
                        w,
                        Handoff {
                            room,
                            origin,
                            sender,
                            from: self.me,
                            audio,
                            presenter,
                            data: data.clone(),
                        },
                    );
                }
            }
            Propagate::Keyframe(origin, worker, mid, rid, kind) => {
                self.keyframe_from(origin, worker, mid, rid, kind, dirty);
            }
        }
    }
}

/// The local ICE username fragment a STUN message names: its USERNAME attribute is
/// `<our ufrag>:<their ufrag>` (RFC 8445 7.2.2). `None` for anything that is not a STUN
/// message with a USERNAME.
fn stun_local_ufrag(data: &[u8]) -> Option<&str> {
    const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
    const USERNAME: u16 = 0x0006;
    if data.len() < 20 || data[0] & 0xc0 != 0 || data[4..8] != MAGIC_COOKIE {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let body = data.get(20..20 + len)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let n = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let value = body.get(at + 4..at + 4 + n)?;
        if kind == USERNAME {
            let name = std::str::from_utf8(value).ok()?;
            return name.split_once(':').map(|(ours, _)| ours);
        }
        at += 4 + n.div_ceil(4) * 4;
    }
    None
}

/// Least time between two timer turns of one client. str0m asks for one every few
/// milliseconds; each turn walks all the client's streams, so with many participants the
/// turns cost more than the forwarding (4–8 thousand a second for 30 clients; capped, the SFU
/// forwards 10–20 % more per core). Its timers (NACK, RTCP, transport feedback every 50 ms)
/// keep their meaning at this granularity.
const MIN_TIMER_GAP: Duration = Duration::from_millis(10);

/// How often str0m sums up each participant's streams (the receiver reports among them).
const STATS_EVERY: Duration = Duration::from_secs(1);

/// Datagrams queued before they are sent, at most (they go at the latest when the worker has
/// driven every client something happened to).
const FLUSH_AT: usize = 1024;

/// Most datagrams taken from the socket before the clients they concern are driven.
const RECV_BATCH: usize = 64;

impl Sfu {
    /// Hand one datagram to the client it belongs to: the one its address was routed to, or
    /// for a STUN request, the one whose ICE username it names. Anything else (junk, a
    /// stranger's packets) touches no client.
    fn receive(
        &mut self,
        data: &[u8],
        source: SocketAddr,
        now: Instant,
        dirty: &mut HashSet<ConnId>,
    ) {
        let main = self.addrs[0];
        self.receive_at(data, source, main, now, dirty);
    }

    /// [`Sfu::receive`] of a datagram that came to this worker's address `destination`.
    fn receive_at(
        &mut self,
        data: &[u8],
        source: SocketAddr,
        destination: SocketAddr,
        now: Instant,
        dirty: &mut HashSet<ConnId>,
    ) {
        self.fx.now = now;
        self.received += 1;
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents,
            },
        );
        let routed = self.routes.get(&source).copied();
        let named = stun_local_ufrag(data).and_then(|u| self.ufrags.get(u).copied());
        let Some(conn) = [routed, named].into_iter().flatten().find(|conn| {
            self.clients
                .get(conn)
                .is_some_and(|c| c.rtc.accepts(&input))
        }) else {
            return;
        };
        if routed != Some(conn) {
            if let Some(old) = self.routes.insert(source, conn)
                && let Some(o) = self.clients.get_mut(&old)
            {
                o.addrs.retain(|a| *a != source);
            }
            if let Some(c) = self.clients.get_mut(&conn) {
                c.addrs.push_back(source);
                if c.addrs.len() > MAX_ADDRS_PER_CLIENT
                    && let Some(oldest) = c.addrs.pop_front()
                {
                    self.routes.remove(&oldest);
                }
            }
        }
        let Some(c) = self.clients.get_mut(&conn) else {
            return;
        };
        if c.rtc.handle_input(input).is_err() {
            c.rtc.disconnect();
        }
        c.drive(&mut self.fx);
        dirty.insert(conn);
        self.flush_if_full();
    }

    /// Send what is queued once it is a full batch's worth (memory stays bounded while one
    /// frame fans out to a thousand receivers).
    fn flush_if_full(&mut self) {
        if self.fx.out.len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// Send what is queued (without a socket, in tests, it stays in the outbox).
    fn flush(&mut self) {
        if !self.wires.is_empty() {
            self.fx.out.flush(&self.wires);
        }
    }

    /// Settle the clients something happened to (each was drained after every change):
    /// offer them new tracks, drop those whose media connection died, schedule their timers;
    /// propagate what they produced, until nothing more does; then send.
    fn drive_dirty(&mut self, dirty: &mut HashSet<ConnId>) {
        loop {
            for conn in dirty.drain().collect::<Vec<_>>() {
                let Some(c) = self.clients.get_mut(&conn) else {
                    continue;
                };
                c.negotiate(&mut self.fx);
                if !c.rtc.is_alive() {
                    self.drop_client(conn, dirty);
                    continue;
                }
                c.next_timeout = c.wants.max(c.last_timer + MIN_TIMER_GAP);
                if c.scheduled.is_none_or(|s| c.next_timeout < s) {
                    c.scheduled = Some(c.next_timeout);
                    self.timers.push(Reverse((c.next_timeout, conn)));
                }
                self.flush_if_full();
            }
            if self.fx.props.is_empty() && dirty.is_empty() {
                self.flush();
                break;
            }
            while let Some(p) = self.fx.props.pop_front() {
                self.propagate(p, dirty);
            }
        }
    }

    /// Give every client whose timer is due its timeout.
    fn fire_timers(&mut self, now: Instant, dirty: &mut HashSet<ConnId>) {
        self.fx.now = now;
        while let Some(&Reverse((at, conn))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(c) = self.clients.get_mut(&conn) else {
                continue;
            };
            if c.scheduled != Some(at) {
                // A stale entry: the client was rescheduled earlier and that entry fired.
                continue;
            }
            c.scheduled = None;
            if c.next_timeout > now {
                c.scheduled = Some(c.next_timeout);
                self.timers.push(Reverse((c.next_timeout, conn)));
                continue;
            }
            c.last_timer = now;
            if c.rtc.handle_input(Input::Timeout(now)).is_err() {
                c.rtc.disconnect();
            }
            c.drive(&mut self.fx);
            c.send_deferred_keyframe_requests(&mut self.fx);
            dirty.insert(conn);
        }
        self.send_deferred_remote_keyframes(dirty);
        if self.demand.due(now) {
            self.tell_demand(now);
        }
    }

    /// Work out which simulcast layers this worker's receivers want of each track they are
    /// shown, tell the tracks' workers what changed, and tell this worker's senders which
    /// layers to send where that changed ([`demand`]).
    fn tell_demand(&mut self, now: Instant) {
        let mut wants: HashMap<(ConnId, Mid), (usize, Vec<Rid>)> = HashMap::new();
        for c in self.clients.values() {
            for s in &c.slots {
                let (Some(track), MediaKind::Video) = (s.carrying, s.kind) else {
                    continue;
                };
                let Some(l) = self.layers.get(&track) else {
                    continue;
                };
                let (_, rids) = wants.entry(track).or_insert_with(|| (l.worker, Vec::new()));
                // Every layer up to the one that fits the tile (or the one it gets, if larger);
                // until a size is known, every layer.
                let ideal = l.ideal_within(c.heights.of(l.sender), c.downlink.cap());
                let want = match ideal {
                    Some(ideal) => l.up_to(s.layer.unwrap_or(ideal), ideal),
                    None => l.rids(),
                };
                for rid in want {
                    if !rids.contains(&rid) {
                        rids.push(rid);
                    }
                }
            }
        }
        for (worker, (origin, mid), rids) in self.demand.local(wants) {
            if worker == self.me {
                if self.clients.contains_key(&origin) {
                    self.demand.wants((origin, mid), worker, rids);
                }
            } else {
                let me = self.me;
                self.mesh.tell(
                    worker,
                    Peer::Wants {
                        origin,
                        mid,
                        worker: me,
                        rids,
                    },
                );
            }
        }
        for (&(origin, mid), l) in &self.layers {
            let Some(c) = self.clients.get(&origin) else {
                continue;
            };
            if let Some(send) = self.demand.decide((origin, mid), &l.rids(), now) {
                tracing::debug!(
                    conn = origin.0,
                    layers = send.len(),
                    "simulcast layers to send"
                );
                c.send(ServerMessage::SendLayers {
                    rids: send.iter().map(|r| r.to_string()).collect(),
                });
            }
        }
    }
}

/// The I/O driver of one worker: moves datagrams, commands, hand-offs and timeouts into the
/// worker's state (which takes the time as an argument and sends through its outbox).
async fn run(
    mut sfu: Sfu,
    socket: Arc<UdpSocket>,
    mut rx: mpsc::Receiver<SfuCommand>,
    mut inbox: Inbox,
    mut also: mpsc::Receiver<Arrived>,
) {
    let mut buf = vec![0u8; 2000];
    // Only clients something happened to are driven: the work per datagram does not grow with
    // the number of participants.
    let mut dirty: HashSet<ConnId> = HashSet::new();
    // How much of each second the worker waited for work; the rest it was busy (shedding).
    let mut second_from = Instant::now();
    let mut waited = Duration::ZERO;
    loop {
        sfu.drive_dirty(&mut dirty);
        let wait = sfu
            .timers
            .peek()
            .map_or(Duration::from_millis(100), |Reverse((at, _))| {
                at.saturating_duration_since(Instant::now())
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(100));
        let waiting_from = Instant::now();
        let woken = tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => Woken::Command(cmd),
                None => return,
            },
            Some(msg) = inbox.peers.recv() => Woken::Peer(msg),
            Some(h) = inbox.handoffs.recv() => Woken::Handoff(h),
            r = socket.recv_from(&mut buf) => Woken::Datagram(r),
            Some(a) = also.recv() => Woken::Also(a),
            () = tokio::time::sleep(wait) => Woken::Timer,
        };
        let now = Instant::now();
        waited += now.saturating_duration_since(waiting_from);
        match woken {
            Woken::Command(cmd) => sfu.command(cmd, now, &mut dirty),
            Woken::Peer(msg) => sfu.peer(msg, now, &mut dirty),
            Woken::Handoff(h) => {
                // Take what else has come (up to a batch), as with datagrams.
                let mut h = Some(h);
                for _ in 0..RECV_BATCH {
                    let Some(x) = h else { break };
                    sfu.handoff(x, Instant::now(), &mut dirty);
                    h = inbox.handoffs.try_recv().ok();
                }
            }
            Woken::Datagram(r) => {
                // Take what else has arrived too (up to a batch); each datagram is drained
                // into the outbox at once, and the receivers' new state is settled once per
                // batch.
                let mut r = r;
                for _ in 0..RECV_BATCH {
                    let Ok((n, source)) = r else { break };
                    sfu.receive(&buf[..n], source, Instant::now(), &mut dirty);
                    r = socket.try_recv_from(&mut buf);
                }
            }
            Woken::Also(a) => {
                let mut a = Some(a);
                for _ in 0..RECV_BATCH {
                    let Some(Arrived {
                        data,
                        source,
                        destination,
                    }) = a
                    else {
                        break;
                    };
                    sfu.receive_at(&data, source, destination, Instant::now(), &mut dirty);
                    a = also.try_recv().ok();
                }
            }
            Woken::Timer => {}
        }
        sfu.fire_timers(Instant::now(), &mut dirty);
        let elapsed = now.saturating_duration_since(second_from);
        if elapsed >= Duration::from_secs(1) {
            let busy = 1.0 - waited.as_secs_f64() / elapsed.as_secs_f64();
            sfu.second(busy.clamp(0.0, 1.0));
            second_from = now;
            waited = Duration::ZERO;
        }
    }
}

/// What woke a media worker.
enum Woken {
    Command(SfuCommand),
    Peer(Peer),
    Handoff(Handoff),
    Datagram(std::io::Result<(usize, SocketAddr)>),
    Also(Arrived),
    Timer,
}

/// A datagram that came to one of a worker's further addresses (`media_on_interfaces`).
struct Arrived {
    data: Vec<u8>,
    source: SocketAddr,
    destination: SocketAddr,
}

/// Datagrams of a further address waiting for their worker; more are dropped, as a full
/// socket buffer would.
const ALSO_QUEUE: usize = 1024;

/// Read `socket` (a further address of a worker) into `tx` until the worker is gone.
async fn read_also(socket: Arc<UdpSocket>, local: SocketAddr, tx: mpsc::Sender<Arrived>) {
    let mut buf = vec![0u8; 2000];
    loop {
        let r = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            () = tx.closed() => return,
        };
        let Ok((n, source)) = r else {
            // Errors a UDP socket reports are about earlier sends; the next read goes on.
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        };
        let arrived = Arrived {
            data: buf[..n].to_vec(),
            source,
            destination: local,
        };
        if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(arrived) {
            return;
        }
    }
}

#[cfg(test)]
mod virtual_time;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime on the test's own thread.
    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

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

    /// A media worker has a thread of its own: it answers a participant while the runtime that
    /// started it (the signaling connections') does not run at all, as when a busy worker
    /// shared that runtime and starved it (the town hall at 300: connections unread for
    /// seconds, offers never answered). As a task on that runtime it could never answer here.
    #[test]
    fn a_media_worker_answers_while_the_signaling_runtime_is_blocked() {
        let rt = current_thread();
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let sfu = rt.block_on(start(addr, &[], 1, 100, 3)).unwrap();
        let mut client = Rtc::builder().build(Instant::now());
        client.add_local_candidate(
            Candidate::host(SocketAddr::from(([127, 0, 0, 1], 9)), "udp").unwrap(),
        );
        let mut change = client.sdp_api();
        change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, _pending) = change.apply().unwrap();
        let link = ConnLink::new(ConnId(1), addr.ip(), 64);
        sfu.signal(
            7,
            link.clone(),
            ParticipantId(1),
            MediaSignal::Offer(offer.to_sdp_string()),
        );
        // This thread now blocks without running `rt`, far longer than an answer takes.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let answered = lock(&link.queue).iter().any(|o| {
                matches!(o, Outbound::Text(t) if t.as_str().starts_with(r#"{"type":"sdp_answer""#))
            });
            if answered {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no answer from the media worker while the signaling runtime was blocked: {:?}",
                lock(&link.queue)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // The worker ends with its handles.
        drop(sfu);
        drop(rt);
    }

    /// A participant who left (or was removed) is forgotten by its media worker even when the
    /// worker's queue is full: otherwise its peer connection, kept up by its ICE, would go on
    /// receiving the meeting.
    #[test]
    fn a_departure_reaches_the_media_worker_when_its_queue_is_full() {
        let rt = current_thread();
        rt.block_on(async {
            let (sfu, mut rx) = SfuHandle::detached(2);
            for conn in [1, 100, 101] {
                lock(&sfu.placement).place(7, ConnId(conn));
            }
            sfu.gone(ConnId(100));
            sfu.gone(ConnId(101));
            sfu.gone(ConnId(1));
            let mut gone = Vec::new();
            while let Ok(Some(cmd)) =
                tokio::time::timeout(Duration::from_millis(200), rx.recv()).await
            {
                if let SfuCommand::Gone { conn } = cmd {
                    gone.push(conn.0);
                }
            }
            assert_eq!(
                gone,
                [100, 101, 1],
                "every departure arrives, the last one too"
            );
            assert_eq!(lock(&sfu.placement).worker_of(ConnId(1)), None);
        });
    }

    #[test]
    fn a_hard_mute_is_never_overtaken_by_an_older_unmute_when_the_queue_is_full() {
        let rt = current_thread();
        rt.block_on(async {
            let (sfu, mut rx) = SfuHandle::detached(2);
            // Every connection here has media (a worker); the queue holds two commands.
            for conn in [1, 5, 100, 101, 102, 103] {
                lock(&sfu.placement).place(7, ConnId(conn));
            }
            // The queue is full of other connections' business.
            sfu.gone(ConnId(100));
            sfu.gone(ConnId(101));
            let x = ConnId(1);
            // A host flips the switch a thousand times, ending on "muted".
            for i in 0..1000 {
                sfu.audio(x, i % 2 == 1);
            }
            sfu.video_from(x, Some(vec![ParticipantId(3)]), TileHeights::default());
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

    fn stun(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attrs {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn a_stun_request_names_our_ice_username_fragment() {
        // PRIORITY first, then USERNAME "ours:theirs" (padded), as browsers send them.
        let m = stun(&[(0x0024, &[0, 0, 0, 1]), (0x0006, b"Ab3x:theirs1")]);
        assert_eq!(stun_local_ufrag(&m), Some("Ab3x"));
        let odd = stun(&[(0x0006, b"q:r")]);
        assert_eq!(stun_local_ufrag(&odd), Some("q"));
        // No USERNAME, no colon, a lying length, RTP, DTLS, junk: nothing.
        assert_eq!(stun_local_ufrag(&stun(&[(0x0024, &[0; 4])])), None);
        assert_eq!(stun_local_ufrag(&stun(&[(0x0006, b"nocolon")])), None);
        let mut long = stun(&[(0x0006, b"a:b")]);
        long[3] = 200;
        assert_eq!(stun_local_ufrag(&long), None);
        let mut cut = stun(&[(0x0006, b"abcdefgh:ijkl")]);
        cut.truncate(26);
        cut[3] = 6;
        assert_eq!(
            stun_local_ufrag(&cut),
            None,
            "attribute longer than the message"
        );
        let mut rtp = m.clone();
        rtp[0] = 0x80;
        assert_eq!(stun_local_ufrag(&rtp), None);
        assert_eq!(stun_local_ufrag(&[0x16; 40]), None);
        assert_eq!(stun_local_ufrag(&[]), None);
    }

    #[test]
    fn small_meetings_stay_on_one_worker_and_large_ones_spread() {
        let mut p = Placement::new(2, 3);
        assert_eq!(p.place(1, ConnId(10)), 0);
        assert_eq!(
            p.place(2, ConnId(20)),
            1,
            "a new meeting goes to the less loaded"
        );
        assert_eq!(p.place(1, ConnId(11)), 0, "a meeting stays on its worker");
        assert_eq!(p.place(1, ConnId(12)), 0);
        assert_eq!(p.place(3, ConnId(30)), 1);
        assert_eq!(p.place(1, ConnId(10)), 0, "placing twice counts once");
        assert_eq!(p.load, vec![3, 2]);
        // Meeting 1 has 3 on worker 0, its share there: it spreads to the least loaded.
        assert_eq!(p.place(1, ConnId(13)), 1);
        assert_eq!(p.place(1, ConnId(14)), 1, "and fills that worker's share");
        assert_eq!(p.place(1, ConnId(15)), 1);
        assert_eq!(p.load, vec![3, 5]);
        // Both workers hold 3 of it: the least loaded takes the next.
        assert_eq!(p.place(1, ConnId(16)), 0);
        assert_eq!(p.place(1, ConnId(17)), 0, "4 against 5");
        assert_eq!(p.place(1, ConnId(18)), 0, "a tie goes to the first");
        assert_eq!(p.place(1, ConnId(21)), 1, "6 against 5");
        for c in [10, 11, 12, 16, 17, 18] {
            assert_eq!(p.remove(ConnId(c)), Some(0));
        }
        for c in [13, 14, 15, 21] {
            assert_eq!(p.remove(ConnId(c)), Some(1));
        }
        assert_eq!(p.remove(ConnId(10)), None);
        assert_eq!(p.load, vec![0, 2]);
        assert!(!p.rooms.contains_key(&1), "an empty meeting is forgotten");
        assert_eq!(p.place(1, ConnId(19)), 0, "it may start anew on any worker");
        assert_eq!(p.worker_of(ConnId(30)), Some(1));

        // With a share of one, every participant goes to the least loaded worker.
        let mut p = Placement::new(3, 1);
        let placed: Vec<usize> = (0..6).map(|c| p.place(9, ConnId(c))).collect();
        assert_eq!(placed, vec![0, 1, 2, 0, 1, 2]);
    }
}
