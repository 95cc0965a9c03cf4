use parley_proto::{ClientMessage, ErrorKind, GoodbyeReason, HostSecret, Identity, Role};

use crate::harness::*;

#[test]
fn host_reclaims_after_a_drop_and_the_stand_in_steps_back() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    w.disconnect(&host);
    assert_eq!(w.role_of(&p), Some(Role::Host));
    let back = w.host("Hana");
    assert_eq!(w.role_of(&back), Some(Role::Host));
    assert_eq!(
        w.role_of(&p),
        Some(Role::Cohost),
        "the stand-in becomes co-host"
    );
}

#[test]
fn reclaiming_replaces_a_stale_host_session() {
    let mut w = World::default();
    let stale = w.host("Hana");
    let fresh = w.host("Hana");
    assert_eq!(goodbye(&w.take(&stale)), Some(GoodbyeReason::Replaced));
    assert!(w.is_closed(&stale));
    assert_eq!(w.role_of(&fresh), Some(Role::Host));
    assert_eq!(w.room.member_count(), 1);
}

#[test]
fn a_wrong_host_secret_is_refused() {
    let mut w = World::default();
    let _host = w.host("Hana");
    let thief = w.join_with(
        "Thief",
        Identity::generate(),
        None,
        Some(HostSecret::random()),
    );
    assert_eq!(refused(&w.take(&thief)), Some(ErrorKind::NotPermitted));
    assert!(w.is_closed(&thief));
}

#[test]
fn the_host_secret_bypasses_lock_and_waiting_room() {
    let mut w = World::default();
    let host = w.host("Hana");
    w.send(&host, ClientMessage::Lock {});
    w.disconnect(&host);
    let back = w.host("Hana");
    assert_eq!(w.role_of(&back), Some(Role::Host));
}
