//! The one error type that crosses to the UI: a stable `kind` the UI can translate and switch
//! on, and an English sentence that says what happened and what to do.

use parley_client::ClientError;
use serde::Serialize;

/// An error as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// Stable, snake_case: the server's error kinds (`locked`, `wrong_passcode`, …), what is
    /// wrong with a pasted link (`link_missing_key`, `link_wrong_scheme`, …), or the app's
    /// own (`bad_name`, `connect`, `not_in_meeting`, `busy`,
    /// `server_start`, `media`, `e2ee`, `internal`).
    pub kind: String,
    /// What happened and what to do, in English (the UI translates by `kind` where it can).
    pub message: String,
}

impl AppError {
    /// An error of the app's own.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        AppError {
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    /// End-to-end encryption could not start.
    pub fn e2ee(e: parley_client::e2ee::E2eeError) -> Self {
        AppError::new("e2ee", e.to_string())
    }

    /// A meeting command while there is no meeting.
    pub fn not_in_meeting() -> Self {
        AppError::new(
            "not_in_meeting",
            "You are not in a meeting. Paste a link or start a new meeting first.",
        )
    }
}

/// The snake_case name serde gives a server error kind.
pub fn kind_name<K: Serialize>(kind: &K) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "internal".to_string())
}

/// `link_` and the snake_case name of what is wrong with a link (`link_missing_key`, …), so
/// the UI can explain each defect in the person's language.
pub fn link_kind(e: &parley_proto::LinkError) -> String {
    let mut kind = String::from("link_");
    for (i, c) in format!("{e:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                kind.push('_');
            }
            kind.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            kind.push(c);
        } else {
            break;
        }
    }
    kind
}

impl From<ClientError> for AppError {
    fn from(e: ClientError) -> Self {
        let kind = match &e {
            ClientError::Link(l) => link_kind(l),
            ClientError::Name(_) => "bad_name".to_string(),
            ClientError::Connect { .. } | ClientError::Tls(_) | ClientError::Closed => {
                "connect".to_string()
            }
            ClientError::Api { kind, .. } | ClientError::Refused { kind, .. } => kind_name(kind),
            ClientError::Media(_) => "media".to_string(),
            ClientError::CertificateMismatch { .. } => "certificate_mismatch".to_string(),
            _ => "internal".to_string(),
        };
        AppError {
            kind,
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_proto::{ErrorKind, MeetingLink};

    #[test]
    fn a_bad_link_keeps_its_explanation() {
        let e: AppError =
            ClientError::from(MeetingLink::parse("smb://host/share").unwrap_err()).into();
        assert_eq!(e.kind, "link_wrong_scheme");
        assert!(!e.message.is_empty());
    }

    #[test]
    fn each_link_defect_has_its_own_kind() {
        let kind =
            |t: &str| AppError::from(ClientError::from(MeetingLink::parse(t).unwrap_err())).kind;
        assert_eq!(
            kind("https://meet.example.org/m/abc"),
            "link_malformed_token"
        );
        assert_eq!(
            kind("http://meet.example.org/m/0w7hvTjLV27lYWvf9YnAUA#k=x"),
            "link_insecure_remote"
        );
        assert_eq!(kind(""), "link_empty");
    }

    #[test]
    fn server_refusals_keep_the_servers_kind() {
        let e: AppError = ClientError::Refused {
            kind: ErrorKind::WrongPasscode,
            message: "wrong".into(),
            retry_after_ms: None,
        }
        .into();
        assert_eq!(e.kind, "wrong_passcode");
        assert_eq!(e.message, "wrong");
    }
}
