//! # parley-server
//!
//! Parley's server. [`room::Room`] is the pure state machine that enforces the host's rules;
//! [`session::Session`] is the per-connection protocol state (hello, join, limits); [`limit`]
//! holds the limiters. The I/O around them is thin.

pub mod config;
pub mod control;
pub mod guest;
pub mod hub;
pub mod interfaces;
pub mod limit;
pub mod link;
pub mod mesh;
pub mod meter;
pub mod net;
pub mod outbox;
pub mod room;
pub mod session;
pub mod sfu;
pub mod speakers;

pub use config::{Config, Mode, TlsIdentity};
pub use net::{Server, StartError};
