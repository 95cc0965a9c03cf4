//! A virtual meeting around one `Room`: connections are numbers, time is a value we move, and
//! every message the room sends is kept in that connection's inbox.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use parley_proto::{
    ClientMessage, DisplayName, ErrorKind, GoodbyeReason, HostSecret, Identity, ParticipantId,
    Policy, Role, ServerMessage, Title,
};
use parley_server::room::{
    ConnId, Input, JoinRequest, MediaSignal, Output, Room, RoomLimits, RoomSetup,
};

pub struct World {
    pub room: Room,
    pub now: Instant,
    pub secret: HostSecret,
    next_conn: u64,
    inbox: HashMap<ConnId, Vec<ServerMessage>>,
    pub closed: HashSet<ConnId>,
    /// Connections that died without a goodbye: as for the server's hub, whatever the room
    /// sends them goes nowhere.
    pub dropped: HashSet<ConnId>,
    pub passcode_failures: Vec<ConnId>,
    pub ended: bool,
    /// Media signaling the room passed on to the SFU.
    pub media: Vec<(ConnId, MediaSignal)>,
    /// Connections whose audio the SFU must not forward.
    pub audio_blocked: HashSet<ConnId>,
    /// Connections none of whose media the SFU may forward.
    pub media_blocked: HashSet<ConnId>,
    /// Whose video the SFU forwards to each connection, as last told (absent: everyone's).
    pub video_from: HashMap<ConnId, Option<Vec<ParticipantId>>>,
    /// The tile heights each connection last asked for.
    pub tile_heights: HashMap<ConnId, parley_server::control::TileHeights>,
    ids: HashMap<ConnId, ParticipantId>,
    /// Connections whose voice the SFU forwards beyond the loudest (presenters).
    pub presenters: HashSet<ConnId>,
    /// Breakout rooms the room asked the hub to open (how many), last.
    pub opened_breakouts: Option<usize>,
    /// Connections the room sent into a breakout room (index from 0), in order.
    pub moved: Vec<(ConnId, usize, JoinRequest, Role)>,
    /// What the room sent to every breakout room.
    pub to_breakouts: Vec<ServerMessage>,
    /// The room closed its breakout rooms.
    pub breakouts_closed: bool,
    /// (A breakout room) connections it sent back to the main meeting.
    pub returned: Vec<(ConnId, JoinRequest)>,
}

pub struct Person {
    pub conn: ConnId,
    pub identity: Identity,
    pub name: &'static str,
}

impl World {
    pub fn new(policy: Policy, passcode: Option<&str>) -> Self {
        Self::with(policy, passcode, RoomLimits::default())
    }

    /// A meeting with these limits (default switches, no passcode).
    pub fn with_limits(limits: RoomLimits) -> Self {
        Self::with(Policy::default(), None, limits)
    }

    fn with(policy: Policy, passcode: Option<&str>, limits: RoomLimits) -> Self {
        let now = Instant::now();
        let secret = HostSecret::random();
        let room = Room::new(
            RoomSetup {
                title: Title::new("Works council").unwrap(),
                policy,
                passcode: passcode.map(str::to_string),
            },
            secret.clone(),
            limits,
            now,
        );
        World {
            room,
            now,
            secret,
            next_conn: 1,
            inbox: HashMap::new(),
            closed: HashSet::new(),
            dropped: HashSet::new(),
            passcode_failures: Vec::new(),
            ended: false,
            media: Vec::new(),
            audio_blocked: HashSet::new(),
            media_blocked: HashSet::new(),
            video_from: HashMap::new(),
            tile_heights: HashMap::new(),
            ids: HashMap::new(),
            presenters: HashSet::new(),
            opened_breakouts: None,
            moved: Vec::new(),
            to_breakouts: Vec::new(),
            breakouts_closed: false,
            returned: Vec::new(),
        }
    }

    /// A breakout room of a meeting with default switches.
    pub fn breakout_room() -> Self {
        let mut w = Self::default();
        w.room = Room::breakout(
            Title::new("Breakout room 1").unwrap(),
            &Policy::default(),
            RoomLimits::default(),
            w.now,
        );
        w
    }

    /// (A breakout room) someone sent here by the main meeting, with `role` there.
    pub fn moved_in(&mut self, name: &'static str, role: Role) -> Person {
        let identity = Identity::generate();
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let request = JoinRequest {
            name: DisplayName::new(name).unwrap(),
            identity: identity.public(),
            passcode: None,
            host_secret: None,
            browser: false,
        };
        self.input(Input::MovedIn {
            conn,
            request,
            role,
        });
        Person {
            conn,
            identity,
            name,
        }
    }

    pub fn default() -> Self {
        Self::new(Policy::default(), None)
    }

    fn apply(&mut self, outs: Vec<Output>) {
        for o in outs {
            let to_dropped = match &o {
                Output::Send { to, .. } => self.dropped.contains(to),
                Output::Close { conn }
                | Output::AudioForwarding { conn, .. }
                | Output::MediaForwarding { conn, .. } => self.dropped.contains(conn),
                _ => false,
            };
            if to_dropped {
                continue;
            }
            match o {
                Output::Send { to, msg } => self.deliver(to, msg),
                Output::Broadcast { to, msg } => {
                    for c in to {
                        if !self.dropped.contains(&c) {
                            self.deliver(c, msg.clone());
                        }
                    }
                }
                Output::Close { conn } => {
                    self.closed.insert(conn);
                }
                Output::PasscodeFailed { conn } => self.passcode_failures.push(conn),
                Output::Ended => self.ended = true,
                Output::AudioForwarding { conn, allowed } => {
                    if allowed {
                        self.audio_blocked.remove(&conn);
                    } else {
                        self.audio_blocked.insert(conn);
                    }
                }
                Output::MediaForwarding { conn, allowed } => {
                    if allowed {
                        self.media_blocked.remove(&conn);
                    } else {
                        self.media_blocked.insert(conn);
                    }
                }
                Output::Media { conn, signal, .. } => self.media.push((conn, signal)),
                Output::OpenBreakouts { rooms } => self.opened_breakouts = Some(rooms),
                Output::Presenter { conn, on } => {
                    if on {
                        self.presenters.insert(conn);
                    } else {
                        self.presenters.remove(&conn);
                    }
                }
                Output::MoveToBreakout {
                    conn,
                    room,
                    request,
                    role,
                    ..
                } => self.moved.push((conn, room, request, role)),
                Output::ToBreakouts { msg } => self.to_breakouts.push(msg),
                Output::CloseBreakouts => self.breakouts_closed = true,
                Output::ReturnToMain { conn, request } => self.returned.push((conn, request)),
                Output::VideoFrom {
                    conn,
                    from,
                    heights,
                } => {
                    self.video_from.insert(conn, from);
                    self.tile_heights.insert(conn, heights);
                }
            }
        }
    }

    fn deliver(&mut self, to: ConnId, msg: ServerMessage) {
        assert!(
            !self.closed.contains(&to),
            "the room sent {msg:?} to closed connection {to:?}"
        );
        if let ServerMessage::Joined { you, .. } = &msg {
            self.ids.insert(to, *you);
        }
        self.inbox.entry(to).or_default().push(msg);
    }

    pub fn input(&mut self, input: Input) {
        let outs = self.room.handle(self.now, input);
        self.apply(outs);
    }

    pub fn join_with(
        &mut self,
        name: &'static str,
        identity: Identity,
        passcode: Option<&str>,
        host_secret: Option<HostSecret>,
    ) -> Person {
        self.join_from(name, identity, passcode, host_secret, false)
    }

    /// [`World::join_with`] from a web page (`browser`) or a native client.
    pub fn join_from(
        &mut self,
        name: &'static str,
        identity: Identity,
        passcode: Option<&str>,
        host_secret: Option<HostSecret>,
        browser: bool,
    ) -> Person {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let request = JoinRequest {
            name: DisplayName::new(name).unwrap(),
            identity: identity.public(),
            passcode: passcode.map(str::to_string),
            host_secret,
            browser,
        };
        self.input(Input::Join { conn, request });
        Person {
            conn,
            identity,
            name,
        }
    }

    pub fn join(&mut self, name: &'static str) -> Person {
        self.join_with(name, Identity::generate(), None, None)
    }

    pub fn host(&mut self, name: &'static str) -> Person {
        let secret = self.secret.clone();
        let p = self.join_with(name, Identity::generate(), None, Some(secret));
        assert_eq!(self.role_of(&p), Some(Role::Host));
        p
    }

    /// Rejoin on a new connection with the same identity key.
    pub fn rejoin(&mut self, p: &Person, passcode: Option<&str>) -> Person {
        let identity = Identity::from_seed(&p.identity.seed());
        self.join_with(p.name, identity, passcode, None)
    }

    pub fn send(&mut self, p: &Person, msg: ClientMessage) {
        self.input(Input::Message { conn: p.conn, msg });
    }

    pub fn disconnect(&mut self, p: &Person) {
        self.closed.insert(p.conn);
        self.input(Input::Disconnected { conn: p.conn });
    }

    /// `p`'s connection dies without a goodbye (the network went).
    pub fn drop_conn(&mut self, p: &Person) {
        self.dropped.insert(p.conn);
        self.input(Input::Dropped { conn: p.conn });
    }

    /// Let `by` pass, then the room's timer run.
    pub fn pass(&mut self, by: std::time::Duration) {
        self.now += by;
        self.input(Input::Tick);
    }

    /// The host rejoins on a new connection with the same identity key and the secret.
    pub fn rejoin_host(&mut self, p: &Person) -> Person {
        let identity = Identity::from_seed(&p.identity.seed());
        let secret = self.secret.clone();
        self.join_with(p.name, identity, None, Some(secret))
    }

    /// Everything sent to `p` since the last call.
    pub fn take(&mut self, p: &Person) -> Vec<ServerMessage> {
        self.inbox.remove(&p.conn).unwrap_or_default()
    }

    /// Drop everything queued for everyone.
    pub fn clear(&mut self) {
        self.inbox.clear();
    }

    pub fn id(&self, p: &Person) -> ParticipantId {
        self.ids[&p.conn]
    }

    pub fn is_closed(&self, p: &Person) -> bool {
        self.closed.contains(&p.conn)
    }

    /// The id a waiting person has, as the admitter `host` was told.
    pub fn waiting_id(&mut self, host: &Person, name: &str) -> ParticipantId {
        let msgs = self.inbox.get(&host.conn).cloned().unwrap_or_default();
        msgs.iter()
            .rev()
            .find_map(|m| match m {
                ServerMessage::WaitingJoined { waiting } if waiting.name.as_str() == name => {
                    Some(waiting.id)
                }
                ServerMessage::Joined { waiting, .. } => waiting
                    .iter()
                    .find(|w| w.name.as_str() == name)
                    .map(|w| w.id),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} is not in the waiting list seen by the host"))
    }

    /// The role `p` last learned they have.
    pub fn role_of(&self, p: &Person) -> Option<Role> {
        let msgs = self.inbox.get(&p.conn)?;
        let id = self.ids.get(&p.conn)?;
        msgs.iter().rev().find_map(|m| match m {
            ServerMessage::RoleChanged { id: i, role } if i == id => Some(*role),
            ServerMessage::Joined { role, .. } => Some(*role),
            _ => None,
        })
    }

    /// Admit `p` (who must be waiting) as `host`.
    pub fn admit(&mut self, host: &Person, p: &Person) {
        let id = self.waiting_id(host, p.name);
        self.send(host, ClientMessage::Admit { id });
        assert!(self.is_admitted(p), "{} was not admitted", p.name);
    }

    pub fn is_admitted(&self, p: &Person) -> bool {
        self.ids.contains_key(&p.conn)
    }

    /// Join and get admitted by `host`.
    pub fn enter(&mut self, host: &Person, name: &'static str) -> Person {
        let p = self.join(name);
        self.admit(host, &p);
        p
    }
}

pub fn refused(msgs: &[ServerMessage]) -> Option<ErrorKind> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::Refused { kind, .. } => Some(*kind),
        _ => None,
    })
}

pub fn error(msgs: &[ServerMessage]) -> Option<ErrorKind> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::Error { kind, .. } => Some(*kind),
        _ => None,
    })
}

pub fn goodbye(msgs: &[ServerMessage]) -> Option<GoodbyeReason> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::Goodbye { reason, .. } => Some(*reason),
        _ => None,
    })
}

pub fn chats(msgs: &[ServerMessage]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMessage::Chat { body, .. } => Some(body.clone()),
            _ => None,
        })
        .collect()
}

pub fn chat(body: &str) -> ClientMessage {
    ClientMessage::Chat {
        to: None,
        body: body.into(),
    }
}
