//! The meeting engine: one participant's side of a meeting as a state machine without I/O.
//!
//! It holds the signaling conversation (greeting, the signed join, the answer), the meeting's
//! end-to-end encryption ([`E2ee`]), and coming back after the connection drops (the same
//! person, with waits that grow and are jittered). It never touches a socket or a clock: the
//! driver (parley-cli, the desktop app, a test on virtual time) feeds it what happened with the
//! time it happened (`handle_*`) and carries out what it asks (`poll_output`), waking it at
//! [`MeetingEngine::poll_timeout`]. Media (the WebRTC call) stays with the driver: the engine
//! says when it starts and stops ([`Action`]).
//!
//! ```text
//!  driver                                   engine
//!  ──────                                   ──────
//!  Action::Connect        ◀── poll_output
//!  socket open            ──▶ handle_open          → Transmit(hello)
//!  welcome                ──▶ handle_message       → Transmit(signed join)
//!  joined                 ──▶ handle_message       → Transmit(key package), Event::Shown(joined),
//!                                                    Action::StartMedia
//!  socket closed          ──▶ handle_closed        → Event::Reconnecting, Action::StopMedia,
//!                                                    (later) Action::Connect …
//! ```
//!
//! After every `handle_*` call the driver drains [`MeetingEngine::poll_output`] until `None`,
//! then sleeps until [`MeetingEngine::poll_timeout`] (or something happens) and calls
//! [`MeetingEngine::handle_timeout`].

use std::collections::VecDeque;
use std::time::Duration;

// `std::time::Instant` itself on native; in a browser, one from `performance.now()`.
use web_time::Instant;

use parley_proto::{
    ClientMessage, DisplayName, GoodbyeReason, HostSecret, IceServer, Identity, MeetingKey,
    ParticipantId, PollId, Reaction, Role, RoomToken, ServerMessage,
};

use crate::e2ee::{E2ee, E2eeEvent};
use crate::error::ClientError;
use crate::reconnect::{self, Backoff};

/// How often the encryption group is given a turn to commit (adds, removals, key renewal).
pub const E2EE_TICK: Duration = Duration::from_millis(100);
/// After saying goodbye, how long to wait for the server to close before closing ourselves.
pub const LEAVE_WAIT: Duration = Duration::from_secs(3);
/// Most things the person does while the connection is being got back that are kept to do
/// once it is (beyond that they are refused with [`Event::NotSent`]; leaving is never kept,
/// it ends the trying).
pub const MAX_BACKLOG: usize = 64;
/// Time allowed for the first connection (connect, greeting and the join's answer).
pub const FIRST_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// Who joins which meeting: what the first join and every rejoin send. Holds secrets, so it
/// has no `Debug`.
pub struct JoinAs {
    /// The meeting's room token (from the link).
    pub room: RoomToken,
    /// The link's key: end-to-end encryption is made from it; it never reaches the network.
    pub key: MeetingKey,
    /// The display name.
    pub name: DisplayName,
    /// The identity key that signs the join (the same key comes back as the same person).
    pub identity: Identity,
    /// The meeting's passcode, if it has one.
    pub passcode: Option<String>,
    /// The host secret, for a host.
    pub host_secret: Option<HostSecret>,
}

/// What the person asks of the meeting.
#[derive(Debug)]
pub enum Command {
    /// A chat line, to everyone or (`to`) privately; sealed end to end before it is sent.
    Chat {
        /// A private line's addressee.
        to: Option<ParticipantId>,
        /// The text.
        body: String,
    },
    /// A reaction, sealed.
    React(Reaction),
    /// Raise or lower our hand, sealed.
    Hand(bool),
    /// Open a poll (hosts and co-hosts), sealed.
    OpenPoll {
        /// The question.
        question: String,
        /// 2 to 10 options.
        options: Vec<String>,
        /// Several may be chosen.
        multiple: bool,
        /// Votes reach the hosts without the voter.
        anonymous: bool,
    },
    /// Vote in a poll: option indexes.
    Vote {
        /// Which poll.
        poll: PollId,
        /// The options chosen.
        choices: Vec<u8>,
    },
    /// Share a poll's results as counted here, sealed.
    SharePollResults(PollId),
    /// Send a file (to one participant, or everyone), sealed.
    SendFile {
        /// Its addressee; `None`: everyone.
        to: Option<ParticipantId>,
        /// Its name.
        name: String,
        /// Its content.
        data: Vec<u8>,
    },
    /// Change the shared notes or whiteboard (sent sealed, gathered over a moment).
    Notes(crate::notes::NotesEdit),
    /// A message to every breakout room (hosts and co-hosts), sealed with the link's key.
    BreakoutBroadcast(String),
    /// A message with nothing to seal (host actions, mute, screen sharing …).
    Send(ClientMessage),
    /// Leave the meeting.
    Leave,
}

/// Which of the person's requests could not be sent (for [`Event::NotSent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsent {
    /// A chat line.
    Chat,
    /// A reaction.
    Reaction,
    /// The hand.
    Hand,
    /// A poll, a vote or a poll's results.
    Poll,
    /// A file.
    File,
    /// A change to the shared notes or whiteboard.
    Notes,
    /// Another request.
    Request,
}

/// Something for the person (or the driver's view of the meeting).
#[derive(Debug)]
pub enum Event {
    /// A server message to show, chat opened (E2EE's own messages are not shown).
    Shown(ServerMessage),
    /// What end-to-end encryption reports.
    E2ee(E2eeEvent),
    /// The connection dropped; trying to get it back (media has stopped).
    Reconnecting,
    /// In again after a drop, in the same place; the next event shows the server's answer.
    Reconnected,
    /// A request could not be sent; `reason` says why (a clause: "Not sent: {reason}").
    NotSent {
        /// Which.
        what: Unsent,
        /// Why, for a person.
        reason: String,
    },
    /// Our raised hand is told to the others once the meeting's keys arrive.
    HandHeld,
    /// The meeting is over for us; nothing more comes.
    Ended(Ending),
}

/// How the meeting ended for us.
#[derive(Debug)]
pub enum Ending {
    /// The server said goodbye (we left, were removed, the meeting ended …).
    Goodbye(GoodbyeReason),
    /// We left (the server closed without a goodbye, or we left while reconnecting).
    Left,
    /// The first join failed: unreachable, refused, or not a Parley server.
    Failed(ClientError),
    /// The connection dropped and could not be got back; the sentence says why and what to do.
    Lost(String),
}

/// What the driver must do.
#[derive(Debug)]
pub enum Action {
    /// Open a connection to the meeting server's signaling socket (no greeting: the engine
    /// greets), then call [`MeetingEngine::handle_open`] or
    /// [`MeetingEngine::handle_connect_failed`].
    Connect,
    /// Close the connection (if one is open). No `handle_closed` is expected for it.
    Disconnect,
    /// Start media as participant `you` with these STUN/TURN servers (admitted: `joined`).
    StartMedia {
        /// Our participant number.
        you: ParticipantId,
        /// The server's STUN/TURN servers.
        ice_servers: Vec<IceServer>,
    },
    /// Stop media (the connection it was negotiated on is gone).
    StopMedia,
}

/// One output, in the order it must be carried out.
#[derive(Debug)]
pub enum Output {
    /// Send this to the server on the open connection.
    Transmit(ClientMessage),
    /// Tell the person.
    Event(Event),
    /// Do this.
    Action(Action),
}

/// Where the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No connection; the next try is due at this time.
    Idle(Instant),
    /// Asked the driver to connect.
    Opening,
    /// Said hello; waiting for the welcome.
    Greeting,
    /// Sent the join; waiting for `waiting` or `joined`.
    Joining,
    /// In the meeting (or its waiting room).
    In,
    /// Over.
    Ended,
}

/// Public state of the connection, for a driver's display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Joining for the first time.
    Joining,
    /// In the meeting or its waiting room.
    In,
    /// Getting the connection back.
    Reconnecting,
    /// Over.
    Ended,
}

/// One participant's meeting, without I/O. See the module documentation.
pub struct MeetingEngine {
    join: JoinAs,
    e2ee: E2ee,
    link: Link,
    /// When the current try gives up (connect, greeting and answer).
    attempt_deadline: Option<Instant>,
    /// We were in the meeting at least once (a failure after that is a drop, not a refusal).
    entered: bool,
    /// The connection dropped at this time and is not back yet.
    lost_since: Option<Instant>,
    backoff: Backoff,
    /// We said goodbye, and close ourselves at this time if the server has not.
    leaving: Option<Instant>,
    goodbye: Option<GoodbyeReason>,
    me: Option<ParticipantId>,
    next_e2ee: Option<Instant>,
    backlog: VecDeque<Command>,
    out: VecDeque<Output>,
}

impl std::fmt::Debug for MeetingEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeetingEngine")
            .field("link", &self.link)
            .field("entered", &self.entered)
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl MeetingEngine {
    /// An engine that joins as `join` says. Its first output asks the driver to connect.
    pub fn new(join: JoinAs, now: Instant) -> Result<Self, ClientError> {
        let e2ee = E2ee::new(&join.key, &join.identity)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut engine = MeetingEngine {
            join,
            e2ee,
            link: Link::Idle(now),
            attempt_deadline: None,
            entered: false,
            lost_since: None,
            backoff: Backoff::default(),
            leaving: None,
            goodbye: None,
            me: None,
            next_e2ee: None,
            backlog: VecDeque::new(),
            out: VecDeque::new(),
        };
        engine.handle_timeout(now);
        Ok(engine)
    }

    /// The meeting's end-to-end encryption (its frame cipher for media, its security code).
    pub fn e2ee(&self) -> &E2ee {
        &self.e2ee
    }

    /// Our participant number, once admitted.
    pub fn me(&self) -> Option<ParticipantId> {
        self.me
    }

    /// Where the connection is.
    pub fn connection(&self) -> Connection {
        match self.link {
            Link::Ended => Connection::Ended,
            Link::In => Connection::In,
            _ if self.entered => Connection::Reconnecting,
            _ => Connection::Joining,
        }
    }

    /// The next thing to do, in order; `None` when there is nothing now.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call [`MeetingEngine::handle_timeout`] next (`None`: only when something
    /// happens).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let link = match self.link {
            Link::Idle(at) => Some(at),
            Link::Opening | Link::Greeting | Link::Joining => self.attempt_deadline,
            Link::In => self.next_e2ee,
            Link::Ended => None,
        };
        [link, self.leaving]
            .into_iter()
            .flatten()
            .filter(|_| self.link != Link::Ended)
            .min()
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.leaving.is_some_and(|at| now >= at) {
            self.end(Ending::Left);
            return;
        }
        match self.link {
            Link::Idle(at) if now >= at => {
                self.link = Link::Opening;
                self.attempt_deadline = Some(
                    now + if self.entered {
                        reconnect::ATTEMPT_TIMEOUT
                    } else {
                        FIRST_ATTEMPT_TIMEOUT
                    },
                );
                self.action(Action::Connect);
            }
            Link::Opening | Link::Greeting | Link::Joining
                if self.attempt_deadline.is_some_and(|d| now >= d) =>
            {
                self.action(Action::Disconnect);
                self.failed(
                    now,
                    ClientError::Connect {
                        server: "the meeting server".into(),
                        detail: "timed out".into(),
                    },
                );
            }
            Link::In if self.next_e2ee.is_some_and(|at| now >= at) => {
                self.next_e2ee = Some(now + E2EE_TICK);
                for m in self.e2ee.poll(now) {
                    self.transmit(m);
                }
                for e in self.e2ee.take_events() {
                    self.event(Event::E2ee(e));
                }
            }
            _ => {}
        }
    }

    /// The connection the engine asked for is open.
    pub fn handle_open(&mut self, _now: Instant) {
        if self.link != Link::Opening {
            return;
        }
        self.link = Link::Greeting;
        self.transmit(ClientMessage::Hello {
            protocol: parley_proto::PROTOCOL_VERSION,
        });
    }

    /// The connection the engine asked for could not be opened.
    pub fn handle_connect_failed(&mut self, now: Instant, error: ClientError) {
        if self.link == Link::Opening {
            self.failed(now, error);
        }
    }

    /// The open connection closed (or a send on it failed).
    pub fn handle_closed(&mut self, now: Instant) {
        match self.link {
            Link::Opening | Link::Greeting | Link::Joining => {
                self.failed(now, ClientError::Closed);
            }
            Link::In => {
                if let Some(reason) = self.goodbye {
                    self.end(Ending::Goodbye(reason));
                } else if self.leaving.is_some() {
                    self.end(Ending::Left);
                } else {
                    // A drop, not a goodbye: the server keeps our place for a while.
                    self.lost_since = Some(now);
                    self.backoff = Backoff::default();
                    self.next_e2ee = None;
                    self.action(Action::StopMedia);
                    self.event(Event::Reconnecting);
                    self.link = Link::Idle(now + self.backoff.next_delay());
                }
            }
            Link::Idle(_) | Link::Ended => {}
        }
    }

    /// A message arrived on the open connection.
    pub fn handle_message(&mut self, now: Instant, msg: ServerMessage) {
        match self.link {
            Link::Greeting => match msg {
                ServerMessage::Welcome {
                    challenge, limits, ..
                } => {
                    self.e2ee.set_max_file_bytes(limits.max_file_bytes);
                    let j = &self.join;
                    let join = ClientMessage::Join {
                        room: j.room.clone(),
                        name: j.name.clone(),
                        identity: j.identity.public(),
                        signature: j.identity.sign_join(&challenge, &j.room, &j.name),
                        passcode: j.passcode.clone(),
                        host_secret: j.host_secret.clone(),
                    };
                    self.link = Link::Joining;
                    self.transmit(join);
                }
                ServerMessage::Error { message, .. } => {
                    self.action(Action::Disconnect);
                    self.failed(now, ClientError::Protocol(message));
                }
                other => {
                    self.action(Action::Disconnect);
                    let got = other.wire_type();
                    self.failed(
                        now,
                        ClientError::Protocol(format!("expected welcome, got {got}")),
                    );
                }
            },
            Link::Joining => match msg {
                ServerMessage::Refused {
                    kind,
                    message,
                    retry_after_ms,
                } => {
                    self.action(Action::Disconnect);
                    self.failed(
                        now,
                        ClientError::Refused {
                            kind,
                            message,
                            retry_after_ms,
                        },
                    );
                }
                ServerMessage::Error { message, .. } => {
                    self.action(Action::Disconnect);
                    self.failed(now, ClientError::Protocol(message));
                }
                m @ (ServerMessage::Waiting { .. } | ServerMessage::Joined { .. }) => {
                    self.entered_meeting(now, m);
                }
                // Anything before the answer is not for us yet.
                _ => {}
            },
            Link::In => self.in_meeting(now, msg),
            Link::Idle(_) | Link::Opening | Link::Ended => {}
        }
    }

    /// The person asks for something. While the connection is being got back it waits (up to
    /// [`MAX_BACKLOG`] requests); leaving never waits.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        match (self.link, command) {
            (Link::Ended, _) => {}
            (Link::In, Command::Leave) => {
                if self.leaving.is_none() {
                    self.leaving = Some(now + LEAVE_WAIT);
                    self.transmit(ClientMessage::Leave {});
                }
            }
            (_, Command::Leave) => {
                self.action(Action::Disconnect);
                self.end(Ending::Left);
            }
            // The notes are ours to change at any time; the change goes once we are back.
            (_, c @ Command::Notes(_)) => self.carry_out(c),
            (Link::In, command) => self.carry_out(command),
            (_, command) => {
                if self.backlog.len() < MAX_BACKLOG {
                    self.backlog.push_back(command);
                } else {
                    self.event(Event::NotSent {
                        what: unsent(&command),
                        reason: "the connection to the meeting server is being restored and too much is waiting already".into(),
                    });
                }
            }
        }
    }

    /// A message of the media call (an answer, an offer, a candidate) for the server. Sent
    /// only while connected: media negotiated on a connection that dropped is void (the call
    /// stops and starts again with the new one).
    pub fn handle_media_message(&mut self, msg: ClientMessage) {
        if self.link == Link::In {
            self.transmit(msg);
        }
    }

    fn carry_out(&mut self, command: Command) {
        match command {
            Command::Chat { to, body } => match self.e2ee.chat(to, &body) {
                Ok(msgs) => msgs.into_iter().for_each(|m| self.transmit(m)),
                Err(e) => self.not_sent(Unsent::Chat, &e),
            },
            Command::React(reaction) => match self.e2ee.react(reaction) {
                Ok(m) => self.transmit(m),
                Err(e) => self.not_sent(Unsent::Reaction, &e),
            },
            Command::Hand(raised) => match self.e2ee.raise_hand(raised) {
                Ok(Some(m)) => self.transmit(m),
                Ok(None) => self.event(Event::HandHeld),
                Err(e) => self.not_sent(Unsent::Hand, &e),
            },
            Command::OpenPoll {
                question,
                options,
                multiple,
                anonymous,
            } => {
                let m = self
                    .e2ee
                    .open_poll(&question, &options, multiple, anonymous);
                self.transmit_or_not(Unsent::Poll, m);
            }
            Command::Vote { poll, choices } => {
                let m = self.e2ee.vote(poll, &choices);
                self.transmit_or_not(Unsent::Poll, m);
            }
            Command::SharePollResults(poll) => {
                let m = self.e2ee.share_poll_results(poll);
                self.transmit_or_not(Unsent::Poll, m);
            }
            Command::SendFile { to, name, data } => {
                let m = self.e2ee.send_file(to, &name, data);
                self.transmit_or_not(Unsent::File, m);
            }
            Command::Notes(edit) => match self.e2ee.edit_notes(edit) {
                Ok(()) => {
                    for e in self.e2ee.take_events() {
                        self.event(Event::E2ee(e));
                    }
                }
                Err(e) => self.not_sent(Unsent::Notes, &e),
            },
            Command::BreakoutBroadcast(text) => {
                let m = self.e2ee.breakout_broadcast(&text);
                self.transmit_or_not(Unsent::Request, m);
            }
            Command::Send(m) => self.transmit(m),
            Command::Leave => {}
        }
    }

    fn transmit_or_not<E: std::fmt::Display>(&mut self, what: Unsent, m: Result<ClientMessage, E>) {
        match m {
            Ok(m) => self.transmit(m),
            Err(e) => self.not_sent(what, &e),
        }
    }

    fn not_sent(&mut self, what: Unsent, e: &dyn std::fmt::Display) {
        self.event(Event::NotSent {
            what,
            reason: e.to_string(),
        });
    }

    /// The server let us in (or into the waiting room), first or again.
    fn entered_meeting(&mut self, now: Instant, first: ServerMessage) {
        let again = self.entered;
        self.link = Link::In;
        self.entered = true;
        self.attempt_deadline = None;
        self.lost_since = None;
        self.next_e2ee = Some(now + E2EE_TICK);
        if again {
            // A new connection is a new member of the encryption group (the server says so):
            // fresh keys and a key package, as at the start.
            if let Err(e) = self.e2ee.reconnected() {
                self.event(Event::E2ee(E2eeEvent::Problem(e.to_string())));
            }
            self.event(Event::Reconnected);
        }
        // Our key package first, so a member can add us as soon as we are admitted.
        match self.e2ee.key_package_message() {
            Ok(kp) => self.transmit(kp),
            Err(e) => self.event(Event::E2ee(E2eeEvent::Problem(e.to_string()))),
        }
        self.in_meeting(now, first);
        // What the person did while we were away, in order.
        while self.link == Link::In
            && let Some(c) = self.backlog.pop_front()
        {
            self.carry_out(c);
        }
    }

    fn in_meeting(&mut self, now: Instant, msg: ServerMessage) {
        if let ServerMessage::Moved { .. } = msg {
            // Into a breakout room or back: everything before belonged to where we were (its
            // encryption group, its media). A `joined` for where we are now follows.
            if let Err(e) = self.e2ee.moved() {
                self.event(Event::E2ee(E2eeEvent::Problem(e.to_string())));
            }
            self.me = None;
            self.action(Action::StopMedia);
            match self.e2ee.key_package_message() {
                Ok(kp) => self.transmit(kp),
                Err(e) => self.event(Event::E2ee(E2eeEvent::Problem(e.to_string()))),
            }
            for e in self.e2ee.take_events() {
                self.event(Event::E2ee(e));
            }
            self.event(Event::Shown(msg));
            return;
        }
        let inbound = self.e2ee.on_message(now, msg);
        for m in inbound.send {
            self.transmit(m);
        }
        for e in inbound.events {
            self.event(Event::E2ee(e));
        }
        let Some(m) = inbound.show else { return };
        let mut start = None;
        match &m {
            ServerMessage::Joined {
                you, ice_servers, ..
            } => {
                self.me = Some(*you);
                start = Some(Action::StartMedia {
                    you: *you,
                    ice_servers: ice_servers.clone(),
                });
            }
            ServerMessage::Goodbye { reason, .. } => self.goodbye = Some(*reason),
            // How we come back: a host secret handed to us, or ours gone with the host role
            // (handed on: the old secret no longer works), or a new name.
            ServerMessage::HostSecret { secret } => self.join.host_secret = Some(secret.clone()),
            ServerMessage::RoleChanged { id, role }
                if Some(*id) == self.me && *role != Role::Host =>
            {
                self.join.host_secret = None;
            }
            ServerMessage::Renamed { id, name } if Some(*id) == self.me => {
                self.join.name = name.clone();
            }
            _ => {}
        }
        self.event(Event::Shown(m));
        // Media starts once the admission is shown.
        if let Some(a) = start {
            self.action(a);
        }
    }

    /// The current try failed with `error`.
    fn failed(&mut self, now: Instant, error: ClientError) {
        self.attempt_deadline = None;
        if !self.entered {
            self.end(Ending::Failed(error));
            return;
        }
        if reconnect::is_final(&error) {
            self.end(Ending::Lost(reconnect::refusal_message(&error)));
            return;
        }
        let since = self.lost_since.unwrap_or(now);
        if now.saturating_duration_since(since) >= reconnect::GIVE_UP_AFTER {
            self.end(Ending::Lost(format!(
                "The connection to the meeting server was lost and could not be restored for {} seconds ({error}). Check your network, then rejoin with the same link.",
                reconnect::GIVE_UP_AFTER.as_secs()
            )));
            return;
        }
        self.backoff.failed(&error);
        self.link = Link::Idle(now + self.backoff.next_delay());
    }

    fn end(&mut self, ending: Ending) {
        if self.link == Link::Ended {
            return;
        }
        self.link = Link::Ended;
        self.leaving = None;
        self.next_e2ee = None;
        self.backlog.clear();
        self.action(Action::StopMedia);
        self.event(Event::Ended(ending));
    }

    fn transmit(&mut self, m: ClientMessage) {
        self.out.push_back(Output::Transmit(m));
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn action(&mut self, a: Action) {
        self.out.push_back(Output::Action(a));
    }
}

fn unsent(c: &Command) -> Unsent {
    match c {
        Command::Chat { .. } => Unsent::Chat,
        Command::React(_) => Unsent::Reaction,
        Command::Hand(_) => Unsent::Hand,
        Command::OpenPoll { .. } | Command::Vote { .. } | Command::SharePollResults(_) => {
            Unsent::Poll
        }
        Command::SendFile { .. } => Unsent::File,
        Command::Notes(_) => Unsent::Notes,
        Command::BreakoutBroadcast(_) | Command::Send(_) | Command::Leave => Unsent::Request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_proto::{Challenge, ErrorKind, Limits, Policy, Title};

    fn joiner(host_secret: Option<HostSecret>) -> JoinAs {
        JoinAs {
            room: RoomToken::random(),
            key: MeetingKey::random(),
            name: DisplayName::new("Ada").unwrap(),
            identity: Identity::generate(),
            passcode: None,
            host_secret,
        }
    }

    fn drain(e: &mut MeetingEngine) -> Vec<Output> {
        std::iter::from_fn(|| e.poll_output()).collect()
    }

    fn welcome(challenge: Challenge) -> ServerMessage {
        ServerMessage::Welcome {
            protocol: parley_proto::PROTOCOL_VERSION,
            challenge,
            limits: Limits {
                max_message_bytes: 65_536,
                max_body_bytes: 16_384,
                max_name_chars: 64,
                messages_per_second: 20,
                burst: 40,
                max_file_bytes: 1 << 20,
            },
        }
    }

    fn joined(you: u32) -> ServerMessage {
        ServerMessage::Joined {
            you: ParticipantId(you),
            role: Role::Participant,
            title: Title::new("Meeting").unwrap(),
            policy: Policy::default(),
            locked: false,
            has_passcode: false,
            waiting: Vec::new(),
            ice_servers: Vec::new(),
            found_group: true,
        }
    }

    fn refused(kind: ErrorKind, retry_after_ms: Option<u32>) -> ServerMessage {
        ServerMessage::Refused {
            kind,
            message: "no".into(),
            retry_after_ms,
        }
    }

    fn has_action(out: &[Output], want: fn(&Action) -> bool) -> bool {
        out.iter()
            .any(|o| matches!(o, Output::Action(a) if want(a)))
    }

    fn transmitted(out: &[Output]) -> Vec<&ClientMessage> {
        out.iter()
            .filter_map(|o| match o {
                Output::Transmit(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn ending(out: &[Output]) -> Option<&Ending> {
        out.iter().find_map(|o| match o {
            Output::Event(Event::Ended(e)) => Some(e),
            _ => None,
        })
    }

    /// Connect, greet, join and be admitted at `now`; returns what the join produced.
    fn enter(e: &mut MeetingEngine, now: Instant, you: u32) -> Vec<Output> {
        e.handle_timeout(now);
        let out = drain(e);
        assert!(
            has_action(&out, |a| matches!(a, Action::Connect)),
            "{out:?}"
        );
        greet_and_enter(e, now, you)
    }

    /// The same once the engine has asked to connect.
    fn greet_and_enter(e: &mut MeetingEngine, now: Instant, you: u32) -> Vec<Output> {
        e.handle_open(now);
        let out = drain(e);
        assert!(matches!(
            transmitted(&out)[..],
            [ClientMessage::Hello { .. }]
        ));
        e.handle_message(now, welcome(Challenge::random()));
        let out = drain(e);
        assert!(matches!(
            transmitted(&out)[..],
            [ClientMessage::Join { .. }]
        ));
        e.handle_message(now, joined(you));
        drain(e)
    }

    /// The engine's wake-ups until it asks to connect; the time it did.
    fn until_connect(e: &mut MeetingEngine, mut now: Instant) -> Instant {
        for _ in 0..100 {
            now = e.poll_timeout().expect("a try is due").max(now);
            e.handle_timeout(now);
            if has_action(&drain(e), |a| matches!(a, Action::Connect)) {
                return now;
            }
        }
        panic!("never tried again");
    }

    #[test]
    fn the_join_is_greeted_signed_and_answered_and_media_starts() {
        let t = Instant::now();
        let join = joiner(None);
        let (room, name, key) = (join.room.clone(), join.name.clone(), join.identity.public());
        let mut e = MeetingEngine::new(join, t).unwrap();
        assert_eq!(e.connection(), Connection::Joining);
        assert!(has_action(&drain(&mut e), |a| matches!(a, Action::Connect)));
        // Nothing is said before the connection is open.
        e.handle_message(t, welcome(Challenge::random()));
        assert!(drain(&mut e).is_empty());
        e.handle_open(t);
        assert!(matches!(
            transmitted(&drain(&mut e))[..],
            [ClientMessage::Hello { .. }]
        ));
        let challenge = Challenge::random();
        e.handle_message(t, welcome(challenge.clone()));
        let out = drain(&mut e);
        let [
            ClientMessage::Join {
                signature,
                identity,
                host_secret: None,
                ..
            },
        ] = transmitted(&out)[..]
        else {
            panic!("{out:?}");
        };
        assert_eq!(*identity, key);
        assert!(parley_proto::identity::verify_join(
            &challenge, &room, identity, &name, signature
        ));
        e.handle_message(t, joined(7));
        let out = drain(&mut e);
        assert!(matches!(
            transmitted(&out)[..],
            [ClientMessage::MlsKeyPackage { .. }, ..]
        ));
        assert!(has_action(&out, |a| matches!(
            a,
            Action::StartMedia {
                you: ParticipantId(7),
                ..
            }
        )));
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::Event(Event::Shown(ServerMessage::Joined { .. }))))
        );
        assert_eq!(e.connection(), Connection::In);
        assert_eq!(e.me(), Some(ParticipantId(7)));
        // The group is given its turns.
        assert_eq!(e.poll_timeout(), Some(t + E2EE_TICK));
    }

    #[test]
    fn a_refused_or_unreachable_first_join_ends_with_the_reason() {
        let t = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        drain(&mut e);
        e.handle_open(t);
        e.handle_message(t, welcome(Challenge::random()));
        drain(&mut e);
        e.handle_message(t, refused(ErrorKind::Locked, None));
        let out = drain(&mut e);
        assert!(has_action(&out, |a| matches!(a, Action::Disconnect)));
        assert!(matches!(
            ending(&out),
            Some(Ending::Failed(ClientError::Refused {
                kind: ErrorKind::Locked,
                ..
            }))
        ));
        assert_eq!(e.connection(), Connection::Ended);
        assert_eq!(e.poll_timeout(), None);

        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        drain(&mut e);
        e.handle_connect_failed(t, ClientError::Closed);
        assert!(matches!(
            ending(&drain(&mut e)),
            Some(Ending::Failed(ClientError::Closed))
        ));

        // Something that is not a Parley server.
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        drain(&mut e);
        e.handle_open(t);
        e.handle_message(t, joined(1));
        assert!(matches!(
            ending(&drain(&mut e)),
            Some(Ending::Failed(ClientError::Protocol(_)))
        ));
    }

    #[test]
    fn a_first_join_that_hangs_gives_up_at_its_deadline() {
        let t = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        drain(&mut e);
        e.handle_open(t);
        assert_eq!(e.poll_timeout(), Some(t + FIRST_ATTEMPT_TIMEOUT));
        e.handle_timeout(t + FIRST_ATTEMPT_TIMEOUT - Duration::from_millis(1));
        assert!(transmitted(&drain(&mut e)).len() == 1, "only the hello");
        e.handle_timeout(t + FIRST_ATTEMPT_TIMEOUT);
        let out = drain(&mut e);
        assert!(has_action(&out, |a| matches!(a, Action::Disconnect)));
        assert!(matches!(
            ending(&out),
            Some(Ending::Failed(ClientError::Connect { .. }))
        ));
    }

    #[test]
    fn a_drop_is_followed_by_tries_that_back_off_until_back_in_the_same_place() {
        let t0 = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t0).unwrap();
        enter(&mut e, t0, 3);
        let t1 = t0 + Duration::from_secs(30);
        e.handle_closed(t1);
        let out = drain(&mut e);
        assert!(has_action(&out, |a| matches!(a, Action::StopMedia)));
        assert!(
            out.iter()
                .any(|o| matches!(o, Output::Event(Event::Reconnecting)))
        );
        assert_eq!(e.connection(), Connection::Reconnecting);
        // Jittered: between half and all of the first wait.
        let first = e.poll_timeout().unwrap() - t1;
        assert!(
            first >= reconnect::FIRST_RETRY / 2 && first <= reconnect::FIRST_RETRY,
            "{first:?}"
        );
        // Meanwhile the person goes on: it waits for the connection, in order.
        e.handle_command(t1, Command::Send(ClientMessage::SetMuted { muted: true }));
        e.handle_command(t1, Command::Hand(true));
        e.handle_media_message(ClientMessage::SetMuted { muted: false });
        assert!(drain(&mut e).is_empty(), "nothing goes out while down");
        // Three tries fail; the waits grow.
        let mut now = t1;
        let mut waits = Vec::new();
        for _ in 0..3 {
            let at = until_connect(&mut e, now);
            waits.push(at - now);
            now = at;
            e.handle_connect_failed(
                now,
                ClientError::Connect {
                    server: "s".into(),
                    detail: "refused".into(),
                },
            );
            assert!(drain(&mut e).is_empty());
        }
        assert!(waits[2] >= waits[0], "{waits:?}");
        assert!(
            waits.iter().all(|w| *w <= reconnect::MAX_RETRY),
            "{waits:?}"
        );
        // Back in.
        let now = until_connect(&mut e, now);
        let out = greet_and_enter(&mut e, now, 3);
        let events: Vec<&Event> = out
            .iter()
            .filter_map(|o| match o {
                Output::Event(ev) => Some(ev),
                _ => None,
            })
            .collect();
        assert!(
            matches!(events.first(), Some(Event::Reconnected)),
            "{events:?}"
        );
        assert!(has_action(&out, |a| matches!(a, Action::StartMedia { .. })));
        let sent = transmitted(&out);
        assert!(matches!(sent[0], ClientMessage::MlsKeyPackage { .. }));
        // What waited is sent once in (the hand sealed with the new keys: this participant
        // founds the group); the media message of the old call is not.
        assert!(
            matches!(
                sent[1..],
                [
                    ClientMessage::SetMuted { muted: true },
                    ClientMessage::Sealed { .. }
                ]
            ),
            "{sent:?}"
        );
        assert_eq!(e.connection(), Connection::In);
    }

    #[test]
    fn a_meeting_gone_after_a_restart_is_said_in_plain_words() {
        let t = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        e.handle_closed(t);
        drain(&mut e);
        let now = until_connect(&mut e, t);
        e.handle_open(now);
        e.handle_message(now, welcome(Challenge::random()));
        drain(&mut e);
        e.handle_message(now, refused(ErrorKind::NoSuchMeeting, None));
        let out = drain(&mut e);
        let Some(Ending::Lost(message)) = ending(&out) else {
            panic!("{out:?}");
        };
        assert!(message.contains("restarted"), "{message}");
        assert!(has_action(&out, |a| matches!(a, Action::StopMedia)));
    }

    #[test]
    fn a_busy_server_is_tried_again_after_the_wait_it_asks() {
        let t = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        e.handle_closed(t);
        drain(&mut e);
        let now = until_connect(&mut e, t);
        e.handle_open(now);
        e.handle_message(now, welcome(Challenge::random()));
        drain(&mut e);
        e.handle_message(now, refused(ErrorKind::ServerBusy, Some(5_000)));
        let out = drain(&mut e);
        assert!(ending(&out).is_none(), "{out:?}");
        assert!(e.poll_timeout().unwrap() >= now + Duration::from_secs(5));
        // A try that hangs is given up at its deadline, and another follows.
        let now = until_connect(&mut e, now);
        e.handle_timeout(now + reconnect::ATTEMPT_TIMEOUT);
        let out = drain(&mut e);
        assert!(has_action(&out, |a| matches!(a, Action::Disconnect)));
        assert!(ending(&out).is_none());
        until_connect(&mut e, now + reconnect::ATTEMPT_TIMEOUT);
    }

    #[test]
    fn trying_stops_after_two_minutes_and_not_before() {
        let t = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        e.handle_closed(t);
        drain(&mut e);
        let mut now = t;
        loop {
            now = until_connect(&mut e, now);
            e.handle_connect_failed(now, ClientError::Closed);
            let out = drain(&mut e);
            if let Some(end) = ending(&out) {
                assert!(now - t >= reconnect::GIVE_UP_AFTER);
                assert!(matches!(end, Ending::Lost(m) if m.contains("120 seconds")));
                break;
            }
            assert!(now - t < reconnect::GIVE_UP_AFTER + reconnect::MAX_RETRY);
        }
    }

    #[test]
    fn leaving_ends_the_meeting_whatever_the_server_does() {
        let t = Instant::now();
        // In the meeting: goodbye, then the server's close.
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        e.handle_command(t, Command::Leave);
        e.handle_command(t, Command::Leave);
        let out = drain(&mut e);
        assert_eq!(transmitted(&out).len(), 1, "one goodbye");
        e.handle_message(
            t,
            ServerMessage::Goodbye {
                reason: GoodbyeReason::Left,
                message: String::new(),
            },
        );
        e.handle_closed(t);
        assert!(matches!(
            ending(&drain(&mut e)),
            Some(Ending::Goodbye(GoodbyeReason::Left))
        ));
        // A server that never closes: we close ourselves.
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        e.handle_command(t, Command::Leave);
        drain(&mut e);
        assert_eq!(e.poll_timeout(), Some(t + E2EE_TICK));
        e.handle_timeout(t + LEAVE_WAIT);
        assert!(matches!(ending(&drain(&mut e)), Some(Ending::Left)));
        // While reconnecting: at once, without waiting for a connection.
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        e.handle_closed(t);
        drain(&mut e);
        e.handle_command(t, Command::Leave);
        let out = drain(&mut e);
        assert!(matches!(ending(&out), Some(Ending::Left)));
        assert_eq!(e.poll_timeout(), None);
    }

    #[test]
    fn removed_is_not_a_drop() {
        let t = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        e.handle_message(
            t,
            ServerMessage::Goodbye {
                reason: GoodbyeReason::Removed,
                message: "The host removed you.".into(),
            },
        );
        e.handle_closed(t);
        let out = drain(&mut e);
        assert!(matches!(
            ending(&out),
            Some(Ending::Goodbye(GoodbyeReason::Removed))
        ));
        assert!(!has_action(&out, |a| matches!(a, Action::Connect)));
    }

    #[test]
    fn a_host_secret_handed_over_is_what_brings_us_back() {
        let t = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        let secret = HostSecret::random();
        e.handle_message(
            t,
            ServerMessage::HostSecret {
                secret: secret.clone(),
            },
        );
        drain(&mut e);
        e.handle_closed(t);
        drain(&mut e);
        let now = until_connect(&mut e, t);
        e.handle_open(now);
        drain(&mut e);
        e.handle_message(now, welcome(Challenge::random()));
        let out = drain(&mut e);
        assert!(matches!(
            transmitted(&out)[..],
            [ClientMessage::Join { host_secret: Some(s), .. }] if *s == secret
        ));
    }

    #[test]
    fn what_waits_for_the_connection_is_bounded() {
        let t = Instant::now();
        let mut e = MeetingEngine::new(joiner(None), t).unwrap();
        enter(&mut e, t, 3);
        e.handle_closed(t);
        drain(&mut e);
        for _ in 0..MAX_BACKLOG + 2 {
            e.handle_command(t, Command::Send(ClientMessage::SetMuted { muted: true }));
        }
        let refused: Vec<Output> = drain(&mut e);
        assert_eq!(refused.len(), 2);
        assert!(refused.iter().all(|o| matches!(
            o,
            Output::Event(Event::NotSent {
                what: Unsent::Request,
                ..
            })
        )));
    }
}
