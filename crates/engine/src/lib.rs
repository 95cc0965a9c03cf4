//! # parley-engine
//!
//! One participant's side of a Parley meeting as state machines without I/O: the signaling
//! conversation and coming back after a drop ([`engine::MeetingEngine`]), the meeting's
//! end-to-end encryption ([`e2ee::E2ee`]), and where it meets the media pipeline
//! ([`frames::FrameTransform`]). Time is always passed in; nothing here opens a socket, starts
//! a thread or reads a clock. `parley-cli` and the desktop app drive it on tokio
//! (`parley-client`); the browser guest is to drive it compiled to wasm.

pub mod e2ee;
pub mod engine;
pub mod error;
pub mod files;
pub mod frames;
pub mod notes;
pub mod polls;
pub mod reconnect;

pub use error::ClientError;
