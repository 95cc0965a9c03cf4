//! One signaling connection's protocol state, sans-I/O: greeting, challenge, join-signature
//! check, message-rate limit and decoding. It turns text frames into [`Step`]s for the driver.
//!
//! Phases: `hello` must come first (else the connection is closed); the server answers with a
//! fresh challenge; then `join` (signed over that challenge) is handed to the room; after that
//! messages go to the room. A malformed, unknown or over-size message closes the connection
//! with a typed error; a message over the rate limit is dropped with a non-fatal error, and a
//! client that keeps flooding is closed.

use std::time::{Duration, Instant};

use parley_proto::message::MAX_BODY_BYTES;
use parley_proto::{
    Challenge, ClientMessage, DecodeError, ErrorKind, Limits, PROTOCOL_VERSION, RoomToken,
    ServerMessage, verify_join,
};

use crate::limit::TokenBucket;
use crate::room::JoinRequest;

/// Rate settings for one connection.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    /// Sustained messages per second.
    pub messages_per_second: u32,
    /// Burst above the sustained rate.
    pub burst: u32,
    /// Dropped messages within [`FLOOD_WINDOW`] after which the connection is closed.
    pub flood_drops: u32,
    /// Largest file a participant may send (announced; the room enforces it).
    pub max_file_bytes: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            messages_per_second: 20,
            burst: 60,
            flood_drops: 200,
            max_file_bytes: crate::config::DEFAULT_MAX_FILE_MIB << 20,
        }
    }
}

/// Window over which dropped messages are counted towards a flood.
pub const FLOOD_WINDOW: Duration = Duration::from_secs(10);

/// What the driver must do for one incoming frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send this to the connection.
    Reply(ServerMessage),
    /// Close the connection (after the replies before it).
    Close,
    /// Hand a verified join to the room with this token.
    Join {
        /// The room.
        room: RoomToken,
        /// The verified request.
        request: JoinRequest,
    },
    /// Hand a message to the room this connection joined.
    ToRoom(ClientMessage),
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    AwaitHello,
    AwaitJoin(Challenge),
    InRoom,
}

/// One connection's protocol state.
#[derive(Debug)]
pub struct Session {
    phase: Phase,
    limits: SessionLimits,
    bucket: TokenBucket,
    drops: u32,
    window_start: Instant,
    last_rate_error: Option<Instant>,
}

impl Session {
    /// A new connection at `now`.
    pub fn new(limits: SessionLimits, now: Instant) -> Self {
        Session {
            phase: Phase::AwaitHello,
            bucket: TokenBucket::new(limits.messages_per_second, limits.burst, now),
            limits,
            drops: 0,
            window_start: now,
            last_rate_error: None,
        }
    }

    /// Whether the connection has sent a join.
    pub fn has_joined(&self) -> bool {
        self.phase == Phase::InRoom
    }

    /// The limits to announce in `welcome`.
    pub fn announced_limits(&self) -> Limits {
        Limits {
            max_message_bytes: parley_proto::message::MAX_MESSAGE_BYTES as u32,
            max_body_bytes: MAX_BODY_BYTES as u32,
            max_name_chars: parley_proto::name::MAX_NAME_CHARS as u32,
            messages_per_second: self.limits.messages_per_second,
            burst: self.limits.burst,
            max_file_bytes: self.limits.max_file_bytes,
        }
    }

    /// A text frame arrived.
    pub fn on_text(&mut self, now: Instant, text: &str) -> Vec<Step> {
        if !self.bucket.take(now) {
            return self.dropped(now);
        }
        let msg = match ClientMessage::decode(text) {
            Ok(m) => m,
            Err(e) => return fatal(decode_kind(&e)),
        };
        match (&self.phase, msg) {
            (Phase::AwaitHello, ClientMessage::Hello { protocol }) => {
                if protocol != PROTOCOL_VERSION {
                    return fatal(ErrorKind::UnsupportedVersion);
                }
                let challenge = Challenge::random();
                self.phase = Phase::AwaitJoin(challenge.clone());
                vec![Step::Reply(ServerMessage::Welcome {
                    protocol: PROTOCOL_VERSION,
                    challenge,
                    limits: self.announced_limits(),
                })]
            }
            (Phase::AwaitHello, _) => fatal(ErrorKind::HelloRequired),
            (_, ClientMessage::Hello { .. }) => vec![Step::Reply(ServerMessage::error(
                ErrorKind::AlreadyJoined,
                false,
            ))],
            (
                Phase::AwaitJoin(challenge),
                ClientMessage::Join {
                    room,
                    name,
                    identity,
                    signature,
                    passcode,
                    host_secret,
                },
            ) => {
                if !verify_join(challenge, &room, &identity, &name, &signature) {
                    return vec![
                        Step::Reply(ServerMessage::refused(ErrorKind::BadSignature)),
                        Step::Close,
                    ];
                }
                if passcode
                    .as_ref()
                    .is_some_and(|p| p.chars().count() > parley_proto::message::MAX_PASSCODE_CHARS)
                {
                    return vec![
                        Step::Reply(ServerMessage::refused(ErrorKind::WrongPasscode)),
                        Step::Close,
                    ];
                }
                self.phase = Phase::InRoom;
                vec![Step::Join {
                    room,
                    request: JoinRequest {
                        name,
                        identity,
                        passcode,
                        host_secret,
                        // The I/O driver knows where the connection came from.
                        browser: false,
                    },
                }]
            }
            (Phase::AwaitJoin(_), ClientMessage::Leave {}) => {
                vec![Step::Close]
            }
            (Phase::AwaitJoin(_), _) => vec![Step::Reply(ServerMessage::error(
                ErrorKind::JoinRequired,
                false,
            ))],
            (Phase::InRoom, ClientMessage::Join { .. }) => vec![Step::Reply(ServerMessage::error(
                ErrorKind::AlreadyJoined,
                false,
            ))],
            (Phase::InRoom, msg) => vec![Step::ToRoom(msg)],
        }
    }

    /// A binary frame arrived: the signaling protocol has none.
    pub fn on_binary(&mut self) -> Vec<Step> {
        fatal(ErrorKind::BadMessage)
    }

    /// A frame over the size limit arrived.
    pub fn on_too_large(&mut self) -> Vec<Step> {
        fatal(ErrorKind::TooLarge)
    }

    fn dropped(&mut self, now: Instant) -> Vec<Step> {
        if now.saturating_duration_since(self.window_start) > FLOOD_WINDOW {
            self.window_start = now;
            self.drops = 0;
        }
        self.drops += 1;
        if self.drops >= self.limits.flood_drops {
            return fatal(ErrorKind::Flood);
        }
        // Tell the client, but at most once a second: the error must not amplify the flood.
        let tell = self
            .last_rate_error
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
        if tell {
            self.last_rate_error = Some(now);
            vec![Step::Reply(ServerMessage::error(
                ErrorKind::RateLimited,
                false,
            ))]
        } else {
            Vec::new()
        }
    }
}

fn decode_kind(e: &DecodeError) -> ErrorKind {
    e.kind()
}

fn fatal(kind: ErrorKind) -> Vec<Step> {
    vec![Step::Reply(ServerMessage::error(kind, true)), Step::Close]
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_proto::{DisplayName, Identity};

    fn welcome(s: &mut Session, now: Instant) -> Challenge {
        match s
            .on_text(now, r#"{"type":"hello","protocol":1}"#)
            .as_slice()
        {
            [Step::Reply(ServerMessage::Welcome { challenge, .. })] => challenge.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn join_text(id: &Identity, ch: &Challenge, room: &RoomToken) -> String {
        let name = DisplayName::new("Ada").unwrap();
        ClientMessage::Join {
            signature: id.sign_join(ch, room, &name),
            room: room.clone(),
            name,
            identity: id.public(),
            passcode: None,
            host_secret: None,
        }
        .encode()
    }

    fn is_fatal(steps: &[Step], kind: ErrorKind) -> bool {
        matches!(steps, [Step::Reply(ServerMessage::Error { kind: k, fatal: true, .. }), Step::Close] if *k == kind)
    }

    #[test]
    fn hello_is_required_first() {
        let now = Instant::now();
        let mut s = Session::new(SessionLimits::default(), now);
        assert!(is_fatal(
            &s.on_text(now, r#"{"type":"lock"}"#),
            ErrorKind::HelloRequired
        ));
    }

    #[test]
    fn wrong_version_is_refused() {
        let now = Instant::now();
        let mut s = Session::new(SessionLimits::default(), now);
        assert!(is_fatal(
            &s.on_text(now, r#"{"type":"hello","protocol":99}"#),
            ErrorKind::UnsupportedVersion
        ));
    }

    #[test]
    fn signed_join_reaches_the_room_and_a_replay_does_not() {
        let now = Instant::now();
        let me = Identity::generate();
        let room = RoomToken::random();
        let mut s1 = Session::new(SessionLimits::default(), now);
        let ch1 = welcome(&mut s1, now);
        let text = join_text(&me, &ch1, &room);
        assert!(matches!(
            s1.on_text(now, &text).as_slice(),
            [Step::Join { .. }]
        ));
        assert!(s1.has_joined());
        // The same signed join replayed on another connection fails: new challenge.
        let mut s2 = Session::new(SessionLimits::default(), now);
        welcome(&mut s2, now);
        assert_eq!(
            s2.on_text(now, &text),
            vec![
                Step::Reply(ServerMessage::refused(ErrorKind::BadSignature)),
                Step::Close
            ]
        );
    }

    #[test]
    fn malformed_and_unknown_messages_close() {
        let now = Instant::now();
        let mut s = Session::new(SessionLimits::default(), now);
        assert!(is_fatal(&s.on_text(now, "{"), ErrorKind::BadMessage));
        let mut s = Session::new(SessionLimits::default(), now);
        assert!(is_fatal(
            &s.on_text(now, r#"{"type":"xyzzy"}"#),
            ErrorKind::UnknownType
        ));
        assert!(is_fatal(&s.on_binary(), ErrorKind::BadMessage));
        assert!(is_fatal(&s.on_too_large(), ErrorKind::TooLarge));
    }

    #[test]
    fn floods_are_dropped_then_closed() {
        let now = Instant::now();
        let limits = SessionLimits {
            messages_per_second: 10,
            burst: 5,
            flood_drops: 50,
            ..SessionLimits::default()
        };
        let mut s = Session::new(limits, now);
        welcome(&mut s, now);
        let chat = r#"{"type":"chat","body":"x"}"#;
        let mut errors = 0;
        let mut closed = false;
        for _ in 0..200 {
            let steps = s.on_text(now, chat);
            if is_fatal(&steps, ErrorKind::Flood) {
                closed = true;
                break;
            }
            errors += steps
                .iter()
                .filter(|s| {
                    matches!(
                        s,
                        Step::Reply(ServerMessage::Error {
                            kind: ErrorKind::RateLimited,
                            ..
                        })
                    )
                })
                .count();
        }
        assert!(closed, "a sustained flood closes the connection");
        assert_eq!(errors, 1, "the rate error is not repeated within a second");
    }
}
