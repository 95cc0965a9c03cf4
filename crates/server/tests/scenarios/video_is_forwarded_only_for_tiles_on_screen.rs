//! A participant tells the server whose video it shows; the SFU is told to forward only that.
//! Waiting people cannot ask, lists are bounded, and `null` means everyone again.

use parley_proto::{ClientMessage, ErrorKind, ParticipantId};

use crate::harness::*;

#[test]
fn an_admitted_participant_chooses_whose_video_it_receives() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    let (host_id, b_id) = (w.id(&host), w.id(&b));
    w.clear();
    // Ann shows Bob and the host twice over (a list with repeats is cleaned).
    w.send(
        &a,
        ClientMessage::ReceiveVideo {
            from: Some(vec![b_id, host_id, b_id]),
        },
    );
    assert!(error(&w.take(&a)).is_none());
    let mut want = vec![host_id, b_id];
    want.sort();
    assert_eq!(w.video_from.get(&a.conn), Some(&Some(want)));
    // Everyone's again.
    w.send(&a, ClientMessage::ReceiveVideo { from: None });
    assert_eq!(w.video_from.get(&a.conn), Some(&None));
    // Nobody else's choice changed.
    assert!(!w.video_from.contains_key(&b.conn));
}

#[test]
fn waiting_people_cannot_ask_and_lists_are_bounded() {
    let mut w = World::default();
    let host = w.host("Hana");
    let waiter = w.join("Walt");
    w.take(&waiter);
    w.send(&waiter, ClientMessage::ReceiveVideo { from: None });
    assert_eq!(error(&w.take(&waiter)), Some(ErrorKind::NotAdmitted));
    assert!(w.video_from.is_empty());
    let too_many = (1..=300).map(ParticipantId).collect();
    w.send(
        &host,
        ClientMessage::ReceiveVideo {
            from: Some(too_many),
        },
    );
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
    assert!(w.video_from.is_empty());
}
