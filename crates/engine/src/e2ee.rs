//! End-to-end encryption in a meeting: drives a [`parley_e2ee::Member`] from the signaling
//! conversation. Sans-I/O: feed it every server message and the time, send what it returns.
//!
//! - After `join` the client publishes a key package ([`E2ee::key_package_message`]).
//! - The member the server names founds the group; the others are added by a member's commit.
//!   Who commits: every member in the group sees the same work (admitted people with a key
//!   package not yet in the group, members who left); the one with the lowest leaf index
//!   among those present commits at once, the next one 300 ms later if the work is still
//!   there, and so on. The server accepts one commit per epoch, so a race costs nothing.
//! - Chat bodies are MLS application messages (base64); [`E2ee::on_message`] hands the
//!   caller the chat with its plaintext, so the rest of the client never sees ciphertext.
//! - [`E2ee::frames`] is the frame cipher for the media pipeline ([`crate::call`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

// `std::time::Instant` itself on native; in a browser, one from `performance.now()`.
use web_time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use parley_e2ee::{Candidate, FrameCipher, FrameError, MediaKind, Member, Received};
use parley_proto::message::{MAX_BODY_BYTES, MAX_NOTES_BODY_CHARS, MAX_POLL_BODY_CHARS};
use parley_proto::{
    ClientMessage, Identity, IdentityKey, MeetingKey, MlsRefusal, ParticipantId, Permission,
    PollId, Reaction, Role, ServerMessage,
};

pub use parley_e2ee::{E2eeError, SecurityCode};

use crate::files::{FileError, FileEvent, FileMeta, Files};
use crate::frames::{FrameKind, FrameTransform, OpenError};
use crate::notes::{Catchup, Notes, NotesEdit, NotesError, Wire};
use crate::polls::{
    Opening, Poll, PollContent, PollError, Polls, check_poll, decode_key, encode_key, new_key,
    open_anonymous, seal_anonymous,
};

/// Longest message to the breakout rooms, in bytes of UTF-8.
pub const MAX_BROADCAST_BYTES: usize = 1_000;
const BROADCAST_AAD: &[u8] = b"parley breakout broadcast";

/// The key of messages to the breakout rooms: SHA-256 of a label and the link's key.
fn broadcast_key(key: &MeetingKey) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"parley breakout broadcast key v1");
    h.update(key.as_bytes());
    h.finalize().into()
}

/// Longest chat line, in bytes of UTF-8, so its ciphertext fits the server's body limit.
pub const MAX_CHAT_BYTES: usize = 16 * 1024;
/// How long the next member in line waits before doing work the first did not.
const COMMIT_STAGGER: Duration = Duration::from_millis(300);
/// A commit the server has not answered in this long is given up (and tried again).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most people one commit adds, and most key-package bytes: a commit and its Welcome grow
/// with every person added, and a member may send at most 1.5 MiB (999 adds of ordinary
/// key packages took 78 % of it; 1,300 were over). More are added by the next commit, as
/// soon as this one is accepted.
const MAX_ADDS_PER_COMMIT: usize = 500;
/// See [`MAX_ADDS_PER_COMMIT`]; ordinary key packages are about 400 bytes, so this bounds
/// only large ones (up to 8 KiB each).
const MAX_ADD_BYTES_PER_COMMIT: usize = 256 * 1024;
/// Chat lines sent and not yet echoed back by the server.
const MAX_UNECHOED: usize = 64;
/// Chat lines typed before this participant has the group's keys, held until it does.
const MAX_HELD: usize = 32;
/// Each member renews its own leaf's keys this often (a commit with an update path), so a
/// key stolen from it stops opening anything within minutes (post-compromise security).
const SELF_UPDATE: Duration = Duration::from_secs(10 * 60);

/// Something the user should see.
#[derive(Debug, Clone, PartialEq)]
pub enum E2eeEvent {
    /// Keys changed: the group is at `epoch`, with this security code and `members` members.
    Secured {
        /// The MLS epoch.
        epoch: u64,
        /// The code every honest participant sees.
        code: SecurityCode,
        /// Members in the group.
        members: usize,
    },
    /// A member refused to add us; the sentence says why and what to do.
    Refused(String),
    /// We are no longer in the group (removed by a commit): no keys.
    Removed,
    /// A reaction (sealed content, opened).
    Reaction {
        /// Who reacted.
        from: ParticipantId,
        /// Which.
        reaction: Reaction,
    },
    /// Someone raised or lowered their hand (sealed content, opened: the server never knows).
    Hand {
        /// Whose hand.
        from: ParticipantId,
        /// Up or down.
        raised: bool,
    },
    /// A poll opened, changed (a vote counted, closed, results shared) or was shown to us.
    Poll(Poll),
    /// A file was offered, went, came, or stopped.
    File(FileEvent),
    /// The shared notes or whiteboard changed (here or elsewhere): read them with
    /// [`E2ee::notes`].
    NotesChanged,
    /// A chat line that could not be read (sent before we joined, forged, or garbled).
    Unreadable {
        /// Who the server says sent it.
        from: ParticipantId,
    },
    /// A step failed; the sentence is for a person.
    Problem(String),
}

/// What one server message gave.
#[derive(Debug, Default)]
pub struct Inbound {
    /// The message to show (chat with its plaintext), or `None` when it was E2EE's own.
    pub show: Option<ServerMessage>,
    /// Messages to send to the server.
    pub send: Vec<ClientMessage>,
    /// Things to tell the user.
    pub events: Vec<E2eeEvent>,
}

/// The meeting's end-to-end encryption for one participant.
pub struct E2ee {
    member: Member,
    /// The link's key and our identity, to start over if we lose step with the group.
    key: MeetingKey,
    identity: Identity,
    me: Option<ParticipantId>,
    my_identity: IdentityKey,
    /// Admitted participants and their identity keys (from the roster).
    roster: HashMap<ParticipantId, IdentityKey>,
    /// Checked key packages of people not yet added, by participant.
    candidates: HashMap<ParticipantId, Candidate>,
    /// When the current work was first seen (for the stagger).
    work_since: Option<Instant>,
    /// When our pending commit went out, and whom it adds.
    pending: Option<(Instant, Vec<ParticipantId>)>,
    /// Our chat lines, oldest first, until the server echoes them.
    unechoed: VecDeque<String>,
    /// Our sealed reactions and hands until the server echoes them.
    unechoed_sealed: VecDeque<Content>,
    /// Our hand is raised: told to the group when raised, and again after every change of
    /// keys, so those who joined since know.
    hand: bool,
    /// Lines typed before we had keys, sent as soon as we do.
    held: VecDeque<(Option<ParticipantId>, String)>,
    /// When our own leaf's keys were last renewed (we entered the group or committed).
    renewed: Option<Instant>,
    /// The meeting's polls.
    polls: Polls,
    /// Files on their way.
    files: Files,
    /// Events of timed work (file parts sent), for [`E2ee::take_events`].
    events: Vec<E2eeEvent>,
    /// The shared notes and whiteboard.
    notes: Notes,
    /// Catching up on the notes after entering the group.
    catchup: Catchup,
    /// Sealed notes messages, sent one per tick (a large answer must not use up the server's
    /// allowance of messages at once).
    notes_out: VecDeque<ClientMessage>,
    /// The host has locked the notes.
    notes_locked: bool,
    /// Our role (hosts and co-hosts may change locked notes).
    role: Role,
}

impl std::fmt::Debug for E2ee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E2ee")
            .field("member", &self.member)
            .field("roster", &self.roster.len())
            .field("candidates", &self.candidates.len())
            .finish_non_exhaustive()
    }
}

fn decode(text: &str) -> Result<Vec<u8>, E2eeError> {
    STANDARD
        .decode(text)
        .map_err(|_| E2eeError::Malformed("not base64"))
}

impl E2ee {
    /// Encryption for the meeting whose link carries `key`, as `identity`.
    pub fn new(key: &MeetingKey, identity: &Identity) -> Result<Self, E2eeError> {
        let my_identity = identity.public();
        let member = Member::new(key.as_bytes(), *my_identity.as_bytes(), |m| {
            identity.sign_e2ee(m)
        })?;
        Ok(E2ee {
            member,
            key: key.clone(),
            identity: Identity::from_seed(&identity.seed()),
            me: None,
            my_identity,
            roster: HashMap::new(),
            candidates: HashMap::new(),
            work_since: None,
            pending: None,
            unechoed: VecDeque::new(),
            unechoed_sealed: VecDeque::new(),
            hand: false,
            held: VecDeque::new(),
            renewed: None,
            polls: Polls::default(),
            files: Files::default(),
            events: Vec::new(),
            notes: Notes::new(),
            catchup: Catchup::default(),
            notes_out: VecDeque::new(),
            notes_locked: false,
            role: Role::Participant,
        })
    }

    /// Start over on a new signaling connection (a reconnect): the server counts the new
    /// connection as outside the encryption group, so we are a new MLS member (fresh keys; the
    /// same frame cipher, so the call's media keeps its transform) that a member adds again,
    /// replacing our old leaf. The roster comes again with `joined`. Lines typed meanwhile
    /// stay held until we have the keys; our raised hand is told again then.
    pub fn reconnected(&mut self) -> Result<(), E2eeError> {
        let identity = &self.identity;
        self.member = Member::new_with_frames(
            self.key.as_bytes(),
            *self.my_identity.as_bytes(),
            |m| identity.sign_e2ee(m),
            self.member.frames(),
        )?;
        self.me = None;
        self.roster.clear();
        self.candidates.clear();
        self.pending = None;
        self.work_since = None;
        self.renewed = None;
        // The old connection's echoes will never come.
        self.unechoed.clear();
        self.unechoed_sealed.clear();
        self.polls.reconnected();
        self.notes_reconnected();
        let stopped = self.files.reconnected();
        self.events.extend(stopped.into_iter().map(E2eeEvent::File));
        Ok(())
    }

    /// Moved into a breakout room or back (the same connection, another meeting on the
    /// server): as after a reconnect, a new member of another encryption group; and the shared
    /// notes are that meeting's, so ours start empty and are asked for again.
    pub fn moved(&mut self) -> Result<(), E2eeError> {
        self.reconnected()?;
        self.notes = Notes::new();
        self.events.push(E2eeEvent::NotesChanged);
        Ok(())
    }

    /// A host's message to every breakout room, sealed with a key from the meeting link
    /// (the rooms are separate encryption groups; everyone in them holds the link, the
    /// server does not).
    pub fn breakout_broadcast(&self, text: &str) -> Result<ClientMessage, E2eeError> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        if text.is_empty() || text.len() > MAX_BROADCAST_BYTES {
            return Err(E2eeError::Malformed(
                "a message to the rooms is 1 to 1,000 bytes",
            ));
        }
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(&broadcast_key(&self.key).into());
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| E2eeError::Malformed("no randomness"))?;
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: text.as_bytes(),
                    aad: BROADCAST_AAD,
                },
            )
            .map_err(|_| E2eeError::Malformed("the message could not be sealed"))?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        Ok(ClientMessage::BreakoutBroadcast {
            body: STANDARD.encode(body),
        })
    }

    /// Open a message to the breakout rooms; `None` if it was not sealed with this link.
    fn open_broadcast(&self, body: &str) -> Option<String> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let bytes = STANDARD.decode(body).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(&broadcast_key(&self.key).into());
        let plain = cipher
            .decrypt(
                chacha20poly1305::Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: BROADCAST_AAD,
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }

    /// The key package to publish right after `join` (also from the waiting room).
    pub fn key_package_message(&self) -> Result<ClientMessage, E2eeError> {
        Ok(ClientMessage::MlsKeyPackage {
            key_package: STANDARD.encode(self.member.key_package()?),
            rejoin: false,
        })
    }

    /// The frame cipher for the media pipeline.
    pub fn frames(&self) -> Arc<FrameCipher> {
        self.member.frames()
    }

    /// Who holds the group's leaf `leaf` (whose frames [`FrameCipher::open_from`] opened), by
    /// their identity key in the roster; `None` for a leaf no admitted participant holds.
    pub fn participant_at(&self, leaf: u32) -> Option<ParticipantId> {
        let (_, key) = self
            .member
            .members()
            .into_iter()
            .find(|(l, _)| *l == leaf)?;
        self.roster
            .iter()
            .find(|(_, k)| *k.as_bytes() == key)
            .map(|(id, _)| *id)
    }

    /// The current security code, once in the group.
    pub fn security_code(&self) -> Option<SecurityCode> {
        self.member.security_code()
    }

    /// Whether this participant is in the group (has keys).
    pub fn is_secured(&self) -> bool {
        self.member.in_group()
    }

    /// Members in the group.
    pub fn group_size(&self) -> usize {
        self.member.members().len()
    }

    /// Send a chat line: sealed now if we have the group's keys, else held (up to 32 lines)
    /// and sealed as soon as we do ([`E2ee::poll`] returns them then).
    pub fn chat(
        &mut self,
        to: Option<ParticipantId>,
        text: &str,
    ) -> Result<Vec<ClientMessage>, E2eeError> {
        if self.member.in_group() {
            return Ok(vec![self.seal_chat(to, text)?]);
        }
        if text.len() > MAX_CHAT_BYTES {
            return Err(E2eeError::TooLong(MAX_CHAT_BYTES));
        }
        if self.held.len() >= MAX_HELD {
            return Err(E2eeError::NotInGroup);
        }
        self.held.push_back((to, text.to_string()));
        Ok(Vec::new())
    }

    /// Encrypt a chat line for the meeting (`to` makes it private: the server delivers it
    /// only to them, though its key is the group's).
    pub fn seal_chat(
        &mut self,
        to: Option<ParticipantId>,
        text: &str,
    ) -> Result<ClientMessage, E2eeError> {
        if text.len() > MAX_CHAT_BYTES {
            return Err(E2eeError::TooLong(MAX_CHAT_BYTES));
        }
        let sealed = self.member.seal_message(text.as_bytes())?;
        if self.unechoed.len() >= MAX_UNECHOED {
            self.unechoed.pop_front();
        }
        self.unechoed.push_back(text.to_string());
        Ok(ClientMessage::Chat {
            to,
            body: STANDARD.encode(sealed),
        })
    }

    /// Send a reaction, sealed (the server relays it to everyone without reading it).
    pub fn react(&mut self, reaction: Reaction) -> Result<ClientMessage, E2eeError> {
        self.seal_content(Content::Reaction { reaction })
    }

    /// Raise or lower our hand, sealed: the server relays it without knowing whose hand is up.
    /// `None` while we have no keys yet; the hand is told to the group once we do.
    pub fn raise_hand(&mut self, raised: bool) -> Result<Option<ClientMessage>, E2eeError> {
        self.hand = raised;
        if !self.member.in_group() {
            return Ok(None);
        }
        self.seal_content(Content::Hand { raised }).map(Some)
    }

    /// The largest file the server takes (from its `welcome`; 0: none).
    pub fn set_max_file_bytes(&mut self, bytes: u64) {
        self.files.max_bytes = bytes;
    }

    /// Send a file (to one participant, or everyone): its name and checksum are sealed into
    /// the offer now; its content follows in sealed parts once the server numbers it.
    pub fn send_file(
        &mut self,
        to: Option<ParticipantId>,
        name: &str,
        data: Vec<u8>,
    ) -> Result<ClientMessage, FileError> {
        let size = data.len() as u64;
        self.files.check(size)?;
        if !self.member.in_group() {
            return Err(FileError::Sealing(
                "the meeting's keys have not arrived yet; try again in a moment".into(),
            ));
        }
        let name = crate::files::safe_file_name(name).name;
        let meta = serde_json::to_vec(&FileMeta::of(&name, &data))
            .map_err(|e| FileError::Sealing(e.to_string()))?;
        let sealed = self
            .member
            .seal_message(&meta)
            .map_err(|e| FileError::Sealing(e.to_string()))?;
        let body = STANDARD.encode(sealed);
        if body.len() > MAX_BODY_BYTES {
            return Err(FileError::Sealing("the file's name is too long".into()));
        }
        self.files.sending(body.clone(), name, data, Instant::now());
        Ok(ClientMessage::FileOffer { to, size, body })
    }

    /// What timed work ([`E2ee::poll`]) has to tell.
    pub fn take_events(&mut self) -> Vec<E2eeEvent> {
        std::mem::take(&mut self.events)
    }

    /// A file message from the server.
    fn on_file(&mut self, m: ServerMessage, r: &mut Inbound) {
        let events = match m {
            ServerMessage::FileOffer {
                from,
                transfer,
                size,
                body,
                ..
            } => {
                if Some(from) == self.me {
                    self.files.numbered(transfer, &body).into_iter().collect()
                } else {
                    match self
                        .open_from(from, &body)
                        .and_then(|p| serde_json::from_slice::<FileMeta>(&p).ok())
                    {
                        Some(meta) => vec![self.files.offered(transfer, from, size, meta)],
                        None => {
                            r.events.push(E2eeEvent::Unreadable { from });
                            Vec::new()
                        }
                    }
                }
            }
            ServerMessage::FileChunk {
                transfer,
                from,
                body,
            } => {
                if self.files.expects(transfer, from) {
                    let part = self.open_from(from, &body);
                    self.files.part(transfer, part)
                } else {
                    Vec::new()
                }
            }
            ServerMessage::FileCancelled { transfer } => {
                self.files.cancelled(transfer).into_iter().collect()
            }
            _ => Vec::new(),
        };
        r.events.extend(events.into_iter().map(E2eeEvent::File));
    }

    /// The next part of a file we send, sealed, if one is due (one per call).
    fn next_file_part(&mut self) -> Option<ClientMessage> {
        let (transfer, part, events) = self.files.next_part()?;
        self.events.extend(events.into_iter().map(E2eeEvent::File));
        match self.member.seal_message(&part) {
            Ok(sealed) => Some(ClientMessage::FileChunk {
                transfer,
                body: STANDARD.encode(sealed),
            }),
            Err(e) => {
                self.events.push(E2eeEvent::Problem(e.to_string()));
                Some(ClientMessage::FileCancel { transfer })
            }
        }
    }

    /// The meeting's polls as we know them.
    pub fn polls(&self) -> &Polls {
        &self.polls
    }

    /// Open a poll (as a host or co-host; the server refuses anyone else): the question and
    /// options are sealed for the group, with a fresh key for anonymous votes.
    pub fn open_poll(
        &mut self,
        question: &str,
        options: &[String],
        multiple: bool,
        anonymous: bool,
    ) -> Result<ClientMessage, PollError> {
        let (question, options) = check_poll(question, options)?;
        let key = new_key().ok_or_else(|| PollError::Sealing("no randomness".into()))?;
        let body = self.seal_poll(&PollContent::Question {
            question: question.clone(),
            options: options.clone(),
            key: encode_key(&key),
        })?;
        let shown = self.group_participants();
        let count = u8::try_from(options.len()).unwrap_or(u8::MAX);
        self.polls.opening(
            body.clone(),
            Opening {
                question,
                options,
                key,
                shown,
            },
        );
        Ok(ClientMessage::PollOpen {
            options: count,
            multiple,
            anonymous,
            body,
        })
    }

    /// Vote in an open poll: `choices` are option indexes. Anonymous: sealed with the poll's
    /// key, naming nobody; named: an MLS message.
    pub fn vote(&mut self, poll: PollId, choices: &[u8]) -> Result<ClientMessage, PollError> {
        let anonymous = self.polls.voting(poll, choices)?.anonymous;
        let body = if anonymous {
            self.polls
                .key(poll)
                .and_then(|k| seal_anonymous(&k, poll, choices))
                .ok_or_else(|| PollError::Sealing("the vote could not be sealed".into()))?
        } else {
            self.seal_poll(&PollContent::Vote {
                poll: poll.0,
                choices: choices.to_vec(),
            })?
        };
        Ok(ClientMessage::PollVote { poll, body })
    }

    /// Share a poll's results (as counted here) with everyone, sealed.
    pub fn share_poll_results(&mut self, poll: PollId) -> Result<ClientMessage, PollError> {
        let (counts, voters) = self.polls.results(poll)?;
        let body = self.seal_poll(&PollContent::Results {
            poll: poll.0,
            counts,
            voters,
        })?;
        Ok(ClientMessage::PollResults { poll, body })
    }

    fn seal_poll(&mut self, content: &PollContent) -> Result<String, PollError> {
        if !self.member.in_group() {
            return Err(PollError::Sealing(
                "the meeting's keys have not arrived yet; try again in a moment".into(),
            ));
        }
        let plain = serde_json::to_vec(content).map_err(|e| PollError::Sealing(e.to_string()))?;
        let sealed = self
            .member
            .seal_message(&plain)
            .map_err(|e| PollError::Sealing(e.to_string()))?;
        let body = STANDARD.encode(sealed);
        if body.len() > MAX_POLL_BODY_CHARS {
            return Err(PollError::Invalid("the poll's text is too long"));
        }
        Ok(body)
    }

    /// The participants in the encryption group now (by the roster).
    fn group_participants(&self) -> std::collections::HashSet<ParticipantId> {
        let keys: Vec<[u8; 32]> = self.member.members().into_iter().map(|(_, k)| k).collect();
        self.roster
            .iter()
            .filter(|(_, k)| keys.contains(k.as_bytes()))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Show our open polls to members who entered the group since they were sealed.
    fn show_polls(&mut self, r: &mut Inbound) {
        let Some(me) = self.me else { return };
        let members = self.group_participants();
        for (poll, who) in self.polls.to_show(me, &members) {
            let Some(content) = self.polls.question(poll) else {
                continue;
            };
            match self.seal_poll(&content) {
                Ok(body) => {
                    for &to in &who {
                        r.send.push(ClientMessage::PollShow {
                            poll,
                            to,
                            body: body.clone(),
                        });
                    }
                    self.polls.shown(poll, &who);
                }
                Err(e) => r.events.push(E2eeEvent::Problem(e.to_string())),
            }
        }
    }

    /// A poll message from the server.
    fn on_poll(&mut self, m: ServerMessage, r: &mut Inbound) {
        let changed = match m {
            ServerMessage::PollOpened {
                poll,
                by,
                options,
                multiple,
                anonymous,
                body,
            } => {
                if Some(by) == self.me {
                    self.polls
                        .opened_ours(poll, by, multiple, anonymous, &body)
                        .cloned()
                } else {
                    let opened = self
                        .open_from(by, &body)
                        .and_then(|p| serde_json::from_slice::<PollContent>(&p).ok());
                    match opened {
                        Some(PollContent::Question {
                            question,
                            options: texts,
                            key,
                        }) if texts.len() == usize::from(options)
                            && check_poll(&question, &texts).is_ok() =>
                        {
                            decode_key(&key).and_then(|key| {
                                self.polls
                                    .insert(
                                        poll,
                                        by,
                                        multiple,
                                        anonymous,
                                        question,
                                        texts,
                                        key,
                                        Default::default(),
                                    )
                                    .cloned()
                            })
                        }
                        _ => {
                            r.events.push(E2eeEvent::Unreadable { from: by });
                            None
                        }
                    }
                }
            }
            ServerMessage::PollVote { poll, from, body } => {
                let choices = match from {
                    Some(f) if Some(f) == self.me => self.polls.my_pending_vote(poll),
                    Some(f) => self
                        .open_from(f, &body)
                        .and_then(|p| serde_json::from_slice::<PollContent>(&p).ok())
                        .and_then(|c| match c {
                            PollContent::Vote { poll: n, choices } if n == poll.0 => Some(choices),
                            _ => None,
                        }),
                    None => self
                        .polls
                        .key(poll)
                        .and_then(|k| open_anonymous(&k, poll, &body)),
                };
                choices.and_then(|c| self.polls.tally(poll, from, &c).cloned())
            }
            ServerMessage::PollVoteCounted { poll } => self.polls.counted(poll).cloned(),
            ServerMessage::PollClosed { poll } => self.polls.closed(poll).cloned(),
            ServerMessage::PollResults { poll, from, body } => {
                if Some(from) == self.me {
                    self.polls.shared(poll, None).cloned()
                } else {
                    let results = self
                        .open_from(from, &body)
                        .and_then(|p| serde_json::from_slice::<PollContent>(&p).ok())
                        .and_then(|c| match c {
                            PollContent::Results {
                                poll: n,
                                counts,
                                voters,
                            } if n == poll.0 => Some((counts, voters)),
                            _ => None,
                        });
                    match results {
                        Some(results) => self.polls.shared(poll, Some(results)).cloned(),
                        None => {
                            r.events.push(E2eeEvent::Unreadable { from });
                            None
                        }
                    }
                }
            }
            _ => None,
        };
        if let Some(p) = changed {
            r.events.push(E2eeEvent::Poll(p));
        }
    }

    fn seal_content(&mut self, content: Content) -> Result<ClientMessage, E2eeError> {
        let plain = serde_json::to_vec(&content).map_err(|_| E2eeError::Malformed("sealed"))?;
        let sealed = self.member.seal_message(&plain)?;
        if self.unechoed_sealed.len() >= MAX_UNECHOED {
            self.unechoed_sealed.pop_front();
        }
        self.unechoed_sealed.push_back(content);
        Ok(ClientMessage::Sealed {
            body: STANDARD.encode(sealed),
        })
    }

    /// Take one message from the server.
    pub fn on_message(&mut self, now: Instant, m: ServerMessage) -> Inbound {
        let mut r = Inbound::default();
        match m {
            ServerMessage::Joined {
                you,
                found_group,
                ref policy,
                role,
                ..
            } => {
                self.files.allowed = policy.file_transfer;
                self.notes_locked = policy.notes_locked;
                self.role = role;
                self.me = Some(you);
                if found_group {
                    self.renewed = Some(now);
                    self.found(&mut r);
                }
                r.show = Some(m);
            }
            ServerMessage::ParticipantsJoined {
                ref participants, ..
            } => {
                for p in participants {
                    self.roster.insert(p.id, p.identity);
                }
                r.show = Some(m);
            }
            ServerMessage::ParticipantLeft { id, .. } => {
                self.roster.remove(&id);
                self.candidates.remove(&id);
                self.notes.forget(id);
                self.catchup.gone(id);
                r.show = Some(m);
            }
            ServerMessage::MlsFound {} => {
                self.renewed = Some(now);
                self.found(&mut r);
            }
            ServerMessage::MlsKeyPackage { from, key_package } => {
                self.key_package(from, &key_package, &mut r);
            }
            ServerMessage::MlsKeyPackages { packages } => {
                for p in packages {
                    self.key_package(p.from, &p.key_package, &mut r);
                }
            }
            ServerMessage::MlsCommit { commit, .. } => {
                match decode(&commit).and_then(|c| self.member.receive(&c)) {
                    Ok(Received::Epoch(_)) => {
                        self.pending = None;
                        self.secured(&mut r);
                    }
                    Ok(Received::Removed) => {
                        self.pending = None;
                        r.events.push(E2eeEvent::Removed);
                    }
                    Ok(Received::Message { .. }) => {}
                    // A commit we cannot apply (one was lost, or garbled on the way): we are
                    // out of step and would never decrypt again. Start over in the group.
                    Err(e) => self.rejoin(e, &mut r),
                }
            }
            ServerMessage::MlsCommitResult { accepted, .. } => {
                if accepted {
                    match self.member.commit_accepted() {
                        Ok(_) => {
                            self.renewed = Some(now);
                            self.secured(&mut r);
                        }
                        Err(e) => r.events.push(E2eeEvent::Problem(e.to_string())),
                    }
                } else {
                    self.member.commit_refused();
                }
                self.pending = None;
            }
            ServerMessage::MlsWelcome { welcome, .. } => {
                if !self.member.in_group() {
                    match decode(&welcome).and_then(|w| self.member.join(&w)) {
                        Ok(_) => {
                            self.renewed = Some(now);
                            self.secured(&mut r);
                        }
                        Err(E2eeError::WrongLink) => r
                            .events
                            .push(E2eeEvent::Refused(MlsRefusal::WrongLink.message().into())),
                        // The Welcome used up our key package: publish a fresh one.
                        Err(e) => self.rejoin(e, &mut r),
                    }
                }
            }
            ServerMessage::MlsRefused { message, .. } => {
                if !self.member.in_group() {
                    r.events.push(E2eeEvent::Refused(message));
                }
            }
            ServerMessage::Sealed { from, body } => {
                let content = if Some(from) == self.me {
                    self.unechoed_sealed.pop_front()
                } else {
                    self.open_from(from, &body)
                        .and_then(|p| serde_json::from_slice::<Content>(&p).ok())
                };
                match content {
                    Some(Content::Reaction { reaction }) => {
                        r.events.push(E2eeEvent::Reaction { from, reaction })
                    }
                    Some(Content::Hand { raised }) => {
                        r.events.push(E2eeEvent::Hand { from, raised })
                    }
                    None => r.events.push(E2eeEvent::Unreadable { from }),
                }
            }
            ServerMessage::PollOpened { .. }
            | ServerMessage::PollVote { .. }
            | ServerMessage::PollVoteCounted { .. }
            | ServerMessage::PollClosed { .. }
            | ServerMessage::PollResults { .. } => self.on_poll(m, &mut r),
            // Files are content too: only what is sealed for the group is shown.
            ServerMessage::FileOffer { .. }
            | ServerMessage::FileChunk { .. }
            | ServerMessage::FileCancelled { .. } => self.on_file(m, &mut r),
            ServerMessage::Chat { from, to, body } => {
                if Some(from) == self.me {
                    // Our own line, echoed: MLS cannot decrypt its own messages.
                    if let Some(text) = self.unechoed.pop_front() {
                        r.show = Some(ServerMessage::Chat {
                            from,
                            to,
                            body: text,
                        });
                    }
                } else {
                    match self.open_chat(from, &body) {
                        Some(text) => {
                            r.show = Some(ServerMessage::Chat {
                                from,
                                to,
                                body: text,
                            })
                        }
                        None => r.events.push(E2eeEvent::Unreadable { from }),
                    }
                }
            }
            ServerMessage::PolicyChanged { ref policy } => {
                self.files.allowed = policy.file_transfer;
                self.notes_locked = policy.notes_locked;
                r.show = Some(m);
            }
            ServerMessage::RoleChanged { id, role } if Some(id) == self.me => {
                self.role = role;
                r.show = Some(m);
            }
            ServerMessage::BreakoutBroadcast { body } => match self.open_broadcast(&body) {
                Some(text) => r.show = Some(ServerMessage::BreakoutBroadcast { body: text }),
                None => r.events.push(E2eeEvent::Problem(
                    "a message to the breakout rooms could not be opened".into(),
                )),
            },
            ServerMessage::NotesUpdate { from, body } => {
                self.on_notes(now, from, &body, false, &mut r)
            }
            ServerMessage::NotesSync { from, body } => {
                self.on_notes(now, from, &body, true, &mut r)
            }
            other => r.show = Some(other),
        }
        r.send.extend(self.poll(now));
        r
    }

    /// The shared notes and whiteboard.
    pub fn notes(&self) -> &Notes {
        &self.notes
    }

    /// Whether we may change the notes now (not while the host has locked them, unless we
    /// are a host or co-host).
    pub fn may_edit_notes(&self) -> bool {
        !self.notes_locked || self.role.can(Permission::Override)
    }

    /// Change the notes or the whiteboard here; the change is sent within
    /// [`crate::notes::SEND_EVERY`] (or once we have the keys).
    pub fn edit_notes(&mut self, edit: NotesEdit) -> Result<(), NotesError> {
        if !self.may_edit_notes() {
            return Err(NotesError::Locked);
        }
        let before = self.notes.version();
        self.notes.edit(edit)?;
        if self.notes.version() != before {
            self.events.push(E2eeEvent::NotesChanged);
        }
        Ok(())
    }

    /// A new connection or a new member: what was sealed for the old keys is void, and we
    /// catch up again once in the group (our own unsent changes stay pending).
    fn notes_reconnected(&mut self) {
        self.notes_out.clear();
        self.catchup = Catchup::default();
    }

    fn seal_notes(&mut self, wire: &Wire) -> Option<String> {
        let sealed = self.member.seal_message(&wire.encode()).ok()?;
        let body = STANDARD.encode(sealed);
        (body.len() <= MAX_NOTES_BODY_CHARS).then_some(body)
    }

    /// Our changes to send, and whom to ask for what we lack.
    fn notes_tick(&mut self, now: Instant) {
        for w in self.notes.take_update(now) {
            if let Some(body) = self.seal_notes(&w) {
                self.notes_out
                    .push_back(ClientMessage::NotesUpdate { body });
            }
        }
        let Some(me) = self.me else { return };
        let mut members: Vec<ParticipantId> = self
            .group_participants()
            .into_iter()
            .filter(|p| *p != me)
            .collect();
        members.sort();
        if let Some(to) = self.catchup.next_ask(now, me, &members) {
            let ask = self.notes.ask();
            if let Some(body) = self.seal_notes(&ask) {
                self.notes_out
                    .push_back(ClientMessage::NotesSync { to, body });
            }
        }
    }

    /// A notes message: a change (`answer` false) or, to us alone, a request or an answer.
    fn on_notes(
        &mut self,
        now: Instant,
        from: ParticipantId,
        body: &str,
        to_us: bool,
        r: &mut Inbound,
    ) {
        let Some(wire) = self.open_from(from, body).and_then(|p| Wire::decode(&p)) else {
            // Sealed for keys we never had (sent around our arrival), or garbled: what we
            // hold may lack it, so we ask again in a moment.
            if !to_us && self.catchup.is_synced() {
                self.catchup.restart(now, Duration::from_millis(500));
            }
            return;
        };
        let received = match wire {
            Wire::Update(part) if !to_us => self.notes.receive(from, false, part),
            Wire::State(part) if to_us && self.catchup.asked(from) => {
                let got = self.notes.receive(from, true, part);
                if matches!(got, Ok(Some(_))) {
                    self.catchup.settled();
                }
                got
            }
            Wire::Ask(sv) if to_us => {
                if self.catchup.may_answer(from, now) {
                    for w in self.notes.answer(&sv).unwrap_or_default() {
                        if let Some(body) = self.seal_notes(&w) {
                            self.notes_out
                                .push_back(ClientMessage::NotesSync { to: from, body });
                        }
                    }
                }
                Ok(None)
            }
            _ => Ok(None),
        };
        // Content that does not apply (a hostile member's) changes nothing and tells the
        // person nothing they could act on.
        if let Ok(Some(true)) = received {
            r.events.push(E2eeEvent::NotesChanged);
        }
    }

    fn open_chat(&mut self, from: ParticipantId, body: &str) -> Option<String> {
        String::from_utf8(self.open_from(from, body)?).ok()
    }

    /// Open an application message the server says `from` sent.
    fn open_from(&mut self, from: ParticipantId, body: &str) -> Option<Vec<u8>> {
        let bytes = decode(body).ok()?;
        match self.member.receive(&bytes).ok()? {
            Received::Message { sender, plaintext } => {
                // The server names the sender; MLS proves it. They must agree.
                if self.roster.get(&from).map(|k| *k.as_bytes()) != Some(sender) {
                    return None;
                }
                Some(plaintext)
            }
            _ => None,
        }
    }

    /// We cannot follow the group any more: a new MLS member (fresh keys, the same frame
    /// cipher the call holds), a fresh key package marked `rejoin`, and whoever is first in
    /// line adds us again (replacing our old leaf).
    fn rejoin(&mut self, why: E2eeError, r: &mut Inbound) {
        r.events.push(E2eeEvent::Problem(format!(
            "{why}; rejoining the meeting's encryption"
        )));
        let identity = &self.identity;
        let member = Member::new_with_frames(
            self.key.as_bytes(),
            *self.my_identity.as_bytes(),
            |m| identity.sign_e2ee(m),
            self.member.frames(),
        );
        let member = match member {
            Ok(m) => m,
            Err(e) => return r.events.push(E2eeEvent::Problem(e.to_string())),
        };
        self.member = member;
        self.candidates.clear();
        self.pending = None;
        self.work_since = None;
        self.renewed = None;
        self.notes_reconnected();
        match self.member.key_package() {
            Ok(kp) => r.send.push(ClientMessage::MlsKeyPackage {
                key_package: STANDARD.encode(kp),
                rejoin: true,
            }),
            Err(e) => r.events.push(E2eeEvent::Problem(e.to_string())),
        }
    }

    fn found(&mut self, r: &mut Inbound) {
        match self.member.found_group() {
            Ok(()) => {
                // We start the group: nobody has notes we lack.
                self.catchup.settled();
                self.secured(r)
            }
            Err(e) => r.events.push(E2eeEvent::Problem(e.to_string())),
        }
    }

    fn secured(&mut self, r: &mut Inbound) {
        let in_group: Vec<[u8; 32]> = self
            .member
            .members()
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        self.candidates
            .retain(|_, c| !in_group.contains(&c.identity()));
        self.work_since = None;
        if let (Some(code), Some(epoch)) = (self.member.security_code(), self.member.epoch()) {
            r.events.push(E2eeEvent::Secured {
                epoch,
                code,
                members: in_group.len(),
            });
        }
        // New keys may mean new members: our open polls are shown to them, and a raised hand
        // is told again, so they see it.
        self.show_polls(r);
        if self.hand {
            match self.seal_content(Content::Hand { raised: true }) {
                Ok(m) => r.send.push(m),
                Err(e) => r.events.push(E2eeEvent::Problem(e.to_string())),
            }
        }
    }

    fn key_package(&mut self, from: ParticipantId, key_package: &str, r: &mut Inbound) {
        if !self.member.in_group() || Some(from) == self.me {
            return;
        }
        let checked = decode(key_package).and_then(|kp| self.member.check_key_package(&kp));
        let refusal = match checked {
            Ok(c) if self.roster.get(&from).map(|k| *k.as_bytes()) == Some(c.identity()) => {
                self.candidates.insert(from, c);
                return;
            }
            // A key package for someone else's identity than the roster's.
            Ok(_) | Err(E2eeError::BadCredential | E2eeError::Malformed(_)) => {
                MlsRefusal::BadCredential
            }
            Err(E2eeError::WrongLink) => MlsRefusal::WrongLink,
            Err(_) => MlsRefusal::Unsupported,
        };
        // Only the first member in line tells them, so they get one refusal, not one each.
        if self.rank() == Some(0) {
            r.send.push(ClientMessage::MlsRefuse {
                id: from,
                reason: refusal,
            });
        }
    }

    /// Our place among the group's members who are present (by leaf index).
    fn rank(&self) -> Option<usize> {
        let present: Vec<[u8; 32]> = self.roster.values().map(|k| *k.as_bytes()).collect();
        let mut members: Vec<(u32, [u8; 32])> = self
            .member
            .members()
            .into_iter()
            .filter(|(_, id)| present.contains(id) || *id == *self.my_identity.as_bytes())
            .collect();
        members.sort();
        members
            .iter()
            .position(|(_, id)| *id == *self.my_identity.as_bytes())
    }

    /// Commit what needs committing, when it is our turn. Call on every message and on a
    /// timer (every 100 ms or so).
    pub fn poll(&mut self, now: Instant) -> Vec<ClientMessage> {
        if !self.member.in_group() {
            return Vec::new();
        }
        let mut out = Vec::new();
        while let Some((to, text)) = self.held.pop_front() {
            if let Ok(m) = self.seal_chat(to, &text) {
                out.push(m);
            }
        }
        out.extend(self.commit_if_due(now));
        out.extend(self.next_file_part());
        self.notes_tick(now);
        out.extend(self.notes_out.pop_front());
        for name in self.files.expire(now) {
            self.events.push(E2eeEvent::Problem(format!(
                "the meeting server did not take the file {name:?} (its refusal said why)"
            )));
        }
        out
    }

    fn commit_if_due(&mut self, now: Instant) -> Vec<ClientMessage> {
        if let Some((sent, _)) = &self.pending {
            if now.duration_since(*sent) < COMMIT_TIMEOUT {
                return Vec::new();
            }
            self.member.commit_refused();
            self.pending = None;
        }
        let present: Vec<[u8; 32]> = self.roster.values().map(|k| *k.as_bytes()).collect();
        let mine = *self.my_identity.as_bytes();
        let gone: Vec<[u8; 32]> = self
            .member
            .members()
            .into_iter()
            .map(|(_, id)| id)
            .filter(|id| *id != mine && !present.contains(id))
            .collect();
        let mut adds: Vec<(ParticipantId, Candidate)> = self
            .candidates
            .iter()
            .filter(|(id, _)| self.roster.contains_key(id))
            .map(|(id, c)| (*id, c.clone()))
            .collect();
        let rank = self.rank().unwrap_or(usize::MAX) as u32;
        if gone.is_empty() && adds.is_empty() {
            self.work_since = None;
            // Nothing to change: renew our own keys when they are old (spread by rank, so
            // members do not all renew at once).
            let due = SELF_UPDATE + Duration::from_secs(5).saturating_mul(rank.min(10_000));
            if self.renewed.is_some_and(|t| now.duration_since(t) < due) {
                return Vec::new();
            }
        }
        let since = *self.work_since.get_or_insert(now);
        if now.duration_since(since) < COMMIT_STAGGER.saturating_mul(rank) {
            return Vec::new();
        }
        adds.sort_by_key(|(id, _)| *id);
        adds.truncate(adds_that_fit(adds.iter().map(|(_, c)| c.size())));
        let candidates: Vec<Candidate> = adds.iter().map(|(_, c)| c.clone()).collect();
        match self.member.commit(&candidates, &gone) {
            Ok(c) => {
                let added: Vec<ParticipantId> = adds.iter().map(|(id, _)| *id).collect();
                self.pending = Some((now, added.clone()));
                vec![ClientMessage::MlsCommit {
                    epoch: c.epoch,
                    commit: STANDARD.encode(&c.commit),
                    welcome: c.welcome.map(|w| STANDARD.encode(w)),
                    added,
                }]
            }
            Err(_) => {
                // A key package MLS will not add (it passed our checks but not the group's):
                // drop it rather than retry every tick; a new one from them is tried afresh.
                for (id, _) in &adds {
                    self.candidates.remove(id);
                }
                Vec::new()
            }
        }
    }
}

/// How many of the key packages of `sizes` (in order) one commit adds: at most
/// [`MAX_ADDS_PER_COMMIT`] and [`MAX_ADD_BYTES_PER_COMMIT`], but always the first.
fn adds_that_fit(sizes: impl Iterator<Item = usize>) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for size in sizes.take(MAX_ADDS_PER_COMMIT) {
        bytes += size;
        if n > 0 && bytes > MAX_ADD_BYTES_PER_COMMIT {
            break;
        }
        n += 1;
    }
    n
}

/// What a `sealed` message carries (JSON inside the MLS message).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Content {
    /// A reaction.
    Reaction {
        /// Which.
        reaction: Reaction,
    },
    /// A hand raised or lowered.
    Hand {
        /// Up or down.
        raised: bool,
    },
}

impl FrameTransform for FrameCipher {
    fn seal(&self, kind: FrameKind, frame: Vec<u8>) -> Option<Vec<u8>> {
        FrameCipher::seal(self, media_kind(kind), &frame).ok()
    }

    fn open(&self, kind: FrameKind, _sender: &str, frame: Vec<u8>) -> Result<Vec<u8>, OpenError> {
        FrameCipher::open(self, media_kind(kind), &frame).map_err(|e| match e {
            FrameError::NoKey | FrameError::NoSendKey => OpenError::WaitingForKeys,
            other => OpenError::Rejected(other.to_string()),
        })
    }

    fn key_generation(&self) -> u64 {
        self.generation()
    }
}

/// Open one received frame and say whose it was (the sender's leaf in the group, for
/// [`E2ee::participant_at`]); `None` if it cannot be opened.
pub fn open_with_sender(
    cipher: &FrameCipher,
    kind: FrameKind,
    frame: &[u8],
) -> Option<(Vec<u8>, u32)> {
    cipher.open_from(media_kind(kind), frame).ok()
}

fn media_kind(kind: FrameKind) -> MediaKind {
    match kind {
        FrameKind::Audio => MediaKind::Audio,
        FrameKind::Video => MediaKind::Video,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_adds_at_most_five_hundred_and_bounds_large_key_packages() {
        assert_eq!(adds_that_fit(std::iter::repeat_n(400, 1_000)), 500);
        assert_eq!(adds_that_fit(std::iter::repeat_n(400, 7)), 7);
        assert_eq!(adds_that_fit(std::iter::empty()), 0);
        // Key packages of 8 KiB (the most a client may publish): 32 fit 256 KiB.
        assert_eq!(adds_that_fit(std::iter::repeat_n(8 * 1024, 100)), 32);
        // One larger than the whole budget is still added, alone.
        assert_eq!(adds_that_fit([300 * 1024, 400].into_iter()), 1);
    }
}
