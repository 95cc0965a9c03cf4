//! Breakout rooms as the main meeting's room sees them (the hub moves the connections; the
//! cross-process test drives the whole path): only hosts and co-hosts open, visit, message
//! and close them; a plan that names someone absent or twice is refused; those sent away are
//! away here without a time limit and come back to their old place; a countdown closes the
//! rooms. And a breakout room itself: people are in at once, hosts keep their role, what
//! concerns the whole meeting is refused there, and leaving goes back to the main meeting.

use parley_proto::message::MAX_BREAKOUT_ROOMS;
use parley_proto::{
    ClientMessage, ErrorKind, GoodbyeReason, Identity, ParticipantId, Role, ServerMessage,
};
use parley_server::room::{Input, JoinRequest, RoomLimits};

use crate::harness::*;

fn open(rooms: Vec<Vec<ParticipantId>>, minutes: Option<u16>) -> ClientMessage {
    ClientMessage::BreakoutOpen { rooms, minutes }
}

/// The last `breakouts`: who is in each room, seconds until they end, and until they close.
type Status = (Vec<Vec<ParticipantId>>, Option<u32>, Option<u32>);

fn status(msgs: &[ServerMessage]) -> Option<Status> {
    msgs.iter().rev().find_map(|m| match m {
        ServerMessage::Breakouts {
            rooms,
            ends_in_secs,
            closing_in_secs,
        } => Some((rooms.clone(), *ends_in_secs, *closing_in_secs)),
        _ => None,
    })
}

fn back(w: &mut World, p: &Person) {
    let request = JoinRequest {
        name: parley_proto::DisplayName::new(p.name).unwrap(),
        identity: p.identity.public(),
        passcode: None,
        host_secret: None,
        browser: false,
    };
    w.input(Input::MovedBack {
        conn: p.conn,
        request,
    });
}

#[test]
fn only_hosts_open_rooms_and_a_bad_plan_is_refused() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    let (ida, idb) = (w.id(&a), w.id(&b));
    w.clear();
    for (msg, kind) in [
        (open(vec![vec![idb]], None), ErrorKind::NotPermitted),
        (ClientMessage::BreakoutClose {}, ErrorKind::NotPermitted),
        (
            ClientMessage::BreakoutVisit { room: 1 },
            ErrorKind::NotPermitted,
        ),
        (
            ClientMessage::BreakoutBroadcast { body: "x".into() },
            ErrorKind::NotPermitted,
        ),
        (ClientMessage::BreakoutReturn {}, ErrorKind::InvalidValue),
    ] {
        w.send(&a, msg);
        assert_eq!(error(&w.take(&a)), Some(kind));
    }
    for (plan, minutes, kind) in [
        (vec![], None, ErrorKind::InvalidValue),
        (vec![vec![ida], vec![ida]], None, ErrorKind::InvalidValue),
        (
            vec![vec![ParticipantId(99)]],
            None,
            ErrorKind::NoSuchParticipant,
        ),
        (vec![vec![ida]], Some(0), ErrorKind::InvalidValue),
        (
            vec![vec![]; MAX_BREAKOUT_ROOMS + 1],
            None,
            ErrorKind::InvalidValue,
        ),
    ] {
        w.send(&host, open(plan, minutes));
        assert_eq!(error(&w.take(&host)), Some(kind));
    }
    assert!(w.moved.is_empty() && w.opened_breakouts.is_none());
    // Nothing open: nothing to close, visit or message.
    w.send(&host, ClientMessage::BreakoutClose {});
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
}

#[test]
fn people_go_to_their_rooms_and_come_back_to_their_places() {
    let mut w = World::with_limits(RoomLimits {
        breakout_countdown: std::time::Duration::from_secs(30),
        ..RoomLimits::default()
    });
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    let c = w.enter(&host, "Cy");
    let (ida, idb, idc) = (w.id(&a), w.id(&b), w.id(&c));
    w.clear();
    w.send(&host, open(vec![vec![ida, idb], vec![idc]], Some(10)));
    assert_eq!(w.opened_breakouts, Some(2));
    let moved: Vec<(u64, usize, Role)> = w
        .moved
        .iter()
        .map(|(c, r, _, role)| (c.0, *r, *role))
        .collect();
    assert_eq!(
        moved,
        vec![
            (a.conn.0, 0, Role::Participant),
            (b.conn.0, 0, Role::Participant),
            (c.conn.0, 1, Role::Participant)
        ]
    );
    assert_eq!(
        w.moved[0].2.identity,
        a.identity.public(),
        "who they are goes with them"
    );
    let seen = w.take(&host);
    assert_eq!(
        status(&seen),
        Some((vec![vec![ida, idb], vec![idc]], Some(600), None))
    );
    assert!(
        seen.iter()
            .any(|m| matches!(m, ServerMessage::Away { id, away: true } if *id == ida))
    );
    // Those away in rooms get nothing of the main meeting, and their place does not expire.
    w.send(&host, chat("main only"));
    assert!(chats(&w.take(&a)).is_empty());
    w.pass(std::time::Duration::from_secs(120));
    assert!(
        w.take(&host)
            .iter()
            .all(|m| !matches!(m, ServerMessage::ParticipantLeft { .. }))
    );

    // The host visits room 2 (a co-host could too), and messages every room.
    w.send(&host, ClientMessage::BreakoutVisit { room: 3 });
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
    w.send(
        &host,
        ClientMessage::BreakoutBroadcast {
            body: "sealed".into(),
        },
    );
    assert_eq!(
        w.to_breakouts,
        vec![ServerMessage::BreakoutBroadcast {
            body: "sealed".into()
        }]
    );
    w.send(
        &host,
        ClientMessage::BreakoutBroadcast {
            body: "x".repeat(5000),
        },
    );
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));

    // Ann comes back by herself: the same number, admitted, with the roster.
    back(&mut w, &a);
    let msgs = w.take(&a);
    assert!(
        msgs.iter()
            .any(|m| matches!(m, ServerMessage::Joined { you, .. } if *you == ida))
    );
    assert_eq!(
        status(&w.take(&host)).map(|s| s.0),
        Some(vec![vec![idb], vec![idc]])
    );

    // Closing: a countdown to every room, then the rooms close and whoever is in them comes
    // back (the hub moves them: here by hand).
    w.send(&host, ClientMessage::BreakoutClose {});
    assert!(
        w.to_breakouts
            .contains(&ServerMessage::BreakoutClosing { in_secs: 30 })
    );
    assert_eq!(status(&w.take(&host)).and_then(|s| s.2), Some(30));
    w.pass(std::time::Duration::from_secs(29));
    assert!(!w.breakouts_closed);
    w.pass(std::time::Duration::from_secs(2));
    assert!(w.breakouts_closed);
    assert_eq!(status(&w.take(&host)).map(|s| s.0), Some(vec![]));
    back(&mut w, &b);
    back(&mut w, &c);
    for (p, id) in [(&b, idb), (&c, idc)] {
        assert!(
            w.take(p)
                .iter()
                .any(|m| matches!(m, ServerMessage::Joined { you, .. } if *you == id))
        );
    }
    w.send(&host, chat("together"));
    assert_eq!(chats(&w.take(&c)), vec!["together".to_string()]);
    // Coming back from a room is not a reconnect: the budget of returns is untouched.
    for _ in 0..=parley_server::room::MAX_RESUMES {
        w.send(&host, open(vec![vec![idb]], None));
        w.take(&b);
        back(&mut w, &b);
        let msgs = w.take(&b);
        assert!(
            msgs.iter()
                .any(|m| matches!(m, ServerMessage::Joined { you, .. } if *you == idb)),
            "{msgs:?}"
        );
        w.send(&host, ClientMessage::BreakoutClose {});
        w.pass(std::time::Duration::from_secs(31));
    }
}

#[test]
fn a_participant_removed_while_in_a_room_cannot_come_back_and_time_ends_rooms() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let ida = w.id(&a);
    w.send(&host, open(vec![vec![ida]], Some(1)));
    w.clear();
    w.send(&host, ClientMessage::Remove { id: ida });
    // Told and closed (the hub finds the connection in the room it is in).
    assert!(matches!(goodbye(&w.take(&a)), Some(GoodbyeReason::Removed)));
    assert!(w.closed.contains(&a.conn));
    // Had the room sent them back first, they would have been turned away.
    let again = w.join_with("Ann", Identity::from_seed(&a.identity.seed()), None, None);
    assert_eq!(refused(&w.take(&again)), Some(ErrorKind::Banned));
    // Time up: the rooms close by themselves after the minute and the countdown.
    w.pass(std::time::Duration::from_secs(61));
    assert!(
        w.to_breakouts
            .iter()
            .any(|m| matches!(m, ServerMessage::BreakoutClosing { .. }))
    );
    w.pass(parley_server::room::BREAKOUT_COUNTDOWN);
    assert!(w.breakouts_closed);
}

#[test]
fn in_a_breakout_room_people_are_in_at_once_and_only_the_room_is_theirs() {
    let mut w = World::breakout_room();
    let a = w.moved_in("Ann", Role::Participant);
    let h = w.moved_in("Hana", Role::Host);
    let c = w.moved_in("Cleo", Role::Cohost);
    assert!(w.is_admitted(&a) && w.is_admitted(&h));
    assert_eq!(w.role_of(&a), Some(Role::Participant));
    assert_eq!(
        w.role_of(&h),
        Some(Role::Host),
        "a visiting host stays host"
    );
    assert_eq!(w.role_of(&c), Some(Role::Cohost));
    w.clear();
    for msg in [
        ClientMessage::End {},
        ClientMessage::Lock {},
        ClientMessage::BreakoutOpen {
            rooms: vec![vec![]],
            minutes: None,
        },
        ClientMessage::BreakoutClose {},
        ClientMessage::TransferHost { id: w.id(&a) },
    ] {
        w.send(&h, msg);
        assert_eq!(error(&w.take(&h)), Some(ErrorKind::NotPermitted));
    }
    w.send(&a, chat("in the room"));
    assert_eq!(chats(&w.take(&h)), vec!["in the room".to_string()]);
    // Leaving the room goes back to the main meeting; the others see them leave.
    w.send(&a, ClientMessage::BreakoutReturn {});
    assert_eq!(w.returned.len(), 1);
    assert_eq!(w.returned[0].0, a.conn);
    assert_eq!(w.returned[0].1.identity, a.identity.public());
    assert!(
        w.take(&h)
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft { .. }))
    );
}
