//! The one error type that crosses to the UI: a stable, typed kind ([`ErrorCode`]) the UI can
//! translate and switch on, and an English sentence that says what happened and what to do.

use parley_client::ClientError;
use serde::{Deserialize, Serialize};

/// What went wrong, as a stable kind the UI switches on and translates. Serialized in
/// snake_case (`wrong_passcode`, `link_missing_key`, `device_busy`, …); the TypeScript
/// bindings carry the whole list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // The app's own.
    /// A display name or title that is not acceptable.
    BadName,
    /// The server could not be reached (or the connection failed).
    Connect,
    /// The server did not show the certificate its link pins.
    CertificateMismatch,
    /// A meeting command while there is no meeting.
    NotInMeeting,
    /// Already in a meeting.
    Busy,
    /// This computer's meeting server could not start.
    ServerStart,
    /// Audio or video failed.
    Media,
    /// End-to-end encryption could not start.
    E2ee,
    /// The person stopped joining.
    Cancelled,
    /// Only the one who started the meeting has its invite link.
    NoInvite,
    /// The window's video connection could not open.
    VideoUnavailable,
    /// The identity key could not be read or written.
    Identity,
    /// An address that is not this computer's.
    BadAddress,
    /// A reaction that does not exist.
    BadReaction,
    /// A window or screen that is not there to share.
    BadShareSource,
    /// An empty chat line.
    EmptyMessage,
    /// The host has not allowed saving the chat (or there is nothing to save).
    SaveChatOff,
    /// The chat could not be written to a file.
    SaveChatFailed,
    /// Something that should not happen.
    Internal,
    // Devices (see `DeviceError::code`).
    /// No device of that kind.
    DeviceNoDevice,
    /// The chosen device is not there.
    DeviceNotFound,
    /// Another program holds it.
    DeviceBusy,
    /// The system does not allow it.
    DevicePermissionDenied,
    /// It cannot do what is asked.
    DeviceUnsupported,
    /// It went away.
    DeviceGone,
    /// It failed.
    DeviceFailed,
    // The server's refusals (`parley_proto::ErrorKind`).
    /// Not a valid message.
    BadMessage,
    /// An unknown message type.
    UnknownType,
    /// Too large.
    TooLarge,
    /// Too many messages.
    RateLimited,
    /// Far too many messages.
    Flood,
    /// The greeting was missing.
    HelloRequired,
    /// An unsupported protocol version.
    UnsupportedVersion,
    /// Joined already.
    AlreadyJoined,
    /// Join first.
    JoinRequired,
    /// The join's signature did not verify.
    BadSignature,
    /// No such meeting.
    NoSuchMeeting,
    /// The meeting has ended.
    MeetingEnded,
    /// The meeting is locked.
    Locked,
    /// A passcode is needed.
    PasscodeRequired,
    /// The passcode is wrong.
    WrongPasscode,
    /// Too many tries.
    TooManyAttempts,
    /// Removed from this meeting.
    Banned,
    /// The meeting is full.
    Full,
    /// The server is busy.
    ServerBusy,
    /// Not admitted yet.
    NotAdmitted,
    /// Not allowed.
    NotPermitted,
    /// Switched off by the host.
    DisabledByHost,
    /// No such participant.
    NoSuchParticipant,
    /// A value out of range.
    InvalidValue,
    /// Too slow to keep up.
    SlowConsumer,
    /// Not authorised.
    Unauthorized,
    /// From a foreign web page.
    ForeignOrigin,
    /// A message that never finished.
    Incomplete,
    /// No such poll.
    NoSuchPoll,
    /// The poll is closed.
    PollClosed,
    /// Already voted in that poll.
    AlreadyVoted,
    /// As many polls as allowed are open.
    TooManyPolls,
    /// The file is larger than the server takes.
    FileTooLarge,
    /// That file is no longer being sent.
    NoSuchTransfer,
    /// As many files as allowed are being sent.
    TooManyTransfers,
    /// The shared notes are as large as a meeting allows.
    NotesFull,
    /// A received file could not be saved.
    SaveFileFailed,
    // What is wrong with a pasted link (`parley_proto::LinkError::code`).
    /// Nothing was pasted.
    LinkEmpty,
    /// Far too long.
    LinkTooLong,
    /// Spaces or invisible characters.
    LinkWhitespace,
    /// Not https:// or parley://.
    LinkWrongScheme,
    /// http:// to another computer.
    LinkInsecureRemote,
    /// A user name or password in the link.
    LinkUserInfo,
    /// No server name.
    LinkMissingHost,
    /// A bad server name.
    LinkBadHost,
    /// A bad port.
    LinkBadPort,
    /// Not a meeting's path.
    LinkNotAMeetingPath,
    /// No meeting part.
    LinkMissingToken,
    /// A damaged meeting part.
    LinkMalformedToken,
    /// Parameters after '?'.
    LinkQueryNotAllowed,
    /// No key.
    LinkMissingKey,
    /// A damaged key.
    LinkMalformedKey,
    /// Something after # that is not a key.
    LinkUnexpectedFragment,
    /// A damaged certificate check.
    LinkMalformedPin,
    /// A certificate check on http://.
    LinkPinWithoutTls,
    /// A server address was expected.
    LinkNotAServerAddress,
}

impl ErrorCode {
    /// The code named `name` (snake_case), or [`ErrorCode::Internal`] for none.
    fn named(name: &str) -> ErrorCode {
        serde_json::from_value(serde_json::Value::String(name.to_string()))
            .unwrap_or(ErrorCode::Internal)
    }

    /// The server's kind of refusal.
    pub fn server(kind: parley_proto::ErrorKind) -> ErrorCode {
        serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(ErrorCode::named))
            .unwrap_or(ErrorCode::Internal)
    }

    /// What is wrong with a pasted link.
    pub fn link(e: &parley_proto::LinkError) -> ErrorCode {
        ErrorCode::named(&format!("link_{}", e.code()))
    }

    /// A device's problem.
    pub fn device(code: &str) -> ErrorCode {
        ErrorCode::named(&format!("device_{code}"))
    }
}

/// An error as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// What went wrong, stable: the UI translates it where it can.
    pub kind: ErrorCode,
    /// What happened and what to do, in English (the UI translates by `kind` where it can).
    pub message: String,
}

impl AppError {
    /// An error of this kind.
    pub fn new(kind: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
        }
    }

    /// End-to-end encryption could not start.
    pub fn e2ee(e: parley_client::e2ee::E2eeError) -> Self {
        AppError::new(ErrorCode::E2ee, e.to_string())
    }

    /// A meeting command while there is no meeting.
    pub fn not_in_meeting() -> Self {
        AppError::new(
            ErrorCode::NotInMeeting,
            "You are not in a meeting. Paste a link or start a new meeting first.",
        )
    }
}

/// The snake_case name serde gives a wire enum (a server error kind, a reaction).
pub fn kind_name<K: Serialize>(kind: &K) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "internal".to_string())
}

impl From<ClientError> for AppError {
    fn from(e: ClientError) -> Self {
        let kind = match &e {
            ClientError::Link(l) => ErrorCode::link(l),
            ClientError::Name(_) => ErrorCode::BadName,
            ClientError::Connect { .. } | ClientError::Tls(_) | ClientError::Closed => {
                ErrorCode::Connect
            }
            ClientError::Api { kind, .. } | ClientError::Refused { kind, .. } => {
                ErrorCode::server(*kind)
            }
            ClientError::Media(_) => ErrorCode::Media,
            ClientError::CertificateMismatch { .. } => ErrorCode::CertificateMismatch,
            ClientError::Identity { .. } => ErrorCode::Identity,
            _ => ErrorCode::Internal,
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
        assert_eq!(e.kind, ErrorCode::LinkWrongScheme);
        assert!(!e.message.is_empty());
    }

    #[test]
    fn each_link_defect_has_its_own_kind() {
        let kind =
            |t: &str| AppError::from(ClientError::from(MeetingLink::parse(t).unwrap_err())).kind;
        assert_eq!(
            kind("https://meet.example.org/m/abc"),
            ErrorCode::LinkMalformedToken
        );
        assert_eq!(
            kind("http://meet.example.org/m/0w7hvTjLV27lYWvf9YnAUA#k=x"),
            ErrorCode::LinkInsecureRemote
        );
        assert_eq!(kind(""), ErrorCode::LinkEmpty);
        assert_eq!(kind("smb://host/share"), ErrorCode::LinkWrongScheme);
    }

    #[test]
    fn server_refusals_keep_the_servers_kind() {
        let e: AppError = ClientError::Refused {
            kind: ErrorKind::WrongPasscode,
            message: "wrong".into(),
            retry_after_ms: None,
        }
        .into();
        assert_eq!(e.kind, ErrorCode::WrongPasscode);
        assert_eq!(e.message, "wrong");
    }

    /// Every kind the server and the link parser can give has its own code (none falls back
    /// to `internal`), and serializes as it always did.
    #[test]
    fn every_server_and_link_kind_has_its_code() {
        use parley_proto::LinkError as L;
        let server = [
            ErrorKind::BadMessage,
            ErrorKind::UnknownType,
            ErrorKind::TooLarge,
            ErrorKind::RateLimited,
            ErrorKind::Flood,
            ErrorKind::HelloRequired,
            ErrorKind::UnsupportedVersion,
            ErrorKind::AlreadyJoined,
            ErrorKind::JoinRequired,
            ErrorKind::BadSignature,
            ErrorKind::NoSuchMeeting,
            ErrorKind::MeetingEnded,
            ErrorKind::Locked,
            ErrorKind::PasscodeRequired,
            ErrorKind::WrongPasscode,
            ErrorKind::TooManyAttempts,
            ErrorKind::Banned,
            ErrorKind::Full,
            ErrorKind::ServerBusy,
            ErrorKind::NotAdmitted,
            ErrorKind::NotPermitted,
            ErrorKind::DisabledByHost,
            ErrorKind::NoSuchParticipant,
            ErrorKind::InvalidValue,
            ErrorKind::SlowConsumer,
            ErrorKind::Unauthorized,
            ErrorKind::ForeignOrigin,
            ErrorKind::Incomplete,
            ErrorKind::NoSuchPoll,
            ErrorKind::PollClosed,
            ErrorKind::AlreadyVoted,
            ErrorKind::TooManyPolls,
            ErrorKind::FileTooLarge,
            ErrorKind::NoSuchTransfer,
            ErrorKind::TooManyTransfers,
            ErrorKind::NotesFull,
        ];
        for k in server {
            let code = ErrorCode::server(k);
            assert_ne!(code, ErrorCode::Internal, "{k:?}");
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::to_value(k).unwrap()
            );
        }
        assert_eq!(ErrorCode::server(ErrorKind::Internal), ErrorCode::Internal);
        let links = [
            L::Empty,
            L::TooLong,
            L::Whitespace,
            L::WrongScheme,
            L::InsecureRemote,
            L::UserInfo,
            L::MissingHost,
            L::BadHost,
            L::BadPort,
            L::NotAMeetingPath,
            L::MissingToken,
            L::MalformedToken,
            L::QueryNotAllowed,
            L::MissingKey,
            L::MalformedKey,
            L::UnexpectedFragment,
            L::MalformedPin,
            L::PinWithoutTls,
            L::NotAServerAddress,
        ];
        for l in links {
            assert_ne!(ErrorCode::link(&l), ErrorCode::Internal, "{l:?}");
        }
        assert_eq!(
            serde_json::to_value(ErrorCode::link(&L::NotAMeetingPath)).unwrap(),
            "link_not_a_meeting_path"
        );
        for d in [
            "no_device",
            "not_found",
            "busy",
            "permission_denied",
            "unsupported",
            "gone",
            "failed",
        ] {
            assert_ne!(ErrorCode::device(d), ErrorCode::Internal, "{d}");
        }
    }
}
