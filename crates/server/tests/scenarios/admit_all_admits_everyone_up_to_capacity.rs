use parley_proto::{ClientMessage, ErrorKind, Policy};

use crate::harness::*;

#[test]
fn admit_all_admits_everyone() {
    let mut w = World::default();
    let host = w.host("Hana");
    let people: Vec<_> = ["A", "B", "C", "D"]
        .into_iter()
        .map(|n| w.join(n))
        .collect();
    w.send(&host, ClientMessage::AdmitAll {});
    assert!(people.iter().all(|p| w.is_admitted(p)));
    assert_eq!(w.room.member_count(), 5);
}

#[test]
fn capacity_stops_admission_and_the_host_is_told() {
    let policy = Policy {
        capacity: 3,
        ..Default::default()
    };
    let mut w = World::new(policy, None);
    let host = w.host("Hana");
    let people: Vec<_> = ["A", "B", "C"].into_iter().map(|n| w.join(n)).collect();
    w.take(&host);
    w.send(&host, ClientMessage::AdmitAll {});
    assert_eq!(w.room.member_count(), 3);
    assert_eq!(people.iter().filter(|p| w.is_admitted(p)).count(), 2);
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::Full));
    assert_eq!(w.room.waiting_count(), 1, "the third still waits");
}

#[test]
fn capacity_refuses_direct_entry_when_waiting_room_is_off() {
    let policy = Policy {
        capacity: 2,
        waiting_room: false,
        ..Default::default()
    };
    let mut w = World::new(policy, None);
    let _host = w.host("Hana");
    let _a = w.join("A");
    let b = w.join("B");
    assert_eq!(refused(&w.take(&b)), Some(ErrorKind::Full));
}

#[test]
fn bulk_admission_sends_each_roster_chunk_once_for_all_newcomers() {
    use parley_proto::ServerMessage;
    use parley_proto::message::ROSTER_CHUNK;
    let mut w = World::default();
    let host = w.host("Hana");
    let names: Vec<&'static str> = (0..150)
        .map(|i| &*Box::leak(format!("P{i}").into_boxed_str()))
        .collect();
    let people: Vec<_> = names.iter().map(|n| w.join(n)).collect();
    w.clear();
    let outs = w.room.handle(
        w.now,
        parley_server::room::Input::Message {
            conn: host.conn,
            msg: ClientMessage::AdmitAll {},
        },
    );
    let roster_broadcasts = outs
        .iter()
        .filter(|o| matches!(o, parley_server::room::Output::Broadcast { msg: ServerMessage::ParticipantsJoined { announce: false, .. }, to } if to.len() == 150))
        .count();
    assert_eq!(
        roster_broadcasts,
        151usize.div_ceil(ROSTER_CHUNK),
        "one broadcast per chunk, not per person"
    );
    assert!(outs.len() < 150 * 4, "O(N) outputs: {}", outs.len());
    assert_eq!(w.room.member_count(), 151);
    drop(people);
}
