use parley_proto::{ClientMessage, ErrorKind, GoodbyeReason, LeaveReason, ServerMessage};

use crate::harness::*;

#[test]
fn removed_participant_is_gone_and_cannot_rejoin() {
    let mut w = World::default();
    let host = w.host("Hana");
    let bomber = w.enter(&host, "Bomber");
    let other = w.enter(&host, "Olga");
    let id = w.id(&bomber);
    w.clear();
    w.send(&host, ClientMessage::Remove { id });
    assert_eq!(goodbye(&w.take(&bomber)), Some(GoodbyeReason::Removed));
    assert!(w.is_closed(&bomber));
    assert!(w.take(&other).contains(&ServerMessage::ParticipantLeft {
        id,
        reason: LeaveReason::Removed,
        announce: true
    }));
    w.take(&host);
    // Same identity key, new connection: refused, not even the waiting room.
    let again = w.rejoin(&bomber, None);
    assert_eq!(refused(&w.take(&again)), Some(ErrorKind::Banned));
    assert_eq!(w.room.waiting_count(), 0);
    assert!(w.take(&host).is_empty(), "the host is not bothered again");
}

#[test]
fn a_new_key_is_a_new_person_who_must_pass_the_waiting_room() {
    let mut w = World::default();
    let host = w.host("Hana");
    let bomber = w.enter(&host, "Bomber");
    let id = w.id(&bomber);
    w.send(&host, ClientMessage::Remove { id });
    let fresh = w.join("Bomber");
    assert!(matches!(
        &w.take(&fresh)[..],
        [ServerMessage::Waiting { .. }]
    ));
    assert!(!w.is_admitted(&fresh));
}

#[test]
fn participants_and_cohosts_cannot_remove_their_equals_or_betters() {
    let mut w = World::default();
    let host = w.host("Hana");
    let co = w.enter(&host, "Cora");
    let p = w.enter(&host, "Pete");
    let q = w.enter(&host, "Quin");
    w.send(&host, ClientMessage::MakeCohost { id: w.id(&co) });
    w.take(&p);
    w.send(&p, ClientMessage::Remove { id: w.id(&q) });
    assert_eq!(error(&w.take(&p)), Some(ErrorKind::NotPermitted));
    w.take(&co);
    w.send(&co, ClientMessage::Remove { id: w.id(&host) });
    assert_eq!(error(&w.take(&co)), Some(ErrorKind::NotPermitted));
    assert!(!w.is_closed(&host));
    // A co-host may remove a participant.
    w.send(&co, ClientMessage::Remove { id: w.id(&q) });
    assert!(w.is_closed(&q));
}
