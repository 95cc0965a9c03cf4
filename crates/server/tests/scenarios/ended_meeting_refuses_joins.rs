use parley_proto::{ClientMessage, ErrorKind, GoodbyeReason};

use crate::harness::*;

#[test]
fn end_for_all_closes_everyone_and_refuses_later_joins() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let waiter = w.join("Walt");
    w.clear();
    w.send(&host, ClientMessage::End {});
    for p in [&host, &a, &waiter] {
        assert_eq!(goodbye(&w.take(p)), Some(GoodbyeReason::MeetingEnded));
        assert!(w.is_closed(p));
    }
    assert!(w.ended && w.room.is_ended());
    let late = w.join("Late");
    assert_eq!(refused(&w.take(&late)), Some(ErrorKind::MeetingEnded));
    let host_again = w.join_with(
        "Hana",
        parley_proto::Identity::generate(),
        None,
        Some(w.secret.clone()),
    );
    assert_eq!(refused(&w.take(&host_again)), Some(ErrorKind::MeetingEnded));
}

#[test]
fn leaving_says_goodbye_and_others_are_told() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.clear();
    w.send(&a, ClientMessage::Leave {});
    assert_eq!(goodbye(&w.take(&a)), Some(GoodbyeReason::Left));
    assert!(w.take(&host).iter().any(|m| matches!(
        m,
        parley_proto::ServerMessage::ParticipantLeft {
            reason: parley_proto::LeaveReason::Left,
            ..
        }
    )));
    assert_eq!(w.room.member_count(), 1);
}

#[test]
fn the_same_person_on_a_new_connection_replaces_the_old_one() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let id = w.id(&a);
    let a2 = w.rejoin(&a, None);
    assert_eq!(goodbye(&w.take(&a)), Some(GoodbyeReason::Replaced));
    assert!(w.is_admitted(&a2), "reconnecting keeps the admitted place");
    assert_eq!(w.id(&a2), id);
    assert_eq!(w.room.member_count(), 2);
}
