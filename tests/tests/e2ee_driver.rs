//! The client's E2EE driver (`parley_client::e2ee::E2ee`) against the real room state machine,
//! in virtual time and without sockets: who commits and when, what happens when the one whose
//! turn it is stays silent, a leaver's removal, chat typed before the keys, key renewal, sealed
//! hands.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parley_client::e2ee::{E2ee, E2eeEvent};
use parley_proto::{
    ClientMessage, DisplayName, HostSecret, Identity, MeetingKey, Policy, ServerMessage, Title,
};
use parley_server::room::{ConnId, Input, JoinRequest, Output, Room, RoomLimits, RoomSetup};

struct Person {
    e2ee: E2ee,
    /// Does not read or act (a frozen client).
    silent: bool,
    inbox: Vec<ServerMessage>,
    shown: Vec<ServerMessage>,
    events: Vec<E2eeEvent>,
}

struct World {
    room: Room,
    now: Instant,
    key: MeetingKey,
    secret: HostSecret,
    people: HashMap<u64, Person>,
    next: u64,
    /// How many each commit sent to the server added, in order.
    commits: Vec<usize>,
}

impl World {
    fn new() -> Self {
        let now = Instant::now();
        let secret = HostSecret::random();
        let policy = Policy {
            waiting_room: false,
            ..Policy::default()
        };
        World {
            room: Room::new(
                RoomSetup {
                    title: Title::new("Board").unwrap(),
                    policy,
                    passcode: None,
                },
                secret.clone(),
                RoomLimits::default(),
                now,
            ),
            now,
            key: MeetingKey::random(),
            secret,
            people: HashMap::new(),
            next: 1,
            commits: Vec::new(),
        }
    }

    fn apply(&mut self, outs: Vec<Output>) {
        for o in outs {
            match o {
                Output::Send { to, msg } => self.deliver(to, msg),
                Output::Broadcast { to, msg } => {
                    for c in to {
                        self.deliver(c, msg.clone());
                    }
                }
                _ => {}
            }
        }
    }

    fn deliver(&mut self, to: ConnId, msg: ServerMessage) {
        if let Some(p) = self.people.get_mut(&to.0) {
            p.inbox.push(msg);
        }
    }

    fn send(&mut self, conn: u64, msg: ClientMessage) {
        if let ClientMessage::MlsCommit { added, .. } = &msg {
            self.commits.push(added.len());
        }
        let outs = self.room.handle(
            self.now,
            Input::Message {
                conn: ConnId(conn),
                msg,
            },
        );
        self.apply(outs);
    }

    /// Join (the first as host) with the link's key, or `key`.
    fn join_with(&mut self, name: &str, key: &MeetingKey) -> u64 {
        let conn = self.next;
        self.next += 1;
        let me = Identity::generate();
        let e2ee = E2ee::new(key, &me).unwrap();
        let kp = e2ee.key_package_message().unwrap();
        self.people.insert(
            conn,
            Person {
                e2ee,
                silent: false,
                inbox: Vec::new(),
                shown: Vec::new(),
                events: Vec::new(),
            },
        );
        let outs = self.room.handle(
            self.now,
            Input::Join {
                conn: ConnId(conn),
                request: JoinRequest {
                    name: DisplayName::new(name).unwrap(),
                    identity: me.public(),
                    passcode: None,
                    host_secret: (conn == 1).then(|| self.secret.clone()),
                    browser: false,
                },
            },
        );
        self.apply(outs);
        self.send(conn, kp);
        conn
    }

    fn join(&mut self, name: &str) -> u64 {
        let key = self.key.clone();
        self.join_with(name, &key)
    }

    fn leave(&mut self, conn: u64) {
        self.send(conn, ClientMessage::Leave {});
        self.people.remove(&conn);
    }

    /// Let everyone (but the silent) handle what arrived and act, until nothing moves.
    fn settle(&mut self) {
        for _ in 0..50 {
            if !self.settle_once() {
                return;
            }
        }
        panic!("the group never settled");
    }

    /// One round: everyone handles their inbox and polls; whether anything was sent.
    fn settle_once(&mut self) -> bool {
        {
            let mut out: Vec<(u64, ClientMessage)> = Vec::new();
            for (conn, p) in self.people.iter_mut() {
                if p.silent {
                    continue;
                }
                for m in std::mem::take(&mut p.inbox) {
                    let r = p.e2ee.on_message(self.now, m);
                    out.extend(r.send.into_iter().map(|m| (*conn, m)));
                    p.events.extend(r.events);
                    p.shown.extend(r.show);
                }
                out.extend(p.e2ee.poll(self.now).into_iter().map(|m| (*conn, m)));
            }
            let moved = !out.is_empty();
            for (conn, m) in out {
                self.send(conn, m);
            }
            moved
        }
    }

    /// [`World::settle`], except that messages to `victim` matching `lost` vanish.
    fn settle_dropping(&mut self, victim: u64, lost: impl Fn(&ServerMessage) -> bool) {
        for _ in 0..50 {
            if let Some(p) = self.people.get_mut(&victim) {
                p.inbox.retain(|m| !lost(m));
            }
            let before: usize = self.people.values().map(|p| p.inbox.len()).sum();
            self.settle_once();
            let after: usize = self.people.values().map(|p| p.inbox.len()).sum();
            if before == 0 && after == 0 {
                return;
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.settle();
    }

    fn code(&self, conn: u64) -> Option<String> {
        self.people[&conn]
            .e2ee
            .security_code()
            .map(|c| c.to_string())
    }

    fn size(&self, conn: u64) -> usize {
        self.people[&conn].e2ee.group_size()
    }

    /// How many times this person's keys changed.
    fn key_changes(&self, conn: u64) -> usize {
        self.people[&conn]
            .events
            .iter()
            .filter(|e| matches!(e, E2eeEvent::Secured { .. }))
            .count()
    }
}

#[test]
fn the_first_in_line_adds_everyone_and_all_share_one_code() {
    let mut w = World::new();
    let a = w.join("Ann");
    let b = w.join("Bob");
    let c = w.join("Cy");
    w.settle();
    for p in [a, b, c] {
        assert_eq!(w.size(p), 3, "{p}");
        assert_eq!(w.code(p), w.code(a));
    }
}

#[test]
fn a_leaver_is_removed_by_the_next_in_line_at_once() {
    let mut w = World::new();
    let a = w.join("Ann");
    let b = w.join("Bob");
    let c = w.join("Cy");
    w.settle();
    // The founder (lowest leaf) leaves: Bob is now first in line and removes her without
    // waiting out any stagger.
    w.leave(a);
    w.settle();
    assert_eq!(w.size(b), 2);
    assert_eq!(w.size(c), 2);
    assert_eq!(w.code(b), w.code(c));
}

#[test]
fn when_the_one_whose_turn_it_is_stays_silent_the_next_steps_in_after_the_stagger() {
    let mut w = World::new();
    let a = w.join("Ann");
    let b = w.join("Bob");
    w.settle();
    w.people.get_mut(&a).unwrap().silent = true;
    let c = w.join("Cy");
    w.settle();
    // Ann (first in line) does nothing; Bob waits his turn (300 ms)…
    assert_eq!(w.size(b), 2, "Bob must not commit before his turn");
    assert!(!w.people[&c].e2ee.is_secured());
    w.advance(Duration::from_millis(200));
    assert_eq!(w.size(b), 2);
    // …then adds Cy himself.
    w.advance(Duration::from_millis(150));
    assert_eq!(w.size(b), 3);
    assert!(w.people[&c].e2ee.is_secured());
    assert_eq!(w.code(b), w.code(c));
}

#[test]
fn chat_typed_before_the_keys_is_sent_once_they_arrive() {
    let mut w = World::new();
    let a = w.join("Ann");
    w.settle();
    let b = w.join("Bob");
    // Before any message was handled, Bob has no keys: the line is held, not lost.
    let held = w
        .people
        .get_mut(&b)
        .unwrap()
        .e2ee
        .chat(None, "hello early")
        .unwrap();
    assert!(held.is_empty());
    w.settle();
    let got: Vec<&String> = w.people[&a]
        .shown
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Chat { body, .. } => Some(body),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec!["hello early"]);
}

#[test]
fn a_wrong_link_is_refused_once_with_the_reason() {
    let mut w = World::new();
    let a = w.join("Ann");
    let _b = w.join("Bob");
    w.settle();
    let eve = w.join_with("Eve", &MeetingKey::random());
    w.settle();
    let refusals: Vec<&E2eeEvent> = w.people[&eve]
        .events
        .iter()
        .filter(|e| matches!(e, E2eeEvent::Refused(_)))
        .collect();
    assert_eq!(
        refusals.len(),
        1,
        "one refusal, not one per member: {refusals:?}"
    );
    assert!(!w.people[&eve].e2ee.is_secured());
    assert_eq!(w.size(a), 2, "Eve was never added");
}

#[test]
fn members_renew_their_own_keys_every_ten_minutes() {
    let mut w = World::new();
    let a = w.join("Ann");
    let b = w.join("Bob");
    w.settle();
    let before = w.code(a);
    let secured_before = w.key_changes(b);
    w.advance(Duration::from_secs(9 * 60));
    assert_eq!(w.code(a), before, "nothing renews before its time");
    w.advance(Duration::from_secs(2 * 60));
    assert_ne!(w.code(a), before, "the group moved to a new epoch");
    assert_eq!(w.code(a), w.code(b));
    assert!(w.key_changes(b) > secured_before);
}

#[test]
fn a_member_that_missed_a_commit_rejoins_and_decrypts_again() {
    let mut w = World::new();
    let a = w.join("Ann");
    let b = w.join("Bob");
    w.settle();
    let frames_b = w.people[&b].e2ee.frames();
    // Cy joins; Bob's copy of the commit that adds her is lost on the way.
    let c = w.join("Cy");
    w.settle_dropping(b, |m| matches!(m, ServerMessage::MlsCommit { .. }));
    assert_ne!(w.code(b), w.code(a), "Bob is behind");
    // The next change reaches him, he cannot apply it, starts over, and is added again.
    let d = w.join("Di");
    w.settle();
    w.advance(Duration::from_secs(1));
    for p in [a, b, c, d] {
        assert_eq!(w.code(p), w.code(a), "participant {p}");
        assert_eq!(w.size(p), 4, "participant {p}");
    }
    assert!(
        w.people[&b]
            .events
            .iter()
            .any(|e| matches!(e, E2eeEvent::Problem(why) if why.contains("rejoining")))
    );
    // His media goes on through the cipher the call already holds.
    for _ in 0..=parley_e2ee::SWITCH_AFTER_FRAMES {
        w.people[&a]
            .e2ee
            .frames()
            .seal(parley_e2ee::MediaKind::Audio, &[0x78])
            .unwrap();
    }
    let f = w.people[&a]
        .e2ee
        .frames()
        .seal(parley_e2ee::MediaKind::Audio, &[0x78, 7])
        .unwrap();
    assert_eq!(
        frames_b.open(parley_e2ee::MediaKind::Audio, &f).unwrap(),
        [0x78, 7]
    );
}

/// The hands each person was shown, in order: (whose, raised).
fn hands(w: &World, conn: u64) -> Vec<(u32, bool)> {
    w.people[&conn]
        .events
        .iter()
        .filter_map(|e| match e {
            E2eeEvent::Hand { from, raised } => Some((from.0, *raised)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_raised_hand_is_sealed_and_reaches_everyone_even_who_joins_later() {
    let mut w = World::new();
    let a = w.join("Ann");
    let b = w.join("Bob");
    w.settle();
    let raise = w
        .people
        .get_mut(&b)
        .unwrap()
        .e2ee
        .raise_hand(true)
        .unwrap()
        .expect("Bob has keys: the hand goes at once");
    assert!(
        matches!(raise, ClientMessage::Sealed { .. }),
        "the server gets ciphertext, not whose hand: {raise:?}"
    );
    w.send(b, raise);
    w.settle();
    let bob = hands(&w, a)
        .first()
        .map(|h| h.0)
        .expect("Ann sees Bob's hand");
    assert_eq!(hands(&w, a), [(bob, true)]);
    assert_eq!(hands(&w, b), [(bob, true)], "Bob sees his own hand up");

    // Cy joins after the hand went up: Bob tells the group again once the keys change.
    let c = w.join("Cy");
    w.settle();
    assert!(w.people[&c].e2ee.is_secured());
    assert_eq!(
        hands(&w, c).last(),
        Some(&(bob, true)),
        "a latecomer sees the raised hand"
    );

    let lower = w
        .people
        .get_mut(&b)
        .unwrap()
        .e2ee
        .raise_hand(false)
        .unwrap()
        .unwrap();
    w.send(b, lower);
    w.settle();
    for p in [a, b, c] {
        assert_eq!(hands(&w, p).last(), Some(&(bob, false)), "{p}");
    }
    // Down stays down: the next change of keys tells nobody anything.
    let before = hands(&w, a).len();
    w.leave(c);
    w.settle();
    assert_eq!(hands(&w, a).len(), before);
}

/// A commit and its Welcome grow with everyone they add, and a member may send at most
/// 1.5 MiB (about 1,260 ordinary adds): of 600 people at once no commit adds more than 500;
/// the next adds the rest as soon as one is accepted. (The first key package to arrive is
/// committed alone, before the others are read: the load bench shows the same.)
#[test]
fn six_hundred_at_once_are_added_by_commits_of_at_most_five_hundred() {
    let mut w = World::new();
    let host = w.join("Hana");
    w.settle();
    let others: Vec<u64> = (0..600).map(|i| w.join(&format!("P{i}"))).collect();
    for id in &others {
        // They do not process their Welcomes (that would be 600 group states here); the
        // host's view of the group is what is checked.
        w.people.get_mut(id).unwrap().silent = true;
    }
    w.settle();
    assert_eq!(w.commits, vec![1, 500, 99]);
    assert_eq!(w.size(host), 601);
}
