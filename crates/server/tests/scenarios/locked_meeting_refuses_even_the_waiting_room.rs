use parley_proto::{ClientMessage, ErrorKind, ServerMessage};

use crate::harness::*;

#[test]
fn locked_meeting_refuses_newcomers_until_unlocked() {
    let mut w = World::default();
    let host = w.host("Hana");
    let member = w.enter(&host, "Mia");
    w.take(&member);
    w.send(&host, ClientMessage::Lock {});
    assert!(
        w.take(&member)
            .contains(&ServerMessage::LockChanged { locked: true })
    );
    let guest = w.join("Gus");
    assert_eq!(refused(&w.take(&guest)), Some(ErrorKind::Locked));
    assert!(w.is_closed(&guest));
    assert_eq!(w.room.waiting_count(), 0, "not even the waiting room");
    w.send(&host, ClientMessage::Unlock {});
    let guest2 = w.join("Gus");
    assert!(matches!(
        &w.take(&guest2)[..],
        [ServerMessage::Waiting { .. }]
    ));
}

#[test]
fn only_hosts_and_cohosts_lock() {
    let mut w = World::default();
    let host = w.host("Hana");
    let member = w.enter(&host, "Mia");
    w.send(&member, ClientMessage::Lock {});
    assert_eq!(error(&w.take(&member)), Some(ErrorKind::NotPermitted));
    let guest = w.join("Gus");
    assert!(!w.is_closed(&guest), "the meeting stayed unlocked");
}
