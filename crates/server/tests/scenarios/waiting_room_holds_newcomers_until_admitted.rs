use parley_proto::{ClientMessage, ServerMessage};

use crate::harness::*;

#[test]
fn newcomer_waits_and_host_is_told() {
    let mut w = World::default();
    let host = w.host("Hana");
    w.take(&host);
    let guest = w.join("Gus");
    let msgs = w.take(&guest);
    assert!(
        matches!(&msgs[..], [ServerMessage::Waiting { host_present: true, title, recording: false }] if title.as_str() == "Works council"),
        "{msgs:?}"
    );
    assert!(!w.is_admitted(&guest));
    let id = w.waiting_id(&host, "Gus");
    w.send(&host, ClientMessage::Admit { id });
    let msgs = w.take(&guest);
    match &msgs[..] {
        [
            ServerMessage::Joined { you, waiting, .. },
            ServerMessage::ParticipantsJoined {
                participants,
                announce: false,
            },
        ] => {
            assert_eq!(*you, id, "the waiting id is kept on admission");
            assert_eq!(participants.len(), 2, "the roster follows: host and self");
            assert!(
                waiting.is_empty(),
                "participants do not see the waiting list"
            );
        }
        other => panic!("{other:?}"),
    }
    let host_msgs = w.take(&host);
    assert!(host_msgs.contains(&ServerMessage::WaitingLeft { ids: vec![id] }));
    assert!(host_msgs.iter().any(|m| matches!(m, ServerMessage::ParticipantsJoined { participants, announce: true } if participants[0].id == id)));
}

#[test]
fn waiting_person_learns_when_no_host_is_present() {
    let mut w = World::default();
    let guest = w.join("Gus");
    assert!(matches!(
        &w.take(&guest)[..],
        [ServerMessage::Waiting {
            host_present: false,
            ..
        }]
    ));
    // When the host arrives, the waiting list is in their Joined message.
    let host = w.host("Hana");
    let id = w.waiting_id(&host, "Gus");
    w.send(&host, ClientMessage::Admit { id });
    assert!(w.is_admitted(&guest));
}

#[test]
fn without_waiting_room_people_enter_directly() {
    let policy = parley_proto::Policy {
        waiting_room: false,
        ..Default::default()
    };
    let mut w = World::new(policy, None);
    let _host = w.host("Hana");
    let guest = w.join("Gus");
    assert!(w.is_admitted(&guest));
}

#[test]
fn turning_the_waiting_room_off_admits_whoever_waits() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.join("Ann");
    let b = w.join("Bob");
    w.send(
        &host,
        ClientMessage::SetPolicy {
            change: parley_proto::PolicyChange {
                waiting_room: Some(false),
                ..Default::default()
            },
        },
    );
    assert!(w.is_admitted(&a) && w.is_admitted(&b));
}
