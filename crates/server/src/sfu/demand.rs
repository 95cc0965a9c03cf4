//! Which simulcast layers anyone receives, so that a sender encodes and sends only those
//! (it saves the sender's processor and uplink: in a large meeting most cameras are seen by
//! nobody, or only as small tiles).
//!
//! Every [`DEMAND_TICK`] each media worker works out, per simulcast track its receivers are
//! shown, the layers they want: for each receiver, every layer up to the one that would fit its
//! tile if every layer were sent ([`super::layers::Layers::ideal`]) or the one it gets now,
//! whichever is larger. The smaller layers stay: they are what a sender short of uplink falls
//! back to, and they cost it little; what is saved is the large layers nobody needs, and
//! everything of a sender nobody is shown. What changed since a worker last said goes to the
//! track's own worker. There, the wants of all workers are joined; a layer wanted by nobody
//! for [`LINGER`] (so a tile that shrinks and grows again stops nothing) is left
//! out, a layer wanted again is put back at once, and the sender is told the layers to send
//! whenever that set changes. A sender restarts a layer with a keyframe.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use str0m::media::{Mid, Rid};

use crate::room::ConnId;

/// How often each worker works out what its receivers want.
pub const DEMAND_TICK: Duration = Duration::from_millis(250);
/// How long a layer nobody wants is still sent.
pub const LINGER: Duration = Duration::from_secs(2);

/// A simulcast track: its sender's connection and m-line.
pub type Track = (ConnId, Mid);

/// What one sender's track is told to send.
#[derive(Debug, Default)]
struct Sending {
    /// Each layer seen, and when it was last wanted (a layer is wanted when first seen).
    wanted_at: Vec<(Rid, Instant)>,
    /// The layers the sender was last told to send (`None`: not told yet; it sends all).
    told: Option<Vec<Rid>>,
}

/// One worker's part in choosing which layers senders send.
#[derive(Debug, Default)]
pub struct Demand {
    /// As the receivers' worker: what it last told each track's worker that its receivers
    /// want, by track: (the track's worker, the layers).
    told_up: HashMap<Track, (usize, Vec<Rid>)>,
    /// As the senders' worker: each track's wants, by worker.
    by_worker: HashMap<Track, HashMap<usize, Vec<Rid>>>,
    /// As the senders' worker: what each track's sender is told to send.
    sending: HashMap<Track, Sending>,
    /// When the next tick is due.
    next: Option<Instant>,
}

impl Demand {
    /// Whether a tick is due at `now` (and if so, the next one is [`DEMAND_TICK`] later).
    pub fn due(&mut self, now: Instant) -> bool {
        if self.next.is_some_and(|t| now < t) {
            return false;
        }
        self.next = Some(now + DEMAND_TICK);
        true
    }

    /// What this worker's receivers want now, by track (the track's worker, the layers):
    /// returns what changed since last time, to tell each track's worker, as (that worker,
    /// track, layers). A track no receiver here is shown any more is told with no layers,
    /// once.
    pub fn local(
        &mut self,
        now: HashMap<Track, (usize, Vec<Rid>)>,
    ) -> Vec<(usize, Track, Vec<Rid>)> {
        let mut changes = Vec::new();
        self.told_up.retain(|track, (worker, _)| {
            let kept = now.contains_key(track);
            if !kept {
                changes.push((*worker, *track, Vec::new()));
            }
            kept
        });
        for (track, (worker, mut rids)) in now {
            rids.sort_unstable_by_key(|r| r.to_string());
            if self.told_up.get(&track).is_some_and(|(_, r)| *r == rids) {
                continue;
            }
            changes.push((worker, track, rids.clone()));
            self.told_up.insert(track, (worker, rids));
        }
        changes
    }

    /// Worker `worker`'s receivers want `rids` of `track` (a track of this worker's).
    pub fn wants(&mut self, track: Track, worker: usize, rids: Vec<Rid>) {
        if rids.is_empty() {
            if let Some(w) = self.by_worker.get_mut(&track) {
                w.remove(&worker);
                if w.is_empty() {
                    self.by_worker.remove(&track);
                }
            }
            return;
        }
        self.by_worker
            .entry(track)
            .or_default()
            .insert(worker, rids);
    }

    /// The layers `track`'s sender is to send now, if that changed since it was last told
    /// (`seen`: the layers it has sent, stopped ones too).
    pub fn decide(&mut self, track: Track, seen: &[Rid], now: Instant) -> Option<Vec<Rid>> {
        let wanted: Vec<Rid> = self
            .by_worker
            .get(&track)
            .map(|w| w.values().flatten().copied().collect())
            .unwrap_or_default();
        let s = self.sending.entry(track).or_default();
        for rid in seen {
            match s.wanted_at.iter_mut().find(|(r, _)| r == rid) {
                Some((_, at)) if wanted.contains(rid) => *at = now,
                Some(_) => {}
                None => s.wanted_at.push((*rid, now)),
            }
        }
        let send: Vec<Rid> = s
            .wanted_at
            .iter()
            .filter(|(_, at)| now.saturating_duration_since(*at) < LINGER)
            .map(|(r, _)| *r)
            .collect();
        if s.told.as_ref() == Some(&send) || (s.told.is_none() && send.len() == seen.len()) {
            return None;
        }
        s.told = Some(send.clone());
        Some(send)
    }

    /// `origin` left: forget its tracks.
    pub fn forget(&mut self, origin: ConnId) {
        self.told_up.retain(|(o, _), _| *o != origin);
        self.by_worker.retain(|(o, _), _| *o != origin);
        self.sending.retain(|(o, _), _| *o != origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(n: u64) -> Track {
        (ConnId(n), Mid::from("1"))
    }

    #[test]
    fn a_layer_nobody_wants_stops_after_a_while_and_one_wanted_again_starts_at_once() {
        let (l, m, h) = (Rid::from("l"), Rid::from("m"), Rid::from("h"));
        let seen = [l, m, h];
        let t0 = Instant::now();
        let mut d = Demand::default();
        // Nobody has said anything yet: everything goes on being sent, untold.
        assert_eq!(d.decide(track(1), &seen, t0), None);
        // Worker 1's receivers want m; worker 0's want l.
        d.wants(track(1), 1, vec![m]);
        d.wants(track(1), 0, vec![l]);
        assert_eq!(d.decide(track(1), &seen, t0 + LINGER / 2), None);
        // h has been wanted by nobody for LINGER: it stops.
        assert_eq!(d.decide(track(1), &seen, t0 + LINGER), Some(vec![l, m]));
        assert_eq!(
            d.decide(track(1), &seen, t0 + LINGER * 2),
            None,
            "told once"
        );
        // Worker 0's receivers go: l lingers, then stops.
        d.wants(track(1), 0, vec![]);
        let t1 = t0 + LINGER * 2 + DEMAND_TICK;
        assert_eq!(d.decide(track(1), &seen, t1), None);
        assert_eq!(d.decide(track(1), &seen, t1 + LINGER), Some(vec![m]));
        // Someone wants h: at once.
        d.wants(track(1), 1, vec![h, m]);
        let t2 = t1 + LINGER + DEMAND_TICK;
        assert_eq!(d.decide(track(1), &seen, t2), Some(vec![m, h]));
        // Nobody at all: nothing is sent.
        d.wants(track(1), 1, vec![]);
        assert_eq!(d.decide(track(1), &seen, t2 + LINGER), Some(vec![]));
        // The sender leaves: nothing of it is kept.
        d.forget(ConnId(1));
        assert!(d.by_worker.is_empty() && d.sending.is_empty());
    }

    #[test]
    fn a_worker_tells_only_what_changed_and_once_that_a_track_is_no_longer_shown() {
        let (l, m) = (Rid::from("l"), Rid::from("m"));
        let mut d = Demand::default();
        let now = HashMap::from([(track(1), (1, vec![m, l])), (track(2), (0, vec![l]))]);
        let mut told = d.local(now.clone());
        told.sort_by_key(|(_, t, _)| t.0);
        assert_eq!(
            told,
            vec![(1, track(1), vec![l, m]), (0, track(2), vec![l])]
        );
        assert!(d.local(now).is_empty(), "nothing changed");
        let now = HashMap::from([(track(1), (1, vec![l]))]);
        let mut told = d.local(now.clone());
        told.sort_by_key(|(_, t, _)| t.0);
        assert_eq!(told, vec![(1, track(1), vec![l]), (0, track(2), vec![])]);
        assert!(d.local(now).is_empty());
    }

    #[test]
    fn time_between_ticks_is_a_quarter_second() {
        let t0 = Instant::now();
        let mut d = Demand::default();
        assert!(d.due(t0));
        assert!(!d.due(t0 + DEMAND_TICK / 2));
        assert!(d.due(t0 + DEMAND_TICK));
    }
}
