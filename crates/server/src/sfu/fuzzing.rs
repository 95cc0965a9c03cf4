//! Entry points for the fuzz targets (feature `fuzzing`): one media worker's state, without a
//! socket or a clock, with one participant whose media session it answered (made by a str0m
//! peer, as a client would). Hostile bytes go in as datagrams or session descriptions; the
//! targets check that nothing panics and that nothing grows without bound.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_proto::ParticipantId;
use str0m::media::{Direction, MediaKind};
use str0m::{Candidate, Rtc};

use super::{ConnId, ConnLink, Controls, Inbox, MediaSignal, Mesh, Sfu, SfuCommand, lock};

/// One media worker with one participant in one meeting.
pub struct Worker {
    sfu: Sfu,
    dirty: HashSet<ConnId>,
    now: Instant,
    participant: Arc<ConnLink>,
    participant_addr: SocketAddr,
    newcomers: u64,
    /// The worker's own channels (one worker: nothing is handed over).
    _inboxes: Vec<Inbox>,
}

/// What the worker holds, to check it stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Participants with a media session.
    pub clients: usize,
    /// Remote addresses routed to a participant.
    pub routes: usize,
    /// ICE names that lead to a participant.
    pub names: usize,
}

const ROOM: u64 = 1;

impl Worker {
    /// A worker whose participant 1 sent an offer with audio and video (and got its answer).
    pub fn new() -> Self {
        str0m::crypto::from_feature_flags().install_process_default();
        let now = Instant::now();
        let (mesh, inboxes) = Mesh::new(1);
        let addr = SocketAddr::from(([10, 0, 0, 1], 5000));
        let sfu = Sfu::new(None, addr, 0, Arc::<Controls>::default(), mesh, 3);
        let participant_addr = SocketAddr::from(([10, 0, 1, 1], 4000));
        let mut w = Worker {
            sfu,
            dirty: HashSet::new(),
            now,
            participant: ConnLink::new(ConnId(1), participant_addr.ip(), 1024),
            participant_addr,
            newcomers: 0,
            _inboxes: inboxes,
        };
        let offer = peer_offer(participant_addr, now);
        w.signal(
            w.participant.clone(),
            ParticipantId(1),
            MediaSignal::Offer(offer),
        );
        w
    }

    fn signal(&mut self, link: Arc<ConnLink>, participant: ParticipantId, signal: MediaSignal) {
        let cmd = SfuCommand::Signal {
            room: ROOM,
            link,
            participant,
            signal,
        };
        self.sfu.command(cmd, self.now, &mut self.dirty);
        self.settle();
    }

    fn settle(&mut self) {
        self.sfu.drive_dirty(&mut self.dirty);
        self.sfu.fx.out.take();
        lock(&self.participant.queue).clear();
    }

    /// A datagram: from the participant's address, or from a stranger's.
    pub fn datagram(&mut self, data: &[u8], from_participant: bool) {
        let from = if from_participant {
            self.participant_addr
        } else {
            SocketAddr::from(([10, 0, 9, 9], 666))
        };
        self.sfu.receive(data, from, self.now, &mut self.dirty);
        self.settle();
    }

    /// A session description: as the participant's new offer (a renegotiation), as its answer,
    /// or as a newcomer's first offer (a newcomer leaves again at once).
    pub fn sdp(&mut self, sdp: &str, as_what: u8) {
        match as_what % 3 {
            0 => self.signal(
                self.participant.clone(),
                ParticipantId(1),
                MediaSignal::Offer(sdp.to_owned()),
            ),
            1 => self.signal(
                self.participant.clone(),
                ParticipantId(1),
                MediaSignal::Answer(sdp.to_owned()),
            ),
            _ => {
                self.newcomers += 1;
                let conn = ConnId(1_000 + self.newcomers);
                let link = ConnLink::new(conn, self.participant_addr.ip(), 1024);
                self.signal(link, ParticipantId(2), MediaSignal::Offer(sdp.to_owned()));
                self.sfu
                    .command(SfuCommand::Gone { conn }, self.now, &mut self.dirty);
                self.settle();
            }
        }
    }

    /// Time passes (`ms` milliseconds): the worker's timers run.
    pub fn tick(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.sfu.fire_timers(self.now, &mut self.dirty);
        self.settle();
    }

    /// What it holds now.
    pub fn held(&self) -> Held {
        Held {
            clients: self.sfu.clients.len(),
            routes: self.sfu.routes.len(),
            names: self.sfu.ufrags.len(),
        }
    }
}

impl Default for Worker {
    fn default() -> Self {
        Self::new()
    }
}

/// An offer as a client makes one: audio and video to send, its candidate at `addr`.
pub fn peer_offer(addr: SocketAddr, now: Instant) -> String {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .build(now);
    if let Ok(c) = Candidate::host(addr, "udp") {
        rtc.add_local_candidate(c);
    }
    let mut change = rtc.sdp_api();
    for kind in [MediaKind::Audio, MediaKind::Video] {
        change.add_media(kind, Direction::SendOnly, None, None, None);
    }
    change
        .apply()
        .map(|(offer, _)| offer.to_sdp_string())
        .unwrap_or_default()
}
