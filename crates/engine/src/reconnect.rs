//! Coming back after the signaling connection drops: how long to wait between tries
//! ([`Backoff`]) and which refusals end the trying ([`is_final`]). The
//! [`crate::engine::MeetingEngine`] joins again as the same person with them.
//!
//! The server keeps a dropped member's place for a while (its `reconnect_grace_secs`): a join
//! with the same identity key within it comes back with the same participant number, role and
//! mute, past the waiting room and the lock. Media and the encryption group start afresh on
//! the new connection (a new peer connection, a new key package that replaces our old leaf).

use std::time::Duration;

use parley_proto::ErrorKind;

use crate::error::ClientError;

/// First wait before trying again.
pub const FIRST_RETRY: Duration = Duration::from_millis(250);
/// Longest wait between tries: short, so a client is back (or told the meeting is gone)
/// within about a second of the server being reachable again. With the jitter, a thousand
/// clients of a restarting server spread over that second.
pub const MAX_RETRY: Duration = Duration::from_secs(1);
/// How long to keep trying before saying the connection is lost for good.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(120);
/// One try may take this long (connect, greeting and the join's answer).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether trying again cannot help: the server answered and refused for a reason that stays
/// (the meeting is gone or ended, we were removed, the meeting was locked or its passcode
/// changed while our place lapsed). Unreachable servers, timeouts and a busy or full server
/// are worth another try.
pub fn is_final(e: &ClientError) -> bool {
    match e {
        ClientError::Refused { kind, .. } => !matches!(
            kind,
            ErrorKind::ServerBusy | ErrorKind::Full | ErrorKind::TooManyAttempts
        ),
        ClientError::CertificateMismatch { .. }
        | ClientError::Tls(_)
        | ClientError::Protocol(_)
        | ClientError::Link(_)
        | ClientError::Name(_)
        | ClientError::Identity { .. } => true,
        _ => false,
    }
}

/// What to tell the person when coming back was refused: the server's sentence, except for a
/// meeting the server no longer knows, which after a drop means the server restarted (meetings
/// live in its memory only).
pub fn refusal_message(e: &ClientError) -> String {
    match e.kind() {
        Some(ErrorKind::NoSuchMeeting) => "The meeting server restarted, and the meeting ended with it. Ask the host to start a new meeting and send you its link.".into(),
        _ => e.to_string(),
    }
}

/// Longest wait a server's `retry_after_ms` is honoured for (a longer one is capped: the
/// person should not wait minutes on a number the server sent).
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);

/// Waits between tries: doubling from [`FIRST_RETRY`] up to [`MAX_RETRY`], each cut by a
/// random part of up to a half (so clients that dropped together do not return together);
/// after a refusal that says when to come back, at least that long.
#[derive(Debug, Default)]
pub struct Backoff {
    tries: u32,
    /// The server asked us to wait this long before the next try.
    asked: Option<Duration>,
}

impl Backoff {
    /// The wait before the next try.
    pub fn next_delay(&mut self) -> Duration {
        let mut r = [0u8; 2];
        // Without randomness the wait is the full one: still correct, only less spread.
        let _ = getrandom::fill(&mut r);
        self.delay_with(u16::from_le_bytes(r))
    }

    /// A try failed with `e`: if the server said when to come back (`retry_after_ms`, when it
    /// is busy or we came back too often), the next wait is at least that (at most
    /// [`MAX_SERVER_WAIT`]).
    pub fn failed(&mut self, e: &ClientError) {
        if let ClientError::Refused {
            retry_after_ms: Some(ms),
            ..
        } = e
        {
            self.asked = Some(Duration::from_millis(u64::from(*ms)).min(MAX_SERVER_WAIT));
        }
    }

    fn delay_with(&mut self, random: u16) -> Duration {
        let full = FIRST_RETRY
            .saturating_mul(1u32 << self.tries.min(16))
            .min(MAX_RETRY);
        self.tries = self.tries.saturating_add(1);
        // Between half and all of it.
        let cut = full / 2 * u32::from(random) / u32::from(u16::MAX);
        (full - cut).max(self.asked.take().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_never_fall_below_half() {
        let mut b = Backoff::default();
        let full: Vec<Duration> = (0..6).map(|_| b.delay_with(0)).collect();
        assert_eq!(
            full,
            [250, 500, 1000, 1000, 1000, 1000].map(Duration::from_millis)
        );
        let mut b = Backoff::default();
        let least: Vec<Duration> = (0..4).map(|_| b.delay_with(u16::MAX)).collect();
        assert_eq!(least, [125, 250, 500, 500].map(Duration::from_millis));
    }

    #[test]
    fn a_server_that_says_when_to_come_back_is_waited_for_once() {
        let mut b = Backoff::default();
        b.failed(&ClientError::Refused {
            kind: ErrorKind::ServerBusy,
            message: String::new(),
            retry_after_ms: Some(30_000),
        });
        assert_eq!(b.delay_with(0), Duration::from_secs(30));
        assert_eq!(
            b.delay_with(0),
            Duration::from_millis(500),
            "then as before"
        );
        b.failed(&ClientError::Refused {
            kind: ErrorKind::ServerBusy,
            message: String::new(),
            retry_after_ms: Some(u32::MAX),
        });
        assert_eq!(b.delay_with(0), MAX_SERVER_WAIT);
        b.failed(&ClientError::Closed);
        assert_eq!(b.delay_with(0), MAX_RETRY);
    }

    #[test]
    fn a_gone_meeting_ends_the_trying_and_a_busy_server_does_not() {
        let refused = |kind| ClientError::Refused {
            kind,
            message: String::new(),
            retry_after_ms: None,
        };
        for kind in [
            ErrorKind::NoSuchMeeting,
            ErrorKind::MeetingEnded,
            ErrorKind::Banned,
            ErrorKind::Locked,
            ErrorKind::WrongPasscode,
        ] {
            assert!(is_final(&refused(kind)), "{kind:?}");
        }
        for kind in [ErrorKind::ServerBusy, ErrorKind::Full] {
            assert!(!is_final(&refused(kind)), "{kind:?}");
        }
        assert!(!is_final(&ClientError::Closed));
        assert!(!is_final(&ClientError::Connect {
            server: "x".into(),
            detail: "refused".into()
        }));
        assert!(refusal_message(&refused(ErrorKind::NoSuchMeeting)).contains("restarted"));
    }
}
