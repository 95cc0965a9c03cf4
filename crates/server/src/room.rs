//! The room: a pure state machine that decides who is in a meeting and what they may do.
//!
//! Drive it with [`Room::handle`]: give it the time and one [`Input`], then carry out the
//! returned [`Output`]s in order (send, broadcast, close). It holds no sockets, spawns nothing
//! and reads no clock, so every rule is tested without I/O. Join signatures are verified
//! before a join reaches the room (see [`crate::session`]); everything else is decided here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::control::TileHeights;
use parley_proto::message::{
    MAX_BODY_BYTES, MAX_BREAKOUT_MINUTES, MAX_BREAKOUT_ROOMS, MAX_FILE_CHUNK_CHARS,
    MAX_FILE_FANOUT_BYTES, MAX_KEY_PACKAGE_BATCH_CHARS, MAX_KEY_PACKAGE_CHARS, MAX_MEETING_FILES,
    MAX_MEETING_NOTES_CHARS, MAX_MLS_MESSAGE_BYTES, MAX_NOTES_BODY_CHARS, MAX_OPEN_POLLS,
    MAX_PASSCODE_CHARS, MAX_POLL_BODY_CHARS, MAX_POLL_OPTIONS, MAX_POLLS, MAX_SDP_BYTES,
    MAX_SEALED_CHARS, MAX_SENDING_FILES, MAX_TILE_HEIGHT, MAX_VIDEO_FROM, MIN_POLL_OPTIONS,
    ROSTER_CHUNK, file_chunks,
};
use parley_proto::{
    ClientMessage, DisplayName, ErrorKind, GoodbyeReason, HostSecret, IdentityKey, KeyPackageFrom,
    LeaveReason, ParticipantId, ParticipantInfo, Permission, Policy, PollId, Role, ServerMessage,
    ShareRule, Title, TransferId, WaitingInfo,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A connection, as numbered by the server. Never shown to anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A join whose signature the session layer has already verified.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRequest {
    /// The name others will see.
    pub name: DisplayName,
    /// The verified identity key.
    pub identity: IdentityKey,
    /// The passcode given, if any.
    pub passcode: Option<String>,
    /// The host secret given, if any.
    pub host_secret: Option<HostSecret>,
    /// The connection came from a web page (the server's browser guest): shown to others.
    pub browser: bool,
}

/// What happens to a room.
#[derive(Debug, Clone)]
pub enum Input {
    /// A connection asks to enter.
    Join {
        /// The connection.
        conn: ConnId,
        /// Its verified request.
        request: JoinRequest,
    },
    /// A message from a connection that has joined (or waits).
    Message {
        /// The connection.
        conn: ConnId,
        /// What it sent.
        msg: ClientMessage,
    },
    /// A connection closed: the client said goodbye (a WebSocket close), or the server closed
    /// it. Whoever it was leaves at once.
    Disconnected {
        /// The connection.
        conn: ConnId,
    },
    /// A connection died without a goodbye (the network went, a proxy timed out, the computer
    /// slept). A member's place is kept for [`RoomLimits::reconnect_grace`] so they can come
    /// back with the same identity; so is someone's place in the waiting room.
    Dropped {
        /// The connection.
        conn: ConnId,
    },
    /// Time passes: members away longer than the grace leave; breakout rooms close when
    /// their time is up. Not activity.
    Tick,
    /// (A breakout room) the main meeting sends someone here: they are in at once, with the
    /// role they have there (hosts and co-hosts keep theirs; anyone else is a participant).
    MovedIn {
        /// Their connection.
        conn: ConnId,
        /// Who they are in the main meeting (name, identity).
        request: JoinRequest,
        /// Their role in the main meeting.
        role: Role,
    },
    /// (The main meeting) someone comes back from a breakout room, on the same connection.
    MovedBack {
        /// Their connection.
        conn: ConnId,
        /// Who they are.
        request: JoinRequest,
    },
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send one message to one connection.
    Send {
        /// To whom.
        to: ConnId,
        /// What.
        msg: ServerMessage,
    },
    /// Send the same message to several connections.
    Broadcast {
        /// To whom.
        to: Vec<ConnId>,
        /// What.
        msg: ServerMessage,
    },
    /// Close a connection after what was sent to it before.
    Close {
        /// Which.
        conn: ConnId,
    },
    /// A wrong passcode came from this connection (for the per-address limiter).
    PasscodeFailed {
        /// Which.
        conn: ConnId,
    },
    /// The meeting is over; the room can be dropped once outputs are flushed.
    Ended,
    /// (The main meeting) open this many breakout rooms (numbered from 1).
    OpenBreakouts {
        /// How many.
        rooms: usize,
    },
    /// (The main meeting) move this connection into breakout room `room` (from 0); the room
    /// is told [`Input::MovedIn`].
    MoveToBreakout {
        /// Whose connection.
        conn: ConnId,
        /// Which room (index from 0).
        room: usize,
        /// Who they are.
        request: JoinRequest,
        /// Their role here.
        role: Role,
        /// Seconds until the rooms close, if opened for a time.
        ends_in_secs: Option<u32>,
    },
    /// (The main meeting) send this to everyone in every breakout room.
    ToBreakouts {
        /// What.
        msg: ServerMessage,
    },
    /// (The main meeting) the breakout rooms close now: everyone in them comes back.
    CloseBreakouts,
    /// (A breakout room) this connection goes back to the main meeting
    /// ([`Input::MovedBack`] there).
    ReturnToMain {
        /// Whose connection.
        conn: ConnId,
        /// Who they are.
        request: JoinRequest,
    },
    /// Whether the SFU may forward this connection's audio (a host's mute is enforced there,
    /// not left to the muted person's client).
    AudioForwarding {
        /// Whose connection.
        conn: ConnId,
        /// Forward (true) or drop (false).
        allowed: bool,
    },
    /// Whether the SFU may forward any of this connection's media (event mode: only hosts,
    /// co-hosts and those on the stage are heard and seen, whatever the others send).
    MediaForwarding {
        /// Whose connection.
        conn: ConnId,
        /// Forward (true) or drop all of it (false).
        allowed: bool,
    },
    /// Whether the SFU forwards this connection's voice beyond the loudest ones (a presenter:
    /// someone a host put on the stage).
    Presenter {
        /// Whose connection.
        conn: ConnId,
        /// Always heard.
        on: bool,
    },
    /// Whose video the SFU forwards to this connection (`None`: everyone's).
    VideoFrom {
        /// Whose connection.
        conn: ConnId,
        /// The participants whose video it wants.
        from: Option<Vec<ParticipantId>>,
        /// How high it shows their tiles.
        heights: TileHeights,
    },
    /// Media signaling from an admitted participant, for the SFU. Waiting-room clients never
    /// produce this: they get no media.
    Media {
        /// Whose connection.
        conn: ConnId,
        /// Who.
        participant: ParticipantId,
        /// The offer or answer.
        signal: MediaSignal,
    },
}

/// SDP from a participant for the SFU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSignal {
    /// The participant's offer (their peer connection with the SFU).
    Offer(String),
    /// The participant's answer to an SFU offer.
    Answer(String),
}

#[derive(Clone, Copy)]
enum MediaKind {
    Offer,
    Answer,
}

/// Settings the server imposes on every room.
#[derive(Debug, Clone)]
pub struct RoomLimits {
    /// Highest capacity a host may set.
    pub max_capacity: u32,
    /// Most people in the waiting room at once.
    pub max_waiting: usize,
    /// How long a member whose connection dropped keeps their place (zero: they leave at once).
    pub reconnect_grace: Duration,
    /// Largest file a participant may send, in bytes.
    pub max_file_bytes: u64,
    /// How long breakout rooms take to close once closing (everyone sees the countdown).
    pub breakout_countdown: Duration,
}

/// How long breakout rooms take to close unless the server is told otherwise.
pub const BREAKOUT_COUNTDOWN: Duration = Duration::from_secs(30);

/// Most times a member may come back on a new connection within [`RESUME_WINDOW`].
pub const MAX_RESUMES: usize = 6;
/// See [`MAX_RESUMES`].
pub const RESUME_WINDOW: Duration = Duration::from_secs(60);

/// How long a dropped member's place is kept unless the server is told otherwise.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(20);

impl Default for RoomLimits {
    fn default() -> Self {
        RoomLimits {
            max_capacity: parley_proto::policy::MAX_CAPACITY,
            max_waiting: 1_000,
            reconnect_grace: RECONNECT_GRACE,
            max_file_bytes: crate::config::DEFAULT_MAX_FILE_MIB << 20,
            breakout_countdown: BREAKOUT_COUNTDOWN,
        }
    }
}

#[derive(Debug)]
struct Member {
    conn: ConnId,
    name: DisplayName,
    identity: IdentityKey,
    role: Role,
    /// Order of admission: lower is longer present.
    seq: u64,
    muted: bool,
    host_muted: bool,
    unmute_granted: bool,
    sharing: bool,
    /// A host put them on the stage (in event mode they may be heard and seen).
    on_stage: bool,
    /// Whether the SFU was last told to forward their media (see [`Output::MediaForwarding`]).
    forwarded: bool,
    /// Entered with the host secret (or received it on a transfer): a later entry with the
    /// secret replaces this session.
    holds_secret: bool,
    /// E2EE: founded the encryption group or was sent a Welcome into it (as far as the
    /// server, which only carries the group's messages, can know).
    in_group: bool,
    /// E2EE: the latest key package this connection published.
    key_package: Option<String>,
    /// Their connection dropped at this time; their place is kept until the grace runs out.
    away_since: Option<Instant>,
    /// When they came back on a new connection lately (at most [`MAX_RESUMES`]).
    resumes: std::collections::VecDeque<Instant>,
    /// Their connection came from a web browser (the guest page).
    browser: bool,
    /// They record the meeting on their computer (announced to everyone).
    recording: bool,
    /// (The main meeting) they are in this breakout room (index from 0): away from here
    /// without a time limit, their place kept until they come back.
    in_breakout: Option<usize>,
}

impl Member {
    /// Who they are, to enter another room of the meeting as themselves (a breakout room,
    /// or the main meeting again).
    fn as_request(&self) -> JoinRequest {
        JoinRequest {
            name: self.name.clone(),
            identity: self.identity,
            passcode: None,
            host_secret: None,
            browser: self.browser,
        }
    }

    /// A host's hard mute: muted, may unmute only as the switches or a host allow, and the SFU
    /// stops forwarding their audio, whatever they send.
    fn hard_mute(&mut self, out: &mut Outs) {
        self.muted = true;
        self.host_muted = true;
        self.unmute_granted = false;
        out.push(Output::AudioForwarding {
            conn: self.conn,
            allowed: false,
        });
    }
}

#[derive(Debug)]
struct Waiter {
    conn: ConnId,
    name: DisplayName,
    identity: IdentityKey,
    key_package: Option<String>,
    /// Their connection dropped at this time; their place in the queue is kept until the
    /// grace runs out (they may even be admitted meanwhile, and come back admitted).
    away_since: Option<Instant>,
    /// They knock from a web browser.
    browser: bool,
}

/// A poll, as far as the server can see it: its question and options are sealed.
#[derive(Debug)]
struct RoomPoll {
    by: ParticipantId,
    options: u8,
    multiple: bool,
    anonymous: bool,
    open: bool,
    /// Who voted, by identity key: one vote per person, even across a reconnect.
    voters: HashSet<IdentityKey>,
}

/// A file being sent: the server sees its size and counts its sealed parts.
#[derive(Debug)]
struct Transfer {
    from: ParticipantId,
    to: Option<ParticipantId>,
    /// Parts still to come.
    chunks_left: u64,
}

/// One meeting's state. See the module docs for how to drive it.
#[derive(Debug)]
pub struct Room {
    title: Title,
    policy: Policy,
    limits: RoomLimits,
    host_secret: HostSecret,
    passcode: Option<Zeroizing<String>>,
    locked: bool,
    ended: bool,
    next_id: u32,
    next_seq: u64,
    members: BTreeMap<ParticipantId, Member>,
    waiting: BTreeMap<ParticipantId, Waiter>,
    conns: HashMap<ConnId, ParticipantId>,
    banned: HashSet<IdentityKey>,
    last_activity: Instant,
    /// E2EE: the epoch the next accepted commit must apply to.
    mls_epoch: u64,
    /// Polls, oldest first (at most [`MAX_POLLS`]).
    polls: BTreeMap<PollId, RoomPoll>,
    next_poll: u32,
    /// Files being sent (at most [`MAX_MEETING_FILES`]).
    transfers: BTreeMap<TransferId, Transfer>,
    next_transfer: u32,
    /// Characters of shared-notes changes relayed so far (at most
    /// [`MAX_MEETING_NOTES_CHARS`]).
    notes_chars: u64,
    /// (The main meeting) its breakout rooms while they are open.
    breakouts: Option<Breakouts>,
    /// This room is a breakout room of another meeting (only the server moves people in).
    is_breakout: bool,
}

/// Breakout rooms while they are open.
#[derive(Debug)]
struct Breakouts {
    /// Who was sent or went to each room (main-meeting numbers), room 1 first.
    rooms: Vec<Vec<ParticipantId>>,
    /// When they close by themselves.
    ends_at: Option<Instant>,
    /// Once closing: when everyone comes back.
    closing_at: Option<Instant>,
}

fn secs_until(now: Instant, t: Instant) -> u32 {
    u32::try_from(t.saturating_duration_since(now).as_secs()).unwrap_or(u32::MAX)
}

/// What a host sets when creating a meeting.
#[derive(Debug, Clone)]
pub struct RoomSetup {
    /// The meeting's title.
    pub title: Title,
    /// Its switches.
    pub policy: Policy,
    /// Its passcode, if any (already validated with [`validate_passcode`]).
    pub passcode: Option<String>,
}

/// Check a passcode a host wants to set: 1 to 64 characters, no control characters.
pub fn validate_passcode(p: &str) -> Result<(), ErrorKind> {
    let n = p.chars().count();
    if n == 0 || n > MAX_PASSCODE_CHARS || p.chars().any(char::is_control) {
        return Err(ErrorKind::InvalidValue);
    }
    Ok(())
}

type Outs = Vec<Output>;

/// Most ids in one `waiting_left` message.
const WAITING_LEFT_CHUNK: usize = 256;

impl Room {
    /// A new room. The caller keeps `host_secret` to hand to the host once.
    pub fn new(
        setup: RoomSetup,
        host_secret: HostSecret,
        limits: RoomLimits,
        now: Instant,
    ) -> Self {
        let mut policy = setup.policy;
        policy.capacity = policy.capacity.min(limits.max_capacity).max(1);
        Room {
            title: setup.title,
            policy,
            limits,
            host_secret,
            passcode: setup.passcode.map(Zeroizing::new),
            locked: false,
            ended: false,
            next_id: 1,
            next_seq: 0,
            members: BTreeMap::new(),
            waiting: BTreeMap::new(),
            conns: HashMap::new(),
            banned: HashSet::new(),
            last_activity: now,
            mls_epoch: 0,
            polls: BTreeMap::new(),
            next_poll: 0,
            transfers: BTreeMap::new(),
            next_transfer: 0,
            notes_chars: 0,
            breakouts: None,
            is_breakout: false,
        }
    }

    /// A breakout room of a meeting with `policy`: nobody waits (only the server moves people
    /// in), nobody is promoted, and its host secret is never handed to anyone.
    pub fn breakout(title: Title, policy: &Policy, limits: RoomLimits, now: Instant) -> Self {
        let mut policy = policy.clone();
        policy.waiting_room = false;
        policy.auto_promote = false;
        let mut room = Room::new(
            RoomSetup {
                title,
                policy,
                passcode: None,
            },
            HostSecret::random(),
            limits,
            now,
        );
        room.is_breakout = true;
        room
    }

    /// Whether the meeting has ended.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Admitted participants.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// People in the waiting room.
    pub fn waiting_count(&self) -> usize {
        self.waiting.len()
    }

    /// When something last happened (for expiring idle rooms).
    pub fn last_activity(&self) -> Instant {
        self.last_activity
    }

    /// Whether joining needs a passcode.
    pub fn has_passcode(&self) -> bool {
        self.passcode.is_some()
    }

    /// The current switches.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Handle one input at time `now`; returns what to do.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        if let Input::Tick = input {
            self.expire_away(now, &mut out);
            self.breakout_time(now, &mut out);
            return out;
        }
        self.last_activity = now;
        match input {
            Input::Join { conn, request } => self.join(now, conn, request, &mut out),
            Input::Disconnected { conn } => self.gone(conn, LeaveReason::Disconnected, &mut out),
            Input::Dropped { conn } => self.dropped(now, conn, &mut out),
            Input::Message { conn, msg } => self.message(now, conn, msg, &mut out),
            Input::MovedIn {
                conn,
                request,
                role,
            } => self.moved_in(now, conn, request, role, &mut out),
            Input::MovedBack { conn, request } => self.moved_back(now, conn, request, &mut out),
            Input::Tick => {}
        }
        out
    }

    /// Whether someone's place is being kept while they reconnect (the driver then sends
    /// [`Input::Tick`] now and then).
    pub fn has_away(&self) -> bool {
        self.breakouts.is_some()
            || self.members.values().any(|m| m.away_since.is_some())
            || self.waiting.values().any(|w| w.away_since.is_some())
    }

    // ---- connections that drop -------------------------------------------------------------

    fn dropped(&mut self, now: Instant, conn: ConnId, out: &mut Outs) {
        let Some(id) = self.conns.get(&conn).copied() else {
            return;
        };
        if self.limits.reconnect_grace.is_zero() {
            return self.gone(conn, LeaveReason::Disconnected, out);
        }
        if let Some(w) = self.waiting.get_mut(&id) {
            // Their place in the queue stays, unseen by the others: nothing to tell anyone.
            // The key package belonged to the dead connection's encryption state.
            self.conns.remove(&conn);
            w.away_since = Some(now);
            w.key_package = None;
            return;
        }
        if !self.members.contains_key(&id) {
            return self.gone(conn, LeaveReason::Disconnected, out);
        }
        // The connection is no more: nothing reaches it, nothing comes from it. The member
        // stays (role, mute, stage, place in the encryption group) until they are back or the
        // grace runs out.
        self.conns.remove(&conn);
        if let Some(m) = self.members.get_mut(&id) {
            m.away_since = Some(now);
        }
        self.to_members(out, ServerMessage::Away { id, away: true });
    }

    fn expire_away(&mut self, now: Instant, out: &mut Outs) {
        let grace = self.limits.reconnect_grace;
        let expired: Vec<ParticipantId> = self
            .members
            .iter()
            .filter(|(_, m)| {
                m.in_breakout.is_none()
                    && m.away_since.is_some_and(|t| now.duration_since(t) >= grace)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.remove_member(id, LeaveReason::Disconnected, out);
        }
        let expired: Vec<ParticipantId> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.away_since.is_some_and(|t| now.duration_since(t) >= grace))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.remove_waiter(id, out);
        }
    }

    // ---- joining -------------------------------------------------------------------------

    fn join(&mut self, now: Instant, conn: ConnId, req: JoinRequest, out: &mut Outs) {
        let refuse = |out: &mut Outs, kind: ErrorKind| {
            out.push(Output::Send {
                to: conn,
                msg: ServerMessage::refused(kind),
            });
            out.push(Output::Close { conn });
        };
        if self.ended {
            return refuse(out, ErrorKind::MeetingEnded);
        }
        if self.conns.contains_key(&conn) {
            out.push(Output::Send {
                to: conn,
                msg: ServerMessage::error(ErrorKind::AlreadyJoined, false),
            });
            return;
        }
        if let Some(secret) = &req.host_secret {
            if bool::from(secret.as_bytes().ct_eq(self.host_secret.as_bytes())) {
                return self.host_enters(now, conn, req, out);
            }
            return refuse(out, ErrorKind::NotPermitted);
        }
        if self.banned.contains(&req.identity) {
            return refuse(out, ErrorKind::Banned);
        }
        // A member on a new connection (a reconnect): their place, whatever the lock or the
        // passcode became since they were admitted. The same for someone whose connection
        // dropped while they waited: they passed the passcode, and the lock keeps out
        // newcomers, not someone already in the queue.
        if let Some(id) = self.id_of_identity(&req.identity)
            && (self.members.contains_key(&id)
                || self
                    .waiting
                    .get(&id)
                    .is_some_and(|w| w.away_since.is_some()))
        {
            return self.resume(now, id, conn, req, out);
        }
        if self.locked {
            return refuse(out, ErrorKind::Locked);
        }
        // Wrong passcodes slow down the address they come from (the hub's limiter, told by
        // `PasscodeFailed`), never the meeting: one link holder guessing must not keep
        // everyone with the right passcode out.
        if let Some(code) = &self.passcode {
            let Some(given) = &req.passcode else {
                return refuse(out, ErrorKind::PasscodeRequired);
            };
            if !bool::from(given.as_bytes().ct_eq(code.as_bytes())) {
                out.push(Output::PasscodeFailed { conn });
                return refuse(out, ErrorKind::WrongPasscode);
            }
        }
        // The same person waiting, on a new connection: it replaces the old one, and they keep
        // their place in the waiting room.
        if let Some(id) = self.id_of_identity(&req.identity) {
            self.resume(now, id, conn, req, out);
            return;
        }
        if self.policy.waiting_room {
            if self.waiting.len() >= self.limits.max_waiting {
                return refuse(out, ErrorKind::Full);
            }
            let id = self.new_id();
            self.conns.insert(conn, id);
            self.waiting.insert(
                id,
                Waiter {
                    conn,
                    name: req.name.clone(),
                    identity: req.identity,
                    key_package: None,
                    away_since: None,
                    browser: req.browser,
                },
            );
            out.push(Output::Send {
                to: conn,
                msg: self.waiting_message(),
            });
            let admitters = self.admitters();
            if !admitters.is_empty() {
                out.push(Output::Broadcast {
                    to: admitters,
                    msg: ServerMessage::WaitingJoined {
                        waiting: WaitingInfo {
                            id,
                            name: req.name,
                            browser: req.browser,
                        },
                    },
                });
            }
        } else {
            if self.is_full() {
                return refuse(out, ErrorKind::Full);
            }
            let id = self.new_id();
            self.conns.insert(conn, id);
            self.insert_member(id, conn, req.name, req.identity, Role::Participant);
            if let Some(m) = self.members.get_mut(&id) {
                m.browser = req.browser;
            }
            self.announce_admitted(&[id], out);
        }
    }

    /// The same person (same identity key, proven by the signature) on a new connection, `conn`:
    /// it replaces the old one (if that is still open) and keeps their place: role, mute,
    /// stage, and the name everyone saw.
    fn resume(
        &mut self,
        now: Instant,
        id: ParticipantId,
        conn: ConnId,
        req: JoinRequest,
        out: &mut Outs,
    ) {
        // Someone in a breakout room who comes back by the link (their connection dropped):
        // here, and out of the room (their old connection there, if still open, is closed).
        let in_breakout = self.members.get_mut(&id).and_then(|m| m.in_breakout.take());
        if let Some(room) = in_breakout {
            let old = self.conn_of(id);
            if old != conn {
                out.push(Output::Close { conn: old });
            }
            if let Some(b) = &mut self.breakouts {
                b.rooms[room].retain(|p| *p != id);
            }
            self.breakout_status(now, out);
        }
        self.resume_with(now, id, conn, req, out, true);
    }

    /// As [`Room::resume`]; `counted`: the return counts toward [`MAX_RESUMES`] (a return
    /// from a breakout room does not).
    fn resume_with(
        &mut self,
        now: Instant,
        id: ParticipantId,
        conn: ConnId,
        req: JoinRequest,
        out: &mut Outs,
        counted: bool,
    ) {
        // Each return costs everyone something (a roster for the newcomer, `away` twice, a
        // new leaf in the encryption group): a member coming back too often is turned away
        // for a while (their place stays while the grace lasts).
        if let Some(m) = self.members.get_mut(&id).filter(|_| counted) {
            while m
                .resumes
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= RESUME_WINDOW)
            {
                m.resumes.pop_front();
            }
            if m.resumes.len() >= MAX_RESUMES {
                let wait =
                    RESUME_WINDOW.saturating_sub(now.saturating_duration_since(m.resumes[0]));
                out.push(Output::Send {
                    to: conn,
                    msg: ServerMessage::Refused {
                        kind: ErrorKind::ServerBusy,
                        message: ErrorKind::ServerBusy.message().to_string(),
                        retry_after_ms: Some(u32::try_from(wait.as_millis()).unwrap_or(u32::MAX)),
                    },
                });
                out.push(Output::Close { conn });
                return;
            }
            m.resumes.push_back(now);
        }
        let away = self
            .members
            .get(&id)
            .is_some_and(|m| m.away_since.is_some())
            || self
                .waiting
                .get(&id)
                .is_some_and(|w| w.away_since.is_some());
        // An away member's connection is gone already: nothing to tell it, nothing to close.
        let old = if away {
            self.conn_of(id)
        } else {
            self.replace_session(id, out)
        };
        self.conns.remove(&old);
        self.conns.insert(conn, id);
        if let Some(m) = self.members.get_mut(&id) {
            m.conn = conn;
            let was_away = m.away_since.take().is_some();
            // The name everyone saw stays, unless the person may rename: then a different
            // name is a rename everyone is told of (never a silent one).
            let renamed =
                m.name != req.name && (self.policy.rename || m.role.can(Permission::Override));
            if renamed {
                m.name = req.name.clone();
            }
            // A new connection is a new client state: it must be added to the group again.
            m.in_group = false;
            m.browser = req.browser;
            m.key_package = None;
            // What the SFU enforces is per connection: the new one starts from the member's
            // state.
            let (hard_muted, forwarded) = (m.host_muted, m.forwarded);
            if m.on_stage {
                out.push(Output::Presenter { conn, on: true });
            }
            if hard_muted {
                out.push(Output::AudioForwarding {
                    conn,
                    allowed: false,
                });
            }
            if !forwarded {
                out.push(Output::MediaForwarding {
                    conn,
                    allowed: false,
                });
            }
            let found = self.claim_founder(id);
            let joined = self.joined_message(id, found);
            out.push(Output::Send {
                to: conn,
                msg: joined,
            });
            if was_away {
                self.to_members(out, ServerMessage::Away { id, away: false });
            }
            if renamed {
                self.to_members(out, ServerMessage::Renamed { id, name: req.name });
            }
            self.send_roster(vec![conn], out);
            if found {
                self.key_packages_to(id, out);
            }
        } else if let Some(w) = self.waiting.get_mut(&id) {
            // Whoever admits decides on the name they were shown: it does not change.
            w.conn = conn;
            w.key_package = None;
            w.away_since = None;
            w.browser = req.browser;
            out.push(Output::Send {
                to: conn,
                msg: self.waiting_message(),
            });
        }
    }

    fn host_enters(&mut self, now: Instant, conn: ConnId, req: JoinRequest, out: &mut Outs) {
        // A host reclaiming the meeting replaces any older session of theirs.
        let stale = self
            .members
            .iter()
            .find(|(_, m)| m.holds_secret)
            .map(|(id, _)| *id);
        if let Some(old_id) = stale {
            if self.members[&old_id].identity == req.identity {
                // The host on a new connection (a reconnect, or a second window): the same
                // person in the same place, as for anyone else.
                return self.resume(now, old_id, conn, req, out);
            }
            self.replace_session(old_id, out);
            // Not a hand-over: the host is back. Demote first so nobody gets promoted.
            if let Some(m) = self.members.get_mut(&old_id) {
                m.role = Role::Participant;
            }
            self.remove_member(old_id, LeaveReason::Left, out);
        }
        // Someone promoted while the host was away steps back to co-host.
        let acting: Vec<ParticipantId> = self
            .members
            .iter()
            .filter(|(_, m)| m.role == Role::Host)
            .map(|(id, _)| *id)
            .collect();
        for id in acting {
            self.set_role(id, Role::Cohost, out);
        }
        // If this identity is also present as a participant or waiting, that session goes.
        if let Some(id) = self.id_of_identity(&req.identity) {
            self.replace_session(id, out);
            if self.members.contains_key(&id) {
                self.remove_member(id, LeaveReason::Left, out);
            } else {
                self.remove_waiter(id, out);
            }
        }
        self.banned.remove(&req.identity);
        let id = self.new_id();
        self.conns.insert(conn, id);
        self.insert_member(id, conn, req.name, req.identity, Role::Host);
        if let Some(m) = self.members.get_mut(&id) {
            m.holds_secret = true;
            m.browser = req.browser;
        }
        self.announce_admitted(&[id], out);
    }

    fn insert_member(
        &mut self,
        id: ParticipantId,
        conn: ConnId,
        name: DisplayName,
        identity: IdentityKey,
        role: Role,
    ) {
        self.insert_member_with(id, conn, name, identity, role, None);
    }

    fn insert_member_with(
        &mut self,
        id: ParticipantId,
        conn: ConnId,
        name: DisplayName,
        identity: IdentityKey,
        role: Role,
        key_package: Option<String>,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.members.insert(
            id,
            Member {
                conn,
                name,
                identity,
                role,
                seq,
                muted: false,
                host_muted: false,
                unmute_granted: false,
                sharing: false,
                on_stage: false,
                forwarded: true,
                holds_secret: false,
                in_group: false,
                key_package,
                away_since: None,
                resumes: std::collections::VecDeque::new(),
                browser: false,
                recording: false,
                in_breakout: None,
            },
        );
    }

    /// Tell newly admitted `ids` they are in (with the roster, serialised once for all of
    /// them), and everyone else who arrived. O(members) messages however many were admitted.
    fn announce_admitted(&mut self, ids: &[ParticipantId], out: &mut Outs) {
        // In event mode newcomers come in muted, off the stage.
        for id in ids {
            self.enforce_stage(*id, false, out);
        }
        let mut new_conns = Vec::with_capacity(ids.len());
        for id in ids {
            // Admitted while away: told when they come back.
            if self.members[id].away_since.is_some() {
                continue;
            }
            let conn = self.members[id].conn;
            new_conns.push(conn);
            let found = self.claim_founder(*id);
            out.push(Output::Send {
                to: conn,
                msg: self.joined_message(*id, found),
            });
        }
        let fresh: HashSet<ParticipantId> = ids.iter().copied().collect();
        let others: Vec<ConnId> = self
            .members
            .iter()
            .filter(|(id, m)| !fresh.contains(id) && m.away_since.is_none())
            .map(|(_, m)| m.conn)
            .collect();
        if !others.is_empty() {
            let announce = self.policy.announce_join_leave;
            for chunk in ids.chunks(ROSTER_CHUNK) {
                out.push(Output::Broadcast {
                    to: others.clone(),
                    msg: ServerMessage::ParticipantsJoined {
                        participants: chunk.iter().map(|id| self.info(*id)).collect(),
                        announce,
                    },
                });
            }
        }
        self.send_roster(new_conns, out);
        // In batches: one message per key package would be a thousand messages in each
        // member's queue for an `admit_all` of a thousand, and the host's queue would overflow.
        let packages = ids
            .iter()
            .filter_map(|id| {
                let kp = self.members[id].key_package.clone()?;
                Some(KeyPackageFrom {
                    from: *id,
                    key_package: kp,
                })
            })
            .collect();
        for msg in key_package_messages(packages) {
            // Those added are not in the group yet, so nobody gets their own key package.
            self.to_group(None, msg, out);
        }
    }

    // ---- end-to-end encryption: the server as the MLS delivery service -------------------

    /// If nobody is in the encryption group, `id` founds it (epoch 0). Whether it does.
    fn claim_founder(&mut self, id: ParticipantId) -> bool {
        if self.members.values().any(|m| m.in_group) {
            return false;
        }
        let Some(m) = self.members.get_mut(&id) else {
            return false;
        };
        m.in_group = true;
        self.mls_epoch = 0;
        true
    }

    /// Send `to` (a new founder) the key package of everyone admitted but not in the group,
    /// in batches.
    fn key_packages_to(&self, to: ParticipantId, out: &mut Outs) {
        let conn = self.members[&to].conn;
        let packages = self
            .members
            .iter()
            .filter_map(|(id, m)| match (m.in_group, &m.key_package) {
                (false, Some(kp)) => Some(KeyPackageFrom {
                    from: *id,
                    key_package: kp.clone(),
                }),
                _ => None,
            })
            .collect();
        for msg in key_package_messages(packages) {
            out.push(Output::Send { to: conn, msg });
        }
    }

    /// Send `msg` to the encryption group's members except `except`.
    fn to_group_except(&self, except: ParticipantId, msg: ServerMessage, out: &mut Outs) {
        self.to_group(Some(except), msg, out);
    }

    /// Send `msg` to the encryption group's members (but `except`, if given).
    fn to_group(&self, except: Option<ParticipantId>, msg: ServerMessage, out: &mut Outs) {
        let to: Vec<ConnId> = self
            .members
            .iter()
            .filter(|(id, m)| m.in_group && Some(**id) != except)
            .map(|(_, m)| m.conn)
            .collect();
        if !to.is_empty() {
            out.push(Output::Broadcast { to, msg });
        }
    }

    /// Pass `from`'s key package to the group's members.
    fn forward_key_package(&self, from: ParticipantId, key_package: String, out: &mut Outs) {
        self.to_group_except(
            from,
            ServerMessage::MlsKeyPackage { from, key_package },
            out,
        );
    }

    /// After someone left: if the group has nobody left in it, the longest-present member
    /// founds a new one.
    fn refound_if_empty(&mut self, out: &mut Outs) {
        if self.members.values().any(|m| m.in_group) {
            return;
        }
        let Some(id) = self
            .members
            .iter()
            .min_by_key(|(_, m)| m.seq)
            .map(|(id, _)| *id)
        else {
            return;
        };
        if self.claim_founder(id) {
            out.push(Output::Send {
                to: self.members[&id].conn,
                msg: ServerMessage::MlsFound {},
            });
            self.key_packages_to(id, out);
        }
    }

    fn mls_commit(
        &mut self,
        me: ParticipantId,
        epoch: u64,
        commit: String,
        welcome: Option<String>,
        added: Vec<ParticipantId>,
        out: &mut Outs,
    ) -> Result<(), ErrorKind> {
        let conn = self.members[&me].conn;
        if !self.members[&me].in_group {
            return Err(ErrorKind::NotPermitted);
        }
        let welcome_len = welcome.as_ref().map_or(0, String::len);
        if commit.is_empty()
            || commit.len() + welcome_len > MAX_MLS_MESSAGE_BYTES
            || added.is_empty() != welcome.is_none()
            || added.len() > self.members.len()
        {
            return Err(ErrorKind::InvalidValue);
        }
        if epoch != self.mls_epoch {
            out.push(Output::Send {
                to: conn,
                msg: ServerMessage::MlsCommitResult {
                    epoch,
                    accepted: false,
                },
            });
            return Ok(());
        }
        self.mls_epoch += 1;
        let mut new: Vec<ParticipantId> = added
            .into_iter()
            .filter(|id| self.members.get(id).is_some_and(|m| !m.in_group))
            .collect();
        new.sort();
        new.dedup();
        // The members it moves to the next epoch (not those it adds: they get the Welcome).
        self.to_group_except(
            me,
            ServerMessage::MlsCommit {
                from: me,
                epoch,
                commit,
            },
            out,
        );
        out.push(Output::Send {
            to: conn,
            msg: ServerMessage::MlsCommitResult {
                epoch,
                accepted: true,
            },
        });
        if let Some(welcome) = welcome {
            let mut to = Vec::with_capacity(new.len());
            for id in &new {
                if let Some(m) = self.members.get_mut(id) {
                    m.in_group = true;
                    to.push(m.conn);
                }
            }
            if !to.is_empty() {
                out.push(Output::Broadcast {
                    to,
                    msg: ServerMessage::MlsWelcome { from: me, welcome },
                });
            }
        }
        Ok(())
    }

    /// Everyone present, in chunks, to `to`.
    fn send_roster(&self, to: Vec<ConnId>, out: &mut Outs) {
        let all: Vec<ParticipantId> = self.members.keys().copied().collect();
        for chunk in all.chunks(ROSTER_CHUNK) {
            out.push(Output::Broadcast {
                to: to.clone(),
                msg: ServerMessage::ParticipantsJoined {
                    participants: chunk.iter().map(|id| self.info(*id)).collect(),
                    announce: false,
                },
            });
        }
    }

    fn take_waiter(&mut self, id: ParticipantId) -> Result<(), ErrorKind> {
        if self.is_full() {
            return Err(ErrorKind::Full);
        }
        let w = self
            .waiting
            .remove(&id)
            .ok_or(ErrorKind::NoSuchParticipant)?;
        self.insert_member_with(
            id,
            w.conn,
            w.name,
            w.identity,
            Role::Participant,
            w.key_package,
        );
        // Admitted while their connection was down: a member whose place is kept, who comes
        // back admitted (or leaves when the grace runs out).
        if let Some(m) = self.members.get_mut(&id) {
            m.away_since = w.away_since;
            m.browser = w.browser;
        }
        Ok(())
    }

    fn admit_waiter(&mut self, id: ParticipantId, out: &mut Outs) -> Result<(), ErrorKind> {
        self.take_waiter(id)?;
        self.after_admission(&[id], out);
        Ok(())
    }

    fn admit_all(&mut self, out: &mut Outs) -> Result<(), ErrorKind> {
        let ids: Vec<ParticipantId> = self.waiting.keys().copied().collect();
        let mut admitted = Vec::with_capacity(ids.len());
        let mut result = Ok(());
        for id in ids {
            if let Err(e) = self.take_waiter(id) {
                result = Err(e);
                break;
            }
            admitted.push(id);
        }
        if !admitted.is_empty() {
            self.after_admission(&admitted, out);
        }
        result
    }

    fn after_admission(&mut self, ids: &[ParticipantId], out: &mut Outs) {
        // Admitted people are participants now, never admitters: the admitters are the rest.
        let admitters = self.admitters();
        if !admitters.is_empty() {
            for chunk in ids.chunks(WAITING_LEFT_CHUNK) {
                out.push(Output::Broadcast {
                    to: admitters.clone(),
                    msg: ServerMessage::WaitingLeft {
                        ids: chunk.to_vec(),
                    },
                });
            }
        }
        self.announce_admitted(ids, out);
    }

    // ---- leaving -------------------------------------------------------------------------

    fn gone(&mut self, conn: ConnId, reason: LeaveReason, out: &mut Outs) {
        let Some(id) = self.conns.get(&conn).copied() else {
            return;
        };
        if self.members.contains_key(&id) {
            self.remove_member(id, reason, out);
        } else {
            self.remove_waiter(id, out);
        }
    }

    fn remove_waiter(&mut self, id: ParticipantId, out: &mut Outs) {
        if let Some(w) = self.waiting.remove(&id) {
            self.conns.remove(&w.conn);
            let admitters = self.admitters();
            if !admitters.is_empty() {
                out.push(Output::Broadcast {
                    to: admitters,
                    msg: ServerMessage::WaitingLeft { ids: vec![id] },
                });
            }
        }
    }

    fn remove_member(&mut self, id: ParticipantId, reason: LeaveReason, out: &mut Outs) {
        let Some(m) = self.members.remove(&id) else {
            return;
        };
        self.conns.remove(&m.conn);
        let others = self.member_conns();
        if !others.is_empty() {
            out.push(Output::Broadcast {
                to: others,
                msg: ServerMessage::ParticipantLeft {
                    id,
                    reason,
                    announce: self.policy.announce_join_leave,
                },
            });
        }
        if m.role == Role::Host {
            self.hand_over(out);
        }
        if m.in_group {
            self.refound_if_empty(out);
        }
        // A recording of theirs is over: whoever waits hears the room's state again (the
        // members learn it from their leaving).
        if m.recording {
            self.tell_waiters(out);
        }
        // Files they were sending stop; those sent to them only, too.
        self.cancel_transfers(out, |_, t| t.from == id || t.to == Some(id));
        // Nobody else can show their open polls to late joiners: they close.
        let closing: Vec<PollId> = self
            .polls
            .iter_mut()
            .filter(|(_, p)| p.by == id && p.open)
            .map(|(poll, p)| {
                p.open = false;
                *poll
            })
            .collect();
        for poll in closing {
            self.to_members(out, ServerMessage::PollClosed { poll });
        }
    }

    /// The connections a file from `from` goes to: `to`, or everyone else.
    fn transfer_recipients(&self, from: ParticipantId, to: Option<ParticipantId>) -> Vec<ConnId> {
        match to {
            Some(t) => self
                .members
                .get(&t)
                .map(|m| vec![m.conn])
                .unwrap_or_default(),
            None => self.member_conns_except(from),
        }
    }

    /// Stop the transfers `which` picks; their senders and recipients are told.
    fn cancel_transfers(&mut self, out: &mut Outs, which: impl Fn(&TransferId, &Transfer) -> bool) {
        let gone: Vec<(TransferId, Transfer)> = self
            .transfers
            .extract_if(.., |id, t| which(id, t))
            .collect();
        for (transfer, t) in gone {
            let mut to = self.transfer_recipients(t.from, t.to);
            to.extend(self.members.get(&t.from).map(|m| m.conn));
            out.push(Output::Broadcast {
                to,
                msg: ServerMessage::FileCancelled { transfer },
            });
        }
    }

    /// Number and keep a new poll: at most [`MAX_OPEN_POLLS`] open and [`MAX_POLLS`] kept
    /// (the oldest closed one is forgotten to make room).
    fn new_poll(&mut self, poll: RoomPoll) -> Result<PollId, ErrorKind> {
        if self.polls.values().filter(|p| p.open).count() >= MAX_OPEN_POLLS {
            return Err(ErrorKind::TooManyPolls);
        }
        if self.polls.len() >= MAX_POLLS {
            let oldest = self
                .polls
                .iter()
                .find(|(_, p)| !p.open)
                .map(|(id, _)| *id)
                .ok_or(ErrorKind::TooManyPolls)?;
            self.polls.remove(&oldest);
        }
        self.next_poll += 1;
        let id = PollId(self.next_poll);
        self.polls.insert(id, poll);
        Ok(id)
    }

    /// The host is gone: a co-host takes over, or (if the host chose auto-promote) the
    /// longest-present participant, so someone can always admit from the waiting room.
    fn hand_over(&mut self, out: &mut Outs) {
        if self.current_host().is_some() {
            return;
        }
        let by_seniority = |role: Role| {
            self.members
                .iter()
                .filter(|(_, m)| m.role == role)
                .min_by_key(|(_, m)| m.seq)
                .map(|(id, _)| *id)
        };
        let next = by_seniority(Role::Cohost).or_else(|| {
            if self.policy.auto_promote {
                by_seniority(Role::Participant)
            } else {
                None
            }
        });
        if let Some(id) = next {
            self.set_role(id, Role::Host, out);
        }
    }

    // ---- breakout rooms -------------------------------------------------------------------

    fn open_breakouts(
        &mut self,
        now: Instant,
        rooms: Vec<Vec<ParticipantId>>,
        minutes: Option<u16>,
        out: &mut Outs,
    ) -> Result<(), ErrorKind> {
        if self.breakouts.is_some()
            || rooms.is_empty()
            || rooms.len() > MAX_BREAKOUT_ROOMS
            || minutes.is_some_and(|m| m == 0 || m > MAX_BREAKOUT_MINUTES)
        {
            return Err(ErrorKind::InvalidValue);
        }
        let mut seen = HashSet::new();
        for id in rooms.iter().flatten() {
            if self.members.get(id).is_none_or(|m| m.away_since.is_some()) {
                return Err(ErrorKind::NoSuchParticipant);
            }
            if !seen.insert(*id) {
                return Err(ErrorKind::InvalidValue);
            }
        }
        self.breakouts = Some(Breakouts {
            rooms: vec![Vec::new(); rooms.len()],
            ends_at: minutes.map(|m| now + Duration::from_secs(u64::from(m) * 60)),
            closing_at: None,
        });
        out.push(Output::OpenBreakouts { rooms: rooms.len() });
        for (index, ids) in rooms.into_iter().enumerate() {
            for id in ids {
                self.send_to_breakout(now, id, index, out);
            }
        }
        self.breakout_status(now, out);
        Ok(())
    }

    /// Send member `id` into breakout room `room` (index from 0). Here they are away, their
    /// place kept without a time limit; what they did here that needs their connection (a
    /// screen share, a recording, files) stops.
    fn send_to_breakout(&mut self, now: Instant, id: ParticipantId, room: usize, out: &mut Outs) {
        let ends_in_secs = self
            .breakouts
            .as_ref()
            .and_then(|b| b.ends_at)
            .map(|t| secs_until(now, t));
        let Some(m) = self.members.get_mut(&id).filter(|m| m.away_since.is_none()) else {
            return;
        };
        let conn = m.conn;
        m.away_since = Some(now);
        m.in_breakout = Some(room);
        let request = m.as_request();
        let role = m.role;
        let sharing = std::mem::take(&mut m.sharing);
        let recording = std::mem::take(&mut m.recording);
        self.conns.remove(&conn);
        if let Some(b) = &mut self.breakouts {
            b.rooms[room].push(id);
        }
        out.push(Output::MoveToBreakout {
            conn,
            room,
            request,
            role,
            ends_in_secs,
        });
        self.to_members(out, ServerMessage::Away { id, away: true });
        if sharing {
            self.to_members(out, ServerMessage::ScreenShare { id, sharing: false });
        }
        if recording {
            self.to_members(out, ServerMessage::Recording { id, on: false });
            self.tell_waiters(out);
        }
        self.cancel_transfers(out, |_, t| t.from == id || t.to == Some(id));
    }

    /// Tell the main meeting who is in which room and how long they stay open.
    fn breakout_status(&self, now: Instant, out: &mut Outs) {
        let msg = match &self.breakouts {
            Some(b) => ServerMessage::Breakouts {
                rooms: b.rooms.clone(),
                ends_in_secs: b.ends_at.map(|t| secs_until(now, t)),
                closing_in_secs: b.closing_at.map(|t| secs_until(now, t)),
            },
            None => ServerMessage::Breakouts {
                rooms: Vec::new(),
                ends_in_secs: None,
                closing_in_secs: None,
            },
        };
        self.to_members(out, msg);
    }

    fn start_closing(&mut self, now: Instant, out: &mut Outs) {
        let countdown = self.limits.breakout_countdown;
        let Some(b) = self.breakouts.as_mut().filter(|b| b.closing_at.is_none()) else {
            return;
        };
        b.closing_at = Some(now + countdown);
        let msg = ServerMessage::BreakoutClosing {
            in_secs: secs_until(now, now + countdown),
        };
        out.push(Output::ToBreakouts { msg: msg.clone() });
        self.to_members(out, msg);
        self.breakout_status(now, out);
    }

    /// Time passes for the breakout rooms: closing when their time is up, and everyone back
    /// when the countdown ends.
    fn breakout_time(&mut self, now: Instant, out: &mut Outs) {
        let Some(b) = &self.breakouts else { return };
        if b.closing_at.is_none() && b.ends_at.is_some_and(|t| now >= t) {
            return self.start_closing(now, out);
        }
        if b.closing_at.is_none_or(|t| now < t) {
            return;
        }
        self.breakouts = None;
        out.push(Output::CloseBreakouts);
        // Whoever does not come back (their connection in a room dropped) is away as after
        // any drop: their place is kept for the grace.
        for m in self.members.values_mut() {
            if m.in_breakout.take().is_some() {
                m.away_since = Some(now);
            }
        }
        self.breakout_status(now, out);
    }

    /// (A breakout room) someone sent here by the main meeting.
    fn moved_in(
        &mut self,
        now: Instant,
        conn: ConnId,
        request: JoinRequest,
        role: Role,
        out: &mut Outs,
    ) {
        if self.ended || !self.is_breakout {
            out.push(Output::Close { conn });
            return;
        }
        if let Some(id) = self
            .id_of_identity(&request.identity)
            .filter(|id| self.members.contains_key(id))
        {
            return self.resume_with(now, id, conn, request, out, false);
        }
        // Removed from this room by a host who visited: back to the main meeting.
        if self.banned.contains(&request.identity) {
            out.push(Output::ReturnToMain { conn, request });
            return;
        }
        let role = if role.can(Permission::Override) {
            role
        } else {
            Role::Participant
        };
        let id = self.new_id();
        self.conns.insert(conn, id);
        self.insert_member(id, conn, request.name, request.identity, role);
        if let Some(m) = self.members.get_mut(&id) {
            m.browser = request.browser;
        }
        self.announce_admitted(&[id], out);
    }

    /// (The main meeting) someone back from a breakout room, on the same connection.
    fn moved_back(&mut self, now: Instant, conn: ConnId, request: JoinRequest, out: &mut Outs) {
        let id = self
            .id_of_identity(&request.identity)
            .filter(|id| self.members.contains_key(id));
        let Some(id) = id.filter(|_| !self.ended) else {
            // Removed meanwhile, or the meeting ended.
            let reason = if self.ended {
                GoodbyeReason::MeetingEnded
            } else {
                GoodbyeReason::Removed
            };
            out.push(Output::Send {
                to: conn,
                msg: ServerMessage::goodbye(reason),
            });
            out.push(Output::Close { conn });
            return;
        };
        if let Some(room) = self.members.get_mut(&id).and_then(|m| m.in_breakout.take())
            && let Some(b) = &mut self.breakouts
        {
            b.rooms[room].retain(|p| *p != id);
        }
        self.resume_with(now, id, conn, request, out, false);
        if self.breakouts.is_some() {
            self.breakout_status(now, out);
        }
    }

    // ---- in the meeting ------------------------------------------------------------------

    fn message(&mut self, now: Instant, conn: ConnId, msg: ClientMessage, out: &mut Outs) {
        let err = |out: &mut Outs, kind: ErrorKind| {
            out.push(Output::Send {
                to: conn,
                msg: ServerMessage::error(kind, false),
            })
        };
        let Some(&me) = self.conns.get(&conn) else {
            return err(out, ErrorKind::JoinRequired);
        };
        if matches!(msg, ClientMessage::Leave {}) {
            out.push(Output::Send {
                to: conn,
                msg: ServerMessage::goodbye(GoodbyeReason::Left),
            });
            out.push(Output::Close { conn });
            return self.gone(conn, LeaveReason::Left, out);
        }
        let Some(role) = self.members.get(&me).map(|m| m.role) else {
            // In the waiting room nothing but leaving (and publishing a key package, which
            // waits with them) is possible.
            if let (ClientMessage::MlsKeyPackage { key_package, .. }, Some(w)) =
                (&msg, self.waiting.get_mut(&me))
            {
                if key_package.is_empty() || key_package.len() > MAX_KEY_PACKAGE_CHARS {
                    return err(out, ErrorKind::InvalidValue);
                }
                w.key_package = Some(key_package.clone());
                return;
            }
            return err(out, ErrorKind::NotAdmitted);
        };
        if let Err(kind) = self.member_message(now, me, role, conn, msg, out) {
            err(out, kind);
        }
    }

    fn member_message(
        &mut self,
        now: Instant,
        me: ParticipantId,
        role: Role,
        conn: ConnId,
        msg: ClientMessage,
        out: &mut Outs,
    ) -> Result<(), ErrorKind> {
        let need = |p: Permission| {
            if role.can(p) {
                Ok(())
            } else {
                Err(ErrorKind::NotPermitted)
            }
        };
        let overrides = role.can(Permission::Override);
        let msg_kind = if matches!(msg, ClientMessage::SdpOffer { .. }) {
            MediaKind::Offer
        } else {
            MediaKind::Answer
        };
        // A breakout room belongs to its meeting: what concerns the whole meeting (ending
        // it, its keys, switches and roles, other rooms) is done from the main meeting.
        if self.is_breakout
            && matches!(
                msg,
                ClientMessage::End {}
                    | ClientMessage::TransferHost { .. }
                    | ClientMessage::SetPasscode { .. }
                    | ClientMessage::SetPolicy { .. }
                    | ClientMessage::Lock {}
                    | ClientMessage::Unlock {}
                    | ClientMessage::MakeCohost { .. }
                    | ClientMessage::RevokeCohost { .. }
                    | ClientMessage::BreakoutOpen { .. }
                    | ClientMessage::BreakoutVisit { .. }
                    | ClientMessage::BreakoutClose {}
                    | ClientMessage::BreakoutBroadcast { .. }
            )
        {
            return Err(ErrorKind::NotPermitted);
        }
        match msg {
            ClientMessage::Hello { .. } | ClientMessage::Join { .. } => {
                return Err(ErrorKind::AlreadyJoined);
            }
            ClientMessage::Leave {} => unreachable!("handled before"),
            ClientMessage::Chat { to, body } => {
                check_body(&body)?;
                let chat_on = self.policy.chat || overrides;
                match to {
                    None => {
                        if !chat_on {
                            return Err(ErrorKind::DisabledByHost);
                        }
                        out.push(Output::Broadcast {
                            to: self.member_conns(),
                            msg: ServerMessage::Chat {
                                from: me,
                                to: None,
                                body,
                            },
                        });
                    }
                    Some(target) => {
                        let t = self
                            .members
                            .get(&target)
                            .ok_or(ErrorKind::NoSuchParticipant)?;
                        let to_host = t.role != Role::Participant;
                        if !(overrides || to_host || (self.policy.chat && self.policy.private_chat))
                        {
                            return Err(ErrorKind::DisabledByHost);
                        }
                        let msg = ServerMessage::Chat {
                            from: me,
                            to: Some(target),
                            body,
                        };
                        let mut to = vec![t.conn];
                        if target != me {
                            to.push(conn);
                        }
                        out.push(Output::Broadcast { to, msg });
                    }
                }
            }
            ClientMessage::Sealed { body } => {
                if body.is_empty() || body.len() > MAX_SEALED_CHARS {
                    return Err(ErrorKind::InvalidValue);
                }
                self.to_members(out, ServerMessage::Sealed { from: me, body });
            }
            ClientMessage::BreakoutOpen { rooms, minutes } => {
                need(Permission::Breakouts)?;
                self.open_breakouts(now, rooms, minutes, out)?;
            }
            ClientMessage::BreakoutVisit { room } => {
                need(Permission::Breakouts)?;
                let b = self.breakouts.as_ref().ok_or(ErrorKind::InvalidValue)?;
                let index = usize::from(room).wrapping_sub(1);
                if index >= b.rooms.len() || b.closing_at.is_some() {
                    return Err(ErrorKind::InvalidValue);
                }
                self.send_to_breakout(now, me, index, out);
                self.breakout_status(now, out);
            }
            ClientMessage::BreakoutReturn {} => {
                if !self.is_breakout {
                    return Err(ErrorKind::InvalidValue);
                }
                let request = self.members[&me].as_request();
                out.push(Output::ReturnToMain { conn, request });
                self.remove_member(me, LeaveReason::Left, out);
            }
            ClientMessage::BreakoutBroadcast { body } => {
                need(Permission::Breakouts)?;
                if body.is_empty() || body.len() > MAX_SEALED_CHARS {
                    return Err(ErrorKind::InvalidValue);
                }
                if self.breakouts.is_none() {
                    return Err(ErrorKind::InvalidValue);
                }
                let msg = ServerMessage::BreakoutBroadcast { body };
                out.push(Output::ToBreakouts { msg: msg.clone() });
                self.to_members(out, msg);
            }
            ClientMessage::BreakoutClose {} => {
                need(Permission::Breakouts)?;
                if self.breakouts.is_none() {
                    return Err(ErrorKind::InvalidValue);
                }
                self.start_closing(now, out);
            }
            ClientMessage::NotesUpdate { body } => {
                check_notes_body(&body)?;
                if self.policy.notes_locked && !overrides {
                    return Err(ErrorKind::DisabledByHost);
                }
                let total = self.notes_chars + body.len() as u64;
                if total > MAX_MEETING_NOTES_CHARS {
                    return Err(ErrorKind::NotesFull);
                }
                self.notes_chars = total;
                let to = self
                    .members
                    .iter()
                    .filter(|(id, m)| **id != me && m.away_since.is_none())
                    .map(|(_, m)| m.conn)
                    .collect();
                out.push(Output::Broadcast {
                    to,
                    msg: ServerMessage::NotesUpdate { from: me, body },
                });
            }
            ClientMessage::NotesSync { to, body } => {
                check_notes_body(&body)?;
                let t = self.members.get(&to).ok_or(ErrorKind::NoSuchParticipant)?;
                if to == me {
                    return Err(ErrorKind::InvalidValue);
                }
                out.push(Output::Send {
                    to: t.conn,
                    msg: ServerMessage::NotesSync { from: me, body },
                });
            }
            ClientMessage::PollOpen {
                options,
                multiple,
                anonymous,
                body,
            } => {
                need(Permission::Polls)?;
                check_poll_body(&body)?;
                if !(MIN_POLL_OPTIONS..=MAX_POLL_OPTIONS).contains(&options) {
                    return Err(ErrorKind::InvalidValue);
                }
                let poll = self.new_poll(RoomPoll {
                    by: me,
                    options,
                    multiple,
                    anonymous,
                    open: true,
                    voters: HashSet::new(),
                })?;
                self.to_members(
                    out,
                    ServerMessage::PollOpened {
                        poll,
                        by: me,
                        options,
                        multiple,
                        anonymous,
                        body,
                    },
                );
            }
            ClientMessage::PollShow { poll, to, body } => {
                check_poll_body(&body)?;
                let p = self.polls.get(&poll).ok_or(ErrorKind::NoSuchPoll)?;
                if p.by != me {
                    return Err(ErrorKind::NotPermitted);
                }
                if !p.open {
                    return Err(ErrorKind::PollClosed);
                }
                let msg = ServerMessage::PollOpened {
                    poll,
                    by: me,
                    options: p.options,
                    multiple: p.multiple,
                    anonymous: p.anonymous,
                    body,
                };
                let to = self
                    .members
                    .get(&to)
                    .ok_or(ErrorKind::NoSuchParticipant)?
                    .conn;
                out.push(Output::Send { to, msg });
            }
            ClientMessage::PollVote { poll, body } => {
                check_poll_body(&body)?;
                let identity = self.members.get(&me).map(|m| m.identity);
                let p = self.polls.get_mut(&poll).ok_or(ErrorKind::NoSuchPoll)?;
                if !p.open {
                    return Err(ErrorKind::PollClosed);
                }
                if !identity.is_some_and(|i| p.voters.insert(i)) {
                    return Err(ErrorKind::AlreadyVoted);
                }
                let from = (!p.anonymous).then_some(me);
                let counters: Vec<ConnId> = self
                    .members
                    .values()
                    .filter(|m| m.role.can(Permission::Polls))
                    .map(|m| m.conn)
                    .collect();
                out.push(Output::Broadcast {
                    to: counters,
                    msg: ServerMessage::PollVote { poll, from, body },
                });
                out.push(Output::Send {
                    to: conn,
                    msg: ServerMessage::PollVoteCounted { poll },
                });
            }
            ClientMessage::PollClose { poll } => {
                need(Permission::Polls)?;
                let p = self.polls.get_mut(&poll).ok_or(ErrorKind::NoSuchPoll)?;
                if !p.open {
                    return Err(ErrorKind::PollClosed);
                }
                p.open = false;
                self.to_members(out, ServerMessage::PollClosed { poll });
            }
            ClientMessage::PollResults { poll, body } => {
                need(Permission::Polls)?;
                check_poll_body(&body)?;
                if !self.polls.contains_key(&poll) {
                    return Err(ErrorKind::NoSuchPoll);
                }
                self.to_members(
                    out,
                    ServerMessage::PollResults {
                        poll,
                        from: me,
                        body,
                    },
                );
            }
            ClientMessage::Record { on } => {
                if on && !self.policy.recording {
                    return Err(ErrorKind::DisabledByHost);
                }
                let m = self.member_mut(me)?;
                if m.recording != on {
                    m.recording = on;
                    self.to_members(out, ServerMessage::Recording { id: me, on });
                    self.tell_waiters(out);
                }
            }
            ClientMessage::Rename { name } => {
                if !(self.policy.rename || overrides) {
                    return Err(ErrorKind::DisabledByHost);
                }
                self.member_mut(me)?.name = name.clone();
                self.to_members(out, ServerMessage::Renamed { id: me, name });
            }
            ClientMessage::SetMuted { muted } => {
                let unmute_self = self.policy.unmute_self;
                let may_send = self.members.get(&me).is_some_and(|m| self.may_send(m));
                let m = self.member_mut(me)?;
                if !muted
                    && (!may_send
                        || (m.host_muted && !unmute_self && !overrides && !m.unmute_granted))
                {
                    return Err(ErrorKind::DisabledByHost);
                }
                m.muted = muted;
                if !muted {
                    if m.host_muted {
                        out.push(Output::AudioForwarding {
                            conn: m.conn,
                            allowed: true,
                        });
                    }
                    m.host_muted = false;
                    m.unmute_granted = false;
                }
                self.to_members(
                    out,
                    ServerMessage::Muted {
                        id: me,
                        muted,
                        by_host: false,
                    },
                );
            }
            ClientMessage::ShareScreen { sharing } => {
                let may_send = self.members.get(&me).is_some_and(|m| self.may_send(m));
                if sharing
                    && !((self.policy.screen_share == ShareRule::Everyone || overrides) && may_send)
                {
                    return Err(ErrorKind::DisabledByHost);
                }
                self.member_mut(me)?.sharing = sharing;
                self.to_members(out, ServerMessage::ScreenShare { id: me, sharing });
            }
            ClientMessage::FileOffer { to, size, body } => {
                if !self.policy.file_transfer {
                    return Err(ErrorKind::DisabledByHost);
                }
                check_body(&body)?;
                if size > self.limits.max_file_bytes {
                    return Err(ErrorKind::FileTooLarge);
                }
                if let Some(t) = to
                    && (t == me || !self.members.contains_key(&t))
                {
                    return Err(ErrorKind::NoSuchParticipant);
                }
                let recipients = match to {
                    Some(_) => 1,
                    None => self.members.len().saturating_sub(1) as u64,
                };
                if size.saturating_mul(recipients) > MAX_FILE_FANOUT_BYTES {
                    return Err(ErrorKind::FileTooLarge);
                }
                let mine = self.transfers.values().filter(|t| t.from == me).count();
                if mine >= MAX_SENDING_FILES || self.transfers.len() >= MAX_MEETING_FILES {
                    return Err(ErrorKind::TooManyTransfers);
                }
                self.next_transfer += 1;
                let transfer = TransferId(self.next_transfer);
                self.transfers.insert(
                    transfer,
                    Transfer {
                        from: me,
                        to,
                        chunks_left: file_chunks(size),
                    },
                );
                let msg = ServerMessage::FileOffer {
                    from: me,
                    to,
                    transfer,
                    size,
                    body,
                };
                let mut conns = self.transfer_recipients(me, to);
                conns.push(conn);
                out.push(Output::Broadcast { to: conns, msg });
            }
            ClientMessage::FileChunk { transfer, body } => {
                if body.is_empty() || body.len() > MAX_FILE_CHUNK_CHARS {
                    return Err(ErrorKind::InvalidValue);
                }
                let t = self
                    .transfers
                    .get_mut(&transfer)
                    .filter(|t| t.from == me)
                    .ok_or(ErrorKind::NoSuchTransfer)?;
                t.chunks_left -= 1;
                let to = t.to;
                if t.chunks_left == 0 {
                    self.transfers.remove(&transfer);
                }
                out.push(Output::Broadcast {
                    to: self.transfer_recipients(me, to),
                    msg: ServerMessage::FileChunk {
                        transfer,
                        from: me,
                        body,
                    },
                });
            }
            ClientMessage::FileCancel { transfer } => {
                if self.transfers.get(&transfer).is_none_or(|t| t.from != me) {
                    return Err(ErrorKind::NoSuchTransfer);
                }
                self.cancel_transfers(out, |id, _| *id == transfer);
            }
            ClientMessage::Admit { id } => {
                need(Permission::Admit)?;
                self.admit_waiter(id, out)?;
            }
            ClientMessage::AdmitAll {} => {
                need(Permission::Admit)?;
                self.admit_all(out)?;
            }
            ClientMessage::Deny { id } => {
                need(Permission::Admit)?;
                let w = self.waiting.get(&id).ok_or(ErrorKind::NoSuchParticipant)?;
                let (wconn, identity) = (w.conn, w.identity);
                self.banned.insert(identity);
                out.push(Output::Send {
                    to: wconn,
                    msg: ServerMessage::goodbye(GoodbyeReason::Denied),
                });
                out.push(Output::Close { conn: wconn });
                self.remove_waiter(id, out);
            }
            ClientMessage::Lock {} | ClientMessage::Unlock {} => {
                need(Permission::Lock)?;
                let locked = matches!(msg, ClientMessage::Lock {});
                if self.locked != locked {
                    self.locked = locked;
                    self.to_members(out, ServerMessage::LockChanged { locked });
                }
            }
            ClientMessage::Remove { id } => {
                need(Permission::Remove)?;
                if self.waiting.contains_key(&id) {
                    return self.member_message(
                        now,
                        me,
                        role,
                        conn,
                        ClientMessage::Deny { id },
                        out,
                    );
                }
                let target = self.members.get(&id).ok_or(ErrorKind::NoSuchParticipant)?;
                // Nobody removes themselves this way, nor anyone of their own rank or above,
                // nor the holder of the host secret.
                if id == me || target.role <= role || target.holds_secret {
                    return Err(ErrorKind::NotPermitted);
                }
                let (tconn, identity) = (target.conn, target.identity);
                self.banned.insert(identity);
                out.push(Output::Send {
                    to: tconn,
                    msg: ServerMessage::goodbye(GoodbyeReason::Removed),
                });
                out.push(Output::Close { conn: tconn });
                self.remove_member(id, LeaveReason::Removed, out);
            }
            ClientMessage::MuteAll {} => {
                need(Permission::Mute)?;
                for m in self.members.values_mut() {
                    if m.role == Role::Participant {
                        m.hard_mute(out);
                    }
                }
                self.to_members(out, ServerMessage::AllMuted { by: me });
            }
            ClientMessage::AskUnmute { id } => {
                need(Permission::Mute)?;
                let t = self.member_mut(id)?;
                t.unmute_granted = true;
                let tconn = t.conn;
                out.push(Output::Send {
                    to: tconn,
                    msg: ServerMessage::UnmuteRequested { by: me },
                });
            }
            ClientMessage::SetStage { id, on } => {
                need(Permission::Mute)?;
                let m = self.member_mut(id)?;
                m.on_stage = on;
                let conn = m.conn;
                // On the stage is a presenter: always heard, not only among the loudest.
                out.push(Output::Presenter { conn, on });
                self.to_members(out, ServerMessage::Stage { id, on, by: me });
                self.enforce_stage(id, true, out);
            }
            ClientMessage::SetPolicy { change } => {
                need(Permission::ChangePolicy)?;
                if change
                    .capacity
                    .is_some_and(|c| c > self.limits.max_capacity)
                {
                    return Err(ErrorKind::InvalidValue);
                }
                let was_event = self.policy.event_mode;
                if !self.policy.apply(&change) {
                    return Err(ErrorKind::InvalidValue);
                }
                self.to_members(
                    out,
                    ServerMessage::PolicyChanged {
                        policy: self.policy.clone(),
                    },
                );
                if self.policy.event_mode != was_event {
                    // Everyone off the stage is muted (or allowed again); their clients learn
                    // it from the new policy, so no message per person.
                    let ids: Vec<ParticipantId> = self.members.keys().copied().collect();
                    for id in ids {
                        self.enforce_stage(id, false, out);
                    }
                }
                if !self.policy.file_transfer {
                    // Switched off: files on their way stop.
                    self.cancel_transfers(out, |_, _| true);
                }
                if !self.policy.recording {
                    // Switched off: every recording stops, and everyone is told.
                    self.stop_recordings(out, |_| true);
                }
                if change.waiting_room == Some(false) {
                    // Turning the waiting room off lets in whoever waits, up to capacity.
                    self.admit_all(out)?;
                }
            }
            ClientMessage::SetPasscode { passcode } => {
                need(Permission::ChangePasscode)?;
                if let Some(p) = &passcode {
                    validate_passcode(p)?;
                }
                self.passcode = passcode.map(Zeroizing::new);
                let has_passcode = self.passcode.is_some();
                out.push(Output::Broadcast {
                    to: self.admitters(),
                    msg: ServerMessage::PasscodeChanged { has_passcode },
                });
            }
            ClientMessage::MakeCohost { id } | ClientMessage::RevokeCohost { id } => {
                need(Permission::ManageCohosts)?;
                let make = matches!(msg, ClientMessage::MakeCohost { .. });
                let (from, to) = if make {
                    (Role::Participant, Role::Cohost)
                } else {
                    (Role::Cohost, Role::Participant)
                };
                let t = self.members.get(&id).ok_or(ErrorKind::NoSuchParticipant)?;
                if t.role != from {
                    return Err(ErrorKind::InvalidValue);
                }
                self.set_role(id, to, out);
            }
            ClientMessage::TransferHost { id } => {
                need(Permission::TransferHost)?;
                if id == me {
                    return Err(ErrorKind::InvalidValue);
                }
                if !self.members.contains_key(&id) {
                    return Err(ErrorKind::NoSuchParticipant);
                }
                self.set_role(me, Role::Cohost, out);
                self.set_role(id, Role::Host, out);
                // Only the holder of the host secret can hand it on: then the old secret stops
                // working and only the new host can reclaim. Someone standing in for an absent
                // host passes on the stand-in role alone, so the secret holder can always come
                // back and take the meeting over.
                if self.members.get(&me).is_some_and(|m| m.holds_secret) {
                    self.host_secret = HostSecret::random();
                    for m in self.members.values_mut() {
                        m.holds_secret = false;
                    }
                    if let Some(m) = self.members.get_mut(&id) {
                        m.holds_secret = true;
                    }
                    let tconn = self.conn_of(id);
                    out.push(Output::Send {
                        to: tconn,
                        msg: ServerMessage::HostSecret {
                            secret: self.host_secret.clone(),
                        },
                    });
                }
            }
            ClientMessage::End {} => {
                need(Permission::End)?;
                // A stand-in may not end the meeting: that would lock its owner out for good.
                if !self.members.get(&me).is_some_and(|m| m.holds_secret) {
                    return Err(ErrorKind::NotPermitted);
                }
                self.end(out);
            }
            ClientMessage::ReceiveVideo {
                from,
                height,
                heights,
            } => {
                let valid = |h: u16| (1..=MAX_TILE_HEIGHT).contains(&h);
                if heights.len() > MAX_VIDEO_FROM
                    || !height.is_none_or(valid)
                    || !heights.iter().all(|t| valid(t.height))
                {
                    return Err(ErrorKind::InvalidValue);
                }
                let heights = TileHeights {
                    default: height,
                    by: heights.iter().map(|t| (t.id, t.height)).collect(),
                };
                let from = match from {
                    Some(mut ids) => {
                        if ids.len() > MAX_VIDEO_FROM {
                            return Err(ErrorKind::InvalidValue);
                        }
                        ids.sort();
                        ids.dedup();
                        Some(ids)
                    }
                    None => None,
                };
                out.push(Output::VideoFrom {
                    conn,
                    from,
                    heights,
                });
            }
            ClientMessage::MlsKeyPackage {
                key_package,
                rejoin,
            } => {
                if key_package.is_empty() || key_package.len() > MAX_KEY_PACKAGE_CHARS {
                    return Err(ErrorKind::InvalidValue);
                }
                let m = self.member_mut(me)?;
                m.key_package = Some(key_package.clone());
                if rejoin && m.in_group {
                    m.in_group = false;
                    // If it was the last one in the group, someone founds a new one (and gets
                    // this key package with the others').
                    if !self.members.values().any(|m| m.in_group) {
                        self.refound_if_empty(out);
                        return Ok(());
                    }
                }
                self.forward_key_package(me, key_package, out);
            }
            ClientMessage::MlsCommit {
                epoch,
                commit,
                welcome,
                added,
            } => {
                return self.mls_commit(me, epoch, commit, welcome, added, out);
            }
            ClientMessage::MlsRefuse { id, reason } => {
                if !self.members[&me].in_group {
                    return Err(ErrorKind::NotPermitted);
                }
                let to = self.member_mut(id)?.conn;
                out.push(Output::Send {
                    to,
                    msg: ServerMessage::MlsRefused {
                        by: me,
                        reason,
                        message: reason.message().to_string(),
                    },
                });
            }
            ClientMessage::SdpOffer { sdp } | ClientMessage::SdpAnswer { sdp } => {
                if sdp.is_empty() || sdp.len() > MAX_SDP_BYTES {
                    return Err(ErrorKind::InvalidValue);
                }
                let offer = matches!(msg_kind, MediaKind::Offer);
                out.push(Output::Media {
                    conn,
                    participant: me,
                    signal: if offer {
                        MediaSignal::Offer(sdp)
                    } else {
                        MediaSignal::Answer(sdp)
                    },
                });
            }
            _ => return Err(ErrorKind::UnknownType),
        }
        Ok(())
    }

    /// (A breakout room that closes) everyone here with a live connection, to go back to the
    /// main meeting; the room is then empty and over (nobody is told anything here).
    pub fn evacuate(&mut self) -> Vec<(ConnId, JoinRequest)> {
        let back = self
            .members
            .values()
            .filter(|m| m.away_since.is_none())
            .map(|m| (m.conn, m.as_request()))
            .collect();
        self.ended = true;
        self.members.clear();
        self.conns.clear();
        back
    }

    /// End the meeting for everyone (the host's "end for all", or the server shutting down).
    pub fn end(&mut self, out: &mut Vec<Output>) {
        self.ended = true;
        let everyone: Vec<ConnId> = self.conns.keys().copied().collect();
        out.push(Output::Broadcast {
            to: everyone.clone(),
            msg: ServerMessage::goodbye(GoodbyeReason::MeetingEnded),
        });
        for conn in everyone {
            out.push(Output::Close { conn });
        }
        self.members.clear();
        self.waiting.clear();
        self.conns.clear();
        self.banned.clear();
        self.passcode = None;
        out.push(Output::Ended);
    }

    // ---- helpers -------------------------------------------------------------------------

    /// Whether `m` may be heard and seen: always, except in event mode, where only hosts,
    /// co-hosts and those on the stage may.
    fn may_send(&self, m: &Member) -> bool {
        !self.policy.event_mode || m.role.can(Permission::Override) || m.on_stage
    }

    /// Tell the SFU whether `id`'s media is forwarded, if that changed. One who may no longer
    /// send is muted (a hard mute: their audio is dropped too, and they may not unmute
    /// themselves), and if `announce`, everyone is told; one who may again is allowed to
    /// unmute.
    fn enforce_stage(&mut self, id: ParticipantId, announce: bool, out: &mut Outs) {
        let Some(m) = self.members.get(&id) else {
            return;
        };
        let allowed = self.may_send(m);
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        if allowed == m.forwarded {
            return;
        }
        m.forwarded = allowed;
        out.push(Output::MediaForwarding {
            conn: m.conn,
            allowed,
        });
        if allowed {
            m.unmute_granted = true;
            return;
        }
        let was_muted = m.muted;
        m.hard_mute(out);
        if announce && !was_muted {
            self.to_members(
                out,
                ServerMessage::Muted {
                    id,
                    muted: true,
                    by_host: true,
                },
            );
        }
    }

    /// Tell `id`'s current connection it was replaced by a newer one, and close it.
    fn replace_session(&self, id: ParticipantId, out: &mut Outs) -> ConnId {
        let old = self.conn_of(id);
        out.push(Output::Send {
            to: old,
            msg: ServerMessage::goodbye(GoodbyeReason::Replaced),
        });
        out.push(Output::Close { conn: old });
        old
    }

    fn set_role(&mut self, id: ParticipantId, role: Role, out: &mut Outs) {
        let Some(m) = self.members.get_mut(&id) else {
            return;
        };
        let was_admitter = m.role.can(Permission::Admit);
        m.role = role;
        let conn = m.conn;
        self.to_members(out, ServerMessage::RoleChanged { id, role });
        // In event mode a new co-host may be heard; one who is no longer, off the stage, not.
        self.enforce_stage(id, true, out);
        if role.can(Permission::Admit) && !was_admitter {
            // A new admitter needs to see who is already waiting.
            for (wid, w) in &self.waiting {
                out.push(Output::Send {
                    to: conn,
                    msg: ServerMessage::WaitingJoined {
                        waiting: WaitingInfo {
                            id: *wid,
                            name: w.name.clone(),
                            browser: w.browser,
                        },
                    },
                });
            }
        }
    }

    fn new_id(&mut self) -> ParticipantId {
        let id = ParticipantId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    fn is_full(&self) -> bool {
        self.members.len() >= self.policy.capacity as usize
    }

    fn current_host(&self) -> Option<ParticipantId> {
        self.members
            .iter()
            .find(|(_, m)| m.role == Role::Host)
            .map(|(id, _)| *id)
    }

    fn id_of_identity(&self, key: &IdentityKey) -> Option<ParticipantId> {
        self.members
            .iter()
            .find(|(_, m)| m.identity == *key)
            .map(|(id, _)| *id)
            .or_else(|| {
                self.waiting
                    .iter()
                    .find(|(_, w)| w.identity == *key)
                    .map(|(id, _)| *id)
            })
    }

    fn conn_of(&self, id: ParticipantId) -> ConnId {
        // Invariant: callers pass ids found in `members` or `waiting`.
        self.members
            .get(&id)
            .map(|m| m.conn)
            .or_else(|| self.waiting.get(&id).map(|w| w.conn))
            .expect("conn_of is called with a present participant")
    }

    fn member_mut(&mut self, id: ParticipantId) -> Result<&mut Member, ErrorKind> {
        self.members
            .get_mut(&id)
            .ok_or(ErrorKind::NoSuchParticipant)
    }

    /// The connections of the members who are connected (not away).
    fn member_conns(&self) -> Vec<ConnId> {
        self.members
            .values()
            .filter(|m| m.away_since.is_none())
            .map(|m| m.conn)
            .collect()
    }

    fn member_conns_except(&self, id: ParticipantId) -> Vec<ConnId> {
        self.members
            .iter()
            .filter(|(mid, _)| **mid != id)
            .map(|(_, m)| m.conn)
            .collect()
    }

    fn admitters(&self) -> Vec<ConnId> {
        self.members
            .values()
            .filter(|m| m.role.can(Permission::Admit) && m.away_since.is_none())
            .map(|m| m.conn)
            .collect()
    }

    fn to_members(&self, out: &mut Outs, msg: ServerMessage) {
        out.push(Output::Broadcast {
            to: self.member_conns(),
            msg,
        });
    }

    fn info(&self, id: ParticipantId) -> ParticipantInfo {
        let m = &self.members[&id];
        ParticipantInfo {
            on_stage: m.on_stage,
            away: m.away_since.is_some(),
            id,
            identity: m.identity,
            name: m.name.clone(),
            role: m.role,
            muted: m.muted,
            sharing: m.sharing,
            browser: m.browser,
            recording: m.recording,
        }
    }

    fn waiting_message(&self) -> ServerMessage {
        ServerMessage::Waiting {
            title: self.title.clone(),
            host_present: !self.admitters().is_empty(),
            recording: self.members.values().any(|m| m.recording),
        }
    }

    /// Everyone waiting hears the room's state again (someone started or stopped recording).
    fn tell_waiters(&self, out: &mut Outs) {
        let to: Vec<ConnId> = self.waiting.values().map(|w| w.conn).collect();
        if !to.is_empty() {
            out.push(Output::Broadcast {
                to,
                msg: self.waiting_message(),
            });
        }
    }

    /// Stop the recordings `which` picks: everyone is told of each, and whoever waits.
    fn stop_recordings(&mut self, out: &mut Outs, which: impl Fn(&Member) -> bool) {
        let stopped: Vec<ParticipantId> = self
            .members
            .iter_mut()
            .filter(|(_, m)| m.recording && which(m))
            .map(|(id, m)| {
                m.recording = false;
                *id
            })
            .collect();
        for id in &stopped {
            self.to_members(out, ServerMessage::Recording { id: *id, on: false });
        }
        if !stopped.is_empty() {
            self.tell_waiters(out);
        }
    }

    fn joined_message(&self, id: ParticipantId, found_group: bool) -> ServerMessage {
        let role = self.members[&id].role;
        let waiting = if role.can(Permission::Admit) {
            self.waiting
                .iter()
                .map(|(id, w)| WaitingInfo {
                    id: *id,
                    name: w.name.clone(),
                    browser: w.browser,
                })
                .collect()
        } else {
            Vec::new()
        };
        ServerMessage::Joined {
            you: id,
            role,
            title: self.title.clone(),
            policy: self.policy.clone(),
            locked: self.locked,
            has_passcode: self.passcode.is_some(),
            waiting,
            // The hub fills in the server's STUN/TURN servers; the room knows nothing of media.
            ice_servers: Vec::new(),
            found_group,
        }
    }
}

fn check_poll_body(body: &str) -> Result<(), ErrorKind> {
    if body.is_empty() || body.len() > MAX_POLL_BODY_CHARS {
        return Err(ErrorKind::InvalidValue);
    }
    Ok(())
}

fn check_notes_body(body: &str) -> Result<(), ErrorKind> {
    if body.is_empty() || body.len() > MAX_NOTES_BODY_CHARS {
        return Err(ErrorKind::InvalidValue);
    }
    Ok(())
}

fn check_body(body: &str) -> Result<(), ErrorKind> {
    if body.is_empty() || body.len() > MAX_BODY_BYTES {
        return Err(ErrorKind::InvalidValue);
    }
    Ok(())
}

/// Key packages as few messages: one `mls_key_package` for one person, else batches of
/// `mls_key_packages` of at most [`MAX_KEY_PACKAGE_BATCH_CHARS`] of key packages each.
fn key_package_messages(mut packages: Vec<KeyPackageFrom>) -> Vec<ServerMessage> {
    if packages.len() == 1 {
        let KeyPackageFrom { from, key_package } = packages.remove(0);
        return vec![ServerMessage::MlsKeyPackage { from, key_package }];
    }
    let mut msgs = Vec::new();
    let mut batch: Vec<KeyPackageFrom> = Vec::new();
    let mut chars = 0;
    for p in packages {
        if !batch.is_empty() && chars + p.key_package.len() > MAX_KEY_PACKAGE_BATCH_CHARS {
            msgs.push(ServerMessage::MlsKeyPackages {
                packages: std::mem::take(&mut batch),
            });
            chars = 0;
        }
        chars += p.key_package.len();
        batch.push(p);
    }
    if !batch.is_empty() {
        msgs.push(ServerMessage::MlsKeyPackages { packages: batch });
    }
    msgs
}
