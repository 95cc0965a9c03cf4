//! What can go wrong, typed, with a sentence a person can act on.

/// Why an end-to-end encryption step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum E2eeError {
    /// The bytes are not the message they claim to be (truncated, wrong type, too large).
    #[error("an encryption message from the meeting could not be read ({0})")]
    Malformed(&'static str),
    /// Someone's proof of the link's key does not match ours: they (or we) hold a different
    /// invite link.
    #[error(
        "the meeting link's key does not match the meeting's; ask the host for a fresh invite link"
    )]
    WrongLink,
    /// A credential whose identity signature does not verify.
    #[error("a participant's encryption credential is not signed by their identity key")]
    BadCredential,
    /// Something to encrypt is longer than the limit (in bytes).
    #[error("the message is too long: at most {0} bytes can be sent; shorten it")]
    TooLong(usize),
    /// A key package or group for a cipher suite Parley does not use.
    #[error("a participant uses an encryption suite this version of Parley does not support")]
    WrongCiphersuite,
    /// The step needs the group and this member is not (yet) in it.
    #[error("not yet admitted to the meeting's encryption group; waiting for keys")]
    NotInGroup,
    /// This member already has a commit waiting for the server to order it.
    #[error("a change of the encryption group is still waiting for the server")]
    CommitPending,
    /// An invitation into a group that does not mix in the link's key: whoever made it never
    /// saw the invite link (a server adding itself would look like this).
    #[error(
        "an invitation into the meeting's encryption did not prove knowledge of the link; refused"
    )]
    WelcomeWithoutLinkKey,
    /// This member was removed from the group; it has no keys any more.
    #[error("removed from the meeting's encryption group")]
    Removed,
    /// The MLS library refused the step; the text is its reason.
    #[error("the encryption group refused a message: {0}")]
    Mls(String),
}

impl E2eeError {
    pub(crate) fn mls(e: impl std::fmt::Display) -> Self {
        E2eeError::Mls(e.to_string())
    }
}

/// Why a media frame could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// No key yet for the frame's epoch (the commit that makes it has not arrived, or this
    /// member has not been added yet): "waiting for keys".
    #[error("waiting for keys")]
    NoKey,
    /// The frame names a sender the group does not have.
    #[error("the frame names an unknown sender")]
    UnknownSender,
    /// The frame's header does not parse.
    #[error("the frame is not an SFrame")]
    Malformed,
    /// Authentication failed: wrong key, or the frame was changed on the way.
    #[error("the frame failed authentication")]
    Forged,
    /// The frame was seen before (a replay).
    #[error("the frame was replayed")]
    Replayed,
    /// There is no key to send with (not in the group, or removed): the frame is dropped,
    /// never sent in the clear.
    #[error("no key to send with yet")]
    NoSendKey,
}
