//! The HTTP API: `POST /api/meetings` creates a meeting. JSON in, JSON out.

use serde::{Deserialize, Serialize};

use crate::message::ErrorKind;
use crate::name::Title;
use crate::policy::{Policy, PolicyChange};
use crate::secret::{HostSecret, RoomToken};

/// Largest request body the API accepts, in bytes.
pub const MAX_API_BODY_BYTES: usize = 16 * 1024;

/// Body of `POST /api/meetings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateMeeting {
    /// The title everyone sees (the only name of the meeting in any UI).
    pub title: Title,
    /// An optional passcode (shared separately, never in the link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
    /// Switches that differ from the private defaults.
    #[serde(default)]
    pub policy: PolicyChange,
}

/// Answer to `POST /api/meetings` (status 201).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingCreated {
    /// The room token; the creator builds the invite link from it and a key of its own.
    pub room: RoomToken,
    /// The host secret: join with it to be host. Keep it private; it is never in the link.
    pub host_secret: HostSecret,
    /// The title as the server normalised it.
    pub title: Title,
    /// The meeting's switches.
    pub policy: Policy,
    /// How invite links should name this server, if it is configured (`https://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// Body of every API error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable kind.
    pub kind: ErrorKind,
    /// A sentence for a person.
    pub message: String,
}

impl ApiError {
    /// The error with its standard sentence.
    pub fn new(kind: ErrorKind) -> Self {
        ApiError {
            kind,
            message: kind.message().to_string(),
        }
    }
}
