//! A participant tells the server whose video it shows; the SFU is told to forward only that.
//! Waiting people cannot ask, lists are bounded, and `null` means everyone again. The tiles'
//! heights (which simulcast layer fits) go along, within bounds.

use parley_proto::message::MAX_TILE_HEIGHT;
use parley_proto::{ClientMessage, ErrorKind, ParticipantId, TileHeight};

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
            height: Some(180),
            heights: vec![TileHeight {
                id: b_id,
                height: 720,
            }],
        },
    );
    assert!(error(&w.take(&a)).is_none());
    let mut want = vec![host_id, b_id];
    want.sort();
    assert_eq!(w.video_from.get(&a.conn), Some(&Some(want)));
    let heights = &w.tile_heights[&a.conn];
    assert_eq!(heights.of(b_id), Some(720));
    assert_eq!(heights.of(host_id), Some(180));
    // Everyone's again, as large as sent.
    w.send(&a, receive_everyone());
    assert_eq!(w.video_from.get(&a.conn), Some(&None));
    assert_eq!(w.tile_heights[&a.conn].of(b_id), None);
    // Nobody else's choice changed.
    assert!(!w.video_from.contains_key(&b.conn));
}

#[test]
fn waiting_people_cannot_ask_and_lists_are_bounded() {
    let mut w = World::default();
    let host = w.host("Hana");
    let waiter = w.join("Walt");
    w.take(&waiter);
    w.send(&waiter, receive_everyone());
    assert_eq!(error(&w.take(&waiter)), Some(ErrorKind::NotAdmitted));
    assert!(w.video_from.is_empty());
    let too_many = (1..=300).map(ParticipantId).collect();
    w.send(
        &host,
        ClientMessage::ReceiveVideo {
            from: Some(too_many),
            height: None,
            heights: Vec::new(),
        },
    );
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
    assert!(w.video_from.is_empty());
    // Heights of 0, above 8K, or too many of them are refused alike.
    let id = ParticipantId(1);
    for (height, heights) in [
        (Some(0), Vec::new()),
        (Some(MAX_TILE_HEIGHT + 1), Vec::new()),
        (None, vec![TileHeight { id, height: 0 }]),
        (None, vec![TileHeight { id, height: 360 }; 257]),
    ] {
        w.send(
            &host,
            ClientMessage::ReceiveVideo {
                from: None,
                height,
                heights,
            },
        );
        assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
    }
    assert!(w.video_from.is_empty());
    assert!(w.tile_heights.is_empty());
}

fn receive_everyone() -> ClientMessage {
    ClientMessage::ReceiveVideo {
        from: None,
        height: None,
        heights: Vec::new(),
    }
}
