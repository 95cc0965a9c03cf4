//! The hub: every meeting on this server, and the delivery of each room's outputs to the
//! connections in it. Each room sits behind its own lock; delivery never waits on a socket
//! (bounded queues, and a client that cannot keep up is disconnected).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use parley_proto::api::{CreateMeeting, MeetingCreated};
use parley_proto::{
    ErrorKind, GoodbyeReason, HostSecret, Policy, Role, RoomToken, ServerMessage, Title,
};

use crate::config::Config;
use crate::limit::{AddressLimiter, Slots};
use crate::link::{ConnLink, Outbound};
use crate::meter::ReadBudget;
use crate::room::{ConnId, Input, JoinRequest, Output, Room, RoomLimits, RoomSetup};
use crate::sfu::SfuHandle;

/// How many ended meetings are remembered (so a late joiner hears "ended", not "no such").
const ENDED_MEMORY: usize = 100_000;

/// Whether receiving `msg` puts a connection in the meeting's encryption group (it founds it
/// or is welcomed into it): from then on it may send the large `mls_commit`.
fn enters_group(msg: &ServerMessage) -> bool {
    matches!(
        msg,
        ServerMessage::Joined {
            found_group: true,
            ..
        } | ServerMessage::MlsFound {}
            | ServerMessage::MlsWelcome { .. }
    )
}

/// One meeting and the connections in it.
pub struct RoomEntry {
    /// A per-process number for logs (never the token).
    pub serial: u64,
    token: RoomToken,
    state: Mutex<RoomState>,
    /// Its breakout rooms while they are open (room 1 first). Locked after `state`, never
    /// before; a breakout room's own lock is taken only once this is released.
    children: Mutex<Vec<Arc<RoomEntry>>>,
    /// (A breakout room) the meeting it belongs to.
    parent: Option<std::sync::Weak<RoomEntry>>,
}

/// Work a room's outputs ask for in other rooms: done once its own lock is released.
enum Deferred {
    /// Into breakout room `room` (index from 0).
    Move {
        link: Arc<ConnLink>,
        room: usize,
        request: JoinRequest,
        role: Role,
        ends_in_secs: Option<u32>,
    },
    /// Back to the main meeting.
    Return {
        link: Arc<ConnLink>,
        request: JoinRequest,
    },
    /// To everyone in every breakout room.
    ToChildren(ServerMessage),
    /// Everyone in the breakout rooms back; the rooms go.
    CloseChildren,
    /// The meeting ended: so did its breakout rooms.
    EndChildren,
}

struct RoomState {
    room: Room,
    conns: HashMap<ConnId, Arc<ConnLink>>,
}

/// Every meeting on this server.
pub struct Hub {
    config: Config,
    rooms: Mutex<HashMap<RoomToken, Arc<RoomEntry>>>,
    ended: Mutex<HashMap<RoomToken, Instant>>,
    passcodes: Mutex<AddressLimiter>,
    /// Signaling connections, in all and per address.
    signaling: Mutex<Slots>,
    /// TCP connections (signaling or not yet), in all and per address.
    tcp: Mutex<Slots>,
    next_conn: AtomicU64,
    next_serial: AtomicU64,
    sfu: std::sync::OnceLock<SfuHandle>,
    read_budget: Arc<ReadBudget>,
    /// The room each joined connection is in now (a breakout moves it). The connection's own
    /// task reads it for every message and takes it out when it ends.
    conn_rooms: Mutex<HashMap<ConnId, Arc<RoomEntry>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a room lock is a bug; the state is still the best we have.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// A hub for `config` (already checked with [`Config::finish`]).
    pub fn new(config: Config) -> Arc<Self> {
        let entries = config.limits.passcode_limiter_entries;
        let unfinished = config.limits.max_unfinished_bytes;
        let (total, per_address) = (
            config.limits.max_connections,
            config.limits.max_connections_per_address,
        );
        Arc::new(Hub {
            config,
            rooms: Mutex::new(HashMap::new()),
            ended: Mutex::new(HashMap::new()),
            passcodes: Mutex::new(AddressLimiter::new(3, entries)),
            signaling: Mutex::new(Slots::new(total, per_address)),
            tcp: Mutex::new(Slots::new(total + total / 4, per_address + per_address / 4)),
            next_conn: AtomicU64::new(1),
            next_serial: AtomicU64::new(1),
            sfu: std::sync::OnceLock::new(),
            read_budget: ReadBudget::new(unfinished),
            conn_rooms: Mutex::new(HashMap::new()),
        })
    }

    /// The SFU's UDP address, once attached.
    pub fn media_addr(&self) -> Option<std::net::SocketAddr> {
        self.sfu.get().map(SfuHandle::addr)
    }

    /// The UDP addresses of all media workers.
    pub fn media_addrs(&self) -> Vec<std::net::SocketAddr> {
        self.sfu.get().map(SfuHandle::addrs).unwrap_or_default()
    }

    /// Attach the SFU that carries this server's media (once, at start).
    pub fn attach_sfu(&self, sfu: SfuHandle) {
        let _ = self.sfu.set(sfu);
    }

    /// What all connections together may hold of unfinished messages.
    pub fn read_budget(&self) -> &Arc<ReadBudget> {
        &self.read_budget
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of meetings.
    pub fn room_count(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// Count a new signaling connection from `addr` in; `None` if the server, or that
    /// address's share of it, is at its connection limit.
    pub fn connection_opened(&self, addr: IpAddr) -> Option<ConnId> {
        if !lock(&self.signaling).acquire(addr) {
            return None;
        }
        Some(ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed)))
    }

    /// Count a signaling connection from `addr` out.
    pub fn connection_closed(&self, addr: IpAddr) {
        lock(&self.signaling).release(addr);
    }

    /// Count a TCP connection from `addr` in (idle ones too); false if over the limit.
    pub fn tcp_opened(&self, addr: IpAddr) -> bool {
        lock(&self.tcp).acquire(addr)
    }

    /// Count a TCP connection from `addr` out.
    pub fn tcp_closed(&self, addr: IpAddr) {
        lock(&self.tcp).release(addr);
    }

    /// Create a meeting.
    pub fn create_meeting(
        &self,
        req: CreateMeeting,
        now: Instant,
    ) -> Result<MeetingCreated, ErrorKind> {
        if let Some(p) = &req.passcode {
            crate::room::validate_passcode(p)?;
        }
        let limits = self.room_limits();
        let mut policy = Policy::default();
        if req.policy.capacity.is_some_and(|c| c > limits.max_capacity)
            || !policy.apply(&req.policy)
        {
            return Err(ErrorKind::InvalidValue);
        }
        let token = RoomToken::random();
        let secret = HostSecret::random();
        let room = Room::new(
            RoomSetup {
                title: req.title.clone(),
                policy,
                passcode: req.passcode,
            },
            secret.clone(),
            limits,
            now,
        );
        let policy = room.policy().clone();
        let entry = Arc::new(RoomEntry {
            serial: self.next_serial.fetch_add(1, Ordering::Relaxed),
            token: token.clone(),
            state: Mutex::new(RoomState {
                room,
                conns: HashMap::new(),
            }),
            children: Mutex::new(Vec::new()),
            parent: None,
        });
        {
            let mut rooms = lock(&self.rooms);
            if rooms.len() >= self.config.limits.max_rooms {
                return Err(ErrorKind::ServerBusy);
            }
            rooms.insert(token.clone(), entry.clone());
        }
        tracing::info!(room = entry.serial, "meeting created");
        Ok(MeetingCreated {
            room: token,
            host_secret: secret,
            title: req.title,
            policy,
            public_url: self.config.public_url.clone(),
        })
    }

    fn room_limits(&self) -> RoomLimits {
        RoomLimits {
            max_capacity: self.config.limits.max_room_capacity,
            max_waiting: self.config.limits.max_waiting,
            reconnect_grace: Duration::from_secs(self.config.limits.reconnect_grace_secs),
            max_file_bytes: self.config.limits.max_file_mib << 20,
            breakout_countdown: Duration::from_secs(self.config.limits.breakout_countdown_secs),
        }
    }

    /// The room connection `conn` is in now (the meeting it joined, or a breakout room).
    pub fn room_of(&self, conn: ConnId) -> Option<Arc<RoomEntry>> {
        lock(&self.conn_rooms).get(&conn).cloned()
    }

    /// Connection `conn` has ended: the room it was in (to be told so).
    pub fn forget_conn(&self, conn: ConnId) -> Option<Arc<RoomEntry>> {
        lock(&self.conn_rooms).remove(&conn)
    }

    /// A verified join from `link` to the meeting `token`. Returns the room if the connection
    /// is now in it (waiting or admitted); otherwise the refusal has been queued on `link`.
    pub fn join(
        &self,
        link: &Arc<ConnLink>,
        token: &RoomToken,
        request: JoinRequest,
        now: Instant,
    ) -> Option<Arc<RoomEntry>> {
        let refuse = |kind: ErrorKind, retry: Option<Duration>| {
            let msg = ServerMessage::Refused {
                kind,
                message: kind.message().into(),
                retry_after_ms: retry.map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
            };
            link.push(Outbound::Text(msg.encode().into()));
            link.push(Outbound::Close);
            None
        };
        let entry = lock(&self.rooms).get(token).cloned();
        let Some(entry) = entry else {
            let kind = if lock(&self.ended).contains_key(token) {
                ErrorKind::MeetingEnded
            } else {
                ErrorKind::NoSuchMeeting
            };
            return refuse(kind, None);
        };
        let mut state = lock(&entry.state);
        // Per-address limit on wrong passcodes, across all meetings with a passcode. Hosts
        // (with the host secret) are not limited.
        if request.host_secret.is_none()
            && state.room.has_passcode()
            && let Err(wait) = lock(&self.passcodes).check(link.addr, now)
        {
            drop(state);
            return refuse(ErrorKind::TooManyAttempts, Some(wait));
        }
        state.conns.insert(link.id, link.clone());
        link.enter_room(entry.serial, None);
        let outs = state.room.handle(
            now,
            Input::Join {
                conn: link.id,
                request,
            },
        );
        let closed_self = outs
            .iter()
            .any(|o| matches!(o, Output::Close { conn } if *conn == link.id));
        let deferred = self.dispatch(&entry, &mut state, outs, now);
        if closed_self {
            state.conns.remove(&link.id);
            drop(state);
            self.run_deferred(&entry, deferred, now);
            None
        } else {
            tracing::debug!(room = entry.serial, conn = link.id.0, "joined");
            lock(&self.conn_rooms).insert(link.id, entry.clone());
            drop(state);
            self.run_deferred(&entry, deferred, now);
            Some(entry)
        }
    }

    /// Give the room an input from one of its connections.
    pub fn input(&self, entry: &Arc<RoomEntry>, input: Input, now: Instant) {
        let mut state = lock(&entry.state);
        if let Input::Disconnected { conn } | Input::Dropped { conn } = &input {
            state.conns.remove(conn);
            if let Some(sfu) = self.sfu.get() {
                sfu.gone(*conn);
            }
        }
        let started = Instant::now();
        let outs = state.room.handle(now, input);
        let handled = started.elapsed();
        let n = outs.len();
        let deferred = self.dispatch(entry, &mut state, outs, now);
        drop(state);
        self.run_deferred(entry, deferred, now);
        let total = started.elapsed();
        if total > Duration::from_millis(20) {
            tracing::info!(
                room = entry.serial,
                outputs = n,
                handle_ms = handled.as_millis() as u64,
                total_ms = total.as_millis() as u64,
                "slow room input"
            );
        }
    }

    #[must_use]
    fn dispatch(
        &self,
        entry: &RoomEntry,
        state: &mut RoomState,
        outs: Vec<Output>,
        now: Instant,
    ) -> Vec<Deferred> {
        let mut deferred = Vec::new();
        for out in outs {
            match out {
                Output::Send { to, mut msg } => {
                    if let ServerMessage::Joined { ice_servers, .. } = &mut msg {
                        ice_servers.clone_from(&self.config.ice_servers);
                    }
                    if let Some(c) = state.conns.get(&to) {
                        if matches!(msg, ServerMessage::Joined { .. }) {
                            c.allow_media_messages();
                        }
                        if enters_group(&msg) {
                            c.allow_large_messages();
                        }
                        c.push(Outbound::Text(msg.encode().into()));
                    } else if matches!(msg, ServerMessage::Goodbye { .. })
                        && let Some(c) = child_link(entry, to)
                    {
                        // Someone removed from the meeting while in a breakout room.
                        c.push(Outbound::Text(msg.encode().into()));
                    }
                }
                Output::Broadcast { to, msg } => {
                    let text: Utf8Bytes = msg.encode().into();
                    let enters = enters_group(&msg);
                    for id in to {
                        if let Some(c) = state.conns.get(&id) {
                            if enters {
                                c.allow_large_messages();
                            }
                            c.push(Outbound::Text(text.clone()));
                        }
                    }
                }
                Output::Close { conn } => {
                    if let Some(c) = state.conns.remove(&conn) {
                        c.push(Outbound::Close);
                    } else if let Some(c) = child_link(entry, conn) {
                        // In a breakout room: that room is told when the connection ends.
                        c.push(Outbound::Close);
                    }
                    if let Some(sfu) = self.sfu.get() {
                        sfu.gone(conn);
                    }
                }
                Output::PasscodeFailed { conn } => {
                    if let Some(c) = state.conns.get(&conn) {
                        lock(&self.passcodes).failure(c.addr, now);
                    }
                    tracing::info!(room = entry.serial, "wrong passcode");
                }
                // Only for open connections: the SFU forgot a closed one (and would otherwise
                // keep what it is told about it, for a member away while they reconnect, say).
                Output::AudioForwarding { conn, allowed } => {
                    if let Some(sfu) = self.sfu.get()
                        && state.conns.contains_key(&conn)
                    {
                        sfu.audio(conn, allowed);
                    }
                }
                Output::Presenter { conn, on } => {
                    if let Some(sfu) = self.sfu.get()
                        && state.conns.contains_key(&conn)
                    {
                        sfu.presenter(conn, on);
                    }
                }
                Output::MediaForwarding { conn, allowed } => {
                    if let Some(sfu) = self.sfu.get()
                        && state.conns.contains_key(&conn)
                    {
                        sfu.media(conn, allowed);
                    }
                }
                Output::VideoFrom {
                    conn,
                    from,
                    heights,
                } => {
                    if let Some(sfu) = self.sfu.get() {
                        sfu.video_from(conn, from, heights);
                    }
                }
                Output::Media {
                    conn,
                    participant,
                    signal,
                } => match (self.sfu.get(), state.conns.get(&conn)) {
                    (Some(sfu), Some(link)) => {
                        sfu.signal(entry.serial, link.clone(), participant, signal)
                    }
                    _ => {
                        if let Some(link) = state.conns.get(&conn) {
                            link.push(Outbound::Text(
                                ServerMessage::error(ErrorKind::UnknownType, false)
                                    .encode()
                                    .into(),
                            ));
                        }
                    }
                },
                Output::Ended => {
                    tracing::info!(room = entry.serial, "meeting ended");
                    if entry.parent.is_none() {
                        lock(&self.rooms).remove(&entry.token);
                        self.remember_ended(entry.token.clone(), now);
                        deferred.push(Deferred::EndChildren);
                    }
                }
                Output::OpenBreakouts { rooms } => {
                    let policy = state.room.policy().clone();
                    let children = (1..=rooms)
                        .map(|n| {
                            let title =
                                Title::new(&format!("Breakout room {n}")).expect("a plain title");
                            Arc::new(RoomEntry {
                                serial: self.next_serial.fetch_add(1, Ordering::Relaxed),
                                token: RoomToken::random(),
                                state: Mutex::new(RoomState {
                                    room: Room::breakout(title, &policy, self.room_limits(), now),
                                    conns: HashMap::new(),
                                }),
                                children: Mutex::new(Vec::new()),
                                parent: Some(Arc::downgrade(&self.entry_arc(entry))),
                            })
                        })
                        .collect();
                    *lock(&entry.children) = children;
                    tracing::info!(room = entry.serial, rooms, "breakout rooms opened");
                }
                Output::MoveToBreakout {
                    conn,
                    room,
                    request,
                    role,
                    ends_in_secs,
                } => {
                    if let Some(link) = state.conns.remove(&conn) {
                        if let Some(sfu) = self.sfu.get() {
                            sfu.gone(conn);
                        }
                        deferred.push(Deferred::Move {
                            link,
                            room,
                            request,
                            role,
                            ends_in_secs,
                        });
                    }
                }
                Output::ReturnToMain { conn, request } => {
                    if let Some(link) = state.conns.remove(&conn) {
                        if let Some(sfu) = self.sfu.get() {
                            sfu.gone(conn);
                        }
                        deferred.push(Deferred::Return { link, request });
                    }
                }
                Output::ToBreakouts { msg } => deferred.push(Deferred::ToChildren(msg)),
                Output::CloseBreakouts => deferred.push(Deferred::CloseChildren),
            }
        }
        deferred
    }

    /// The `Arc` of an entry from the map (main meetings only open breakout rooms).
    fn entry_arc(&self, entry: &RoomEntry) -> Arc<RoomEntry> {
        lock(&self.rooms)
            .get(&entry.token)
            .cloned()
            .expect("a meeting opening breakout rooms is in the map")
    }

    /// Carry out what a room asked of other rooms (no room lock held).
    fn run_deferred(&self, entry: &Arc<RoomEntry>, deferred: Vec<Deferred>, now: Instant) {
        for d in deferred {
            match d {
                Deferred::Move {
                    link,
                    room,
                    request,
                    role,
                    ends_in_secs,
                } => {
                    let child = lock(&entry.children).get(room).cloned();
                    let Some(child) = child else {
                        link.push(Outbound::Close);
                        continue;
                    };
                    let moved = ServerMessage::Moved {
                        room: u16::try_from(room + 1).ok(),
                        ends_in_secs,
                    };
                    let input = Input::MovedIn {
                        conn: link.id,
                        request,
                        role,
                    };
                    self.move_into(&child, link, moved, input, now);
                }
                Deferred::Return { link, request } => {
                    let Some(parent) = entry.parent.as_ref().and_then(|p| p.upgrade()) else {
                        link.push(Outbound::Text(
                            ServerMessage::goodbye(GoodbyeReason::MeetingEnded)
                                .encode()
                                .into(),
                        ));
                        link.push(Outbound::Close);
                        continue;
                    };
                    self.move_back(&parent, link, request, now);
                }
                Deferred::ToChildren(msg) => {
                    let text: Utf8Bytes = msg.encode().into();
                    let children = lock(&entry.children).clone();
                    for child in children {
                        for c in lock(&child.state).conns.values() {
                            c.push(Outbound::Text(text.clone()));
                        }
                    }
                }
                Deferred::CloseChildren => {
                    let children = std::mem::take(&mut *lock(&entry.children));
                    for child in children {
                        let back = {
                            let mut state = lock(&child.state);
                            let people = state.room.evacuate();
                            people
                                .into_iter()
                                .filter_map(|(conn, request)| {
                                    state.conns.remove(&conn).map(|l| (l, request))
                                })
                                .collect::<Vec<_>>()
                        };
                        for (link, request) in back {
                            if let Some(sfu) = self.sfu.get() {
                                sfu.gone(link.id);
                            }
                            self.move_back(entry, link, request, now);
                        }
                    }
                    tracing::info!(room = entry.serial, "breakout rooms closed");
                }
                Deferred::EndChildren => {
                    let children = std::mem::take(&mut *lock(&entry.children));
                    let bye: Utf8Bytes = ServerMessage::goodbye(GoodbyeReason::MeetingEnded)
                        .encode()
                        .into();
                    for child in children {
                        let links: Vec<Arc<ConnLink>> =
                            lock(&child.state).conns.drain().map(|(_, l)| l).collect();
                        for l in links {
                            l.push(Outbound::Text(bye.clone()));
                            l.push(Outbound::Close);
                            if let Some(sfu) = self.sfu.get() {
                                sfu.gone(l.id);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Move a live connection back into the main meeting `main`.
    fn move_back(
        &self,
        main: &Arc<RoomEntry>,
        link: Arc<ConnLink>,
        request: JoinRequest,
        now: Instant,
    ) {
        let moved = ServerMessage::Moved {
            room: None,
            ends_in_secs: None,
        };
        let input = Input::MovedBack {
            conn: link.id,
            request,
        };
        self.move_into(main, link, moved, input, now);
    }

    /// Move a live connection into `target`: it is told `moved`, then the room handles
    /// `input` (which answers with a `joined`). A connection that has ended meanwhile is not
    /// moved (its room was told by its own task).
    fn move_into(
        &self,
        target: &Arc<RoomEntry>,
        link: Arc<ConnLink>,
        moved: ServerMessage,
        input: Input,
        now: Instant,
    ) {
        let mut state = lock(&target.state);
        {
            // Under the target's lock: the connection's next message (or its end) waits for
            // this room to have it.
            let mut rooms = lock(&self.conn_rooms);
            let Some(current) = rooms.get_mut(&link.id) else {
                return;
            };
            *current = target.clone();
        }
        state.conns.insert(link.id, link.clone());
        link.enter_room(target.serial, Some(Outbound::Text(moved.encode().into())));
        let outs = state.room.handle(now, input);
        let deferred = self.dispatch(target, &mut state, outs, now);
        drop(state);
        self.run_deferred(target, deferred, now);
    }

    fn remember_ended(&self, token: RoomToken, now: Instant) {
        let mut ended = lock(&self.ended);
        if ended.len() >= ENDED_MEMORY {
            // Forget the oldest half; an old ended meeting then reads as "no such meeting".
            let mut times: Vec<Instant> = ended.values().copied().collect();
            times.sort_unstable();
            let cutoff = times[times.len() / 2];
            ended.retain(|_, t| *t > cutoff);
        }
        ended.insert(token, now);
    }

    /// Let time pass in every meeting that keeps someone's place while they reconnect (those
    /// away longer than the grace leave). Call about once a second.
    pub fn tick(&self, now: Instant) {
        // Lock order as in `expire_idle`: never the map while a room is locked.
        let entries: Vec<Arc<RoomEntry>> = lock(&self.rooms).values().cloned().collect();
        for entry in entries {
            let mut state = lock(&entry.state);
            if state.room.has_away() {
                let outs = state.room.handle(now, Input::Tick);
                let deferred = self.dispatch(&entry, &mut state, outs, now);
                drop(state);
                self.run_deferred(&entry, deferred, now);
            } else {
                drop(state);
            }
            // Breakout rooms keep places of people whose connection dropped, too.
            let children = lock(&entry.children).clone();
            for child in children {
                let mut state = lock(&child.state);
                if state.room.has_away() {
                    let outs = state.room.handle(now, Input::Tick);
                    let deferred = self.dispatch(&child, &mut state, outs, now);
                    drop(state);
                    self.run_deferred(&child, deferred, now);
                }
            }
        }
    }

    /// Drop meetings that have been empty longer than the configured time.
    pub fn expire_idle(&self, now: Instant) -> usize {
        let max_idle = Duration::from_secs(self.config.limits.empty_room_hours * 3600);
        // Lock order is always room state, then the map: never hold the map while locking a
        // room (a room that ends takes the map lock from inside its own).
        let entries: Vec<Arc<RoomEntry>> = lock(&self.rooms).values().cloned().collect();
        let stale: Vec<RoomToken> = entries
            .iter()
            .filter(|entry| {
                let state = lock(&entry.state);
                state.room.member_count() == 0
                    && state.room.waiting_count() == 0
                    && now.saturating_duration_since(state.room.last_activity()) > max_idle
            })
            .map(|e| e.token.clone())
            .collect();
        let mut rooms = lock(&self.rooms);
        for t in &stale {
            rooms.remove(t);
        }
        stale.len()
    }
}

/// The link of connection `conn` in one of `entry`'s breakout rooms.
fn child_link(entry: &RoomEntry, conn: ConnId) -> Option<Arc<ConnLink>> {
    let children = lock(&entry.children).clone();
    children
        .iter()
        .find_map(|c| lock(&c.state).conns.get(&conn).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meter::ReadMeter;
    use parley_proto::{PolicyChange, Title};

    fn create(hub: &Hub, now: Instant) -> MeetingCreated {
        hub.create_meeting(
            CreateMeeting {
                title: Title::new("t").unwrap(),
                passcode: None,
                policy: PolicyChange::default(),
            },
            now,
        )
        .unwrap()
    }

    #[test]
    fn empty_meetings_expire_after_the_configured_time() {
        let hub = Hub::new(Config::default());
        let t0 = Instant::now();
        create(&hub, t0);
        assert_eq!(hub.expire_idle(t0 + Duration::from_secs(3600)), 0);
        assert_eq!(hub.expire_idle(t0 + Duration::from_secs(25 * 3600)), 1);
        assert_eq!(hub.room_count(), 0);
    }

    #[test]
    fn meeting_count_is_limited() {
        let mut config = Config::default();
        config.limits.max_rooms = 2;
        let hub = Hub::new(config);
        let t0 = Instant::now();
        create(&hub, t0);
        create(&hub, t0);
        let third = hub.create_meeting(
            CreateMeeting {
                title: Title::new("t").unwrap(),
                passcode: None,
                policy: PolicyChange::default(),
            },
            t0,
        );
        assert_eq!(third.err(), Some(ErrorKind::ServerBusy));
    }

    #[test]
    fn bad_settings_are_refused_at_creation() {
        let hub = Hub::new(Config::default());
        let bad = |passcode: Option<&str>, capacity: Option<u32>| {
            hub.create_meeting(
                CreateMeeting {
                    title: Title::new("t").unwrap(),
                    passcode: passcode.map(str::to_string),
                    policy: PolicyChange {
                        capacity,
                        ..Default::default()
                    },
                },
                Instant::now(),
            )
            .err()
        };
        assert_eq!(bad(Some(""), None), Some(ErrorKind::InvalidValue));
        assert_eq!(bad(Some("a\u{7}"), None), Some(ErrorKind::InvalidValue));
        assert_eq!(bad(None, Some(0)), Some(ErrorKind::InvalidValue));
        assert_eq!(bad(None, Some(1_000_000)), Some(ErrorKind::InvalidValue));
        assert_eq!(bad(Some("4711"), Some(10)), None);
    }

    #[test]
    fn connection_count_is_limited_in_all_and_per_address() {
        let mut config = Config::default();
        config.limits.max_connections = 3;
        config.limits.max_connections_per_address = 2;
        let hub = Hub::new(config);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(hub.connection_opened(a).is_some());
        assert!(hub.connection_opened(a).is_some());
        assert!(hub.connection_opened(a).is_none(), "a's share is used up");
        assert!(hub.connection_opened(b).is_some(), "others still get in");
        assert!(hub.connection_opened(b).is_none(), "the total holds");
        hub.connection_closed(a);
        assert!(hub.connection_opened(b).is_some());
    }

    fn join_request(passcode: &str) -> JoinRequest {
        JoinRequest {
            name: parley_proto::DisplayName::new("Guest").unwrap(),
            identity: parley_proto::Identity::generate().public(),
            passcode: Some(passcode.into()),
            host_secret: None,
            browser: false,
        }
    }

    #[test]
    fn a_guessing_address_is_slowed_and_others_with_the_passcode_get_in() {
        let hub = Hub::new(Config::default());
        let t0 = Instant::now();
        let created = hub
            .create_meeting(
                CreateMeeting {
                    title: Title::new("t").unwrap(),
                    passcode: Some("4711".into()),
                    policy: PolicyChange::default(),
                },
                t0,
            )
            .unwrap();
        let attacker: IpAddr = "198.51.100.7".parse().unwrap();
        let guest: IpAddr = "203.0.113.9".parse().unwrap();
        let mut n = 0;
        let mut try_join = |addr: IpAddr, passcode: &str, at: Instant| {
            n += 1;
            let link = ConnLink::new(ConnId(n), addr, 64);
            let entered = hub.join(&link, &created.room, join_request(passcode), at);
            let mut said = String::new();
            while let Some(Outbound::Text(t)) = lock(&link.queue).pop_front() {
                said.push_str(t.as_str());
            }
            (entered.is_some(), said)
        };
        // The attacker fails until slowed down.
        let mut slowed = false;
        for i in 0..10 {
            let (entered, said) = try_join(attacker, "0000", t0 + Duration::from_millis(i));
            assert!(!entered);
            slowed |= said.contains("too_many_attempts");
        }
        assert!(slowed, "the guessing address waits");
        // While it waits, guests elsewhere with the right passcode get in at once.
        for i in 0..20 {
            let (entered, said) = try_join(guest, "4711", t0 + Duration::from_millis(20 + i));
            assert!(entered, "{said}");
        }
        // Even the right passcode waits at the guessing address (no racing the limiter).
        let at = t0 + Duration::from_millis(50);
        let (entered, said) = try_join(attacker, "4711", at);
        assert!(!entered && said.contains("too_many_attempts"), "{said}");
        // Once the wait it was told has passed, the right passcode gets in from there too
        // (waiting out the back-off is enough; a millisecond earlier is not).
        let told: serde_json::Value = serde_json::from_str(&said).unwrap();
        let wait = Duration::from_millis(told["retry_after_ms"].as_u64().unwrap());
        assert!(wait > Duration::ZERO, "{said}");
        let (entered, said) = try_join(attacker, "4711", at + wait - Duration::from_millis(1));
        assert!(!entered && said.contains("too_many_attempts"), "{said}");
        let (entered, said) = try_join(attacker, "4711", at + wait);
        assert!(entered, "{said}");
    }

    #[test]
    fn only_members_of_the_encryption_group_may_send_large_messages() {
        let hub = Hub::new(Config::default());
        let t0 = Instant::now();
        let created = create(&hub, t0);
        let meter = |_: ()| ReadMeter::new(hub.read_budget().clone(), t0);
        // The host founds the group: from then on a 1 MiB commit may arrive.
        let host_meter = meter(());
        let host = ConnLink::metered(
            ConnId(1),
            "192.0.2.1".parse().unwrap(),
            64,
            Some(host_meter.clone()),
        );
        let mut req = join_request("unused");
        req.passcode = None;
        req.host_secret = Some(created.host_secret.clone());
        assert!(hub.join(&host, &created.room, req, t0).is_some());
        host_meter.read(1 << 20, t0);
        assert_eq!(host_meter.refusal(), None);
        // Someone in the waiting room is not in the group: 64 KiB is their most.
        let guest_meter = meter(());
        let guest = ConnLink::metered(
            ConnId(2),
            "192.0.2.2".parse().unwrap(),
            64,
            Some(guest_meter.clone()),
        );
        let mut req = join_request("unused");
        req.passcode = None;
        assert!(hub.join(&guest, &created.room, req, t0).is_some());
        guest_meter.read(100 * 1024, t0);
        assert_eq!(guest_meter.refusal(), Some(ErrorKind::TooLarge));
    }

    /// What a link was sent so far, as message types.
    fn said(link: &ConnLink) -> Vec<String> {
        let mut types = Vec::new();
        while let Some(out) = lock(&link.queue).pop_front() {
            if let Outbound::Text(t) = out {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                types.push(v["type"].as_str().unwrap_or("?").to_string());
            }
        }
        types
    }

    #[test]
    fn a_breakout_room_takes_the_connection_and_gives_it_back() {
        let hub = Hub::new(Config::default());
        let t0 = Instant::now();
        let created = hub
            .create_meeting(
                CreateMeeting {
                    title: Title::new("t").unwrap(),
                    passcode: None,
                    policy: PolicyChange {
                        waiting_room: Some(false),
                        ..Default::default()
                    },
                },
                t0,
            )
            .unwrap();
        let host = ConnLink::new(ConnId(1), "192.0.2.1".parse().unwrap(), 256);
        let mut req = join_request("unused");
        req.passcode = None;
        req.host_secret = Some(created.host_secret.clone());
        let main = hub.join(&host, &created.room, req, t0).unwrap();
        let ann = ConnLink::new(ConnId(2), "192.0.2.2".parse().unwrap(), 256);
        let mut req = join_request("unused");
        req.passcode = None;
        hub.join(&ann, &created.room, req, t0).unwrap();
        said(&ann);
        let ann_id = parley_proto::ParticipantId(2);
        let msg = parley_proto::ClientMessage::BreakoutOpen {
            rooms: vec![vec![ann_id]],
            minutes: None,
        };
        hub.input(&main, Input::Message { conn: host.id, msg }, t0);
        // Told she moved, then let into the room: her connection is the room's now.
        let told = said(&ann);
        assert_eq!(told.first().map(String::as_str), Some("moved"), "{told:?}");
        assert!(told.iter().any(|t| t == "joined"), "{told:?}");
        let room = hub.room_of(ann.id).unwrap();
        assert!(!Arc::ptr_eq(&room, &main));
        assert_eq!(lock(&main.children).len(), 1);
        // The media server's messages about the main meeting no longer reach her.
        ann.push_for_room(main.serial, Outbound::Text("stale".into()));
        assert!(said(&ann).is_empty());
        // She comes back: the same connection, the main meeting again, her old number.
        let back = parley_proto::ClientMessage::BreakoutReturn {};
        hub.input(
            &room,
            Input::Message {
                conn: ann.id,
                msg: back,
            },
            t0,
        );
        assert_eq!(said(&ann).first().map(String::as_str), Some("moved"));
        assert!(Arc::ptr_eq(&hub.room_of(ann.id).unwrap(), &main));
        assert!(Arc::ptr_eq(&hub.forget_conn(ann.id).unwrap(), &main));
        assert!(hub.room_of(ann.id).is_none());
        // Ending the meeting ends its rooms.
        hub.input(
            &main,
            Input::Message {
                conn: host.id,
                msg: parley_proto::ClientMessage::End {},
            },
            t0,
        );
        assert!(lock(&main.children).is_empty());
    }
}
