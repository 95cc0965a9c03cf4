//! # parley-client
//!
//! Parley's call engine — signaling, the media call ([`call`]), the computer's devices
//! ([`devices`]: camera, microphone, speakers, the echo test) — and the headless `parley-cli`.
//!
//! Join a meeting from a pasted link:
//!
//! ```no_run
//! # async fn demo() -> Result<(), parley_client::ClientError> {
//! use parley_client::{Signaling, tls};
//! use parley_proto::{DisplayName, Identity, MeetingLink};
//! let link = MeetingLink::parse("https://meet.example.org/m/…#k=…")?;
//! let me = Identity::generate();
//! let mut s = Signaling::connect(&link.server, tls::client_config(None)?).await?;
//! let first = s.join(&link.token, &DisplayName::new("Ada")?, &me, None, None).await?;
//! while let Some(event) = s.recv().await? { /* waiting, joined, chat, … */ }
//! # Ok(()) }
//! ```
//!
//! Only the server address and room token from the link reach the network; the link's key
//! stays on the device.

pub mod api;
pub mod call;
pub mod congestion;
pub mod devices;
pub use parley_engine::{e2ee, engine, error, files, notes, polls};
pub mod feedback;
pub mod identity;
pub mod keyframe;
pub mod loss;
pub mod peer;
pub mod record;
pub use parley_engine::reconnect;
mod repair;
pub mod signaling;
pub mod simulcast;
pub mod sink;
mod tap;
pub mod tls;
pub mod webm;

pub use error::ClientError;
pub use signaling::Signaling;
