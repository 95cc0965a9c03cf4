//! The forwarding core on virtual time: media workers (their state, without sockets or
//! tasks) and participants that are str0m peers, joined by a simulated network with loss,
//! delay and reordering, the way str0m's own tests drive two peers. Time only moves when the
//! test moves it, so nothing here depends on how busy the machine is.
//!
//! Each frame a participant sends carries who sent it and its number, so a receiver can tell
//! what it missed and whether anything came out of order: `[marker, sender, layer, 9d 01 2a,
//! width, height, number, …]`, the marker's bit 0 clear on a keyframe, whose first ten bytes
//! are then a VP8 keyframe's (the picture size the SFU reads to tell simulcast layers apart).

use parley_proto::ServerMessage;
use str0m::media::MediaTime;

use super::*;

/// The first media worker's address; worker *i* is on port + *i*.
const SFU: ([u8; 4], u16) = ([10, 0, 0, 1], 5000);
/// One step of virtual time.
const TICK: Duration = Duration::from_millis(1);
/// Video frames a second, and the sizes of key and delta frames (several packets each).
const FPS: u32 = 30;
const KEYFRAME_BYTES: usize = 6000;
const DELTA_BYTES: usize = 1800;

/// A tiny deterministic random source (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
}

/// How one participant's link behaves: loss each way, and a delay that varies by up to
/// `jitter` (packets overtake each other).
#[derive(Clone, Copy, Default)]
struct Link {
    up_loss: f64,
    down_loss: f64,
    jitter: Duration,
}

/// What a participant received from one sender's track: frame numbers in arrival order.
type Frames = HashMap<(u8, bool), Vec<u32>>;

/// A simulcast sender's layers: rid and picture size, smallest first.
const LAYERS: [(&str, u16, u16); 3] = [("l", 320, 180), ("m", 640, 360), ("h", 1280, 720)];

/// One video frame as a receiver got it.
#[derive(Debug, Clone, Copy)]
struct Got {
    sender: u8,
    /// Index into [`LAYERS`] (`None`: a sender without simulcast).
    layer: Option<u8>,
    number: u32,
    keyframe: bool,
    /// Its RTP time, 90 kHz.
    time: u64,
}

struct Participant {
    id: ParticipantId,
    conn: ConnId,
    worker: usize,
    addr: SocketAddr,
    rtc: Rtc,
    link: Arc<ConnLink>,
    net: Link,
    pending: Option<SdpPendingOffer>,
    /// Its own tracks: (m-line, kind).
    sends: Vec<(Mid, MediaKind)>,
    /// Whether it sends media at all.
    sending: bool,
    next_video: Instant,
    next_audio: Instant,
    frame: u32,
    packet: u32,
    keyframe_next: bool,
    /// Keyframe requests that reached it.
    keyframe_requests: usize,
    got: Frames,
    wants: Instant,
    /// Ask every sender for a keyframe on every tick (a hostile or broken receiver).
    storm: bool,
    /// The video m-lines it receives on.
    receives: Vec<Mid>,
    /// The audio level its packets carry (RFC 6464, 0 loudest to -127 silence), if any.
    level: Option<i8>,
    /// Audio m-lines the SFU opened to it.
    audio_lines: usize,
    /// Frames whose sender extension named someone other than the frame's sender.
    misattributed: usize,
    /// Who each of its video m-lines carried last.
    carried: HashMap<Mid, u8>,
    /// Each time an m-line began carrying a sender's video: (sender, whether at a keyframe).
    turns: Vec<(u8, bool)>,
    /// Each dominant speaker it was told of, in order.
    speakers_told: Vec<Option<u32>>,
    /// Each `server_load` it was told, in order.
    loads_told: Vec<parley_proto::Shedding>,
    /// Offers the SFU made it, and the size of the last one in bytes.
    offers: usize,
    /// Answers of its that are lost on the way to the SFU (as when the server refuses them
    /// as `server_busy`), from the next one on.
    lose_answers: usize,
    /// After a lost answer, sends the next answer (to the offer sent again) twice, as an
    /// answer delayed past the SFU's sending the offer again would arrive.
    twice_after_loss: bool,
    answer_twice: bool,
    last_offer_len: usize,
    /// Sends its video in the [`LAYERS`] (simulcast), those set here (what its uplink
    /// allows)...
    layers: [bool; 3],
    /// ... and the SFU asks for (`send_layers`; all until it says).
    asked: [bool; 3],
    /// Each `send_layers` the SFU sent it, as rids.
    told_layers: Vec<Vec<String>>,
    /// Video frames it sent, per layer.
    sent: [u32; 3],
    /// Layers asked for a keyframe (simulcast).
    layer_keyframe: [bool; 3],
    /// Every video frame it got, in order.
    video_got: Vec<Got>,
}

impl Participant {
    fn number(&self) -> u8 {
        u8::try_from(self.id.0).unwrap()
    }
}

/// A datagram on its way.
struct InFlight {
    at: Instant,
    order: u64,
    from: SocketAddr,
    to: SocketAddr,
    data: Vec<u8>,
}

struct World {
    now: Instant,
    start: Instant,
    workers: Vec<Sfu>,
    inboxes: Vec<Inbox>,
    dirty: Vec<HashSet<ConnId>>,
    people: Vec<Participant>,
    wire: Vec<InFlight>,
    order: u64,
    rng: Rng,
    room: u64,
}

fn sfu_addr(worker: usize) -> SocketAddr {
    SocketAddr::from((SFU.0, SFU.1 + u16::try_from(worker).unwrap()))
}

impl World {
    fn new(workers: usize) -> Self {
        str0m::crypto::from_feature_flags().install_process_default();
        let now = Instant::now();
        let (mesh, inboxes) = Mesh::new(workers);
        let controls = Arc::<Controls>::default();
        let workers: Vec<Sfu> = (0..workers)
            .map(|i| Sfu::new(None, sfu_addr(i), i, controls.clone(), mesh.clone(), 3))
            .collect();
        World {
            now,
            start: now,
            dirty: workers.iter().map(|_| HashSet::new()).collect(),
            workers,
            inboxes,
            people: Vec::new(),
            wire: Vec::new(),
            order: 0,
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            room: 1,
        }
    }

    /// A participant on `worker` starts media (sending audio and video if `sending`);
    /// returns its index.
    fn join(&mut self, worker: usize, sending: bool, net: Link) -> usize {
        self.join_with(worker, sending, net, false)
    }

    /// [`World::join`], sending video in simulcast layers if `simulcast`.
    fn join_with(&mut self, worker: usize, sending: bool, net: Link, simulcast: bool) -> usize {
        let n = self.people.len();
        let number = u32::try_from(n + 1).unwrap();
        let addr = SocketAddr::from(([10, 0, 1, u8::try_from(n + 1).unwrap()], 4000));
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .set_extension(
                SENDER_EXTENSION_ID,
                str0m::rtp::Extension::with_serializer(SENDER_EXTENSION, SenderExtension),
            )
            .build(self.now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mut sends = Vec::new();
        if sending {
            for kind in [MediaKind::Audio, MediaKind::Video] {
                let layers = (simulcast && kind == MediaKind::Video).then(|| {
                    let mut s = str0m::media::Simulcast::new();
                    for (rid, _, _) in LAYERS {
                        s.add_send_layer(str0m::media::SimulcastLayer::new(rid));
                    }
                    s
                });
                let mid = change.add_media(kind, Direction::SendOnly, None, None, layers);
                sends.push((mid, kind));
            }
        } else {
            // Something to negotiate: a receive-only participant still needs a session.
            change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        }
        let (offer, pending) = change.apply().unwrap();
        let link = ConnLink::new(ConnId(u64::from(number)), addr.ip(), 1024);
        let mut p = Participant {
            id: ParticipantId(number),
            conn: link.id,
            worker,
            addr,
            rtc,
            link: link.clone(),
            net,
            pending: Some(pending),
            sends,
            sending,
            next_video: self.now,
            next_audio: self.now,
            frame: 0,
            packet: 0,
            keyframe_next: true,
            keyframe_requests: 0,
            got: Frames::new(),
            wants: self.now,
            storm: false,
            receives: Vec::new(),
            level: None,
            audio_lines: 0,
            misattributed: 0,
            carried: HashMap::new(),
            turns: Vec::new(),
            speakers_told: Vec::new(),
            loads_told: Vec::new(),
            offers: 0,
            lose_answers: 0,
            twice_after_loss: false,
            answer_twice: false,
            last_offer_len: 0,
            layers: [simulcast; 3],
            asked: [true; 3],
            told_layers: Vec::new(),
            sent: [0; 3],
            layer_keyframe: [true; 3],
            video_got: Vec::new(),
        };
        self.drain(&mut p);
        self.people.push(p);
        let cmd = SfuCommand::Signal {
            room: self.room,
            link,
            participant: ParticipantId(number),
            signal: MediaSignal::Offer(offer.to_sdp_string()),
        };
        self.workers[worker].command(cmd, self.now, &mut self.dirty[worker]);
        n
    }

    /// Participant `i` leaves (its signaling connection closed).
    fn leave(&mut self, i: usize) {
        let (w, conn) = (self.people[i].worker, self.people[i].conn);
        self.workers[w].command(SfuCommand::Gone { conn }, self.now, &mut self.dirty[w]);
        self.people[i].sending = false;
        self.people[i].storm = false;
    }

    /// Drain a participant's str0m to its timeout: datagrams onto the wire, frames counted.
    fn drain(&mut self, p: &mut Participant) {
        loop {
            match p.rtc.poll_output().unwrap() {
                Output::Timeout(t) => {
                    p.wants = t;
                    return;
                }
                Output::Transmit(t) => {
                    if !self.rng.chance(p.net.up_loss) {
                        self.send(t.source, t.destination, t.contents.into(), p.net.jitter);
                    }
                }
                Output::Event(Event::MediaData(d)) => {
                    // [marker, sender, layer, start code, size, frame number (4 bytes), …]
                    let kind = if d.data[0] == 0xAA {
                        MediaKind::Audio
                    } else {
                        MediaKind::Video
                    };
                    let number = u32::from_be_bytes(d.data[10..14].try_into().unwrap());
                    let video = kind == MediaKind::Video;
                    if video {
                        p.video_got.push(Got {
                            sender: d.data[1],
                            layer: (d.data[2] != 0xff).then_some(d.data[2]),
                            number,
                            keyframe: d.data[0] == 0x00,
                            time: d.time.rebase(str0m::media::Frequency::NINETY_KHZ).numer(),
                        });
                    }
                    if d.ext_vals.user_values.get::<SenderOf>()
                        != Some(&SenderOf(u32::from(d.data[1])))
                    {
                        p.misattributed += 1;
                    }
                    if video && p.carried.insert(d.mid, d.data[1]) != Some(d.data[1]) {
                        p.turns.push((d.data[1], d.data[0] == 0x00));
                    }
                    p.got.entry((d.data[1], video)).or_default().push(number);
                }
                Output::Event(Event::MediaAdded(m)) if m.kind == MediaKind::Video => {
                    p.receives.push(m.mid);
                }
                Output::Event(Event::MediaAdded(m)) if m.direction == Direction::RecvOnly => {
                    p.audio_lines += 1;
                }
                Output::Event(Event::KeyframeRequest(r)) => {
                    p.keyframe_requests += 1;
                    match r
                        .rid
                        .and_then(|rid| LAYERS.iter().position(|l| *rid == *l.0))
                    {
                        Some(i) => p.layer_keyframe[i] = true,
                        None => p.keyframe_next = true,
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, data: Vec<u8>, jitter: Duration) {
        let spread = u64::try_from(jitter.as_micros()).unwrap();
        let extra = if spread == 0 {
            0
        } else {
            self.rng.next() % spread
        };
        self.order += 1;
        self.wire.push(InFlight {
            at: self.now + Duration::from_millis(2) + Duration::from_micros(extra),
            order: self.order,
            from,
            to,
            data,
        });
    }

    /// A participant sends what is due: a video frame every 1/FPS s (in each of its layers
    /// if it sends simulcast), audio every 20 ms.
    fn produce(&mut self, p: &mut Participant) {
        if !p.sending || p.sends.is_empty() {
            return;
        }
        let now = self.now;
        for &(mid, kind) in &p.sends.clone() {
            let due = match kind {
                MediaKind::Video if now >= p.next_video => {
                    p.next_video += Duration::from_secs(1) / FPS;
                    p.frame += 1;
                    true
                }
                MediaKind::Audio if now >= p.next_audio => {
                    p.next_audio += Duration::from_millis(20);
                    p.packet += 1;
                    true
                }
                _ => false,
            };
            if !due {
                continue;
            }
            if kind == MediaKind::Audio {
                self.write_frame(p, mid, kind, None, false);
            } else if p.layers.iter().any(|on| *on) {
                for layer in 0..LAYERS.len() {
                    if p.layers[layer] && p.asked[layer] {
                        let key = std::mem::take(&mut p.layer_keyframe[layer]) || p.keyframe_next;
                        p.sent[layer] += 1;
                        self.write_frame(p, mid, kind, Some(layer), key);
                    }
                }
                p.keyframe_next = false;
            } else {
                let key = std::mem::take(&mut p.keyframe_next);
                self.write_frame(p, mid, kind, None, key);
            }
        }
    }

    /// Write one frame of `p`'s track `mid` (of simulcast layer `layer`, if any).
    fn write_frame(
        &mut self,
        p: &mut Participant,
        mid: Mid,
        kind: MediaKind,
        layer: Option<usize>,
        key: bool,
    ) {
        let video = kind == MediaKind::Video;
        let (marker, bytes) = match (video, key) {
            (false, _) => (0xAA, 80),
            // VP8: bit 0 of the first byte clear marks a keyframe.
            (true, true) => (0x00, KEYFRAME_BYTES),
            (true, false) => (0x01, DELTA_BYTES),
        };
        let seq = if video { p.frame } else { p.packet };
        let (_, width, height) = LAYERS[layer.unwrap_or(LAYERS.len() - 1)];
        let mut data = vec![marker, p.number(), layer.map_or(0xff, |l| l as u8)];
        data.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        data.extend_from_slice(&width.to_le_bytes());
        data.extend_from_slice(&height.to_le_bytes());
        data.extend_from_slice(&seq.to_be_bytes());
        data.resize(bytes, 0x5a);
        let Some(mut w) = p.rtc.writer(mid) else {
            return;
        };
        if let Some(l) = layer {
            w = w.rid(str0m::media::Rid::from(LAYERS[l].0));
        }
        if let (MediaKind::Audio, Some(level)) = (kind, p.level) {
            w = w.audio_level(level, level > -50);
        }
        let codec = if video {
            str0m::format::Codec::Vp8
        } else {
            str0m::format::Codec::Opus
        };
        let Some(pt) = w
            .payload_params()
            .find(|pp| pp.spec().codec == codec)
            .map(|pp| pp.pt())
        else {
            return;
        };
        // Each layer keeps its own clock, far apart, as a real sender's encodings do.
        let time = if video {
            let base = layer.map_or(0, |l| l as u64 * 50_000_000);
            MediaTime::from_90khz(base + u64::from(seq) * 3000)
        } else {
            MediaTime::new(
                u64::from(seq) * 960,
                str0m::media::Frequency::FORTY_EIGHT_KHZ,
            )
        };
        if w.write(pt, self.now, time, data).is_ok() {
            self.drain(p);
        }
    }

    /// One tick of virtual time: participants send and time out, the wire delivers what has
    /// arrived, workers take their timers, each other's messages and hand-offs, settle, and
    /// what they send goes onto the wire; signaling is answered at once.
    fn tick(&mut self) {
        self.now += TICK;
        let now = self.now;
        let mut people = std::mem::take(&mut self.people);
        for p in &mut people {
            self.produce(p);
            if p.storm {
                for mid in p.receives.clone() {
                    if let Some(mut w) = p.rtc.writer(mid)
                        && w.is_request_keyframe_possible(KeyframeRequestKind::Pli)
                    {
                        let _ = w.request_keyframe(None, KeyframeRequestKind::Pli);
                        self.drain(p);
                    }
                }
            }
            if p.wants <= now {
                p.rtc.handle_input(Input::Timeout(now)).unwrap();
                self.drain(p);
            }
        }
        // Deliver what has arrived, earliest first.
        self.wire.sort_by_key(|d| (d.at, d.order));
        let arrived: Vec<InFlight> = {
            let n = self.wire.iter().take_while(|d| d.at <= now).count();
            self.wire.drain(..n).collect()
        };
        for d in arrived {
            if let Some(w) = (0..self.workers.len()).find(|w| sfu_addr(*w) == d.to) {
                self.workers[w].receive(&d.data, d.from, now, &mut self.dirty[w]);
            } else if let Some(p) = people.iter_mut().find(|p| p.addr == d.to) {
                let input = Input::Receive(
                    now,
                    Receive {
                        proto: Protocol::Udp,
                        source: d.from,
                        destination: d.to,
                        contents: d.data.as_slice().try_into().unwrap(),
                    },
                );
                if p.rtc.accepts(&input) {
                    p.rtc.handle_input(input).unwrap();
                    self.drain(p);
                }
            }
        }
        for w in 0..self.workers.len() {
            let dirty = &mut self.dirty[w];
            let sfu = &mut self.workers[w];
            sfu.fire_timers(now, dirty);
            while let Ok(msg) = self.inboxes[w].peers.try_recv() {
                sfu.peer(msg, now, dirty);
            }
            while let Ok(h) = self.inboxes[w].handoffs.try_recv() {
                sfu.handoff(h, now, dirty);
            }
            sfu.drive_dirty(dirty);
            for (to, data) in sfu.fx.out.take() {
                let Some(p) = people.iter().find(|p| p.addr == to) else {
                    continue;
                };
                let (loss, jitter) = (p.net.down_loss, p.net.jitter);
                if !self.rng.chance(loss) {
                    self.send(sfu_addr(w), to, data, jitter);
                }
            }
        }
        for p in &mut people {
            self.signaling(p);
        }
        self.people = people;
    }

    /// Answer what the server said to a participant (as its app would).
    fn signaling(&mut self, p: &mut Participant) {
        let queued: Vec<Outbound> = lock(&p.link.queue).drain(..).collect();
        for out in queued {
            let Outbound::Text(text) = out else { continue };
            match ServerMessage::decode(&text).unwrap() {
                ServerMessage::SdpAnswer { sdp } => {
                    let answer = SdpAnswer::from_sdp_string(&sdp).unwrap();
                    let pending = p.pending.take().expect("an offer was pending");
                    p.rtc.sdp_api().accept_answer(pending, answer).unwrap();
                    self.drain(p);
                }
                ServerMessage::SdpOffer { sdp } => {
                    p.offers += 1;
                    p.last_offer_len = sdp.len();
                    let offer = SdpOffer::from_sdp_string(&sdp).unwrap();
                    let answer = p.rtc.sdp_api().accept_offer(offer).unwrap();
                    self.drain(p);
                    if p.lose_answers > 0 {
                        p.lose_answers -= 1;
                        p.answer_twice = p.twice_after_loss;
                        continue;
                    }
                    for _ in 0..if std::mem::take(&mut p.answer_twice) {
                        2
                    } else {
                        1
                    } {
                        let cmd = SfuCommand::Signal {
                            room: self.room,
                            link: p.link.clone(),
                            participant: p.id,
                            signal: MediaSignal::Answer(answer.to_sdp_string()),
                        };
                        let w = p.worker;
                        self.workers[w].command(cmd, self.now, &mut self.dirty[w]);
                    }
                }
                ServerMessage::Speaker { id } => p.speakers_told.push(id.map(|i| i.0)),
                ServerMessage::ServerLoad { shedding } => p.loads_told.push(shedding),
                ServerMessage::SendLayers { rids } => {
                    // As a client does: a layer that starts again starts with a keyframe.
                    for (i, (rid, _, _)) in LAYERS.iter().enumerate() {
                        let asked = rids.iter().any(|r| r == rid);
                        if asked && !p.asked[i] {
                            p.layer_keyframe[i] = true;
                        }
                        p.asked[i] = asked;
                    }
                    p.told_layers.push(rids);
                }
                other => panic!("unexpected message to {}: {other:?}", p.id.0),
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.now < until {
            self.tick();
        }
    }

    /// The frames participant `i` got of `from`'s `kind`.
    fn got(&self, i: usize, from: usize, kind: MediaKind) -> &[u32] {
        let sender = self.people[from].number();
        self.people[i]
            .got
            .get(&(sender, kind == MediaKind::Video))
            .map_or(&[], Vec::as_slice)
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }
}

/// Frame numbers strictly rising (nothing twice, nothing out of order); how many are
/// missing between the first and the last.
fn in_order_missing(frames: &[u32]) -> usize {
    assert!(
        frames.windows(2).all(|w| w[0] < w[1]),
        "frames out of order or twice: {frames:?}"
    );
    match (frames.first(), frames.last()) {
        (Some(a), Some(b)) => (b - a + 1) as usize - frames.len(),
        _ => 0,
    }
}

#[test]
fn every_frame_reaches_every_receiver_once_and_in_order_on_one_worker_and_across_two() {
    for workers in [1, 2] {
        let mut w = World::new(workers);
        let a = w.join(0, true, Link::default());
        let b = w.join(1 % workers, true, Link::default());
        let c = w.join(0, true, Link::default());
        let d = w.join(1 % workers, false, Link::default());
        w.run_for(Duration::from_secs(4));
        for (i, from) in [
            (a, b),
            (a, c),
            (b, a),
            (b, c),
            (c, a),
            (c, b),
            (d, a),
            (d, b),
        ] {
            let video = w.got(i, from, MediaKind::Video);
            let audio = w.got(i, from, MediaKind::Audio);
            assert!(
                video.len() > 90 && audio.len() > 150,
                "{workers} workers: {i} got {} frames and {} audio packets from {from} in {:?}",
                video.len(),
                audio.len(),
                w.elapsed()
            );
            assert_eq!(in_order_missing(video), 0, "{workers} workers: {video:?}");
            assert_eq!(in_order_missing(audio), 0, "{workers} workers: {audio:?}");
            // Once flowing, nothing is lost: the newest frames sent are there.
            let sent = w.people[from].frame;
            assert!(sent - video.last().unwrap() <= 3, "{sent} sent, {video:?}");
        }
        assert!(w.got(a, d, MediaKind::Video).is_empty(), "d sends nothing");
        for p in &w.people {
            assert!(
                p.got.keys().all(|(sender, _)| *sender != p.number()),
                "nobody gets their own media back"
            );
        }
    }
}

#[test]
fn loss_and_reordering_on_a_receivers_link_are_repaired_without_disorder() {
    let mut w = World::new(2);
    let lossy = Link {
        down_loss: 0.05,
        up_loss: 0.05,
        jitter: Duration::from_millis(15),
    };
    let a = w.join(0, true, Link::default());
    let b = w.join(1, false, lossy);
    let c = w.join(0, false, lossy);
    w.run_for(Duration::from_secs(8));
    for r in [b, c] {
        let video = w.got(r, a, MediaKind::Video);
        let missing = in_order_missing(video);
        // Retransmissions fill the holes: up to 240 frames in 8 s (fewer while the lossy
        // handshake completes), each of several packets
        // each lost with 5 % chance; without repair most frames would be incomplete.
        assert!(
            video.len() > 40 && missing * 20 < video.len(),
            "receiver {r}: {} frames, {missing} missing",
            video.len()
        );
    }
}

#[test]
fn a_receiver_that_leaves_mid_frame_disturbs_nobody_and_leaves_nothing_behind() {
    let mut w = World::new(2);
    let a = w.join(0, true, Link::default());
    let b = w.join(1, false, Link::default());
    let c = w.join(1, false, Link::default());
    w.run_for(Duration::from_secs(2));
    // Send a keyframe and let half of its packets be on their way when b leaves.
    w.people[a].keyframe_next = true;
    let sent = w.people[a].frame;
    while w.people[a].frame == sent {
        w.tick();
    }
    w.leave(b);
    let before = w.got(c, a, MediaKind::Video).len();
    w.run_for(Duration::from_secs(2));
    let video = w.got(c, a, MediaKind::Video);
    assert_eq!(in_order_missing(video), 0);
    assert!(video.len() - before > 50, "c kept receiving: {video:?}");
    let sfu = &w.workers[1];
    assert!(!sfu.clients.contains_key(&w.people[b].conn));
    assert!(sfu.routes.values().all(|c| *c != w.people[b].conn));
    assert!(sfu.ufrags.values().all(|c| *c != w.people[b].conn));
    assert_eq!(sfu.rooms.get(&w.room).map(Vec::len), Some(1));
    // The last one on worker 1 leaves: worker 0 stops handing frames over.
    w.leave(c);
    w.run_for(Duration::from_millis(200));
    assert!(w.workers[1].rooms.is_empty());
    assert_eq!(w.workers[0].carriers.get(&w.room), Some(&vec![]));
    assert_eq!(w.workers[0].mesh.dropped(), 0);
}

#[test]
fn a_storm_of_keyframe_requests_reaches_the_sender_at_most_every_quarter_second() {
    for workers in [1, 2] {
        let mut w = World::new(workers);
        let a = w.join(0, true, Link::default());
        let storm: Vec<usize> = (0..4)
            .map(|i| w.join(i % workers, false, Link::default()))
            .collect();
        w.run_for(Duration::from_secs(1));
        let before = w.people[a].keyframe_requests;
        for &s in &storm {
            w.people[s].storm = true;
        }
        let lasting = Duration::from_secs(4);
        w.run_for(lasting);
        let asked = w.people[a].keyframe_requests - before;
        // Four receivers asking every millisecond: 16,000 requests; the sender is asked at
        // most once per gap per track (plus one at the edges).
        let most = (lasting.as_millis() / 250) as usize + 2;
        assert!(
            (1..=most).contains(&asked),
            "{workers} workers: sender asked {asked} times in {lasting:?} (at most {most})"
        );
        // And everyone still gets the video.
        for &s in &storm {
            let video = w.got(s, a, MediaKind::Video);
            assert_eq!(in_order_missing(video), 0);
            assert!(video.len() > 120, "{workers} workers: {}", video.len());
        }
    }
}

#[test]
fn junk_at_every_worker_reaches_no_state_and_disturbs_no_call() {
    let mut w = World::new(2);
    let a = w.join(0, true, Link::default());
    let b = w.join(1, false, Link::default());
    w.run_for(Duration::from_secs(1));
    let before: Vec<(usize, usize, usize)> = w
        .workers
        .iter()
        .map(|s| (s.clients.len(), s.routes.len(), s.ufrags.len()))
        .collect();
    let frames_before = w.got(b, a, MediaKind::Video).len();
    let stranger = SocketAddr::from(([10, 0, 9, 9], 666));
    let mut rng = Rng(7);
    // 2 s of junk, 10 datagrams per worker per millisecond, in the shapes a parser might trip
    // on: random bytes, RTP and RTCP headers, STUN with a made-up username, DTLS, tiny.
    for _ in 0..2000 {
        for worker in 0..2 {
            for k in 0..10 {
                let len = (rng.next() % 1400) as usize;
                let mut d: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                match k % 6 {
                    1 if !d.is_empty() => d[0] = 0x80,
                    2 if d.len() > 1 => d[..2].copy_from_slice(&[0x80, 0xc8]),
                    3 if d.len() >= 32 => {
                        d[..8].copy_from_slice(&[0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42]);
                        d.truncate(32);
                        d[20..24].copy_from_slice(&[0x00, 0x06, 0x00, 0x08]);
                        d[24..32].copy_from_slice(b"nobody:x");
                    }
                    4 if !d.is_empty() => d[0] = 0x16,
                    5 => d.truncate(3),
                    _ => {}
                }
                let now = w.now;
                w.workers[worker].receive(&d, stranger, now, &mut w.dirty[worker]);
            }
        }
        w.tick();
    }
    let after: Vec<(usize, usize, usize)> = w
        .workers
        .iter()
        .map(|s| (s.clients.len(), s.routes.len(), s.ufrags.len()))
        .collect();
    assert_eq!(before, after, "junk added no client, route or name");
    assert!(w.workers.iter().all(|s| !s.routes.contains_key(&stranger)));
    let video = w.got(b, a, MediaKind::Video);
    assert_eq!(in_order_missing(video), 0);
    assert!(
        video.len() - frames_before > 50,
        "the call went on: {} frames during the flood",
        video.len() - frames_before
    );
}

/// CRC-32 (IEEE), for a STUN FINGERPRINT.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Someone who learned a participant's ICE names (the server's and the participant's
/// username fragments) but not its password forges connectivity checks from its own address:
/// the worker answers none, routes nothing from that address to the participant, and the
/// participant's media goes on. The same request, untouched, is answered (so the test can
/// tell a refused check from one that never arrived). str0m checks MESSAGE-INTEGRITY inside
/// `Rtc::accepts`, before the worker adds a route.
#[test]
fn a_forged_connectivity_check_claims_no_route() {
    let mut w = World::new(1);
    let a = w.join(0, true, Link::default());
    let b = w.join(0, false, Link::default());
    w.run_for(Duration::from_secs(1));
    // Wait for b's next connectivity check (a STUN binding request) and take a copy.
    let (b_addr, worker) = (w.people[b].addr, sfu_addr(0));
    let genuine = loop {
        if let Some(d) = w
            .wire
            .iter()
            .find(|d| d.from == b_addr && d.to == worker && d.data.starts_with(&[0x00, 0x01]))
        {
            break d.data.clone();
        }
        w.tick();
        assert!(w.now - w.start < Duration::from_secs(30), "b sent no check");
    };
    // MESSAGE-INTEGRITY (type 0x0008) is followed by FINGERPRINT (0x8028, the last 8 bytes).
    let fp = genuine.len() - 8;
    assert_eq!(&genuine[fp..fp + 2], &[0x80, 0x28]);
    let mi = fp - 24;
    assert_eq!(&genuine[mi..mi + 2], &[0x00, 0x08]);
    let mut forged = genuine.clone();
    forged[mi + 4] ^= 0x01;
    let fingerprint = crc32(&forged[..fp]) ^ 0x5354_554e;
    forged[fp + 4..].copy_from_slice(&fingerprint.to_be_bytes());

    let frames_before = w.got(b, a, MediaKind::Video).len();
    let routes_before = w.workers[0].routes.len();
    let strangers: Vec<SocketAddr> = (0..50u16)
        .map(|i| SocketAddr::from(([10, 0, 9, 9], 1000 + i)))
        .collect();
    for &stranger in &strangers {
        let now = w.now;
        w.workers[0].receive(&forged, stranger, now, &mut w.dirty[0]);
        w.workers[0].drive_dirty(&mut w.dirty[0]);
        let out = w.workers[0].fx.out.take();
        assert!(
            out.iter().all(|(to, _)| *to != stranger),
            "a forged check was answered"
        );
        w.tick();
    }
    assert_eq!(w.workers[0].routes.len(), routes_before);
    assert!(
        strangers
            .iter()
            .all(|s| !w.workers[0].routes.contains_key(s))
    );

    w.run_for(Duration::from_secs(1));
    let video = w.got(b, a, MediaKind::Video);
    assert_eq!(in_order_missing(video), 0);
    assert!(video.len() - frames_before > 30, "b kept receiving");

    // The untouched request from a new address is a genuine check (a changed network): answered
    // and routed.
    let moved = SocketAddr::from(([10, 0, 9, 10], 2000));
    let now = w.now;
    w.workers[0].receive(&genuine, moved, now, &mut w.dirty[0]);
    w.workers[0].drive_dirty(&mut w.dirty[0]);
    let answered = w.workers[0]
        .fx
        .out
        .take()
        .iter()
        .any(|(to, _)| *to == moved);
    assert!(answered, "the genuine check was answered");
    assert_eq!(w.workers[0].routes.get(&moved), Some(&w.people[b].conn));
}

/// A level that counts as talking (-30 dBov).
const TALK: i8 = -30;

/// A meeting over two workers: three talkers (two on worker 0, one on 1) talking for a
/// second, two more senders on worker 1 silent so far, and a receiver on each worker.
fn five_voices() -> (World, [usize; 3], [usize; 2], [usize; 2]) {
    let mut w = World::new(2);
    let talkers = [
        w.join(0, true, Link::default()),
        w.join(0, true, Link::default()),
        w.join(1, true, Link::default()),
    ];
    let others = [
        w.join(1, true, Link::default()),
        w.join(1, true, Link::default()),
    ];
    let receivers = [
        w.join(0, false, Link::default()),
        w.join(1, false, Link::default()),
    ];
    for &t in &talkers {
        w.people[t].level = Some(TALK);
    }
    for &o in &others {
        w.people[o].level = Some(-127);
    }
    w.run_for(Duration::from_secs(1));
    (w, talkers, others, receivers)
}

/// A presenter (on the stage) is heard beyond the three loudest voices, on every worker,
/// though quieter than all of them; another fourth voice is not. Taken off the stage, the
/// presenter is no longer heard.
#[test]
fn a_presenter_is_heard_beyond_the_loudest_voices() {
    let (mut w, talkers, [presenter, fourth], receivers) = five_voices();
    w.set_presenter(presenter, true);
    w.people[presenter].level = Some(-45);
    w.people[fourth].level = Some(TALK);
    w.run_for(Duration::from_secs(2));
    let heard = |w: &World, r: usize, from: usize| w.got(r, from, MediaKind::Audio).len();
    for &r in &receivers {
        assert!(heard(&w, r, presenter) > 50, "{r} hears the presenter");
        assert_eq!(heard(&w, r, fourth), 0, "{r} does not hear a fourth talker");
        for &t in &talkers {
            assert!(heard(&w, r, t) > 100, "{r} hears {t}");
        }
    }
    // Off the stage: one of the three is still talking, so the presenter stays out.
    w.set_presenter(presenter, false);
    let before: Vec<usize> = receivers.iter().map(|&r| heard(&w, r, presenter)).collect();
    w.run_for(Duration::from_secs(2));
    for (i, &r) in receivers.iter().enumerate() {
        assert!(
            heard(&w, r, presenter) - before[i] < 5,
            "{r} no longer hears the former presenter"
        );
    }
}

/// Five participants send audio with levels in a meeting over two workers, three voices heard
/// at once: receivers on both workers hear the three who started talking first, never the
/// fourth talker nor the silent one; when one of the three stops, the fourth is heard on both
/// workers after the hold, and the one who stopped is not.
#[test]
fn only_the_three_loudest_voices_reach_receivers_on_every_worker() {
    let (mut w, talkers, [late, silent], receivers) = five_voices();
    w.people[late].level = Some(TALK);
    w.run_for(Duration::from_secs(2));
    let heard = |w: &World, r: usize, from: usize| w.got(r, from, MediaKind::Audio).len();
    for &r in &receivers {
        for &t in &talkers {
            assert!(heard(&w, r, t) > 100, "{r} hears {t}: {}", heard(&w, r, t));
        }
        assert_eq!(heard(&w, r, late), 0, "{r} does not hear a fourth voice");
        assert_eq!(heard(&w, r, silent), 0, "{r} does not hear silence");
    }
    let chosen: Vec<Vec<ConnId>> = w
        .workers
        .iter()
        .map(|s| {
            let mut c = s.speakers[&w.room].chosen().to_vec();
            c.sort_unstable_by_key(|c| c.0);
            c
        })
        .collect();
    assert_eq!(chosen[0], chosen[1], "both workers chose alike");
    for &r in &receivers {
        // Five voices, three audio m-lines (and the presenters' two): the session does not grow with the talkers; each
        // frame says whose voice it is.
        assert_eq!(w.people[r].audio_lines, 3 + PRESENTER_SLOTS);
        assert_eq!(w.people[r].misattributed, 0);
    }

    // The first talker stops (its client sends silence): the late one takes its slot.
    w.people[talkers[0]].level = Some(-127);
    let before: Vec<usize> = receivers
        .iter()
        .map(|&r| heard(&w, r, talkers[0]))
        .collect();
    w.run_for(Duration::from_secs(3));
    for (i, &r) in receivers.iter().enumerate() {
        assert!(heard(&w, r, late) > 50, "{r} hears the late talker");
        assert!(
            heard(&w, r, talkers[0]) - before[i] < 75,
            "{r} stopped hearing the one who fell silent after the hold"
        );
        for &t in &talkers[1..] {
            let got = w.got(r, t, MediaKind::Audio);
            assert_eq!(in_order_missing(got), 0, "{r} hears {t} whole");
        }
    }
    for &r in &receivers {
        assert_eq!(
            w.people[r].audio_lines,
            3 + PRESENTER_SLOTS,
            "a new voice took a slot, not a new m-line"
        );
        assert_eq!(w.people[r].misattributed, 0);
    }
    // Both workers told their listeners the same dominant speakers, each change once: the
    // first talker, then (when it fell silent) another of the chosen.
    let first = u32::from(w.people[talkers[0]].number());
    let told: Vec<&Vec<Option<u32>>> = receivers
        .iter()
        .map(|&r| &w.people[r].speakers_told)
        .collect();
    assert_eq!(told[0], told[1], "both workers told alike");
    assert_eq!(told[0].first(), Some(&Some(first)), "{:?}", told[0]);
    assert!(told[0].len() >= 2 && told[0].len() <= 4, "{:?}", told[0]);
    assert!(
        told[0].windows(2).all(|w| w[0] != w[1]),
        "only changes are told"
    );
    // Someone leaves: its voice is forgotten on both workers.
    let dominant = w.workers[0].speakers[&w.room].dominant().map(|(c, _)| c);
    let leaver = talkers
        .iter()
        .copied()
        .find(|&t| Some(w.people[t].conn) == dominant)
        .unwrap_or(talkers[1]);
    let told_before: Vec<usize> = receivers
        .iter()
        .map(|&r| w.people[r].speakers_told.len())
        .collect();
    w.leave(leaver);
    w.run_for(Duration::from_millis(200));
    let gone = w.people[leaver].conn;
    for s in &w.workers {
        assert!(!s.speakers[&w.room].chosen().contains(&gone));
    }
    if Some(gone) == dominant {
        // Nobody at once; then whoever of the others speaks.
        let left = u32::from(w.people[leaver].number());
        for (k, &r) in receivers.iter().enumerate() {
            let since = &w.people[r].speakers_told[told_before[k]..];
            assert_eq!(
                since.first(),
                Some(&None),
                "the dominant one left: {since:?}"
            );
            assert!(
                since[1..].iter().all(|s| s.is_some() && *s != Some(left)),
                "{since:?}"
            );
        }
    }
}

impl World {
    /// Participant `i` shows only these participants' video (`None`: everyone's), as its app
    /// says with `receive_video`.
    fn show(&mut self, i: usize, from: Option<&[usize]>) {
        let ids = from.map(|f| f.iter().map(|&j| self.people[j].id).collect());
        let (w, conn) = (self.people[i].worker, self.people[i].conn);
        if self.workers[w]
            .controls
            .set_video_from(conn, ids, TileHeights::default())
        {
            let now = self.now;
            self.workers[w].command(SfuCommand::Controls { conn }, now, &mut self.dirty[w]);
        }
    }
}

/// Video slots: a receiver's video m-lines are as many as the pictures it shows, whoever is
/// in them. Four senders over two workers; the receiver shows two, then two others: the same
/// two m-lines carry them, each sender's picture starting at its keyframe, nothing of those
/// no longer shown arriving; shown everyone, it gets four; a sender who leaves frees a slot.
#[test]
fn video_slots_carry_whoever_a_receiver_shows() {
    let mut w = World::new(2);
    let senders: Vec<usize> = (0..4)
        .map(|i| w.join(i % 2, true, Link::default()))
        .collect();
    let r = w.join(0, false, Link::default());
    w.show(r, Some(&senders[..2]));
    w.run_for(Duration::from_secs(2));
    let n = |w: &World, s: usize| w.got(r, s, MediaKind::Video).len();
    assert_eq!(
        w.people[r].receives.len(),
        2,
        "two pictures, two video m-lines"
    );
    assert!(n(&w, senders[0]) > 30 && n(&w, senders[1]) > 30);
    assert_eq!((n(&w, senders[2]), n(&w, senders[3])), (0, 0));

    // The other two instead: the same m-lines, each picture from a keyframe.
    let before: Vec<usize> = senders.iter().map(|&s| n(&w, s)).collect();
    w.show(r, Some(&senders[2..]));
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.people[r].receives.len(), 2, "no new m-line");
    for &s in &senders[2..] {
        assert!(n(&w, s) > 30, "{s} is shown: {}", n(&w, s));
        assert_eq!(in_order_missing(w.got(r, s, MediaKind::Video)), 0);
    }
    // At most a frame in flight at the switch of those no longer shown.
    for (k, &s) in senders[..2].iter().enumerate() {
        assert!(n(&w, s) <= before[k] + 1, "{s} is no longer shown");
    }
    let p = &w.people[r];
    assert!(p.turns.iter().all(|(_, key)| *key), "{:?}", p.turns);
    assert!(p.turns.len() >= 4, "{:?}", p.turns);
    assert_eq!(p.misattributed, 0);

    // Everyone: four slots. Then one sender leaves: three pictures, the slot stays.
    w.show(r, None);
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.people[r].receives.len(), 4);
    for &s in &senders {
        assert!(n(&w, s) > 30);
    }
    w.leave(senders[0]);
    w.run_for(Duration::from_millis(500));
    let gone = n(&w, senders[0]);
    let others: Vec<usize> = senders[1..].iter().map(|&s| n(&w, s)).collect();
    w.run_for(Duration::from_secs(1));
    assert_eq!(n(&w, senders[0]), gone);
    for (k, &s) in senders[1..].iter().enumerate() {
        assert!(n(&w, s) > others[k] + 20, "{s} goes on");
    }
    assert_eq!(
        w.people[r].receives.len(),
        4,
        "the slot stays for the next one"
    );
    assert!(w.people[r].turns.iter().all(|(_, key)| *key));
    assert_eq!(w.people[r].misattributed, 0);
}

/// Churn: a receiver that shows everyone watches eight people talk with cameras on, then 40
/// more come and go one at a time (eight in the meeting at any moment, besides it). Its session
/// description is made once for the first eight and never renegotiated after: every newcomer
/// takes the slot someone left. The sizes are printed.
#[test]
fn a_receivers_session_stays_the_same_size_through_churn() {
    let mut w = World::new(2);
    let r = w.join(0, false, Link::default());
    let mut present: VecDeque<usize> = VecDeque::new();
    for i in 0..8 {
        let s = w.join(i % 2, true, Link::default());
        w.people[s].level = Some(TALK);
        present.push_back(s);
        w.run_for(Duration::from_millis(100));
    }
    w.run_for(Duration::from_secs(2));
    let (offers, size) = (w.people[r].offers, w.people[r].last_offer_len);
    assert_eq!(
        w.people[r].receives.len(),
        8,
        "a video slot for each of eight"
    );
    assert_eq!(w.people[r].audio_lines, 3 + PRESENTER_SLOTS);
    for i in 0..40 {
        let gone = present.pop_front().unwrap();
        w.leave(gone);
        w.run_for(Duration::from_millis(50));
        let s = w.join(i % 2, true, Link::default());
        w.people[s].level = Some(TALK);
        present.push_back(s);
        w.run_for(Duration::from_millis(400));
    }
    w.run_for(Duration::from_secs(1));
    let p = &w.people[r];
    eprintln!(
        "receiver's session: {} bytes for 8 senders, {} offers; after 40 more came and went: \
         {} offers, {} video and {} audio m-lines",
        size,
        offers,
        p.offers,
        p.receives.len(),
        p.audio_lines
    );
    assert_eq!(p.offers, offers, "no renegotiation through the churn");
    assert_eq!((p.receives.len(), p.audio_lines), (8, 3 + PRESENTER_SLOTS));
    // The last eight are seen, each from a keyframe.
    for &s in &present {
        let v = w.got(r, s, MediaKind::Video);
        assert!(v.len() > 5, "{s}: {}", v.len());
        assert_eq!(in_order_missing(v), 0);
    }
    assert!(w.people[r].turns.iter().all(|(_, key)| *key));
    assert_eq!(w.people[r].misattributed, 0);
    // Nothing is left of those who went, on either worker.
    for sfu in &w.workers {
        for c in sfu.clients.values() {
            assert!(c.tracks_out.len() <= 8, "{}", c.tracks_out.len());
        }
    }
}

impl World {
    /// Participant `i` shows everyone's video in tiles `height` pixels high (`None`: as
    /// large as sent).
    fn show_sized(&mut self, i: usize, height: Option<u16>) {
        let (w, conn) = (self.people[i].worker, self.people[i].conn);
        let heights = TileHeights {
            default: height,
            by: HashMap::new(),
        };
        if self.workers[w].controls.set_video_from(conn, None, heights) {
            let now = self.now;
            self.workers[w].command(SfuCommand::Controls { conn }, now, &mut self.dirty[w]);
        }
    }

    /// Make participant `i` a presenter (always heard) or not, as the room tells its worker.
    fn set_presenter(&mut self, i: usize, on: bool) {
        let (w, conn) = (self.people[i].worker, self.people[i].conn);
        if self.workers[w].controls.set_presenter(conn, on) {
            let now = self.now;
            self.workers[w].command(SfuCommand::Controls { conn }, now, &mut self.dirty[w]);
        }
    }

    /// Forward participant `i`'s media or none of it (event mode's stage), as the room tells
    /// its worker.
    fn set_media(&mut self, i: usize, allowed: bool) {
        let (w, conn) = (self.people[i].worker, self.people[i].conn);
        if self.workers[w].controls.set_media(conn, allowed) {
            let now = self.now;
            self.workers[w].command(SfuCommand::Controls { conn }, now, &mut self.dirty[w]);
        }
    }

    /// The video frames participant `i` got of `from`, in order.
    fn frames_of(&self, i: usize, from: usize) -> Vec<Got> {
        let sender = self.people[from].number();
        self.people[i]
            .video_got
            .iter()
            .filter(|g| g.sender == sender)
            .copied()
            .collect()
    }
}

/// What a receiver's frames of one sender show: numbers never back and none missing (a
/// picture may come twice, in two layers, where its layer changes; where the layer it got
/// stopped, up to `stopped_gap` pictures may be missing), RTP time always forward and as far
/// as the pictures are apart, and every change of layer at a keyframe.
fn assert_seamless(frames: &[Got], stopped_gap: u32) {
    for pair in frames.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let same_layer = a.layer == b.layer;
        let gap = b.number.saturating_sub(a.number + 1);
        assert!(
            b.number == a.number + 1 || (!same_layer && b.number >= a.number && gap <= stopped_gap),
            "{a:?} then {b:?}"
        );
        let most = 3000 * u64::from(b.number - a.number + 1);
        assert!(
            b.time > a.time && b.time - a.time <= most,
            "{a:?} then {b:?}"
        );
        assert!(
            same_layer || b.keyframe,
            "a layer change not at a keyframe: {b:?}"
        );
    }
}

/// Simulcast: a sender sends three layers (320x180, 640x360, 1280x720); receivers on two
/// workers showing it in tiles 180, 360 and full height each get the layer that fits, and
/// nothing else once settled. A receiver whose tile grows moves up at the next keyframe of
/// the larger layer, asked for at once; when the sender stops its top layer (its uplink is
/// short) the one who watched it moves down. Across every change the receiver's pictures go
/// on without a gap and its timestamps run on. A sender without simulcast still reaches a
/// receiver that asks for small tiles.
#[test]
fn each_receiver_gets_the_simulcast_layer_that_fits_its_tile() {
    let mut w = World::new(2);
    let sender = w.join_with(0, true, Link::default(), true);
    let plain = w.join(1, true, Link::default());
    let small = w.join(0, false, Link::default());
    let medium = w.join(1, false, Link::default());
    let large = w.join(1, false, Link::default());
    w.show_sized(small, Some(180));
    w.show_sized(medium, Some(360));
    w.run_for(Duration::from_secs(2));
    for (r, layer) in [(small, 0), (medium, 1), (large, 2)] {
        let got = w.frames_of(r, sender);
        assert!(got.len() > 45, "{r} got {} frames", got.len());
        assert_seamless(&got, 0);
        let tail = &got[got.len() - 30..];
        assert!(
            tail.iter().all(|g| g.layer == Some(layer)),
            "{r} should get layer {layer}: {tail:?}"
        );
        // Once flowing, nothing is lost: the newest frames sent are there.
        assert!(w.people[sender].frame - got.last().unwrap().number <= 3);
    }
    let plain_got = w.frames_of(small, plain);
    assert!(plain_got.len() > 45, "{}", plain_got.len());
    assert!(plain_got.iter().all(|g| g.layer.is_none()));
    assert_eq!(in_order_missing(w.got(small, plain, MediaKind::Video)), 0);

    // The small tile grows to full height: the top layer from its next keyframe, soon.
    let before = w.frames_of(small, sender).len();
    w.show_sized(small, Some(720));
    w.run_for(Duration::from_millis(300));
    let got = w.frames_of(small, sender);
    let moved = &got[before..];
    assert!(
        moved.iter().any(|g| g.layer == Some(2)),
        "within 300 ms the large layer: {moved:?}"
    );
    w.run_for(Duration::from_secs(1));
    let got = w.frames_of(small, sender);
    assert_seamless(&got, 0);
    assert!(got[got.len() - 20..].iter().all(|g| g.layer == Some(2)));

    // The sender stops its top layer: those who watched it move down to the middle one.
    // It takes the SFU MISSED_PICTURES (about a quarter second) to tell the layer stopped.
    w.people[sender].layers[2] = false;
    w.run_for(Duration::from_secs(2));
    for r in [small, large] {
        let got = w.frames_of(r, sender);
        assert_seamless(&got, layers::MISSED_PICTURES + 2);
        assert!(
            got[got.len() - 20..].iter().all(|g| g.layer == Some(1)),
            "{r} moves down to the middle layer"
        );
    }
    // The medium one never noticed.
    let got = w.frames_of(medium, sender);
    assert_seamless(&got, 0);
    assert!(got[got.len() - 60..].iter().all(|g| g.layer == Some(1)));
}

/// A sender sends only the layers someone receives: a receiver on the other worker shows it
/// in a 360-high tile, so after [`demand::LINGER`] the sender is told to send the small and
/// middle layers only, and stops the top one, while that receiver's pictures go on untouched.
/// When nobody shows the sender any more it sends no video; shown again at full height, every
/// layer starts again with a keyframe and the receiver gets the top one.
#[test]
fn a_sender_sends_only_the_simulcast_layers_someone_receives() {
    let mut w = World::new(2);
    let sender = w.join_with(0, true, Link::default(), true);
    let medium = w.join(1, false, Link::default());
    w.show_sized(medium, Some(360));
    w.run_for(Duration::from_secs(1));
    assert!(
        w.people[sender].told_layers.is_empty(),
        "nothing stops at once"
    );
    w.run_for(demand::LINGER + Duration::from_millis(500));
    assert_eq!(w.people[sender].told_layers, vec![vec!["l", "m"]]);
    assert_eq!(w.people[sender].asked, [true, true, false]);
    let sent = w.people[sender].sent;
    w.run_for(Duration::from_secs(1));
    let after = w.people[sender].sent;
    assert_eq!(after[2], sent[2], "h stopped");
    assert!(
        after[1] >= sent[1] + 29,
        "m goes on: {sent:?} then {after:?}"
    );
    let got = w.frames_of(medium, sender);
    assert_seamless(&got, 0);
    assert!(got[got.len() - 60..].iter().all(|g| g.layer == Some(1)));
    assert!(w.people[sender].frame - got.last().unwrap().number <= 3);

    // A newcomer on the sender's worker with a small tile gets the small layer; nothing
    // changes for the sender.
    let small = w.join(0, false, Link::default());
    w.show_sized(small, Some(180));
    w.run_for(Duration::from_secs(2));
    assert_eq!(w.people[sender].asked, [true, true, false]);
    let got = w.frames_of(small, sender);
    assert!(got.len() > 40, "{}", got.len());
    assert_seamless(&got, 0);
    assert!(got[got.len() - 20..].iter().all(|g| g.layer == Some(0)));

    // Nobody shows the sender: after LINGER it sends no video at all.
    w.show(small, Some(&[]));
    w.show(medium, Some(&[]));
    w.run_for(demand::LINGER + Duration::from_millis(600));
    assert_eq!(w.people[sender].told_layers.last(), Some(&Vec::new()));
    let sent = w.people[sender].sent;
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.people[sender].sent, sent, "no video while nobody watches");

    // Shown again, at full height: every layer starts (with a keyframe), the top one reaches
    // the receiver.
    let before = w.frames_of(medium, sender).len();
    w.show_sized(medium, None);
    w.run_for(Duration::from_secs(1));
    assert_eq!(w.people[sender].asked, [true, true, true]);
    let got = w.frames_of(medium, sender);
    let again = &got[before..];
    assert!(again.len() > 15, "{}", again.len());
    assert!(again[0].keyframe);
    assert_seamless(again, 0);
    assert!(again[again.len() - 10..].iter().all(|g| g.layer == Some(2)));
}

/// Event mode's stage at the SFU: a sender whose media is stopped reaches nobody, on its own
/// worker or the other, whatever it sends, while everyone else goes on; allowed again, its
/// video comes back from a keyframe and its voice with it.
#[test]
fn a_sender_off_the_stage_reaches_nobody_until_allowed_again() {
    let mut w = World::new(2);
    let speaker = w.join(0, true, Link::default());
    let attendee = w.join_with(1, true, Link::default(), true);
    let near = w.join(1, false, Link::default());
    let far = w.join(0, false, Link::default());
    w.run_for(Duration::from_secs(2));
    let counts = |w: &World, from: usize| {
        [near, far, speaker].map(|r| {
            (
                w.got(r, from, MediaKind::Video).len(),
                w.got(r, from, MediaKind::Audio).len(),
            )
        })
    };
    for (video, audio) in counts(&w, attendee) {
        assert!(video > 30 && audio > 50, "{video} frames, {audio} packets");
    }
    w.set_media(attendee, false);
    w.run_for(Duration::from_millis(100));
    let stopped = counts(&w, attendee);
    let speaking = counts(&w, speaker);
    let frames_before = [near, far].map(|r| w.frames_of(r, attendee).len());
    w.run_for(Duration::from_secs(2));
    assert_eq!(
        counts(&w, attendee),
        stopped,
        "nothing of the attendee's gets through"
    );
    assert!(w.people[attendee].frame > 100, "though it kept sending");
    assert_eq!(
        w.people[attendee].told_layers,
        vec![Vec::<String>::new()],
        "told to encode no video while off the stage"
    );
    for (r, ((v0, a0), (v1, a1))) in speaking.iter().zip(counts(&w, speaker)).enumerate() {
        if r < 2 {
            assert!(
                v1 > v0 + 50 && a1 > a0 + 80,
                "the speaker goes on: {v0}->{v1}, {a0}->{a1}"
            );
        }
    }
    w.set_media(attendee, true);
    w.run_for(Duration::from_secs(2));
    assert_eq!(
        w.people[attendee].told_layers[1],
        ["l", "m", "h"],
        "and every layer again"
    );
    for (r, ((v0, a0), (v1, a1))) in stopped.iter().zip(counts(&w, attendee)).enumerate() {
        assert!(
            v1 > v0 + 40 && a1 > a0 + 60,
            "{r}: back: {v0}->{v1}, {a0}->{a1}"
        );
    }
    for (r, before) in [near, far].into_iter().zip(frames_before) {
        let again = &w.frames_of(r, attendee)[before..];
        assert!(again[0].keyframe, "back from a keyframe: {:?}", again[0]);
        assert_seamless(again, 0);
    }
}

#[test]
fn a_receiver_whose_answer_is_lost_is_offered_again_and_gets_its_slots() {
    let mut w = World::new(1);
    let a = w.join(0, true, Link::default());
    let b = w.join(0, false, Link::default());
    // Its first answer never reaches the SFU (refused as `server_busy` while the worker was
    // behind): b has applied the offer, the SFU has not. Its answer to the offer sent again
    // comes twice (as a delayed one would, with the other): the second is ignored, not
    // refused (an error to b would fail this test).
    w.people[b].lose_answers = 1;
    w.people[b].twice_after_loss = true;
    w.run_for(Duration::from_secs(4));
    assert!(
        w.got(b, a, MediaKind::Video).is_empty() && w.got(b, a, MediaKind::Audio).is_empty(),
        "nothing flows while the SFU waits for an answer"
    );
    w.run_for(Duration::from_secs(10));
    let p = &w.people[b];
    assert_eq!(p.lose_answers, 0, "the lost answer happened");
    assert!(
        p.offers >= 2,
        "the same offer came again: {} offers",
        p.offers
    );
    let video = w.got(b, a, MediaKind::Video);
    let audio = w.got(b, a, MediaKind::Audio);
    assert!(
        video.len() > 60 && audio.len() > 100,
        "b got {} frames and {} audio packets once its answer arrived",
        video.len(),
        audio.len()
    );
    assert_eq!(in_order_missing(video), 0, "{video:?}");
}

/// A worker over its capacity sheds pictures, never voices. A receiver shows a silent
/// participant larger than the rest (a spotlight) and two others small, one of whom speaks
/// (the dominant speaker). Shedding one level, it gets only the spotlight's and the
/// speaker's pictures; two levels, no pictures; the voice goes on throughout. Back at no
/// shedding, every picture comes back, each starting at a keyframe.
#[test]
fn a_worker_over_capacity_sheds_the_small_pictures_first_and_never_the_voice() {
    let mut w = World::new(1);
    let speaker = w.join(0, true, Link::default());
    let spot = w.join(0, true, Link::default());
    let other = w.join(0, true, Link::default());
    let r = w.join(0, false, Link::default());
    w.people[speaker].level = Some(TALK);
    w.people[spot].level = Some(-127);
    w.people[other].level = Some(-127);
    let (worker, conn) = (w.people[r].worker, w.people[r].conn);
    let heights = TileHeights {
        default: Some(180),
        by: HashMap::from([(w.people[spot].id, 360)]),
    };
    assert!(
        w.workers[worker]
            .controls
            .set_video_from(conn, None, heights)
    );
    let now = w.now;
    w.workers[worker].command(SfuCommand::Controls { conn }, now, &mut w.dirty[worker]);
    w.run_for(Duration::from_secs(2));

    let counts = |w: &World| {
        (
            [speaker, spot, other].map(|s| w.frames_of(r, s).len()),
            w.got(r, speaker, MediaKind::Audio).len(),
        )
    };
    let step = |w: &mut World, level: u8| {
        w.workers[0].shedding.force(level);
        let (video0, voice0) = counts(w);
        w.run_for(Duration::from_secs(2));
        let (video1, voice1) = counts(w);
        let new_video: Vec<usize> = video1.iter().zip(video0).map(|(a, b)| a - b).collect();
        (new_video, voice1 - voice0, video0)
    };
    let (video, voice, _) = step(&mut w, 0);
    assert!(
        video.iter().all(|&n| n >= 50),
        "every picture at first: {video:?}"
    );
    assert!(voice >= 90, "the voice: {voice}");

    let (video, voice, _) = step(&mut w, 1);
    assert!(
        video[0] >= 50 && video[1] >= 50,
        "the speaker's and the spotlight's: {video:?}"
    );
    assert_eq!(video[2], 0, "the small picture is shed: {video:?}");
    assert!(voice >= 90, "the voice goes on: {voice}");

    let (video, voice, _) = step(&mut w, 2);
    assert_eq!(video, [0, 0, 0], "no pictures at all");
    assert!(voice >= 90, "the voice goes on: {voice}");

    let (video, voice, before) = step(&mut w, 0);
    assert!(
        video.iter().all(|&n| n >= 40),
        "every picture is back: {video:?}"
    );
    assert!(voice >= 90, "the voice: {voice}");
    for (i, s) in [speaker, spot, other].into_iter().enumerate() {
        let first = w.frames_of(r, s)[before[i]];
        assert!(
            first.keyframe,
            "{s}'s picture comes back at a keyframe: {first:?}"
        );
    }
}

/// A worker tells its participants when it starts shedding and when it stops, and tells one
/// who comes while it sheds.
#[test]
fn a_worker_tells_its_participants_what_it_sheds() {
    use parley_proto::Shedding as Told;
    let mut w = World::new(1);
    let sender = w.join(0, true, Link::default());
    let r = w.join(0, false, Link::default());
    w.run_for(Duration::from_secs(1));
    assert!(
        w.people[r].loads_told.is_empty(),
        "nothing said while all is well"
    );
    for _ in 0..super::shedding::HOT_SECONDS {
        w.workers[0].second(0.99);
    }
    w.run_for(Duration::from_millis(100));
    for i in [sender, r] {
        assert_eq!(w.people[i].loads_told, [Told::MainVideo]);
    }
    let late = w.join(0, false, Link::default());
    w.run_for(Duration::from_millis(500));
    assert_eq!(
        w.people[late].loads_told,
        [Told::MainVideo],
        "told on coming"
    );
    // Settled, then cool long enough: every picture back, and everyone told.
    for _ in 0..super::shedding::SETTLE_SECONDS + super::shedding::COOL_SECONDS {
        w.workers[0].second(0.10);
    }
    w.run_for(Duration::from_millis(100));
    for i in [sender, r] {
        assert_eq!(w.people[i].loads_told, [Told::MainVideo, Told::None]);
    }
    assert_eq!(w.people[late].loads_told, [Told::MainVideo, Told::None]);
}
