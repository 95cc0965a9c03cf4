//! How media workers share one meeting. A meeting's participants may sit on several workers
//! (a large meeting spreads over all of them); each frame is received by its sender's worker,
//! forwarded there to the local receivers, and handed once to every other worker that carries
//! receivers of the same meeting ([`Handoff`], over a bounded channel per worker: when a worker
//! falls behind, frames for it are dropped and counted, never queued without end).
//!
//! What must not be lost or reordered goes over a second channel ([`Peer`]): a track that
//! started flowing, a sender who left, a worker that starts or stops carrying a meeting, a
//! receiver's keyframe request. The [`Directory`] is the truth those messages follow: it is
//! locked only on signaling events (a participant's media starting or ending, a track starting
//! to flow), never per packet, and every message it causes is sent while it is still locked,
//! so each worker receives them in the order the directory changed. A newcomer's worker reads
//! the tracks already flowing under the same lock, so the newcomer is offered each track once:
//! either it is in that snapshot, or its [`Peer::TrackAdded`] comes after (and a worker checks
//! the directory before acting on one, so a message older than its own view changes nothing).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use parley_proto::ParticipantId;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid, Rid};
use tokio::sync::mpsc;

use crate::room::ConnId;

/// Frames waiting for one worker, at most; more are dropped (and counted) until it catches up.
pub const HANDOFF_QUEUE: usize = 8192;

/// A track that is flowing in a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flowing {
    /// Whose connection sends it.
    pub origin: ConnId,
    /// Who that is (receivers choose whose video they want by participant).
    pub sender: ParticipantId,
    /// Its m-line in the sender's session.
    pub mid: Mid,
    /// Audio or video.
    pub kind: MediaKind,
    /// The worker that receives it.
    pub worker: usize,
}

/// A message between workers, about a meeting or a track; never dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// The set of workers carrying `room` changed: read it again from the directory.
    Carriers {
        /// The meeting.
        room: u64,
    },
    /// A track started flowing: offer it to the receivers of `room` on this worker.
    TrackAdded {
        /// The meeting.
        room: u64,
        /// The track.
        track: Flowing,
    },
    /// `origin` left `room`: its tracks stop for everyone.
    OriginGone {
        /// The meeting.
        room: u64,
        /// Who left.
        origin: ConnId,
    },
    /// A receiver on another worker needs a keyframe of `origin`'s track `mid`.
    Keyframe {
        /// The sender (on the worker this goes to).
        origin: ConnId,
        /// Its m-line.
        mid: Mid,
        /// The simulcast layer (`None`: the track's one layer, or all of them).
        rid: Option<Rid>,
        /// PLI or FIR.
        kind: KeyframeRequestKind,
    },
    /// The receivers on worker `worker` want these simulcast layers of `origin`'s track `mid`
    /// (none: they are not shown it any more). Sent when it changes.
    Wants {
        /// The sender (on the worker this goes to).
        origin: ConnId,
        /// Its m-line.
        mid: Mid,
        /// The worker whose receivers want them.
        worker: usize,
        /// The layers.
        rids: Vec<Rid>,
    },
}

/// A frame handed to another worker for its receivers in the same meeting.
#[derive(Debug)]
pub struct Handoff {
    /// The meeting.
    pub room: u64,
    /// Whose connection sent it.
    pub origin: ConnId,
    /// Who that is.
    pub sender: ParticipantId,
    /// The worker that received it (keyframe requests go back there).
    pub from: usize,
    /// Audio (never held back for a keyframe) or video.
    pub audio: bool,
    /// The sender is a presenter: its voice is forwarded beyond the loudest ones.
    pub presenter: bool,
    /// The frame, shared by every worker it goes to.
    pub data: Arc<MediaData>,
}

/// One meeting as the directory knows it.
#[derive(Debug, Default)]
struct RoomEntry {
    /// Worker → connections of this meeting it carries (only workers with some).
    workers: HashMap<usize, usize>,
    /// Tracks flowing, in the order they started.
    tracks: Vec<Flowing>,
}

/// Which worker carries which meeting, and which tracks flow in each. Pure: each change
/// returns the messages it causes, addressed by worker, for the caller to send before it lets
/// the directory go.
#[derive(Debug, Default)]
pub struct Directory {
    rooms: HashMap<u64, RoomEntry>,
}

/// Messages to send: (worker, message).
pub type Outgoing = Vec<(usize, Peer)>;

impl Directory {
    /// Worker `worker` starts carrying one more connection of `room`. Returns the tracks
    /// already flowing there (to offer the newcomer) and the messages to send.
    pub fn join(&mut self, room: u64, worker: usize) -> (Vec<Flowing>, Outgoing) {
        let entry = self.rooms.entry(room).or_default();
        let n = entry.workers.entry(worker).or_insert(0);
        *n += 1;
        let mut out = Vec::new();
        if *n == 1 {
            out = others(entry, worker)
                .map(|w| (w, Peer::Carriers { room }))
                .collect();
        }
        (entry.tracks.clone(), out)
    }

    /// A track started flowing in `room`; tells the other workers that carry it.
    pub fn track(&mut self, room: u64, track: Flowing) -> Outgoing {
        let Some(entry) = self.rooms.get_mut(&room) else {
            return Vec::new();
        };
        if entry
            .tracks
            .iter()
            .any(|t| t.origin == track.origin && t.mid == track.mid)
        {
            return Vec::new();
        }
        entry.tracks.push(track);
        others(entry, track.worker)
            .map(|w| (w, Peer::TrackAdded { room, track }))
            .collect()
    }

    /// `origin`, carried by `worker`, left `room`.
    pub fn leave(&mut self, room: u64, worker: usize, origin: ConnId) -> Outgoing {
        let Some(entry) = self.rooms.get_mut(&room) else {
            return Vec::new();
        };
        let before = entry.tracks.len();
        entry.tracks.retain(|t| t.origin != origin);
        let mut out: Outgoing = Vec::new();
        if entry.tracks.len() != before {
            out.extend(others(entry, worker).map(|w| (w, Peer::OriginGone { room, origin })));
        }
        if let Some(n) = entry.workers.get_mut(&worker) {
            *n -= 1;
            if *n == 0 {
                entry.workers.remove(&worker);
                out.extend(others(entry, worker).map(|w| (w, Peer::Carriers { room })));
            }
        }
        if entry.workers.is_empty() {
            self.rooms.remove(&room);
        }
        out
    }

    /// `origin`'s tracks in `room` stop (its media is no longer forwarded) while it stays: the
    /// other workers carrying `room` are told as if it had left.
    pub fn silence(&mut self, room: u64, worker: usize, origin: ConnId) -> Outgoing {
        let Some(entry) = self.rooms.get_mut(&room) else {
            return Vec::new();
        };
        let before = entry.tracks.len();
        entry.tracks.retain(|t| t.origin != origin);
        if entry.tracks.len() == before {
            return Vec::new();
        }
        others(entry, worker)
            .map(|w| (w, Peer::OriginGone { room, origin }))
            .collect()
    }

    /// The workers other than `worker` that carry `room`, in ascending order.
    pub fn carriers(&self, room: u64, worker: usize) -> Vec<usize> {
        let mut w: Vec<usize> = self
            .rooms
            .get(&room)
            .map(|e| others(e, worker).collect())
            .unwrap_or_default();
        w.sort_unstable();
        w
    }

    /// Whether `track` still flows in `room` (a [`Peer::TrackAdded`] may arrive after its
    /// sender left).
    pub fn flows(&self, room: u64, track: &Flowing) -> bool {
        self.rooms
            .get(&room)
            .is_some_and(|e| e.tracks.contains(track))
    }

    /// Meetings known (for tests: an empty meeting is forgotten).
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Whether no meeting is known.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

fn others(entry: &RoomEntry, worker: usize) -> impl Iterator<Item = usize> + '_ {
    entry.workers.keys().copied().filter(move |w| *w != worker)
}

/// What the workers share: the directory and a way to reach each worker.
#[derive(Debug)]
pub struct Mesh {
    directory: Mutex<Directory>,
    peers: Vec<mpsc::UnboundedSender<Peer>>,
    handoffs: Vec<mpsc::Sender<Handoff>>,
    dropped: AtomicU64,
}

/// One worker's ends of the mesh.
#[derive(Debug)]
pub struct Inbox {
    /// Messages from other workers.
    pub peers: mpsc::UnboundedReceiver<Peer>,
    /// Frames from other workers.
    pub handoffs: mpsc::Receiver<Handoff>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Mesh {
    /// A mesh of `workers` workers, and each worker's inbox.
    pub fn new(workers: usize) -> (Arc<Mesh>, Vec<Inbox>) {
        let mut peers = Vec::new();
        let mut handoffs = Vec::new();
        let mut inboxes = Vec::new();
        for _ in 0..workers {
            let (ptx, prx) = mpsc::unbounded_channel();
            let (htx, hrx) = mpsc::channel(HANDOFF_QUEUE);
            peers.push(ptx);
            handoffs.push(htx);
            inboxes.push(Inbox {
                peers: prx,
                handoffs: hrx,
            });
        }
        let mesh = Mesh {
            directory: Mutex::default(),
            peers,
            handoffs,
            dropped: AtomicU64::new(0),
        };
        (Arc::new(mesh), inboxes)
    }

    /// Change the directory with `f` and send the messages it causes while it is still
    /// locked (so every worker sees changes in the order they were made).
    pub fn change<T>(&self, f: impl FnOnce(&mut Directory) -> (T, Outgoing)) -> T {
        let mut dir = lock(&self.directory);
        let (value, out) = f(&mut dir);
        for (w, msg) in out {
            if let Some(tx) = self.peers.get(w) {
                // Fails only when that worker has stopped (the server is shutting down).
                let _ = tx.send(msg);
            }
        }
        value
    }

    /// Read the directory.
    pub fn read<T>(&self, f: impl FnOnce(&Directory) -> T) -> T {
        f(&lock(&self.directory))
    }

    /// Send one message to `worker` (one the directory does not order: a keyframe request).
    pub fn tell(&self, worker: usize, msg: Peer) {
        if let Some(tx) = self.peers.get(worker) {
            let _ = tx.send(msg);
        }
    }

    /// Hand a frame to `worker`; dropped (and counted) if it is behind.
    pub fn hand(&self, worker: usize, handoff: Handoff) {
        if let Some(tx) = self.handoffs.get(worker) {
            offer(tx, handoff, &self.dropped);
        }
    }

    /// Frames dropped because the worker they were for was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Queue `item` unless the queue is full; count it as dropped if it is.
fn offer<T>(tx: &mpsc::Sender<T>, item: T, dropped: &AtomicU64) {
    if tx.try_send(item).is_err() {
        dropped.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(origin: u64, mid: &str, worker: usize) -> Flowing {
        Flowing {
            origin: ConnId(origin),
            sender: ParticipantId(origin as u32),
            mid: Mid::from(mid),
            kind: MediaKind::Video,
            worker,
        }
    }

    #[test]
    fn workers_hear_of_each_other_and_of_tracks_only_while_they_carry_the_meeting() {
        let mut d = Directory::default();
        // Worker 0 takes the meeting's first two connections: nobody else to tell.
        assert_eq!(d.join(1, 0), (vec![], vec![]));
        assert_eq!(d.join(1, 0), (vec![], vec![]));
        let a = track(10, "0", 0);
        assert_eq!(d.track(1, a), vec![], "nobody else carries it");
        assert_eq!(d.track(1, a), vec![], "a track is announced once");
        // Worker 1 starts carrying it: it gets the flowing track, worker 0 is told.
        let (flowing, out) = d.join(1, 1);
        assert_eq!(flowing, vec![a]);
        assert_eq!(out, vec![(0, Peer::Carriers { room: 1 })]);
        assert_eq!(d.carriers(1, 0), vec![1]);
        assert_eq!(d.carriers(1, 1), vec![0]);
        // A track on worker 1 is announced to worker 0 only.
        let b = track(20, "1", 1);
        assert_eq!(
            d.track(1, b),
            vec![(0, Peer::TrackAdded { room: 1, track: b })]
        );
        assert!(d.flows(1, &b));
        // Its sender leaves: worker 0 hears; worker 1 carried one connection, so it stops
        // carrying the meeting and worker 0 is told that too.
        assert_eq!(
            d.leave(1, 1, ConnId(20)),
            vec![
                (
                    0,
                    Peer::OriginGone {
                        room: 1,
                        origin: ConnId(20)
                    }
                ),
                (0, Peer::Carriers { room: 1 }),
            ]
        );
        assert!(
            !d.flows(1, &b),
            "a late TrackAdded for it is recognised as stale"
        );
        assert_eq!(d.carriers(1, 0), Vec::<usize>::new());
        // A connection without tracks leaves quietly; the last one forgets the meeting.
        assert_eq!(d.leave(1, 0, ConnId(11)), vec![]);
        assert_eq!(d.leave(1, 0, ConnId(10)), vec![]);
        assert!(d.is_empty());
        assert_eq!(d.track(1, a), vec![], "no meeting, nothing to announce");
    }

    #[test]
    fn a_newcomer_is_offered_each_track_exactly_once_whatever_the_order() {
        // Worker 0 carries the meeting; a track on worker 0 and a newcomer on worker 1 race.
        // Whichever takes the directory first, the newcomer's worker either finds the track
        // in its snapshot or is sent a TrackAdded for it, never both and never neither.
        let t = track(10, "0", 0);
        for track_first in [true, false] {
            let mut d = Directory::default();
            d.join(1, 0);
            let (snapshot, told) = if track_first {
                let told = d.track(1, t);
                let (snapshot, _) = d.join(1, 1);
                (snapshot, told)
            } else {
                let (snapshot, _) = d.join(1, 1);
                (snapshot, d.track(1, t))
            };
            let messages = told
                .iter()
                .filter(|(w, m)| *w == 1 && matches!(m, Peer::TrackAdded { .. }))
                .count();
            assert_eq!(
                snapshot.len() + messages,
                1,
                "track first: {track_first}; snapshot {snapshot:?}, told {told:?}"
            );
        }
    }

    #[test]
    fn frames_for_a_worker_that_is_behind_are_dropped_and_counted() {
        let (tx, mut rx) = mpsc::channel(4);
        let dropped = AtomicU64::new(0);
        for i in 0..9u64 {
            offer(&tx, i, &dropped);
        }
        assert_eq!(dropped.load(Ordering::Relaxed), 5);
        // What was queued arrives in order.
        for i in 0..4 {
            assert_eq!(rx.try_recv().unwrap(), i);
        }
        assert!(rx.try_recv().is_err());
    }
}
