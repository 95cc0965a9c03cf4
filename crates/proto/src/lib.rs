//! # parley-proto
//!
//! The wire vocabulary of Parley, with no I/O: meeting links ([`link`]), tokens and secrets
//! ([`secret`]), display names ([`name`]), identity keys and signed joins ([`identity`]), roles
//! and the host's switches ([`policy`]), and the signaling messages ([`message`]).
//!
//! Typical client use: parse what the user pasted with [`MeetingLink::parse`], connect to
//! [`ServerAddr::ws_url`] of its `server`, send [`ClientMessage::Hello`], read the
//! [`ServerMessage::Welcome`] challenge, then send a [`ClientMessage::Join`] signed with
//! [`Identity::sign_join`]. The link's [`MeetingKey`] never leaves the device.
//!
//! Every decoder here treats its input as hostile: sizes are bounded first, then the shape is
//! parsed strictly into domain types, and each failure has its own typed error.

pub mod api;
pub mod identity;
pub mod link;
pub mod log;
pub mod message;
pub mod name;
pub mod policy;
pub mod secret;
pub mod vp8;

pub use identity::{Identity, IdentityKey, JoinSignature, verify_join};
pub use link::{Host, LinkError, MeetingLink, Scheme, ServerAddr};
pub use message::{
    ClientMessage, DecodeError, ErrorKind, GoodbyeReason, IceServer, KeyPackageFrom, LeaveReason,
    Limits, MlsRefusal, PROTOCOL_VERSION, ParticipantId, ParticipantInfo, PollId, Reaction,
    ServerMessage, Shedding, TileHeight, TransferId, WaitingInfo,
};
pub use name::{DisplayName, NameError, Title};
pub use policy::{Permission, Policy, PolicyChange, Role, ShareRule};
pub use secret::{CertPin, Challenge, HostSecret, MeetingKey, Redacted, RoomToken, TokenError};
