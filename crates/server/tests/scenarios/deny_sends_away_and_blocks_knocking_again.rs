use parley_proto::{ClientMessage, ErrorKind, GoodbyeReason};

use crate::harness::*;

#[test]
fn denied_person_is_told_and_cannot_knock_again() {
    let mut w = World::default();
    let host = w.host("Hana");
    let guest = w.join("Gus");
    let id = w.waiting_id(&host, "Gus");
    w.send(&host, ClientMessage::Deny { id });
    assert_eq!(goodbye(&w.take(&guest)), Some(GoodbyeReason::Denied));
    assert!(w.is_closed(&guest));
    let again = w.rejoin(&guest, None);
    assert_eq!(refused(&w.take(&again)), Some(ErrorKind::Banned));
    assert!(w.room.waiting_count() == 0);
}
