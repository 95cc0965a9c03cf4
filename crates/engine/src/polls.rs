//! Polls, sealed end to end. The server sees only each poll's shape (how many options, single
//! or multiple choice, anonymous or named), enforces who may open, close and share one, and
//! counts one vote per person while it is open; it never reads a question, an option or a vote.
//!
//! - **The question** travels as an MLS application message from its opener, with a fresh
//!   random key for the poll's anonymous votes. Someone who enters the encryption group later
//!   is shown it by the opener, sealed again for the keys they have (`poll_show`).
//! - **A named vote** is an MLS application message: the hosts' clients know who sent it.
//! - **An anonymous vote** is sealed with the poll's key (ChaCha20-Poly1305, the poll's number
//!   as associated data): it carries no sender, and the server relays it without one, so the
//!   hosts' clients cannot tell who voted what. The limit: the server knows which connection
//!   sent each sealed vote, and when; a host who sees a vote arrive the moment one person
//!   clicks could guess. Everyone in the meeting holds the poll's key, but only hosts and
//!   co-hosts are sent the votes.
//! - **Results** are counted by the hosts' and co-hosts' clients and shared, sealed, when one
//!   of them chooses.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use parley_proto::message::{MAX_OPEN_POLLS, MAX_POLL_OPTIONS, MAX_POLLS, MIN_POLL_OPTIONS};
use parley_proto::{ParticipantId, PollId};
use serde::{Deserialize, Serialize};

/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 300;
/// Longest option, in characters.
pub const MAX_OPTION_CHARS: usize = 100;

/// A poll as this participant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Poll {
    /// Its number in the meeting.
    pub id: PollId,
    /// Who opened it.
    pub by: ParticipantId,
    /// The question.
    pub question: String,
    /// The options, in order.
    pub options: Vec<String>,
    /// Several options may be chosen.
    pub multiple: bool,
    /// Votes reach the hosts without the voter.
    pub anonymous: bool,
    /// Votes are still counted.
    pub open: bool,
    /// What we chose, once the server counted it.
    pub my_vote: Option<Vec<u8>>,
    /// Votes per option: counted live by hosts and co-hosts; for others, once shared.
    pub counts: Option<Vec<u32>>,
    /// How many people voted.
    pub voters: u32,
    /// In a named poll, who chose what (hosts and co-hosts).
    pub named: Vec<(ParticipantId, Vec<u8>)>,
    /// A host shared the results with everyone.
    pub shared: bool,
}

/// Why a poll request was not sent; the sentence is for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    /// The question or the options are not what a poll takes.
    #[error("{0}")]
    Invalid(&'static str),
    /// No such poll here.
    #[error("that poll is no longer in this meeting")]
    NoSuchPoll,
    /// It is closed.
    #[error("that poll is closed")]
    Closed,
    /// We voted already.
    #[error("you have already voted in this poll")]
    AlreadyVoted,
    /// Results can be shared only by one who counted them.
    #[error("only a host or co-host who received the votes can share the results")]
    NotCounted,
    /// Sealing failed (no keys yet, or the text is too long once sealed).
    #[error("{0}")]
    Sealing(String),
}

/// What is sealed inside a poll's messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum PollContent {
    /// The question, its options and the key for anonymous votes (base64 of 32 bytes).
    Question {
        question: String,
        options: Vec<String>,
        key: String,
    },
    /// A named vote.
    Vote { poll: u32, choices: Vec<u8> },
    /// Shared results.
    Results {
        poll: u32,
        counts: Vec<u32>,
        voters: u32,
    },
}

/// An anonymous vote's plaintext: the choices and nothing else.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnonymousVote {
    choices: Vec<u8>,
}

/// Check a new poll's question and options: trimmed, 1 to [`MAX_QUESTION_CHARS`] characters,
/// [`MIN_POLL_OPTIONS`] to [`MAX_POLL_OPTIONS`] distinct options of 1 to [`MAX_OPTION_CHARS`].
pub fn check_poll(question: &str, options: &[String]) -> Result<(String, Vec<String>), PollError> {
    let question = question.trim();
    if question.is_empty() || question.chars().count() > MAX_QUESTION_CHARS {
        return Err(PollError::Invalid(
            "a poll needs a question of 1 to 300 characters",
        ));
    }
    let options: Vec<String> = options.iter().map(|o| o.trim().to_string()).collect();
    let n = options.len();
    if n < usize::from(MIN_POLL_OPTIONS) || n > usize::from(MAX_POLL_OPTIONS) {
        return Err(PollError::Invalid("a poll needs 2 to 10 options"));
    }
    if options
        .iter()
        .any(|o| o.is_empty() || o.chars().count() > MAX_OPTION_CHARS)
    {
        return Err(PollError::Invalid("each option needs 1 to 100 characters"));
    }
    let distinct: HashSet<&String> = options.iter().collect();
    if distinct.len() != n {
        return Err(PollError::Invalid("two options are the same"));
    }
    if question
        .chars()
        .chain(options.iter().flat_map(|o| o.chars()))
        .any(char::is_control)
    {
        return Err(PollError::Invalid(
            "a poll's text cannot hold control characters",
        ));
    }
    Ok((question.to_string(), options))
}

/// Whether `choices` is a valid answer to a poll with `options` options: at least one, each an
/// option's index, none twice, and exactly one unless `multiple`.
pub fn valid_choices(choices: &[u8], options: usize, multiple: bool) -> bool {
    let distinct: HashSet<&u8> = choices.iter().collect();
    !choices.is_empty()
        && distinct.len() == choices.len()
        && choices.iter().all(|&c| usize::from(c) < options)
        && (multiple || choices.len() == 1)
}

fn aad(poll: PollId) -> Vec<u8> {
    let mut aad = b"parley poll vote".to_vec();
    aad.extend_from_slice(&poll.0.to_le_bytes());
    aad
}

/// Seal an anonymous vote with the poll's key: base64 of a random nonce and the ciphertext.
pub(crate) fn seal_anonymous(key: &[u8; 32], poll: PollId, choices: &[u8]) -> Option<String> {
    let plain = serde_json::to_vec(&AnonymousVote {
        choices: choices.to_vec(),
    })
    .ok()?;
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).ok()?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad(poll),
            },
        )
        .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Some(STANDARD.encode(out))
}

/// Open an anonymous vote; `None` if it was not sealed with this poll's key for this poll.
pub(crate) fn open_anonymous(key: &[u8; 32], poll: PollId, body: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(body).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(12);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad(poll),
            },
        )
        .ok()?;
    serde_json::from_slice::<AnonymousVote>(&plain)
        .ok()
        .map(|v| v.choices)
}

/// A fresh key for a poll's anonymous votes.
pub(crate) fn new_key() -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).ok()?;
    Some(key)
}

pub(crate) fn encode_key(key: &[u8; 32]) -> String {
    STANDARD.encode(key)
}

pub(crate) fn decode_key(text: &str) -> Option<[u8; 32]> {
    STANDARD.decode(text).ok()?.try_into().ok()
}

#[derive(Debug)]
struct Entry {
    poll: Poll,
    key: [u8; 32],
    /// Ours: who has been shown it (members of the encryption group when it was sealed).
    shown: HashSet<ParticipantId>,
    /// We count its votes (we are a host or co-host who received some).
    counting: bool,
}

/// A poll we opened, until the server numbers it.
#[derive(Debug)]
pub(crate) struct Opening {
    pub question: String,
    pub options: Vec<String>,
    pub key: [u8; 32],
    pub shown: HashSet<ParticipantId>,
}

/// The polls of a meeting, as one participant's client keeps them.
#[derive(Debug, Default)]
pub struct Polls {
    polls: BTreeMap<PollId, Entry>,
    /// Polls we opened, by their sealed body, until the server echoes them (a refused one
    /// is never echoed: the oldest goes when more are opened).
    opening: VecDeque<(String, Opening)>,
    /// Our votes, until the server counts them.
    voting: HashMap<PollId, Vec<u8>>,
}

impl Polls {
    /// A snapshot of one poll.
    pub fn get(&self, poll: PollId) -> Option<&Poll> {
        self.polls.get(&poll).map(|e| &e.poll)
    }

    /// Every poll, oldest first.
    pub fn all(&self) -> impl Iterator<Item = &Poll> {
        self.polls.values().map(|e| &e.poll)
    }

    /// Remember a poll we are opening (sealed as `body`), until the server's echo numbers it.
    pub(crate) fn opening(&mut self, body: String, o: Opening) {
        if self.opening.len() >= MAX_OPEN_POLLS {
            self.opening.pop_front();
        }
        self.opening.push_back((body, o));
    }

    /// The server numbered a poll we opened (sealed as `body`).
    pub(crate) fn opened_ours(
        &mut self,
        id: PollId,
        by: ParticipantId,
        multiple: bool,
        anonymous: bool,
        body: &str,
    ) -> Option<&Poll> {
        let at = self.opening.iter().position(|(b, _)| b == body)?;
        let (_, o) = self.opening.remove(at)?;
        self.insert(
            id, by, multiple, anonymous, o.question, o.options, o.key, o.shown,
        )
    }

    /// A poll someone else opened (or showed us), opened.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert(
        &mut self,
        id: PollId,
        by: ParticipantId,
        multiple: bool,
        anonymous: bool,
        question: String,
        options: Vec<String>,
        key: [u8; 32],
        shown: HashSet<ParticipantId>,
    ) -> Option<&Poll> {
        if self.polls.contains_key(&id) {
            return None;
        }
        if self.polls.len() >= MAX_POLLS {
            let oldest = self
                .polls
                .iter()
                .find(|(_, e)| !e.poll.open)
                .map(|(k, _)| *k);
            let oldest = oldest.or_else(|| self.polls.keys().next().copied())?;
            self.polls.remove(&oldest);
        }
        let poll = Poll {
            id,
            by,
            question,
            options,
            multiple,
            anonymous,
            open: true,
            my_vote: None,
            counts: None,
            voters: 0,
            named: Vec::new(),
            shared: false,
        };
        self.polls.insert(
            id,
            Entry {
                poll,
                key,
                shown,
                counting: false,
            },
        );
        self.get(id)
    }

    /// The poll's key for anonymous votes.
    pub(crate) fn key(&self, poll: PollId) -> Option<[u8; 32]> {
        self.polls.get(&poll).map(|e| e.key)
    }

    /// What its opener seals to show a poll to someone.
    pub(crate) fn question(&self, poll: PollId) -> Option<PollContent> {
        let e = self.polls.get(&poll)?;
        Some(PollContent::Question {
            question: e.poll.question.clone(),
            options: e.poll.options.clone(),
            key: encode_key(&e.key),
        })
    }

    /// Check a vote before it is sealed and remember it until counted.
    pub(crate) fn voting(&mut self, poll: PollId, choices: &[u8]) -> Result<&Poll, PollError> {
        let e = self.polls.get(&poll).ok_or(PollError::NoSuchPoll)?;
        if !e.poll.open {
            return Err(PollError::Closed);
        }
        if e.poll.my_vote.is_some() {
            return Err(PollError::AlreadyVoted);
        }
        if !valid_choices(choices, e.poll.options.len(), e.poll.multiple) {
            return Err(PollError::Invalid(if e.poll.multiple {
                "choose at least one of the options"
            } else {
                "choose one of the options"
            }));
        }
        self.voting.insert(poll, choices.to_vec());
        Ok(&e.poll)
    }

    /// Our vote, not yet counted (a host receives its own named vote back, which MLS cannot
    /// open for its sender).
    pub(crate) fn my_pending_vote(&self, poll: PollId) -> Option<Vec<u8>> {
        self.voting.get(&poll).cloned()
    }

    /// The server counted our vote.
    pub(crate) fn counted(&mut self, poll: PollId) -> Option<&Poll> {
        let choices = self.voting.remove(&poll)?;
        let e = self.polls.get_mut(&poll)?;
        e.poll.my_vote = Some(choices);
        Some(&e.poll)
    }

    /// A vote reached us (we count): `from` in a named poll. Invalid choices are not counted.
    pub(crate) fn tally(
        &mut self,
        poll: PollId,
        from: Option<ParticipantId>,
        choices: &[u8],
    ) -> Option<&Poll> {
        let e = self.polls.get_mut(&poll)?;
        let p = &mut e.poll;
        if !valid_choices(choices, p.options.len(), p.multiple) {
            return None;
        }
        if let Some(from) = from {
            if p.anonymous || p.named.iter().any(|(who, _)| *who == from) {
                return None;
            }
            p.named.push((from, choices.to_vec()));
        }
        if !e.counting {
            // Our own count replaces any shared one.
            e.counting = true;
            p.counts = Some(vec![0; p.options.len()]);
            p.voters = 0;
        }
        let counts = p.counts.get_or_insert_with(|| vec![0; p.options.len()]);
        for &c in choices {
            counts[usize::from(c)] += 1;
        }
        p.voters += 1;
        Some(p)
    }

    /// The poll closed.
    pub(crate) fn closed(&mut self, poll: PollId) -> Option<&Poll> {
        self.voting.remove(&poll);
        let e = self.polls.get_mut(&poll)?;
        e.poll.open = false;
        Some(&e.poll)
    }

    /// Results were shared: shown unless we counted ourselves (ours are as good, and live).
    pub(crate) fn shared(
        &mut self,
        poll: PollId,
        counts: Option<(Vec<u32>, u32)>,
    ) -> Option<&Poll> {
        let e = self.polls.get_mut(&poll)?;
        if let Some((counts, voters)) = counts
            && !e.counting
        {
            if counts.len() != e.poll.options.len() {
                return None;
            }
            e.poll.counts = Some(counts);
            e.poll.voters = voters;
        }
        e.poll.shared = true;
        Some(&e.poll)
    }

    /// The counts to share of a poll we counted.
    pub(crate) fn results(&self, poll: PollId) -> Result<(Vec<u32>, u32), PollError> {
        let e = self.polls.get(&poll).ok_or(PollError::NoSuchPoll)?;
        let counts = e
            .poll
            .counts
            .clone()
            .unwrap_or_else(|| vec![0; e.poll.options.len()]);
        if !e.counting && e.poll.voters > 0 {
            return Err(PollError::NotCounted);
        }
        Ok((counts, e.poll.voters))
    }

    /// Our open polls and who in `members` has not been shown each: (poll, who).
    pub(crate) fn to_show(
        &self,
        me: ParticipantId,
        members: &HashSet<ParticipantId>,
    ) -> Vec<(PollId, Vec<ParticipantId>)> {
        self.polls
            .iter()
            .filter(|(_, e)| e.poll.by == me && e.poll.open)
            .filter_map(|(id, e)| {
                let who: Vec<ParticipantId> = members
                    .iter()
                    .filter(|m| **m != me && !e.shown.contains(m))
                    .copied()
                    .collect();
                (!who.is_empty()).then_some((*id, who))
            })
            .collect()
    }

    /// `who` have been shown poll `poll`.
    pub(crate) fn shown(&mut self, poll: PollId, who: &[ParticipantId]) {
        if let Some(e) = self.polls.get_mut(&poll) {
            e.shown.extend(who.iter().copied());
        }
    }

    /// Start over on a new connection: polls we were opening were never numbered.
    pub(crate) fn reconnected(&mut self) {
        self.opening.clear();
        self.voting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_needs_a_question_and_two_to_ten_distinct_options() {
        let opts = |n: usize| (0..n).map(|i| format!("o{i}")).collect::<Vec<_>>();
        assert!(check_poll("Lunch?", &opts(2)).is_ok());
        assert!(check_poll("Lunch?", &opts(10)).is_ok());
        assert!(check_poll("Lunch?", &opts(1)).is_err());
        assert!(check_poll("Lunch?", &opts(11)).is_err());
        assert!(check_poll("   ", &opts(2)).is_err());
        assert!(check_poll(&"q".repeat(301), &opts(2)).is_err());
        assert!(
            check_poll("q", &["a".into(), " a ".into()]).is_err(),
            "same after trimming"
        );
        assert!(check_poll("q", &["a".into(), "".into()]).is_err());
        assert!(check_poll("q", &["a".into(), "b\u{7}".into()]).is_err());
        let (q, o) = check_poll("  Where?  ", &[" here ".into(), "there".into()]).unwrap();
        assert_eq!(
            (q.as_str(), o),
            ("Where?", vec!["here".into(), "there".into()])
        );
    }

    #[test]
    fn choices_are_checked_against_the_poll() {
        assert!(valid_choices(&[1], 3, false));
        assert!(!valid_choices(&[], 3, false));
        assert!(!valid_choices(&[0, 1], 3, false), "one only");
        assert!(valid_choices(&[0, 2], 3, true));
        assert!(!valid_choices(&[2, 2], 3, true), "twice");
        assert!(!valid_choices(&[3], 3, true), "out of range");
    }

    #[test]
    fn an_anonymous_vote_opens_only_with_its_polls_key_and_number() {
        let key = new_key().unwrap();
        let sealed = seal_anonymous(&key, PollId(3), &[1, 2]).unwrap();
        assert_eq!(open_anonymous(&key, PollId(3), &sealed), Some(vec![1, 2]));
        assert_eq!(
            open_anonymous(&key, PollId(4), &sealed),
            None,
            "another poll"
        );
        let other = new_key().unwrap();
        assert_eq!(
            open_anonymous(&other, PollId(3), &sealed),
            None,
            "another key"
        );
        assert_eq!(open_anonymous(&key, PollId(3), "AAAA"), None);
        // Two seals of the same vote differ (a fresh nonce each).
        assert_ne!(sealed, seal_anonymous(&key, PollId(3), &[1, 2]).unwrap());
    }

    #[test]
    fn a_tally_counts_each_named_voter_once_and_skips_invalid_votes() {
        let mut p = Polls::default();
        let key = new_key().unwrap();
        p.insert(
            PollId(1),
            ParticipantId(1),
            false,
            false,
            "q".into(),
            vec!["a".into(), "b".into()],
            key,
            HashSet::new(),
        );
        assert!(p.tally(PollId(1), Some(ParticipantId(2)), &[1]).is_some());
        assert!(
            p.tally(PollId(1), Some(ParticipantId(2)), &[0]).is_none(),
            "twice"
        );
        assert!(
            p.tally(PollId(1), Some(ParticipantId(3)), &[0, 1])
                .is_none(),
            "two on single"
        );
        assert!(p.tally(PollId(1), Some(ParticipantId(4)), &[0]).is_some());
        let poll = p.get(PollId(1)).unwrap();
        assert_eq!(poll.counts, Some(vec![1, 1]));
        assert_eq!(poll.voters, 2);
        assert_eq!(
            poll.named,
            vec![(ParticipantId(2), vec![1]), (ParticipantId(4), vec![0])]
        );
        assert_eq!(p.results(PollId(1)), Ok((vec![1, 1], 2)));
        // Shared results do not replace our own count.
        p.shared(PollId(1), Some((vec![9, 9], 18)));
        assert_eq!(p.get(PollId(1)).unwrap().counts, Some(vec![1, 1]));
        assert!(p.get(PollId(1)).unwrap().shared);
    }

    #[test]
    fn a_vote_is_checked_and_counted_once() {
        let mut p = Polls::default();
        p.insert(
            PollId(1),
            ParticipantId(1),
            true,
            true,
            "q".into(),
            vec!["a".into(), "b".into(), "c".into()],
            new_key().unwrap(),
            HashSet::new(),
        );
        assert!(matches!(
            p.voting(PollId(1), &[]),
            Err(PollError::Invalid(_))
        ));
        assert!(matches!(
            p.voting(PollId(2), &[0]),
            Err(PollError::NoSuchPoll)
        ));
        assert!(p.voting(PollId(1), &[0, 2]).is_ok());
        assert_eq!(p.counted(PollId(1)).unwrap().my_vote, Some(vec![0, 2]));
        assert_eq!(
            p.voting(PollId(1), &[1]).err(),
            Some(PollError::AlreadyVoted)
        );
        p.closed(PollId(1));
        assert!(!p.get(PollId(1)).unwrap().open);
    }
}
