//! Parley's end-to-end encryption. Pure: no I/O, no clock, no threads; small enough to audit.
//!
//! - [`Member`]: one participant's membership of the meeting's MLS group (RFC 9420, openmls).
//!   The server only carries its messages. The invite link's secret (`#k=`) is mixed into every
//!   epoch as an external PSK and proved in every credential, so someone who controls the server
//!   but never saw the invite cannot add themselves, and members refuse a joiner with a wrong
//!   link before adding them.
//! - [`FrameCipher`]: SFrame (RFC 9605) on encoded frames, keys exported from the group per
//!   sender and epoch; the codec bytes an SFU needs stay in the clear, nothing more.
//! - Chat and other content: MLS application messages ([`Member::seal_message`]), signed by the
//!   sender's leaf.
//! - [`SecurityCode`]: 20 digits from the epoch authenticator, equal on every honest screen.
//!
//! Secret material is zeroized on drop and never printed: every type's `Debug` is redacted.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod code;
pub mod credential;
mod error;
mod frame;
mod group;
mod link;

pub use code::SecurityCode;
pub use error::{E2eeError, FrameError};
pub use frame::{
    FrameCipher, KEPT_EPOCHS, MediaKind, SUITE as FRAME_SUITE, SWITCH_AFTER_FRAMES, clear_prefix,
};
pub use group::{
    CIPHERSUITE, Candidate, Commit, MAX_APPLICATION_BYTES, MAX_HANDSHAKE_BYTES,
    MAX_KEY_PACKAGE_BYTES, Member, Received,
};
