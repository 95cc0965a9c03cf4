//! Signaling messages: JSON objects tagged by `"type"`, one per WebSocket text frame.
//!
//! PROTOCOL.md at the repository root describes every message in prose with examples.

use serde::{Deserialize, Serialize};

use crate::identity::{IdentityKey, JoinSignature};
use crate::name::{DisplayName, Title};
use crate::policy::{Policy, PolicyChange, Role};
use crate::secret::{Challenge, HostSecret, RoomToken};

/// The protocol version this crate speaks. A `hello` with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest signaling message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest chat or file-offer body, in bytes: room for a 16 KiB chat line once it is an MLS
/// message in base64.
pub const MAX_BODY_BYTES: usize = 24 * 1024;
/// Most participants in one `participants_joined` message.
pub const ROSTER_CHUNK: usize = 16;
/// Largest SDP offer or answer, in bytes: room for a 7×7 gallery page (49 video slots, the
/// voices' slots and one's own audio and video: 56 m-lines of 1.1–1.3 KB each, as str0m and
/// browsers write them) with headroom.
pub const MAX_SDP_BYTES: usize = 112 * 1024;
/// Largest `sdp_offer` or `sdp_answer` message: the SDP at [`MAX_SDP_BYTES`] escaped in JSON
/// (each line break two more characters). Only these and `mls_commit` may pass
/// [`MAX_MESSAGE_BYTES`].
pub const MAX_SDP_MESSAGE_BYTES: usize = 128 * 1024;
/// Most participants one `receive_video` may name.
pub const MAX_VIDEO_FROM: usize = 256;
/// Tallest tile a `receive_video` may name, in pixels (8K).
pub const MAX_TILE_HEIGHT: u16 = 4320;

/// How high one participant's tile is shown (in `receive_video`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileHeight {
    /// Whose video.
    pub id: ParticipantId,
    /// In device pixels, 1 to [`MAX_TILE_HEIGHT`].
    pub height: u16,
}

/// Largest `sealed` body (base64 of an MLS application message carrying a reaction or a hand).
pub const MAX_SEALED_CHARS: usize = 4 * 1024;
/// Largest `mls_key_package` field (base64; key packages are about 400 bytes).
pub const MAX_KEY_PACKAGE_CHARS: usize = 8 * 1024;
/// A server message longer than this is sent in parts: binary WebSocket messages of this
/// many bytes, then the rest as a text message; the client joins the bytes of the parts and
/// the text into one message (at most [`MAX_MLS_MESSAGE_BYTES`]). A WebSocket library keeps its
/// write buffer at the largest frame it ever wrote, so a 650 KB Welcome written whole to each
/// of 1,000 people would hold 650 MB of the server's memory for good.
pub const MESSAGE_PART_BYTES: usize = 8 * 1024;
/// Largest total of key packages (base64 characters) in one `mls_key_packages` message: a
/// batch is closed before it would pass this, so every batch stays far below what a client
/// reads in one message.
pub const MAX_KEY_PACKAGE_BATCH_CHARS: usize = 64 * 1024;
/// Largest `mls_commit` message, in bytes: the only message allowed above
/// [`MAX_MESSAGE_BYTES`], because a Welcome carries the group's ratchet tree (about 0.4 KB a
/// member in base64; 1,000 members ≈ 410 KB).
pub const MAX_MLS_MESSAGE_BYTES: usize = 1536 * 1024;

/// Most STUN/TURN servers a server hands its participants.
pub const MAX_ICE_SERVERS: usize = 8;

/// A STUN or TURN server for ICE, as the meeting server's operator configured it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp|tcp` or `turns:host:port`.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username.as_ref().map(|_| "<redacted>"))
            .field(
                "credential",
                &self.credential.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl IceServer {
    /// Whether every URL is a STUN/TURN URL of sane length with at most 4 URLs, and the
    /// credentials are of sane length: what a client should accept.
    pub fn is_valid(&self) -> bool {
        let short = |s: &Option<String>| s.as_ref().is_none_or(|s| s.len() <= 256);
        !self.urls.is_empty()
            && self.urls.len() <= 4
            && self.urls.iter().all(|u| {
                u.len() <= 256
                    && ["stun:", "stuns:", "turn:", "turns:"]
                        .iter()
                        .any(|p| u.starts_with(p))
                    && !u.chars().any(char::is_whitespace)
            })
            && short(&self.username)
            && short(&self.credential)
    }
}
/// Longest passcode, in characters.
pub const MAX_PASSCODE_CHARS: usize = 64;

/// A participant's number within one meeting. Assigned by the server; never reused in a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParticipantId(pub u32);

impl std::fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A poll's number within one meeting. Assigned by the server when the poll opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PollId(pub u32);

impl std::fmt::Display for PollId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A file transfer's number within one meeting. Assigned by the server when the file is
/// offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransferId(pub u32);

impl std::fmt::Display for TransferId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Bytes of a file in one `file_chunk`, before sealing (the last chunk may be shorter).
pub const FILE_CHUNK_BYTES: u64 = 32 * 1024;
/// Largest `file_chunk` body, in base64 characters (a sealed 32 KiB chunk is about 44 KiB).
pub const MAX_FILE_CHUNK_CHARS: usize = 48 * 1024;
/// Files one participant may be sending at once.
pub const MAX_SENDING_FILES: usize = 2;
/// Files being sent in one meeting at once.
pub const MAX_MEETING_FILES: usize = 8;
/// Most bytes one file may make the server send, counted once per recipient: a file to
/// everyone in a large meeting must be smaller (or sent to the one who needs it).
pub const MAX_FILE_FANOUT_BYTES: u64 = 2 << 30;

/// The number of `file_chunk` messages a file of `size` bytes takes (at least one).
pub fn file_chunks(size: u64) -> u64 {
    size.div_ceil(FILE_CHUNK_BYTES).max(1)
}

/// Fewest options a poll may have.
pub const MIN_POLL_OPTIONS: u8 = 2;
/// Most options a poll may have.
pub const MAX_POLL_OPTIONS: u8 = 10;
/// Polls open at once in one meeting.
pub const MAX_OPEN_POLLS: usize = 4;
/// Polls one meeting remembers (beyond, the oldest closed one is forgotten; with none closed,
/// no new poll opens).
pub const MAX_POLLS: usize = 64;
/// Largest sealed poll body (question and options, a vote, results), in base64 characters.
pub const MAX_POLL_BODY_CHARS: usize = 8 * 1024;

/// Largest `notes_update` or `notes_sync` body, in base64 characters (an MLS application
/// message carrying a shared-notes change, a request for the notes, or a part of them).
pub const MAX_NOTES_BODY_CHARS: usize = 48 * 1024;
/// Most `notes_update` characters one meeting relays in all: the shared notes and whiteboard
/// cannot grow without bound (an hour of steady typing by several people is far below this).
pub const MAX_MEETING_NOTES_CHARS: u64 = 64 << 20;

/// Most breakout rooms at once.
pub const MAX_BREAKOUT_ROOMS: usize = 50;
/// Longest time breakout rooms may be opened for, in minutes.
pub const MAX_BREAKOUT_MINUTES: u16 = 720;

/// A reaction a participant can send. A fixed set: no free text travels as a reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    /// 👍
    ThumbsUp,
    /// 👏
    Clap,
    /// ❤️
    Heart,
    /// 😂
    Laugh,
    /// 😮
    Surprised,
    /// 🎉
    Celebrate,
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// (Variants without fields are written `Name {}` so unknown fields are refused for them too.)
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ClientMessage {
    /// First message on a connection.
    Hello {
        /// Must equal [`PROTOCOL_VERSION`].
        protocol: u32,
    },
    /// Ask to enter a meeting. Sent once, after `welcome`.
    Join {
        /// The meeting's room token (from the link; the key never leaves the device).
        room: RoomToken,
        /// The name others will see.
        name: DisplayName,
        /// This install's public identity key.
        identity: IdentityKey,
        /// Signature over the connection's challenge, the room token, the key and the name.
        signature: JoinSignature,
        /// The meeting's passcode, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passcode: Option<String>,
        /// The host secret: enters as host (or reclaims the host role).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_secret: Option<HostSecret>,
    },
    /// Leave the meeting.
    Leave {},
    /// A chat message; `to` makes it private. The body is opaque to the server.
    Chat {
        /// Recipient of a private message; absent for everyone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<ParticipantId>,
        /// The message: an MLS application message in base64 (the server cannot read it), at
        /// most [`MAX_BODY_BYTES`].
        body: String,
    },
    /// Content for everyone that is not chat (a reaction, a raised or lowered hand): an MLS
    /// application message in base64, which the server relays without reading. The server
    /// never learns whose hand is up.
    Sealed {
        /// At most [`MAX_SEALED_CHARS`].
        body: String,
    },
    /// A change to the shared notes or whiteboard (a CRDT update, sealed as an MLS
    /// application message, base64), relayed to everyone else. While the host has locked the
    /// notes (`notes_locked`), only hosts and co-hosts may send one.
    NotesUpdate {
        /// At most [`MAX_NOTES_BODY_CHARS`].
        body: String,
    },
    /// Shared notes between two members: a newcomer asking one member for the notes, or that
    /// member's answer in parts (sealed; the server relays it to `to` alone).
    NotesSync {
        /// To whom.
        to: ParticipantId,
        /// At most [`MAX_NOTES_BODY_CHARS`].
        body: String,
    },
    /// Host or co-host: open a poll. The question and the options are sealed in `body` (an MLS
    /// application message, base64); the server enforces only what it can see: the number of
    /// options, single or multiple choice, anonymous or named.
    PollOpen {
        /// How many options ([`MIN_POLL_OPTIONS`] to [`MAX_POLL_OPTIONS`]).
        options: u8,
        /// Whether several options may be chosen.
        multiple: bool,
        /// Whether votes reach the hosts without the voter's number.
        anonymous: bool,
        /// At most [`MAX_POLL_BODY_CHARS`].
        body: String,
    },
    /// The poll's opener: show an open poll to someone who entered the encryption group after
    /// it opened (the body sealed again, for the keys they have).
    PollShow {
        /// Which poll (still open).
        poll: PollId,
        /// To whom.
        to: ParticipantId,
        /// At most [`MAX_POLL_BODY_CHARS`].
        body: String,
    },
    /// Vote in an open poll, once. Named: an MLS application message; anonymous: sealed with
    /// the poll's own key, which names nobody. Relayed to hosts and co-hosts only.
    PollVote {
        /// Which poll.
        poll: PollId,
        /// At most [`MAX_POLL_BODY_CHARS`].
        body: String,
    },
    /// Host or co-host: close a poll; no vote counts after this.
    PollClose {
        /// Which poll.
        poll: PollId,
    },
    /// Host or co-host: share a poll's results with everyone (sealed).
    PollResults {
        /// Which poll.
        poll: PollId,
        /// At most [`MAX_POLL_BODY_CHARS`].
        body: String,
    },
    /// Start or stop recording the meeting on one's own computer (only while the host allows
    /// it). Everyone is told, and told again of each recording under way when they come.
    Record {
        /// `true` to start.
        on: bool,
    },
    /// Host or co-host: open breakout rooms (1 to [`MAX_BREAKOUT_ROOMS`]), numbered from 1 in
    /// order, each with the participants sent there (by their numbers in the meeting; each at
    /// most once; a room may start empty), for `minutes` if given. Each room is its own
    /// meeting on the server, with its own encryption group and media.
    BreakoutOpen {
        /// Who goes to each room.
        rooms: Vec<Vec<ParticipantId>>,
        /// How long the rooms stay open (1 to [`MAX_BREAKOUT_MINUTES`]); none: until closed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u16>,
    },
    /// Host or co-host: go into breakout room `room` (from 1) for a while.
    BreakoutVisit {
        /// Which room.
        room: u16,
    },
    /// In a breakout room: go back to the main meeting.
    BreakoutReturn {},
    /// Host or co-host: a message to the main meeting and every breakout room, sealed with a
    /// key from the meeting link (the server cannot read it).
    BreakoutBroadcast {
        /// At most [`MAX_SEALED_CHARS`].
        body: String,
    },
    /// Host or co-host: close the breakout rooms; everyone returns after a countdown.
    BreakoutClose {},
    /// Change one's display name (if the host allows it).
    Rename {
        /// The new name.
        name: DisplayName,
    },
    /// Mute or unmute one's microphone.
    SetMuted {
        /// `true` to mute.
        muted: bool,
    },
    /// Start or stop sharing one's screen (if the host allows it).
    ShareScreen {
        /// `true` to start.
        sharing: bool,
    },
    /// Send a file (only while the host allows file transfer): its size, and its name and
    /// checksum sealed in `body` (an MLS application message, base64, at most
    /// [`MAX_BODY_BYTES`]). The server numbers it (`file_offer` back to the sender too); the
    /// content follows in [`file_chunks`]`(size)` `file_chunk` messages.
    FileOffer {
        /// Recipient; absent for everyone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<ParticipantId>,
        /// The file's size in bytes (at most the server's `max_file_bytes`).
        size: u64,
        /// The sealed name and checksum.
        body: String,
    },
    /// The next part of a file one is sending: [`FILE_CHUNK_BYTES`] of it, sealed (at most
    /// [`MAX_FILE_CHUNK_CHARS`]).
    FileChunk {
        /// Which transfer (ours).
        transfer: TransferId,
        /// The sealed part.
        body: String,
    },
    /// Stop sending a file.
    FileCancel {
        /// Which transfer (ours).
        transfer: TransferId,
    },
    /// Host: admit one person from the waiting room.
    Admit {
        /// Who.
        id: ParticipantId,
    },
    /// Host: admit everyone waiting.
    AdmitAll {},
    /// Host: deny one person in the waiting room (they cannot knock again).
    Deny {
        /// Who.
        id: ParticipantId,
    },
    /// Host: lock the meeting; nobody new can join, not even the waiting room.
    Lock {},
    /// Host: unlock the meeting.
    Unlock {},
    /// Host: remove a participant; their identity key is banned for this meeting.
    Remove {
        /// Who.
        id: ParticipantId,
    },
    /// Host: mute everyone except hosts and co-hosts.
    MuteAll {},
    /// Host: ask one participant to unmute (lets them unmute once even if self-unmute is off).
    AskUnmute {
        /// Who.
        id: ParticipantId,
    },
    /// Host or co-host: put a participant on the stage (in event mode they may then unmute
    /// and turn on their camera) or take them off it (they are muted again).
    SetStage {
        /// Who.
        id: ParticipantId,
        /// On the stage, or off.
        on: bool,
    },
    /// Host: change switches.
    SetPolicy {
        /// The fields to change.
        change: PolicyChange,
    },
    /// Host: set (or with `null`, clear) the passcode.
    SetPasscode {
        /// The new passcode, or `null`.
        passcode: Option<String>,
    },
    /// Host: make a participant co-host.
    MakeCohost {
        /// Who.
        id: ParticipantId,
    },
    /// Host: make a co-host a participant again.
    RevokeCohost {
        /// Who.
        id: ParticipantId,
    },
    /// Host: hand the host role to someone; the giver becomes co-host.
    TransferHost {
        /// Who.
        id: ParticipantId,
    },
    /// Host: end the meeting for everyone.
    End {},
    /// Media: an SDP offer for this participant's one peer connection with the SFU (complete,
    /// candidates included). Only admitted participants may send it.
    SdpOffer {
        /// The SDP, at most [`MAX_SDP_BYTES`].
        sdp: String,
    },
    /// Media: the answer to an SDP offer the SFU sent (renegotiation).
    SdpAnswer {
        /// The SDP, at most [`MAX_SDP_BYTES`].
        sdp: String,
    },
    /// Media: whose video to receive. `null` means everyone's (the default); a list means only
    /// theirs — the rest is not forwarded (tiles off screen cost neither bandwidth nor
    /// decoding). Audio is never filtered.
    ReceiveVideo {
        /// At most [`MAX_VIDEO_FROM`] participants, or `null`.
        from: Option<Vec<ParticipantId>>,
        /// How high the tiles are, in device pixels (1 to [`MAX_TILE_HEIGHT`]): from a
        /// sender who sends several sizes (simulcast), the SFU forwards the smallest that
        /// fills the tile. Absent: as large as sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        height: Option<u16>,
        /// Tiles of another height than `height` (the speaker's large tile), at most
        /// [`MAX_VIDEO_FROM`].
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        heights: Vec<TileHeight>,
    },
    /// E2EE: this connection's MLS key package (base64 of its TLS encoding), so a member can
    /// add it to the group. Allowed in the waiting room: the server passes it to the group's
    /// members once the sender is admitted. A newer one replaces the older.
    MlsKeyPackage {
        /// At most [`MAX_KEY_PACKAGE_CHARS`].
        key_package: String,
        /// This member lost step with the group (a commit it could not apply) and asks to be
        /// added again: the server no longer counts it in the group until a Welcome for it.
        #[serde(default, skip_serializing_if = "is_false")]
        rejoin: bool,
    },
    /// E2EE: a commit (base64) that moves the group from `epoch` to the next. The server
    /// accepts the first commit for each epoch and refuses the rest (`mls_commit_result`).
    MlsCommit {
        /// The epoch the commit applies to.
        epoch: u64,
        /// The commit, for every member.
        commit: String,
        /// The Welcome (base64) for the participants in `added`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        welcome: Option<String>,
        /// Who the commit adds (they get the Welcome).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        added: Vec<ParticipantId>,
    },
    /// E2EE: a member refuses to add someone (their credential does not prove the link).
    MlsRefuse {
        /// Whom.
        id: ParticipantId,
        /// Why.
        reason: MlsRefusal,
    },
}

/// Why a member refused to add someone to the encryption group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MlsRefusal {
    /// Their link's key is not the meeting's.
    WrongLink,
    /// Their credential is not signed by their identity key, or does not parse.
    BadCredential,
    /// They use an encryption suite the members do not.
    Unsupported,
}

impl MlsRefusal {
    /// A sentence for the refused person.
    pub fn message(self) -> &'static str {
        match self {
            MlsRefusal::WrongLink => {
                "Your link's key does not match this meeting's, so nobody can add you to its encryption. Ask the host for a fresh invite link."
            }
            MlsRefusal::BadCredential => {
                "The participants could not verify this app's encryption identity. Restart Parley and join again."
            }
            MlsRefusal::Unsupported => {
                "The participants use a version of Parley's encryption this app does not speak. Update Parley."
            }
        }
    }
}

/// What the server knows about an admitted participant that others may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantInfo {
    /// Their number in this meeting.
    pub id: ParticipantId,
    /// Their identity key (what their end-to-end encryption credential names).
    pub identity: IdentityKey,
    /// Their display name.
    pub name: DisplayName,
    /// Their role.
    pub role: Role,
    /// Whether their microphone is muted (absent means `false`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub muted: bool,
    /// Whether they are sharing their screen (absent means `false`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub sharing: bool,
    /// Whether a host put them on the stage (in event mode they may then be heard and seen;
    /// absent means `false`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub on_stage: bool,
    /// Whether their connection dropped and the server keeps their place while they
    /// reconnect (absent means `false`; see `away`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub away: bool,
    /// Whether they joined from a web browser (the server's guest page) rather than the app
    /// or parley-cli; clients show it next to the name (absent means `false`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub browser: bool,
    /// Whether they are recording the meeting on their computer (absent means `false`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub recording: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// Someone in the waiting room, as hosts see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitingInfo {
    /// Their number (kept if admitted).
    pub id: ParticipantId,
    /// Their display name.
    pub name: DisplayName,
    /// Whether they knock from a web browser (absent means `false`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub browser: bool,
}

/// The limits a server enforces, announced in `welcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest message in bytes.
    pub max_message_bytes: u32,
    /// Largest chat or file-offer body in bytes.
    pub max_body_bytes: u32,
    /// Longest display name in characters.
    pub max_name_chars: u32,
    /// Sustained messages per second per connection.
    pub messages_per_second: u32,
    /// Messages that may be sent in a burst above the sustained rate.
    pub burst: u32,
    /// Largest file that may be sent, in bytes (when the host allows file transfer).
    #[serde(default)]
    pub max_file_bytes: u64,
}

/// What a media server over its capacity sheds (`server_load`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shedding {
    /// Nothing: every picture is forwarded.
    None,
    /// All but each receiver's main pictures: a presenter's, the dominant speaker's and those
    /// it shows larger than the rest.
    MainVideo,
    /// Every picture: voices only.
    VoicesOnly,
}

/// Why someone left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// They left.
    Left,
    /// Their connection dropped.
    Disconnected,
    /// A host removed them.
    Removed,
}

/// Why the server is ending this connection's part in the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoodbyeReason {
    /// A host removed you; you cannot rejoin this meeting.
    Removed,
    /// A host denied your request to join; you cannot ask again.
    Denied,
    /// A host ended the meeting for everyone.
    MeetingEnded,
    /// You joined again from another connection (host reclaim).
    Replaced,
    /// You left.
    Left,
}

impl GoodbyeReason {
    /// A sentence for a person.
    pub fn message(self) -> &'static str {
        match self {
            GoodbyeReason::Removed => {
                "A host removed you from the meeting. You cannot rejoin this meeting."
            }
            GoodbyeReason::Denied => "A host declined your request to join this meeting.",
            GoodbyeReason::MeetingEnded => "The host ended the meeting for everyone.",
            GoodbyeReason::Replaced => {
                "You joined this meeting from another window or device, so this one was closed."
            }
            GoodbyeReason::Left => "You left the meeting.",
        }
    }
}

/// The kind of an error, stable across versions: clients switch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The message is not valid JSON or not a valid message of its type.
    BadMessage,
    /// The `type` is not one this server knows.
    UnknownType,
    /// The message is larger than the limit.
    TooLarge,
    /// Messages are arriving faster than the limit; this one was dropped.
    RateLimited,
    /// Far too many messages: the connection is closed.
    Flood,
    /// The first message must be `hello`.
    HelloRequired,
    /// The protocol version is not supported.
    UnsupportedVersion,
    /// A message that only makes sense once (`hello`, `join`) came again.
    AlreadyJoined,
    /// The message must come after `join`.
    JoinRequired,
    /// The join signature does not verify.
    BadSignature,
    /// No meeting has that link.
    NoSuchMeeting,
    /// The meeting has ended.
    MeetingEnded,
    /// The meeting is locked.
    Locked,
    /// The meeting needs a passcode and none was given.
    PasscodeRequired,
    /// The passcode is wrong.
    WrongPasscode,
    /// Too many wrong passcodes: wait before trying again.
    TooManyAttempts,
    /// This identity was removed or denied and may not rejoin.
    Banned,
    /// The meeting is full.
    Full,
    /// The server has too many meetings or connections.
    ServerBusy,
    /// You are in the waiting room and cannot do this yet.
    NotAdmitted,
    /// Your role does not allow this.
    NotPermitted,
    /// The host has switched this off.
    DisabledByHost,
    /// There is no such participant (or waiting person) in this meeting.
    NoSuchParticipant,
    /// A field is outside its allowed range (body too long, bad passcode, …).
    InvalidValue,
    /// The client does not read its messages fast enough; the connection is closed.
    SlowConsumer,
    /// Creating meetings needs a valid host API token.
    Unauthorized,
    /// A web page from another site tried to open the signaling connection.
    ForeignOrigin,
    /// A message never finished arriving: the connection is closed.
    Incomplete,
    /// Something went wrong on the server.
    Internal,
    /// No poll of that number is in this meeting.
    NoSuchPoll,
    /// The poll is closed: no more votes.
    PollClosed,
    /// This person already voted in that poll.
    AlreadyVoted,
    /// As many polls as allowed are open (or remembered) in this meeting.
    TooManyPolls,
    /// The file is larger than this server takes.
    FileTooLarge,
    /// No file transfer of that number is under way from you.
    NoSuchTransfer,
    /// As many files as allowed are being sent (by you, or in this meeting).
    TooManyTransfers,
    /// The shared notes and whiteboard have reached what one meeting may hold.
    NotesFull,
}

impl ErrorKind {
    /// A sentence for a person: what happened and what to do.
    pub fn message(self) -> &'static str {
        use ErrorKind::*;
        match self {
            BadMessage => {
                "The server could not understand a message from this app. Update Parley and try again."
            }
            UnknownType => {
                "The server does not know this kind of message. Update Parley or the server."
            }
            TooLarge => "A message was too large for the server. Shorten it and try again.",
            RateLimited => "You are sending too fast; a message was dropped. Wait a moment.",
            Flood => {
                "Too many messages were sent too quickly, so the server closed the connection."
            }
            HelloRequired => "The app did not greet the server first. Update Parley and try again.",
            UnsupportedVersion => {
                "This server speaks another version of the Parley protocol. Update Parley or ask the organiser to update the server."
            }
            AlreadyJoined => "That was already done on this connection.",
            JoinRequired => "Join the meeting first.",
            BadSignature => {
                "The server could not verify this app's identity. Restart Parley and try again."
            }
            NoSuchMeeting => {
                "There is no meeting at this link. Check the link with whoever sent it."
            }
            MeetingEnded => "This meeting has ended.",
            Locked => {
                "The host has locked this meeting: nobody new can join. Ask the host to unlock it."
            }
            PasscodeRequired => {
                "This meeting needs a passcode. Ask the host for it; it is not part of the link."
            }
            WrongPasscode => "The passcode is wrong. Check it with the host and try again.",
            TooManyAttempts => "Too many wrong passcodes. Wait a little, then try again.",
            Banned => "You cannot join this meeting: a host removed you or declined your request.",
            Full => "The meeting is full. Ask the host to raise the limit.",
            ServerBusy => "The server is busy. Try again in a minute.",
            NotAdmitted => "You are still in the waiting room. A host must admit you first.",
            NotPermitted => "Only a host or co-host can do that.",
            DisabledByHost => "The host has switched this off for this meeting.",
            NoSuchParticipant => "That person is no longer in the meeting.",
            InvalidValue => "A value was outside what the server accepts.",
            SlowConsumer => {
                "Your connection could not keep up, so the server closed it. Check your network and rejoin."
            }
            Unauthorized => {
                "This server only lets organisers with an API token create meetings. Ask its administrator for one."
            }
            ForeignOrigin => {
                "This web page may not connect to this meeting server. Open the meeting by its invite link in Parley or on the server's own page."
            }
            Incomplete => {
                "A message from this app never finished arriving, so the server closed the connection. Check your network and rejoin."
            }
            Internal => "Something went wrong on the server. Try again.",
            NoSuchPoll => "That poll is no longer in this meeting.",
            PollClosed => "That poll is closed; votes are no longer counted.",
            AlreadyVoted => "You have already voted in this poll; a vote cannot be changed.",
            TooManyPolls => {
                "As many polls as a meeting may have are open. Close one before opening another."
            }
            FileTooLarge => {
                "The file is larger than this meeting server accepts. Share a smaller file, or a link to it."
            }
            NoSuchTransfer => "That file is no longer being sent.",
            TooManyTransfers => {
                "As many files as allowed are being sent right now. Wait until one has arrived."
            }
            NotesFull => {
                "The shared notes and whiteboard hold as much as a meeting may. Save them, then clear the whiteboard or start a new meeting."
            }
        }
    }
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ServerMessage {
    /// Answer to `hello`.
    Welcome {
        /// The server's protocol version.
        protocol: u32,
        /// Fresh challenge the `join` signature must cover.
        challenge: Challenge,
        /// Limits the server enforces.
        limits: Limits,
    },
    /// You are in the waiting room.
    Waiting {
        /// The meeting's title.
        title: Title,
        /// Whether someone who can admit you is present.
        host_present: bool,
        /// Whether someone in the meeting is recording it (sent again when that changes), so
        /// you know before you enter (absent means `false`).
        #[serde(default, skip_serializing_if = "is_false")]
        recording: bool,
    },
    /// You are in the meeting.
    Joined {
        /// Your participant number.
        you: ParticipantId,
        /// Your role.
        role: Role,
        /// The meeting's title.
        title: Title,
        /// The meeting's switches.
        policy: Policy,
        /// Whether the meeting is locked.
        locked: bool,
        /// Whether a passcode is set.
        has_passcode: bool,
        /// Who is waiting (empty unless you may admit).
        waiting: Vec<WaitingInfo>,
        /// STUN/TURN servers to gather ICE candidates with (the server's configuration).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// E2EE: nobody is in the meeting's encryption group; found it.
        #[serde(default, skip_serializing_if = "is_false")]
        found_group: bool,
    },
    /// The join was refused; the connection closes after this.
    Refused {
        /// Why.
        kind: ErrorKind,
        /// A sentence for a person.
        message: String,
        /// For `too_many_attempts`: milliseconds to wait.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u32>,
    },
    /// Your part in the meeting is over; the connection closes after this.
    Goodbye {
        /// Why.
        reason: GoodbyeReason,
        /// A sentence for a person.
        message: String,
    },
    /// Something you sent was refused.
    Error {
        /// Stable kind.
        kind: ErrorKind,
        /// A sentence for a person.
        message: String,
        /// Whether the server closes the connection after this.
        fatal: bool,
    },
    /// Participants now in the meeting. Right after `joined` these messages carry everyone
    /// already present (`announce: false`), at most [`ROSTER_CHUNK`] per message; later each
    /// one carries whoever was just admitted.
    ParticipantsJoined {
        /// Who.
        participants: Vec<ParticipantInfo>,
        /// Whether to announce them (the host's switch; `false` for the initial roster).
        announce: bool,
    },
    /// Someone left.
    ParticipantLeft {
        /// Who.
        id: ParticipantId,
        /// Why.
        reason: LeaveReason,
        /// Whether to announce it.
        announce: bool,
    },
    /// Hosts: someone is waiting.
    WaitingJoined {
        /// Who.
        waiting: WaitingInfo,
    },
    /// Hosts: people no longer waiting (admitted, denied or gone); one message per batch.
    WaitingLeft {
        /// Who.
        ids: Vec<ParticipantId>,
    },
    /// Someone's role changed.
    RoleChanged {
        /// Who.
        id: ParticipantId,
        /// The new role.
        role: Role,
    },
    /// You are now host: the host secret to reclaim the meeting with. Previous ones are void.
    HostSecret {
        /// The secret; keep it private.
        secret: HostSecret,
    },
    /// The switches changed.
    PolicyChanged {
        /// The full new set.
        policy: Policy,
    },
    /// The meeting was locked or unlocked.
    LockChanged {
        /// Whether it is locked now.
        locked: bool,
    },
    /// Hosts: the passcode was set or cleared.
    PasscodeChanged {
        /// Whether one is set now.
        has_passcode: bool,
    },
    /// A chat message.
    Chat {
        /// Sender.
        from: ParticipantId,
        /// Set for a private message (to you, or from you to them).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<ParticipantId>,
        /// The opaque body.
        body: String,
    },
    /// Sealed content (a reaction, a hand) from a participant, as they sent it.
    Sealed {
        /// Sender.
        from: ParticipantId,
        /// The MLS application message, base64.
        body: String,
    },
    /// A change to the shared notes or whiteboard, from a participant (sealed).
    NotesUpdate {
        /// Sender.
        from: ParticipantId,
        /// The MLS application message, base64.
        body: String,
    },
    /// Shared notes sent to you alone: a request for them, or a part of them (sealed).
    NotesSync {
        /// Sender.
        from: ParticipantId,
        /// The MLS application message, base64.
        body: String,
    },
    /// A poll opened (to everyone in the meeting), or was shown to you after you joined.
    PollOpened {
        /// Its number.
        poll: PollId,
        /// Who opened it (a host or co-host).
        by: ParticipantId,
        /// How many options.
        options: u8,
        /// Whether several may be chosen.
        multiple: bool,
        /// Whether votes reach the hosts without the voter's number.
        anonymous: bool,
        /// The sealed question and options, as the opener sent them.
        body: String,
    },
    /// A vote (to hosts and co-hosts).
    PollVote {
        /// Which poll.
        poll: PollId,
        /// The voter; absent in an anonymous poll.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<ParticipantId>,
        /// The sealed vote.
        body: String,
    },
    /// Your vote was counted (to the voter).
    PollVoteCounted {
        /// Which poll.
        poll: PollId,
    },
    /// A poll closed.
    PollClosed {
        /// Which poll.
        poll: PollId,
    },
    /// A host shared a poll's results (sealed).
    PollResults {
        /// Which poll.
        poll: PollId,
        /// Who shared them.
        from: ParticipantId,
        /// The sealed results.
        body: String,
    },
    /// Someone started or stopped recording the meeting on their computer (also when the
    /// host switches recording off, for each recording it stops).
    Recording {
        /// Who.
        id: ParticipantId,
        /// Recording now.
        on: bool,
    },
    /// You were moved: into breakout room `room` (from 1), or back into the main meeting
    /// (`room` absent). A `joined` for where you are now follows; everything before belonged
    /// to where you were (its encryption group, its media).
    Moved {
        /// The breakout room you are in now; absent: the main meeting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<u16>,
        /// Seconds until the rooms close, if they were opened for a time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ends_in_secs: Option<u32>,
    },
    /// The breakout rooms as they are now (to the main meeting): who is in each (numbers in
    /// the main meeting), how long they stay open. No rooms: they are closed.
    Breakouts {
        /// Room 1 first.
        rooms: Vec<Vec<ParticipantId>>,
        /// Seconds until they close, if opened for a time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ends_in_secs: Option<u32>,
        /// Seconds until everyone returns, once closing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        closing_in_secs: Option<u32>,
    },
    /// The breakout rooms close: everyone in them returns to the main meeting in `in_secs`.
    BreakoutClosing {
        /// Seconds left.
        in_secs: u32,
    },
    /// A host's message to every room, sealed with a key from the meeting link.
    BreakoutBroadcast {
        /// The sealed message.
        body: String,
    },
    /// Someone changed their name.
    Renamed {
        /// Who.
        id: ParticipantId,
        /// The new name.
        name: DisplayName,
    },
    /// Someone was muted or unmuted.
    Muted {
        /// Who.
        id: ParticipantId,
        /// Muted or not.
        muted: bool,
        /// Whether a host did it.
        by_host: bool,
    },
    /// Who is the meeting's dominant speaker now, as the SFU hears it (among the voices it
    /// forwards; it changes only when that one has paused or is clearly outshone), or `None`
    /// once they left. Speaker view follows it.
    Speaker {
        /// Who, if anyone.
        id: Option<ParticipantId>,
    },
    /// Which simulcast layers of your video anyone receives: encode and send only these (rids
    /// of your video m-line; none: nobody is shown your video now). Sent when it changes; until
    /// the first one, send every layer. A layer that starts again starts with a keyframe.
    SendLayers {
        /// The layers' rids.
        rids: Vec<String>,
    },
    /// The media server carrying your media is over its capacity and sheds pictures so that
    /// every voice goes on (PROTOCOL.md, Media 8), or has room again (`none`). Sent when it
    /// changes, and on connecting while it sheds. A picture it stops waits for a keyframe when
    /// it comes back; show the stopped tiles as paused, not frozen.
    ServerLoad {
        /// What it sheds now.
        shedding: Shedding,
    },
    /// A host muted everyone except hosts and co-hosts.
    AllMuted {
        /// Which host.
        by: ParticipantId,
    },
    /// A host asks you to unmute.
    UnmuteRequested {
        /// Which host.
        by: ParticipantId,
    },
    /// A host put someone on the stage or took them off it (see `set_stage`).
    Stage {
        /// Who.
        id: ParticipantId,
        /// On the stage now, or off.
        on: bool,
        /// Which host.
        by: ParticipantId,
    },
    /// Someone's connection dropped (`away: true`): the server keeps their place for a while
    /// (the server's `reconnect_grace_secs`) so they can come back with the same identity;
    /// `away: false` when they are back. If they do not come back in time, they leave
    /// (`participant_left`, reason `disconnected`).
    Away {
        /// Who.
        id: ParticipantId,
        /// Gone for now, or back.
        away: bool,
    },
    /// Someone started or stopped sharing their screen.
    ScreenShare {
        /// Who.
        id: ParticipantId,
        /// Sharing or not.
        sharing: bool,
    },
    /// A file is coming (to its recipients), or was numbered (to its sender).
    FileOffer {
        /// Sender.
        from: ParticipantId,
        /// Set if only for one person.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<ParticipantId>,
        /// Its number.
        transfer: TransferId,
        /// Its size in bytes.
        size: u64,
        /// The sealed name and checksum.
        body: String,
    },
    /// Part of a file (to its recipients).
    FileChunk {
        /// Which transfer.
        transfer: TransferId,
        /// Sender.
        from: ParticipantId,
        /// The sealed part.
        body: String,
    },
    /// A file stopped coming: its sender cancelled or left, or the host switched file
    /// transfer off (to its recipients and its sender).
    FileCancelled {
        /// Which transfer.
        transfer: TransferId,
    },
    /// Media: the SFU's answer to your offer.
    SdpAnswer {
        /// The SDP.
        sdp: String,
    },
    /// Media: the SFU offers a change to your peer connection (someone's tracks came or went);
    /// answer with `sdp_answer`.
    SdpOffer {
        /// The SDP.
        sdp: String,
    },
    /// E2EE, to the group's members: someone's key package, to add them.
    MlsKeyPackage {
        /// Whose.
        from: ParticipantId,
        /// The key package (base64).
        key_package: String,
    },
    /// E2EE, to the group's members: the key packages of several people admitted at once
    /// (`admit_all`, or a new founder's backlog), in batches of at most
    /// [`MAX_KEY_PACKAGE_BATCH_CHARS`] of key packages, so admitting a thousand people sends
    /// the group's members a few messages, not a thousand.
    MlsKeyPackages {
        /// Whose, and the key package (base64) of each.
        packages: Vec<KeyPackageFrom>,
    },
    /// E2EE, to the group's members: the commit the server accepted for `epoch`.
    MlsCommit {
        /// Who committed.
        from: ParticipantId,
        /// The epoch it applies to.
        epoch: u64,
        /// The commit (base64).
        commit: String,
    },
    /// E2EE, to a committer: whether its commit for `epoch` was the one accepted.
    MlsCommitResult {
        /// The epoch.
        epoch: u64,
        /// Accepted (apply it) or refused (another commit won; drop it).
        accepted: bool,
    },
    /// E2EE, to someone just added: the Welcome into the group.
    MlsWelcome {
        /// Who committed the add.
        from: ParticipantId,
        /// The Welcome (base64).
        welcome: String,
    },
    /// E2EE: everyone in the encryption group has left; found a new one.
    MlsFound {},
    /// E2EE: a member refused to add you.
    MlsRefused {
        /// Who refused.
        by: ParticipantId,
        /// Why.
        reason: MlsRefusal,
        /// A sentence for a person.
        message: String,
    },
}

/// Why a text frame is not a valid client message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("message larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    /// Not a JSON object with a string `type`, or a known type with bad fields.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A `type` this version does not know.
    #[error("unknown message type")]
    UnknownType,
}

impl DecodeError {
    /// The wire error kind for this failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DecodeError::TooLarge => ErrorKind::TooLarge,
            DecodeError::Malformed(_) => ErrorKind::BadMessage,
            DecodeError::UnknownType => ErrorKind::UnknownType,
        }
    }
}

/// The `type` values a client may send.
pub const CLIENT_TYPES: &[&str] = &[
    "hello",
    "join",
    "leave",
    "chat",
    "sealed",
    "notes_update",
    "notes_sync",
    "poll_open",
    "poll_show",
    "poll_vote",
    "poll_close",
    "poll_results",
    "record",
    "breakout_open",
    "breakout_visit",
    "breakout_return",
    "breakout_broadcast",
    "breakout_close",
    "rename",
    "set_muted",
    "share_screen",
    "file_offer",
    "file_chunk",
    "file_cancel",
    "admit",
    "admit_all",
    "deny",
    "lock",
    "unlock",
    "remove",
    "mute_all",
    "ask_unmute",
    "set_stage",
    "set_policy",
    "set_passcode",
    "make_cohost",
    "revoke_cohost",
    "transfer_host",
    "end",
    "sdp_offer",
    "sdp_answer",
    "receive_video",
    "mls_key_package",
    "mls_commit",
    "mls_refuse",
];

/// One person's key package in [`ServerMessage::MlsKeyPackages`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPackageFrom {
    /// Whose.
    pub from: ParticipantId,
    /// The key package (base64).
    pub key_package: String,
}

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(rename = "type", borrow)]
    ty: std::borrow::Cow<'a, str>,
}

impl ClientMessage {
    /// Decode one text frame, strictly: size limit first, then the type, then the fields.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode_tagged(text, CLIENT_TYPES)
    }

    /// Encode as one text frame.
    pub fn encode(&self) -> String {
        // Invariant: these types serialise infallibly (no maps with non-string keys).
        serde_json::to_string(self).expect("client messages always serialise")
    }
}

impl ServerMessage {
    /// Decode one text frame from a server.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        if text.len() > MAX_MLS_MESSAGE_BYTES {
            return Err(DecodeError::TooLarge);
        }
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))
    }

    /// Encode as one text frame.
    pub fn encode(&self) -> String {
        // Invariant: these types serialise infallibly (no maps with non-string keys).
        serde_json::to_string(self).expect("server messages always serialise")
    }

    /// The wire `type` (`joined`, `chat`, …), for messages and logs.
    pub fn wire_type(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
            .unwrap_or_else(|| "?".into())
    }

    /// A non-fatal or fatal error message with the standard sentence.
    pub fn error(kind: ErrorKind, fatal: bool) -> Self {
        ServerMessage::Error {
            kind,
            message: kind.message().to_string(),
            fatal,
        }
    }

    /// A refusal with the standard sentence.
    pub fn refused(kind: ErrorKind) -> Self {
        ServerMessage::Refused {
            kind,
            message: kind.message().to_string(),
            retry_after_ms: None,
        }
    }

    /// A goodbye with the standard sentence.
    pub fn goodbye(reason: GoodbyeReason) -> Self {
        ServerMessage::Goodbye {
            reason,
            message: reason.message().to_string(),
        }
    }
}

fn decode_tagged<T: serde::de::DeserializeOwned>(
    text: &str,
    known: &[&str],
) -> Result<T, DecodeError> {
    if text.len() > MAX_MLS_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge);
    }
    let tag: TypeOnly<'_> =
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let most = match tag.ty.as_ref() {
        "mls_commit" => MAX_MLS_MESSAGE_BYTES,
        "sdp_offer" | "sdp_answer" => MAX_SDP_MESSAGE_BYTES,
        _ => MAX_MESSAGE_BYTES,
    };
    if text.len() > most {
        return Err(DecodeError::TooLarge);
    }
    if !known.contains(&tag.ty.as_ref()) {
        return Err(DecodeError::UnknownType);
    }
    serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use proptest::prelude::*;

    fn join() -> ClientMessage {
        let me = Identity::generate();
        let ch = Challenge::random();
        let room = RoomToken::random();
        let name = DisplayName::new("Ada").unwrap();
        ClientMessage::Join {
            signature: me.sign_join(&ch, &room, &name),
            room,
            name,
            identity: me.public(),
            passcode: None,
            host_secret: None,
        }
    }

    #[test]
    fn hands_are_not_the_servers_business_any_more() {
        // Hands travel as sealed content; the old plaintext message is an unknown type.
        assert_eq!(
            ClientMessage::decode(r#"{"type":"raise_hand","raised":true}"#),
            Err(DecodeError::UnknownType)
        );
    }

    #[test]
    fn messages_round_trip() {
        let msgs = vec![
            ClientMessage::Hello { protocol: 1 },
            join(),
            ClientMessage::Chat {
                to: Some(ParticipantId(3)),
                body: "hi".into(),
            },
            ClientMessage::AdmitAll {},
            ClientMessage::SetPolicy {
                change: PolicyChange {
                    chat: Some(false),
                    ..Default::default()
                },
            },
            ClientMessage::Sealed {
                body: "AAEC".into(),
            },
            ClientMessage::SetPasscode { passcode: None },
        ];
        for m in msgs {
            let text = m.encode();
            assert_eq!(ClientMessage::decode(&text).unwrap(), m, "{text}");
        }
        assert_eq!(
            ClientMessage::Hello { protocol: 1 }.encode(),
            r#"{"type":"hello","protocol":1}"#
        );
    }

    #[test]
    fn host_messages_of_event_mode_decode() {
        let m = ClientMessage::SetStage {
            id: ParticipantId(4),
            on: true,
        };
        assert_eq!(ClientMessage::decode(&m.encode()), Ok(m));
        let p = ClientMessage::SetPolicy {
            change: crate::PolicyChange {
                event_mode: Some(true),
                ..Default::default()
            },
        };
        assert_eq!(ClientMessage::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn every_listed_type_exists() {
        // Each listed type decodes to something other than UnknownType.
        for ty in CLIENT_TYPES {
            let err = ClientMessage::decode(&format!(r#"{{"type":"{ty}"}}"#));
            assert_ne!(err.err(), Some(DecodeError::UnknownType), "{ty}");
        }
    }

    #[test]
    fn strict_decoding() {
        assert_eq!(
            ClientMessage::decode(r#"{"type":"teleport"}"#),
            Err(DecodeError::UnknownType)
        );
        assert!(matches!(
            ClientMessage::decode("not json"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            ClientMessage::decode(r#"{"type":"lock","extra":1}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            ClientMessage::decode(r#"{"type":"admit","id":-1}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            ClientMessage::decode(r#"[1,2]"#),
            Err(DecodeError::Malformed(_))
        ));
        let big = format!(
            r#"{{"type":"chat","body":"{}"}}"#,
            "a".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(ClientMessage::decode(&big), Err(DecodeError::TooLarge));
    }

    /// A 7×7 gallery page's session description (56 m-lines) passes the general message
    /// limit: SDP messages may be as large as [`MAX_SDP_MESSAGE_BYTES`], no other message (but
    /// `mls_commit`) may.
    #[test]
    fn a_gallery_pages_session_description_fits_and_nothing_else_that_large_does() {
        // 1.2 KB an m-line in short lines (many line breaks to escape in JSON).
        let m_line = format!(
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n{}",
            "a=x\r\n".repeat(240)
        );
        let sdp = m_line.repeat(56);
        assert!(sdp.len() > MAX_MESSAGE_BYTES && sdp.len() < MAX_SDP_BYTES);
        let text = ClientMessage::SdpAnswer { sdp: sdp.clone() }.encode();
        assert!(text.len() > MAX_MESSAGE_BYTES && text.len() <= MAX_SDP_MESSAGE_BYTES);
        assert_eq!(
            ClientMessage::decode(&text).unwrap(),
            ClientMessage::SdpAnswer { sdp }
        );
        let chat = format!(
            r#"{{"type":"chat","body":"{}"}}"#,
            "a".repeat(MAX_MESSAGE_BYTES + 10)
        );
        assert_eq!(ClientMessage::decode(&chat), Err(DecodeError::TooLarge));
        let huge = ClientMessage::SdpOffer {
            sdp: "a".repeat(MAX_SDP_MESSAGE_BYTES),
        }
        .encode();
        assert_eq!(ClientMessage::decode(&huge), Err(DecodeError::TooLarge));
    }

    #[test]
    fn server_messages_round_trip() {
        let m = ServerMessage::refused(ErrorKind::Locked);
        let text = m.encode();
        assert!(text.contains(r#""kind":"locked""#), "{text}");
        assert_eq!(ServerMessage::decode(&text).unwrap(), m);
        let g = ServerMessage::goodbye(GoodbyeReason::Removed);
        assert_eq!(ServerMessage::decode(&g.encode()).unwrap(), g);
        let l = ServerMessage::ServerLoad {
            shedding: Shedding::MainVideo,
        };
        assert_eq!(
            l.encode(),
            r#"{"type":"server_load","shedding":"main_video"}"#
        );
        assert_eq!(ServerMessage::decode(&l.encode()).unwrap(), l);
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
            let _ = ClientMessage::decode(&s);
        }

        #[test]
        fn arbitrary_json_shapes_never_panic(
            ty in prop::sample::select(CLIENT_TYPES),
            field in "[a-z_]{1,12}",
            value in prop_oneof![
                Just("null".to_string()), Just("true".to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "\\PC{0,20}".prop_map(|s| serde_json::to_string(&s).unwrap()),
                Just("{}".to_string()), Just("[]".to_string()),
            ],
        ) {
            let text = format!(r#"{{"type":"{ty}","{field}":{value}}}"#);
            if let Ok(m) = ClientMessage::decode(&text) {
                // Whatever decodes re-encodes to something that decodes the same.
                prop_assert_eq!(ClientMessage::decode(&m.encode()).unwrap(), m);
            }
        }
    }
}
