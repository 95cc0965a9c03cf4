use parley_proto::{ClientMessage, Policy, Role, ServerMessage};

use crate::harness::*;

#[test]
fn cohost_takes_over_when_the_host_drops() {
    let mut w = World::default();
    let host = w.host("Hana");
    let early = w.enter(&host, "Early");
    let co = w.enter(&host, "Cora");
    w.send(&host, ClientMessage::MakeCohost { id: w.id(&co) });
    w.disconnect(&host);
    assert_eq!(w.role_of(&co), Some(Role::Host));
    assert_eq!(
        w.role_of(&early),
        Some(Role::Participant),
        "the co-host wins over seniority"
    );
    // The new host can admit from the waiting room.
    let guest = w.join("Gus");
    w.admit(&co, &guest);
}

#[test]
fn longest_present_participant_takes_over_with_auto_promote() {
    let mut w = World::default();
    let host = w.host("Hana");
    let first = w.enter(&host, "First");
    let second = w.enter(&host, "Second");
    let waiting = w.join("Gus");
    w.disconnect(&host);
    assert_eq!(w.role_of(&first), Some(Role::Host));
    assert_eq!(w.role_of(&second), Some(Role::Participant));
    // The promoted host is shown who is already waiting, and can admit them.
    w.admit(&first, &waiting);
}

#[test]
fn without_auto_promote_nobody_is_promoted_and_waiters_are_told() {
    let policy = Policy {
        auto_promote: false,
        ..Default::default()
    };
    let mut w = World::new(policy, None);
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    w.disconnect(&host);
    assert_eq!(w.role_of(&p), Some(Role::Participant));
    let guest = w.join("Gus");
    assert!(matches!(
        &w.take(&guest)[..],
        [ServerMessage::Waiting {
            host_present: false,
            ..
        }]
    ));
    // The host comes back with the secret and admits.
    let back = w.host("Hana");
    w.admit(&back, &guest);
}
