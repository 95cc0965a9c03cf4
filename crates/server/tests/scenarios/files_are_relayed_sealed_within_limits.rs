use parley_proto::message::{FILE_CHUNK_BYTES, MAX_FILE_CHUNK_CHARS, MAX_SENDING_FILES};
use parley_proto::{ClientMessage, ErrorKind, PolicyChange, ServerMessage, TransferId};

use parley_server::room::RoomLimits;

use crate::harness::*;

fn files_on(w: &mut World, host: &Person, on: bool) {
    w.send(
        host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                file_transfer: Some(on),
                ..Default::default()
            },
        },
    );
}

fn offer(size: u64, to: Option<parley_proto::ParticipantId>) -> ClientMessage {
    ClientMessage::FileOffer {
        to,
        size,
        body: "sealed-name".into(),
    }
}

fn offered(msgs: &[ServerMessage]) -> Option<TransferId> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::FileOffer { transfer, .. } => Some(*transfer),
        _ => None,
    })
}

fn chunk(transfer: TransferId) -> ClientMessage {
    ClientMessage::FileChunk {
        transfer,
        body: "sealed-part".into(),
    }
}

fn chunks(msgs: &[ServerMessage]) -> usize {
    msgs.iter()
        .filter(|m| matches!(m, ServerMessage::FileChunk { .. }))
        .count()
}

fn cancelled(msgs: &[ServerMessage], t: TransferId) -> bool {
    msgs.iter()
        .any(|m| matches!(m, ServerMessage::FileCancelled { transfer } if *transfer == t))
}

#[test]
fn a_file_goes_to_its_recipients_in_as_many_parts_as_its_size_needs() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    files_on(&mut w, &host, true);
    w.clear();
    // Two and a half parts' worth: three parts.
    w.send(&a, offer(FILE_CHUNK_BYTES * 5 / 2, None));
    let t = offered(&w.take(&a)).expect("the sender learns the number");
    assert_eq!(offered(&w.take(&b)), Some(t));
    assert_eq!(offered(&w.take(&host)), Some(t));
    for _ in 0..3 {
        w.send(&a, chunk(t));
    }
    assert_eq!(chunks(&w.take(&b)), 3);
    assert_eq!(chunks(&w.take(&a)), 0, "not echoed to the sender");
    // A fourth is one too many: the transfer is over.
    w.send(&a, chunk(t));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::NoSuchTransfer));
    assert_eq!(chunks(&w.take(&b)), 0);

    // A file to one person reaches only them.
    w.clear();
    w.send(&a, offer(10, Some(w.id(&b))));
    let t = offered(&w.take(&a)).unwrap();
    w.send(&a, chunk(t));
    assert_eq!(chunks(&w.take(&b)), 1);
    assert!(w.take(&host).is_empty());
}

#[test]
fn files_are_bounded_and_only_their_sender_sends_their_parts() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    files_on(&mut w, &host, true);
    w.clear();
    w.send(&a, offer(16 << 20 | 1, None));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::FileTooLarge));
    assert!(offered(&w.take(&b)).is_none());
    w.send(&a, offer(10, Some(w.id(&a))));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::NoSuchParticipant));
    // A file to everyone counts once per recipient: 3 others × 1 GiB is too much even where
    // one file of 1 GiB would be taken.
    let mut generous = World::with_limits(RoomLimits {
        max_file_bytes: 1 << 30,
        ..RoomLimits::default()
    });
    let h = generous.host("Hana");
    let x = generous.enter(&h, "Xu");
    generous.enter(&h, "Yo");
    generous.enter(&h, "Zia");
    files_on(&mut generous, &h, true);
    generous.clear();
    generous.send(&x, offer(1 << 30, None));
    assert_eq!(error(&generous.take(&x)), Some(ErrorKind::FileTooLarge));
    generous.send(&x, offer(1 << 30, Some(generous.id(&h))));
    assert!(
        offered(&generous.take(&x)).is_some(),
        "to one person it goes"
    );

    let mut mine = Vec::new();
    for _ in 0..MAX_SENDING_FILES {
        w.send(&a, offer(FILE_CHUNK_BYTES * 4, None));
        mine.push(offered(&w.take(&a)).unwrap());
    }
    w.send(&a, offer(10, None));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::TooManyTransfers));
    w.clear();
    // Someone else cannot send parts of Ann's file; an oversized part is refused.
    w.send(&b, chunk(mine[0]));
    assert_eq!(error(&w.take(&b)), Some(ErrorKind::NoSuchTransfer));
    w.send(
        &a,
        ClientMessage::FileChunk {
            transfer: mine[0],
            body: "x".repeat(MAX_FILE_CHUNK_CHARS + 1),
        },
    );
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::InvalidValue));
    assert_eq!(chunks(&w.take(&host)), 0);

    // Cancelling frees a place, and the recipients are told.
    w.send(&a, ClientMessage::FileCancel { transfer: mine[0] });
    assert!(cancelled(&w.take(&b), mine[0]));
    assert!(cancelled(&w.take(&a), mine[0]));
    w.send(&a, offer(10, None));
    assert!(offered(&w.take(&a)).is_some());
}

#[test]
fn switching_file_transfer_off_or_leaving_stops_files_on_their_way() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    files_on(&mut w, &host, true);
    w.clear();
    w.send(&a, offer(FILE_CHUNK_BYTES * 3, None));
    let t = offered(&w.take(&a)).unwrap();
    w.take(&b);
    files_on(&mut w, &host, false);
    assert!(cancelled(&w.take(&b), t));
    assert!(cancelled(&w.take(&a), t));
    w.send(&a, chunk(t));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::NoSuchTransfer));

    files_on(&mut w, &host, true);
    w.clear();
    w.send(&a, offer(FILE_CHUNK_BYTES * 3, None));
    let t = offered(&w.take(&a)).unwrap();
    w.send(&a, ClientMessage::Leave {});
    assert!(cancelled(&w.take(&b), t), "the sender left");
}
