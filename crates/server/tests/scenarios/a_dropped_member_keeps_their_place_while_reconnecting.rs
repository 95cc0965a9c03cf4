use std::time::Duration;

use parley_proto::{ClientMessage, ErrorKind, LeaveReason, PolicyChange, Role, ServerMessage};
use parley_server::room::{MAX_RESUMES, RECONNECT_GRACE, RESUME_WINDOW};

use crate::harness::*;

fn away(msgs: &[ServerMessage]) -> Vec<(u32, bool)> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMessage::Away { id, away } => Some((id.0, *away)),
            _ => None,
        })
        .collect()
}

fn left(msgs: &[ServerMessage]) -> Vec<(u32, LeaveReason)> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMessage::ParticipantLeft { id, reason, .. } => Some((id.0, *reason)),
            _ => None,
        })
        .collect()
}

fn joined_as(msgs: &[ServerMessage]) -> Option<(u32, Role)> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::Joined { you, role, .. } => Some((you.0, *role)),
        _ => None,
    })
}

#[test]
fn a_member_whose_connection_drops_comes_back_in_the_same_place_without_waiting() {
    let mut w = World::default();
    let host = w.host("Hana");
    let ann = w.enter(&host, "Ann");
    let id = w.id(&ann);
    w.clear();
    w.drop_conn(&ann);
    let seen = w.take(&host);
    assert_eq!(away(&seen), vec![(id.0, true)], "{seen:?}");
    assert!(left(&seen).is_empty(), "she has not left: {seen:?}");
    // Time passes, short of the grace: she is still there.
    w.pass(RECONNECT_GRACE - Duration::from_secs(1));
    assert!(left(&w.take(&host)).is_empty());
    // Back on a new connection (the waiting room is on): the same number, straight in.
    let back = w.rejoin(&ann, None);
    let got = w.take(&back);
    assert_eq!(joined_as(&got), Some((id.0, Role::Participant)), "{got:?}");
    let seen = w.take(&host);
    assert_eq!(away(&seen), vec![(id.0, false)]);
    assert!(
        !seen.iter().any(|m| matches!(
            m,
            ServerMessage::ParticipantsJoined { .. } | ServerMessage::WaitingJoined { .. }
        )),
        "nobody new arrived: {seen:?}"
    );
    // Everyone reaches her new connection.
    w.send(&host, ClientMessage::MuteAll {});
    assert!(
        w.take(&back)
            .iter()
            .any(|m| matches!(m, ServerMessage::AllMuted { .. }))
    );
    // And the grace running out later changes nothing.
    w.pass(RECONNECT_GRACE * 2);
    assert!(left(&w.take(&host)).is_empty());
}

#[test]
fn a_member_who_does_not_come_back_in_time_leaves_and_must_knock_again() {
    let mut w = World::default();
    let host = w.host("Hana");
    let ann = w.enter(&host, "Ann");
    let id = w.id(&ann);
    w.drop_conn(&ann);
    w.clear();
    w.pass(RECONNECT_GRACE);
    assert_eq!(
        left(&w.take(&host)),
        vec![(id.0, LeaveReason::Disconnected)]
    );
    let late = w.rejoin(&ann, None);
    let got = w.take(&late);
    assert!(
        got.iter()
            .any(|m| matches!(m, ServerMessage::Waiting { .. })),
        "her place is gone: she waits like anyone new; got {got:?}"
    );
}

#[test]
fn a_meeting_locked_while_a_member_was_away_still_lets_them_back() {
    let mut w = World::default();
    let host = w.host("Hana");
    let ann = w.enter(&host, "Ann");
    w.drop_conn(&ann);
    w.send(&host, ClientMessage::Lock {});
    let back = w.rejoin(&ann, None);
    assert!(w.is_admitted(&back), "{:?}", w.take(&back));
    // A stranger is still refused.
    let stranger = w.join("Mallory");
    assert_eq!(refused(&w.take(&stranger)), Some(ErrorKind::Locked));
}

#[test]
fn a_hard_mute_holds_across_a_reconnect() {
    let mut w = World::default();
    let host = w.host("Hana");
    w.send(
        &host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                unmute_self: Some(false),
                ..Default::default()
            },
        },
    );
    let pete = w.enter(&host, "Pete");
    w.send(&host, ClientMessage::MuteAll {});
    assert!(w.audio_blocked.contains(&pete.conn));
    w.drop_conn(&pete);
    let back = w.rejoin(&pete, None);
    assert!(
        w.audio_blocked.contains(&back.conn),
        "the SFU drops the new connection's audio too"
    );
    w.take(&back);
    w.send(&back, ClientMessage::SetMuted { muted: false });
    assert_eq!(error(&w.take(&back)), Some(ErrorKind::DisabledByHost));
}

#[test]
fn a_host_who_drops_is_not_replaced_while_away_and_comes_back_as_host() {
    let mut w = World::default();
    let host = w.host("Hana");
    let cohost = w.enter(&host, "Cora");
    w.send(&host, ClientMessage::MakeCohost { id: w.id(&cohost) });
    let hid = w.id(&host);
    w.clear();
    w.drop_conn(&host);
    w.pass(Duration::from_secs(5));
    let seen = w.take(&cohost);
    assert!(
        !seen.iter().any(|m| matches!(
            m,
            ServerMessage::RoleChanged {
                role: Role::Host,
                ..
            }
        )),
        "nobody is promoted while the host may come back: {seen:?}"
    );
    let back = w.rejoin_host(&host);
    assert_eq!(joined_as(&w.take(&back)), Some((hid.0, Role::Host)));
    assert!(left(&w.take(&cohost)).is_empty(), "the host never left");

    // Gone for good this time: the co-host takes over when the grace runs out.
    w.drop_conn(&back);
    w.clear();
    w.pass(RECONNECT_GRACE);
    let seen = w.take(&cohost);
    assert!(
        seen.iter().any(|m| matches!(
            m,
            ServerMessage::RoleChanged { id, role: Role::Host } if *id == w.id(&cohost)
        )),
        "{seen:?}"
    );
}

fn waiting(msgs: &[ServerMessage]) -> bool {
    msgs.iter()
        .any(|m| matches!(m, ServerMessage::Waiting { .. }))
}

#[test]
fn someone_waiting_whose_connection_drops_keeps_their_place_in_the_queue() {
    let mut w = World::default();
    let host = w.host("Hana");
    let wes = w.join("Wes");
    let id = w.waiting_id(&host, "Wes");
    let _zoe = w.join("Zoe");
    w.clear();
    w.drop_conn(&wes);
    w.pass(RECONNECT_GRACE - Duration::from_secs(1));
    let seen = w.take(&host);
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m, ServerMessage::WaitingLeft { .. })),
        "the host still sees Wes waiting: {seen:?}"
    );
    // Back, even though the meeting was locked meanwhile (he was in the queue already).
    w.send(&host, ClientMessage::Lock {});
    let back = w.rejoin(&wes, None);
    assert!(waiting(&w.take(&back)), "Wes waits again");
    let seen = w.take(&host);
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m, ServerMessage::WaitingJoined { .. })),
        "not a new knock: {seen:?}"
    );
    // In the same place: admitting his number lets the new connection in.
    w.send(&host, ClientMessage::Admit { id });
    let got = w.take(&back);
    assert_eq!(joined_as(&got), Some((id.0, Role::Participant)), "{got:?}");
}

#[test]
fn someone_admitted_while_their_connection_was_down_comes_back_admitted() {
    let mut w = World::default();
    let host = w.host("Hana");
    let wes = w.join("Wes");
    let id = w.waiting_id(&host, "Wes");
    w.drop_conn(&wes);
    w.clear();
    w.send(&host, ClientMessage::Admit { id });
    let seen = w.take(&host);
    assert!(
        seen.iter().any(|m| matches!(
            m,
            ServerMessage::ParticipantsJoined { participants, .. }
                if participants.iter().any(|p| p.id == id && p.away)
        )),
        "admitted, shown as away: {seen:?}"
    );
    let back = w.rejoin(&wes, None);
    let got = w.take(&back);
    assert_eq!(joined_as(&got), Some((id.0, Role::Participant)), "{got:?}");
    assert!(!waiting(&got), "straight in: {got:?}");
    assert_eq!(away(&w.take(&host)), vec![(id.0, false)]);
}

#[test]
fn someone_waiting_who_does_not_come_back_in_time_leaves_the_waiting_room() {
    let mut w = World::default();
    let host = w.host("Hana");
    let wes = w.join("Wes");
    let id = w.waiting_id(&host, "Wes");
    w.drop_conn(&wes);
    w.clear();
    w.pass(RECONNECT_GRACE);
    assert!(
        w.take(&host)
            .contains(&ServerMessage::WaitingLeft { ids: vec![id] }),
        "the host no longer sees Wes waiting"
    );
    // Later he is someone new: a new number, and a knock the host sees.
    let late = w.rejoin(&wes, None);
    assert!(waiting(&w.take(&late)));
    assert_ne!(w.waiting_id(&host, "Wes"), id);
}

#[test]
fn a_goodbye_is_a_leave_at_once() {
    let mut w = World::default();
    let host = w.host("Hana");
    let ann = w.enter(&host, "Ann");
    let id = w.id(&ann);
    w.clear();
    w.disconnect(&ann);
    let seen = w.take(&host);
    assert_eq!(left(&seen), vec![(id.0, LeaveReason::Disconnected)]);
    assert!(away(&seen).is_empty());
}

#[test]
fn a_member_who_keeps_coming_back_is_turned_away_for_a_while_and_keeps_their_place() {
    let mut w = World::default();
    let host = w.host("Hana");
    let ann = w.enter(&host, "Ann");
    let mut last = ann;
    for _ in 0..MAX_RESUMES {
        w.drop_conn(&last);
        last = w.rejoin(&last, None);
        assert!(w.is_admitted(&last));
    }
    w.drop_conn(&last);
    w.clear();
    let again = w.rejoin(&last, None);
    let got = w.take(&again);
    assert_eq!(refused(&got), Some(ErrorKind::ServerBusy), "{got:?}");
    assert!(got.iter().any(|m| matches!(
        m,
        ServerMessage::Refused { retry_after_ms: Some(ms), .. } if *ms > 0
    )));
    assert!(w.take(&host).is_empty(), "nobody else heard of it");
    // Coming back now and then is never refused: at most a few in any minute.
    let mut w = World::default();
    let host = w.host("Hana");
    let mut bo = w.enter(&host, "Bo");
    let id = w.id(&bo);
    for _ in 0..3 * MAX_RESUMES {
        w.now += RESUME_WINDOW / 4;
        w.drop_conn(&bo);
        bo = w.rejoin(&bo, None);
        assert!(w.is_admitted(&bo), "{:?}", w.take(&bo));
        assert_eq!(w.id(&bo), id);
    }
}
