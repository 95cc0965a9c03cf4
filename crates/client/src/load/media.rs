//! The town hall's media: one thread drives every bot's peer connection with the SFU (str0m,
//! sans-I/O), each on its own UDP socket (the SFU sends everyone's media from one port, so a
//! bot is told apart by the socket it arrives on), all in one epoll set, timers in one heap.
//!
//! Publishers send prerecorded simulcast VP8 (three layers of a moving test pattern, encoded
//! once at start with the real encoder, looped with rewritten timestamps; on a keyframe request
//! the loop jumps to its next keyframe) and, if they speak, Opus-sized audio packets carrying
//! their level in the audio-level extension. They honour `send_layers`. Receivers answer the
//! SFU in RTP mode (no depacketising, no decoding) and count what each stream brings by its
//! sequence numbers, so loss is counted, not guessed.
//!
//! The engine knows nothing of signaling: bots hand it SDP and get SDP back.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use parley_media::pattern::TestPattern;
use parley_media::vp8::{Vp8Config, Vp8Encoder};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{
    Direction, Frequency, MediaKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer,
};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::sync::oneshot;

/// Frames per second of the prerecorded video.
const FPS: u64 = 30;
/// A keyframe every 2 s in the loop; the loop is a whole number of these, so it restarts on
/// a keyframe.
pub const KEYFRAME_EVERY: usize = 60;
/// The layers a publisher sends: rid, size, kbit/s (as Parley's clients send a 1280x720 camera).
const LAYERS: [(&str, u32, u32, u32); 3] = [
    ("l", 320, 180, 150),
    ("m", 640, 360, 500),
    ("h", 1280, 720, 1_500),
];
/// Bytes of one audio packet (Opus at about 32 kbit/s, 20 ms).
const AUDIO_BYTES: usize = 80;
/// Level a speaking publisher announces, in -dBov (RFC 6464; louder than -50 counts as speech).
const SPEAKING_LEVEL: i8 = -25;
/// Least time between two jumps to a keyframe.
const KEYFRAME_GAP: Duration = Duration::from_millis(500);

/// One layer's prerecorded frames.
struct Layer {
    rid: Rid,
    frames: Vec<Arc<[u8]>>,
}

/// The prerecorded video, shared by every publisher.
pub struct Recording {
    layers: Vec<Layer>,
    frames: usize,
}

impl Recording {
    /// Encode `keyframes` × [`KEYFRAME_EVERY`] frames of a moving test pattern in every layer
    /// (a few seconds for four).
    pub fn encode(keyframes: usize) -> Result<Self, String> {
        let frames_in_loop = keyframes.max(1) * KEYFRAME_EVERY;
        let mut layers = Vec::new();
        for (rid, w, h, kbps) in LAYERS {
            let mut cfg = Vp8Config::realtime(w, h, kbps);
            cfg.keyframe_interval = KEYFRAME_EVERY as u32;
            let mut enc = Vp8Encoder::new(cfg).map_err(|e| e.to_string())?;
            let pattern = TestPattern::new(w, h, 7);
            let mut frames = Vec::with_capacity(frames_in_loop);
            for i in 0..frames_in_loop {
                let picture = pattern.draw(i as u32, i as u64 * 1_000_000 / FPS);
                let out = enc
                    .encode(&picture, i % KEYFRAME_EVERY == 0)
                    .map_err(|e| e.to_string())?;
                let data: Vec<u8> = out.into_iter().flat_map(|f| f.data).collect();
                frames.push(Arc::from(data));
            }
            layers.push(Layer {
                rid: Rid::from(rid),
                frames,
            });
        }
        Ok(Recording {
            layers,
            frames: frames_in_loop,
        })
    }

    /// Average kbit/s of each layer, for the report.
    pub fn kbps(&self) -> Vec<(String, u64)> {
        self.layers
            .iter()
            .map(|l| {
                let bytes: usize = l.frames.iter().map(|f| f.len()).sum();
                (
                    l.rid.to_string(),
                    bytes as u64 * 8 * FPS / l.frames.len() as u64 / 1000,
                )
            })
            .collect()
    }
}

/// What a bot is in the town hall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// Sends its camera (simulcast).
    pub camera: bool,
    /// Sends its voice.
    pub speaks: bool,
}

/// A reply from the engine.
pub type Reply<T> = oneshot::Sender<Result<T, String>>;

/// Told to the engine by the bots and the load tool.
pub enum Cmd {
    /// A peer connection for a bot; the reply is its number and our SDP offer.
    Create {
        /// Which bot.
        bot: usize,
        /// What it sends.
        part: Part,
        /// Where the answer goes.
        reply: Reply<(usize, String)>,
    },
    /// The SFU's answer to our offer.
    Answer {
        /// Whose.
        peer: usize,
        /// The SDP.
        sdp: String,
    },
    /// An offer from the SFU (new slots); the reply is our answer.
    Offer {
        /// Whose.
        peer: usize,
        /// The SDP.
        sdp: String,
        /// Where the answer goes.
        reply: Reply<String>,
    },
    /// `send_layers`: which layers of its camera a publisher sends.
    Layers {
        /// Whose.
        peer: usize,
        /// The rids.
        rids: Vec<String>,
    },
    /// The counts so far.
    Snapshot(oneshot::Sender<Snapshot>),
}

/// What one received stream (one slot) brought.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamCount {
    /// Its SSRC.
    pub ssrc: u32,
    /// Video (else audio).
    pub video: bool,
    /// Highest sequence number seen (extended), and the first.
    pub max_seq: u64,
    /// The first sequence number seen.
    pub first_seq: u64,
    /// Packets that arrived (late ones included, duplicates too).
    pub packets: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Packets with the marker bit (video: the last of a frame).
    pub frames: u64,
}

/// One bot's peer connection.
#[derive(Debug, Clone, Default)]
pub struct PeerCount {
    /// Which bot.
    pub bot: usize,
    /// Sends media.
    pub publisher: bool,
    /// When ICE and DTLS completed.
    pub connected: Option<Instant>,
    /// Times ICE reported it disconnected.
    pub disconnects: u64,
    /// The SFU answered our offer.
    pub answered: bool,
    /// Offers of the SFU's (new slots) answered.
    pub offers: u64,
    /// RTP packets of payload types it did not know (none expected).
    pub unknown: u64,
    /// What it received, by stream.
    pub streams: Vec<StreamCount>,
}

impl PeerCount {
    /// The count of stream `key` (an SSRC, or a publisher's m-line), new from `seq` if none.
    fn stream(&mut self, key: u32, video: bool, seq: u64) -> &mut StreamCount {
        let i = match self.streams.iter().position(|s| s.ssrc == key) {
            Some(i) => i,
            None => {
                self.streams.push(StreamCount {
                    ssrc: key,
                    video,
                    first_seq: seq,
                    max_seq: seq,
                    ..Default::default()
                });
                self.streams.len() - 1
            }
        };
        &mut self.streams[i]
    }
}

/// Every peer's counts, and the engine's.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// By peer number.
    pub peers: Vec<PeerCount>,
    /// Video frames and audio packets the publishers wrote.
    pub frames_sent: u64,
    /// Audio packets written.
    pub audio_sent: u64,
    /// Keyframe requests the publishers got.
    pub keyframe_requests: u64,
    /// Datagrams the sockets could not send.
    pub send_errors: u64,
}

/// A publisher's clock and loop position.
struct Publishing {
    video: Mid,
    audio: Option<Mid>,
    /// Layers to send (`send_layers`); all until told.
    rids: Vec<Rid>,
    next_frame: Instant,
    next_audio: Instant,
    pos: usize,
    frame_no: u64,
    audio_no: u64,
    want_keyframe: bool,
    last_jump: Option<Instant>,
}

struct Peer {
    rtc: Rtc,
    sock: UdpSocket,
    addr: SocketAddr,
    pending: Option<SdpPendingOffer>,
    next_timeout: Option<Instant>,
    /// Receivers: payload types of VP8 and Opus in the SFU's offers.
    video_pts: Vec<u8>,
    audio_pts: Vec<u8>,
    sender: Option<Publishing>,
    count: PeerCount,
}

/// The engine: run it on a thread of its own with [`Engine::run`].
pub struct Engine {
    bind: std::net::IpAddr,
    epfd: i32,
    peers: Vec<Peer>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    recording: Arc<Recording>,
    totals: Snapshot,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: `epfd` is an epoll descriptor this engine opened and nothing else closes.
        unsafe { libc::close(self.epfd) };
    }
}

fn rtpmap_pts(sdp: &str, codec: &str) -> Vec<u8> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .filter_map(|l| {
            let (pt, enc) = l.split_once(' ')?;
            enc.to_ascii_lowercase()
                .starts_with(codec)
                .then(|| pt.trim().parse().ok())?
        })
        .collect()
}

impl Engine {
    /// An engine whose sockets bind to `bind` (the address the SFU can reach).
    pub fn new(bind: std::net::IpAddr, recording: Arc<Recording>) -> Result<Self, String> {
        // SAFETY: plain system call; the result is checked.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epfd < 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(Engine {
            bind,
            epfd,
            peers: Vec::new(),
            timers: BinaryHeap::new(),
            recording,
            totals: Snapshot::default(),
        })
    }

    fn create(&mut self, bot: usize, part: Part) -> Result<(usize, String), String> {
        let sock = UdpSocket::bind(SocketAddr::new(self.bind, 0)).map_err(|e| e.to_string())?;
        sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        let fd = sock.as_raw_fd();
        let size: libc::c_int = 1 << 20;
        // SAFETY: `fd` is this socket's; the option value is a live c_int of the size given.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let addr = sock.local_addr().map_err(|e| e.to_string())?;
        let idx = self.peers.len();
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: idx as u64,
        };
        // SAFETY: `epfd` and `fd` are open; `ev` lives through the call.
        if unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        let publisher = part.camera || part.speaks;
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true, false)
            .set_rtp_mode(!publisher)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").map_err(|e| e.to_string())?);
        let mut api = rtc.sdp_api();
        // Receivers offer send m-lines that never carry media (camera and microphone off).
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let simulcast = part.camera.then(|| {
            let mut s = Simulcast::new();
            for l in &self.recording.layers {
                s.add_send_layer(SimulcastLayer::new(&l.rid.to_string()));
            }
            s
        });
        let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, simulcast);
        let (offer, pending) = api.apply().ok_or("str0m made no offer")?;
        let sender = publisher.then(|| Publishing {
            video,
            audio: part.speaks.then_some(audio),
            rids: if part.camera {
                self.recording.layers.iter().map(|l| l.rid).collect()
            } else {
                Vec::new()
            },
            next_frame: now,
            next_audio: now,
            pos: 0,
            frame_no: 0,
            audio_no: 0,
            want_keyframe: false,
            last_jump: None,
        });
        self.peers.push(Peer {
            rtc,
            sock,
            addr,
            pending: Some(pending),
            next_timeout: None,
            video_pts: Vec::new(),
            audio_pts: Vec::new(),
            sender,
            count: PeerCount {
                bot,
                publisher,
                ..Default::default()
            },
        });
        self.drain(idx);
        Ok((idx, offer.to_sdp_string()))
    }

    fn peer(&mut self, idx: usize) -> Result<&mut Peer, String> {
        self.peers.get_mut(idx).ok_or(format!("no peer {idx}"))
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Create { bot, part, reply } => {
                let _ = reply.send(self.create(bot, part));
            }
            Cmd::Answer { peer, sdp } => {
                let r = (|| -> Result<(), String> {
                    let p = self.peer(peer)?;
                    let pending = p.pending.take().ok_or("no offer of ours pending")?;
                    let answer = SdpAnswer::from_sdp_string(&sdp).map_err(|e| e.to_string())?;
                    p.rtc
                        .sdp_api()
                        .accept_answer(pending, answer)
                        .map_err(|e| e.to_string())?;
                    p.count.answered = true;
                    Ok(())
                })();
                if let Err(e) = r {
                    eprintln!("[media] peer {peer}: the SFU's answer: {e}");
                }
                self.drain(peer);
            }
            Cmd::Offer { peer, sdp, reply } => {
                let r = (|| {
                    let p = self.peer(peer)?;
                    // An offer of the SFU's voids ours in flight.
                    p.pending = None;
                    for pt in rtpmap_pts(&sdp, "vp8/") {
                        if !p.video_pts.contains(&pt) {
                            p.video_pts.push(pt);
                        }
                    }
                    for pt in rtpmap_pts(&sdp, "opus/") {
                        if !p.audio_pts.contains(&pt) {
                            p.audio_pts.push(pt);
                        }
                    }
                    let offer = SdpOffer::from_sdp_string(&sdp).map_err(|e| e.to_string())?;
                    let answer = p
                        .rtc
                        .sdp_api()
                        .accept_offer(offer)
                        .map_err(|e| e.to_string())?;
                    p.count.offers += 1;
                    Ok(answer.to_sdp_string())
                })();
                if r.is_ok() {
                    self.drain(peer);
                }
                let _ = reply.send(r);
            }
            Cmd::Layers { peer, rids } => {
                let now = Instant::now();
                if let Ok(p) = self.peer(peer)
                    && let Some(s) = p.sender.as_mut()
                {
                    let before = s.rids.clone();
                    s.rids = rids.iter().map(|r| Rid::from(r.as_str())).collect();
                    // A layer that starts again starts with a keyframe.
                    if s.rids.iter().any(|r| !before.contains(r)) {
                        s.want_keyframe = true;
                        s.last_jump = s.last_jump.filter(|t| now - *t < KEYFRAME_GAP);
                    }
                }
            }
            Cmd::Snapshot(reply) => {
                let mut s = self.totals.clone();
                s.peers = self.peers.iter().map(|p| p.count.clone()).collect();
                let _ = reply.send(s);
            }
        }
    }

    /// Drain `poll_output` until a timeout (str0m's rule, after every input or write).
    fn drain(&mut self, idx: usize) {
        loop {
            let out = match self.peers[idx].rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("[media] peer {idx}: {e}");
                    self.peers[idx].next_timeout = None;
                    return;
                }
            };
            match out {
                Output::Timeout(t) => {
                    let p = &mut self.peers[idx];
                    if p.next_timeout != Some(t) {
                        p.next_timeout = Some(t);
                        self.timers.push(Reverse((t, idx)));
                    }
                    return;
                }
                Output::Transmit(t) => {
                    if self.peers[idx]
                        .sock
                        .send_to(&t.contents, t.destination)
                        .is_err()
                    {
                        self.totals.send_errors += 1;
                    }
                }
                Output::Event(e) => self.event(idx, e),
            }
        }
    }

    fn event(&mut self, idx: usize, e: Event) {
        let p = &mut self.peers[idx];
        match e {
            Event::Connected => {
                let now = Instant::now();
                p.count.connected.get_or_insert(now);
                if let Some(s) = p.sender.as_mut() {
                    s.next_frame = now;
                    s.next_audio = now;
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                p.count.disconnects += 1;
            }
            Event::KeyframeRequest(_) => {
                self.totals.keyframe_requests += 1;
                if let Some(s) = p.sender.as_mut() {
                    s.want_keyframe = true;
                }
            }
            Event::RtpPacket(pkt) => {
                let pt = *pkt.header.payload_type;
                let video = p.video_pts.contains(&pt);
                if !video && !p.audio_pts.contains(&pt) {
                    p.count.unknown += 1;
                    return;
                }
                let seq = *pkt.seq_no;
                let s = p.count.stream(*pkt.header.ssrc, video, seq);
                s.packets += 1;
                s.bytes += pkt.payload.len() as u64;
                s.frames += u64::from(pkt.header.marker);
                s.max_seq = s.max_seq.max(seq);
            }
            // A publisher (frame mode, to write its own media) gets whole frames: counted by
            // m-line (one slot each), with the sequence numbers of the packets they came in.
            Event::MediaData(d) => {
                let pt = *d.pt;
                let video = p.video_pts.contains(&pt);
                if !video && !p.audio_pts.contains(&pt) {
                    p.count.unknown += 1;
                    return;
                }
                let key = d.mid.as_bytes().iter().fold(0x811c_9dc5_u32, |h, b| {
                    (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
                });
                let (first, last) = (**d.seq_range.start(), **d.seq_range.end());
                let s = p.count.stream(key, video, first);
                s.packets += last.saturating_sub(first) + 1;
                s.bytes += d.data.len() as u64;
                s.frames += 1;
                s.max_seq = s.max_seq.max(last);
            }
            _ => {}
        }
    }

    /// Write what each publisher's clock says is due.
    fn publish(&mut self, now: Instant) {
        let frame_gap = Duration::from_micros(1_000_000 / FPS);
        for idx in 0..self.peers.len() {
            let p = &mut self.peers[idx];
            let Some(s) = p.sender.as_mut() else { continue };
            if p.count.connected.is_none() {
                continue;
            }
            let mut wrote = false;
            while !s.rids.is_empty() && s.next_frame <= now {
                if s.want_keyframe && s.last_jump.is_none_or(|t| now - t >= KEYFRAME_GAP) {
                    s.pos = (s.pos / KEYFRAME_EVERY + 1) * KEYFRAME_EVERY % self.recording.frames;
                    s.last_jump = Some(now);
                    s.want_keyframe = false;
                }
                let ts = MediaTime::new(s.frame_no * 90_000 / FPS, Frequency::NINETY_KHZ);
                for layer in &self.recording.layers {
                    if !s.rids.contains(&layer.rid) {
                        continue;
                    }
                    let Some(w) = p.rtc.writer(s.video) else {
                        break;
                    };
                    let Some(pt) = w.payload_params().next().map(|pp| pp.pt()) else {
                        break;
                    };
                    let data = layer.frames[s.pos].to_vec();
                    let _ = w.rid(layer.rid).write(pt, now, ts, data);
                }
                self.totals.frames_sent += 1;
                s.frame_no += 1;
                s.pos = (s.pos + 1) % self.recording.frames;
                s.next_frame += frame_gap;
                wrote = true;
            }
            if s.rids.is_empty() {
                s.next_frame = now + frame_gap;
            }
            if let Some(mid) = s.audio {
                while s.next_audio <= now {
                    let pt = p
                        .rtc
                        .writer(mid)
                        .and_then(|w| w.payload_params().next().map(|pp| pp.pt()));
                    if let Some(pt) = pt
                        && let Some(w) = p.rtc.writer(mid)
                    {
                        let ts = MediaTime::new(s.audio_no * 960, Frequency::FORTY_EIGHT_KHZ);
                        // A valid Opus TOC byte (CELT, fullband, 20 ms), then filler.
                        let mut data = vec![0u8; AUDIO_BYTES];
                        data[0] = 0xfc;
                        data[1] = s.audio_no as u8;
                        let _ = w.audio_level(SPEAKING_LEVEL, true).write(pt, now, ts, data);
                    }
                    self.totals.audio_sent += 1;
                    s.audio_no += 1;
                    s.next_audio += Duration::from_millis(20);
                    wrote = true;
                }
            }
            if wrote {
                self.drain(idx);
            }
        }
    }

    fn datagram(&mut self, idx: usize, source: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let p = &mut self.peers[idx];
        let input = Input::Receive(
            Instant::now(),
            Receive {
                proto: Protocol::Udp,
                source,
                destination: p.addr,
                contents,
            },
        );
        if let Err(e) = p.rtc.handle_input(input) {
            eprintln!("[media] peer {idx}: {e}");
        }
        self.drain(idx);
    }

    /// Run until every sender of commands is gone.
    pub fn run(mut self, commands: Receiver<Cmd>) {
        let mut buf = vec![0u8; 2048];
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
        let mut wait_ms = 0;
        loop {
            loop {
                match commands.try_recv() {
                    Ok(c) => self.command(c),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            // SAFETY: `events` holds `len` entries the kernel may fill.
            let n = unsafe {
                libc::epoll_wait(self.epfd, events.as_mut_ptr(), events.len() as i32, wait_ms)
            };
            let mut got = 0;
            for ev in events.iter().take(n.max(0) as usize) {
                let idx = ev.u64 as usize;
                for _ in 0..64 {
                    match self.peers[idx].sock.recv_from(&mut buf) {
                        Ok((len, src)) => {
                            got += 1;
                            self.datagram(idx, src, &buf[..len]);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(_) => continue,
                    }
                }
            }
            let now = Instant::now();
            self.publish(now);
            while let Some(&Reverse((t, idx))) = self.timers.peek() {
                if t > now {
                    break;
                }
                self.timers.pop();
                if self.peers[idx].next_timeout != Some(t) {
                    continue;
                }
                self.peers[idx].next_timeout = None;
                if let Err(e) = self.peers[idx].rtc.handle_input(Input::Timeout(now)) {
                    eprintln!("[media] peer {idx}: {e}");
                }
                self.drain(idx);
            }
            wait_ms = 0;
            if got == 0 {
                let mut next = now + Duration::from_millis(5);
                if let Some(&Reverse((t, _))) = self.timers.peek() {
                    next = next.min(t);
                }
                for p in &self.peers {
                    if let Some(s) = &p.sender
                        && p.count.connected.is_some()
                    {
                        next = next.min(s.next_frame);
                        if s.audio.is_some() {
                            next = next.min(s.next_audio);
                        }
                    }
                }
                wait_ms = next
                    .saturating_duration_since(Instant::now())
                    .as_micros()
                    .div_ceil(1000) as i32;
            }
        }
    }
}

/// Start the engine on a thread of its own; commands go to the returned sender.
pub fn start(bind: std::net::IpAddr, recording: Arc<Recording>) -> Result<Sender<Cmd>, String> {
    let engine = Engine::new(bind, recording)?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("town-hall-media".into())
        .spawn(move || engine.run(rx))
        .map_err(|e| e.to_string())?;
    Ok(tx)
}
