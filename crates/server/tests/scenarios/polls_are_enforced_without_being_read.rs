use parley_proto::message::{MAX_OPEN_POLLS, MAX_POLL_BODY_CHARS};
use parley_proto::{ClientMessage, ErrorKind, ParticipantId, PollId, ServerMessage};

use crate::harness::*;

fn open(anonymous: bool) -> ClientMessage {
    ClientMessage::PollOpen {
        options: 3,
        multiple: false,
        anonymous,
        body: "sealed-question".into(),
    }
}

fn vote(poll: PollId, body: &str) -> ClientMessage {
    ClientMessage::PollVote {
        poll,
        body: body.into(),
    }
}

fn opened(msgs: &[ServerMessage]) -> Option<(PollId, ParticipantId, bool, String)> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::PollOpened {
            poll,
            by,
            anonymous,
            body,
            ..
        } => Some((*poll, *by, *anonymous, body.clone())),
        _ => None,
    })
}

/// Votes relayed: (poll, from, body).
fn votes(msgs: &[ServerMessage]) -> Vec<(PollId, Option<ParticipantId>, String)> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMessage::PollVote { poll, from, body } => Some((*poll, *from, body.clone())),
            _ => None,
        })
        .collect()
}

fn counted(msgs: &[ServerMessage], poll: PollId) -> bool {
    msgs.iter()
        .any(|m| matches!(m, ServerMessage::PollVoteCounted { poll: p } if *p == poll))
}

#[test]
fn an_anonymous_poll_relays_votes_to_hosts_only_without_the_voter() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    w.clear();
    w.send(&host, open(true));
    let (poll, by, anonymous, body) = opened(&w.take(&a)).expect("everyone sees the poll");
    assert_eq!(
        (by, anonymous, body.as_str()),
        (w.id(&host), true, "sealed-question")
    );
    assert!(opened(&w.take(&b)).is_some());
    w.take(&host);

    w.send(&a, vote(poll, "sealed-vote-a"));
    assert!(counted(&w.take(&a), poll), "the voter hears it counted");
    assert_eq!(
        votes(&w.take(&host)),
        vec![(poll, None, "sealed-vote-a".to_string())],
        "the host gets the sealed vote without a number"
    );
    assert!(votes(&w.take(&b)).is_empty(), "participants get no votes");

    // Once per person, even on a new connection.
    w.send(&a, vote(poll, "again"));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::AlreadyVoted));
    let a2 = w.rejoin(&a, None);
    w.clear();
    w.send(&a2, vote(poll, "again"));
    assert_eq!(error(&w.take(&a2)), Some(ErrorKind::AlreadyVoted));
    assert!(votes(&w.take(&host)).is_empty());

    // Closed: no more votes.
    w.send(&host, ClientMessage::PollClose { poll });
    assert!(
        w.take(&b)
            .iter()
            .any(|m| matches!(m, ServerMessage::PollClosed { poll: p } if *p == poll))
    );
    w.send(&b, vote(poll, "late"));
    assert_eq!(error(&w.take(&b)), Some(ErrorKind::PollClosed));
    w.send(&b, vote(PollId(99), "nowhere"));
    assert_eq!(error(&w.take(&b)), Some(ErrorKind::NoSuchPoll));
}

#[test]
fn a_named_poll_names_the_voter_to_the_hosts() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.clear();
    w.send(&host, open(false));
    let (poll, ..) = opened(&w.take(&a)).unwrap();
    w.take(&host);
    w.send(&a, vote(poll, "v"));
    assert_eq!(
        votes(&w.take(&host)),
        vec![(poll, Some(w.id(&a)), "v".to_string())]
    );
}

#[test]
fn only_hosts_run_polls_and_hostile_polls_are_refused() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.clear();
    w.send(&a, open(false));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::NotPermitted));
    assert!(opened(&w.take(&host)).is_none());

    for options in [0, 1, 11, 255] {
        w.send(
            &host,
            ClientMessage::PollOpen {
                options,
                multiple: true,
                anonymous: false,
                body: "q".into(),
            },
        );
        assert_eq!(
            error(&w.take(&host)),
            Some(ErrorKind::InvalidValue),
            "{options} options"
        );
    }
    w.send(
        &host,
        ClientMessage::PollOpen {
            options: 2,
            multiple: false,
            anonymous: false,
            body: "x".repeat(MAX_POLL_BODY_CHARS + 1),
        },
    );
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
    assert!(opened(&w.take(&a)).is_none());

    // Open polls are bounded.
    let mut polls = Vec::new();
    for _ in 0..MAX_OPEN_POLLS {
        w.send(&host, open(false));
        polls.push(opened(&w.take(&host)).unwrap().0);
    }
    w.send(&host, open(false));
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::TooManyPolls));
    w.send(&host, ClientMessage::PollClose { poll: polls[0] });
    w.take(&host);
    w.send(&host, open(false));
    assert!(opened(&w.take(&host)).is_some(), "closing one makes room");

    // A participant can neither close, share results of, nor show a poll.
    w.clear();
    w.send(&a, ClientMessage::PollClose { poll: polls[1] });
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::NotPermitted));
    w.send(
        &a,
        ClientMessage::PollResults {
            poll: polls[1],
            body: "fake".into(),
        },
    );
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::NotPermitted));
    w.send(
        &a,
        ClientMessage::PollShow {
            poll: polls[1],
            to: w.id(&host),
            body: "fake".into(),
        },
    );
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::NotPermitted));
    assert!(w.take(&host).is_empty(), "nothing reached the host");
}

#[test]
fn the_opener_shows_a_poll_to_a_late_joiner_and_their_polls_close_when_they_leave() {
    let mut w = World::default();
    let host = w.host("Hana");
    let c = w.enter(&host, "Cy");
    w.send(&host, ClientMessage::MakeCohost { id: w.id(&c) });
    w.clear();
    w.send(&c, open(false));
    let (poll, by, ..) = opened(&w.take(&host)).expect("a co-host opens a poll");
    assert_eq!(by, w.id(&c));
    let late = w.enter(&host, "Lu");
    w.clear();
    w.send(
        &c,
        ClientMessage::PollShow {
            poll,
            to: w.id(&late),
            body: "resealed".into(),
        },
    );
    assert_eq!(
        opened(&w.take(&late)).map(|o| (o.0, o.3)),
        Some((poll, "resealed".to_string()))
    );
    assert!(opened(&w.take(&host)).is_none(), "only to the late joiner");

    w.send(&c, ClientMessage::Leave {});
    assert!(
        w.take(&late)
            .iter()
            .any(|m| matches!(m, ServerMessage::PollClosed { poll: p } if *p == poll)),
        "the opener's poll closes with them"
    );
    w.send(&late, vote(poll, "v"));
    assert_eq!(error(&w.take(&late)), Some(ErrorKind::PollClosed));
}
