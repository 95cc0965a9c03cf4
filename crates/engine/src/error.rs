//! The client's errors, each with a sentence a person can act on.

use parley_proto::{ErrorKind, LinkError, NameError};

/// What went wrong talking to a Parley server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The pasted link is not a meeting link.
    #[error("{0}")]
    Link(#[from] LinkError),
    /// A name or title is not acceptable.
    #[error("{0}")]
    Name(#[from] NameError),
    /// The server could not be reached.
    #[error(
        "Could not reach the meeting server at {server}: {detail}. Check the link and your network."
    )]
    Connect {
        /// The server.
        server: String,
        /// What failed.
        detail: String,
    },
    /// The server's certificate is not the one the invite link pins: someone in between, or a
    /// host whose app restarted (a new certificate) and whose old link this is.
    #[error(
        "The meeting server at {server} did not show the certificate its invite link names, so Parley did not connect. Someone on the network may be intercepting the connection, or the host restarted Parley: ask the host for a new link."
    )]
    CertificateMismatch {
        /// The server.
        server: String,
    },
    /// TLS could not be set up (e.g. an unreadable CA file).
    #[error("Could not set up a secure connection: {0}")]
    Tls(String),
    /// The server answered the API with an error.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable kind.
        kind: ErrorKind,
        /// The server's sentence.
        message: String,
    },
    /// The server refused the join.
    #[error("{message}")]
    Refused {
        /// Stable kind.
        kind: ErrorKind,
        /// The server's sentence.
        message: String,
        /// For `too_many_attempts`: how long to wait.
        retry_after_ms: Option<u32>,
    },
    /// The server sent something this client does not understand.
    #[error(
        "The server sent a message this version of Parley does not understand ({0}). Update Parley."
    )]
    Protocol(String),
    /// The connection closed unexpectedly.
    #[error("The connection to the meeting server was lost. Rejoin with the same link.")]
    Closed,
    /// The media connection (WebRTC) failed.
    #[error("The audio/video connection failed: {0}. Check your network and rejoin.")]
    Media(String),
    /// The identity key file could not be read or written.
    #[error("Could not use the identity key file {path}: {detail}")]
    Identity {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
}

impl ClientError {
    /// The stable kind, where the server gave one.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            ClientError::Api { kind, .. } | ClientError::Refused { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}
