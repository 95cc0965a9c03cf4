use parley_proto::message::{MAX_MEETING_NOTES_CHARS, MAX_NOTES_BODY_CHARS};
use parley_proto::{ClientMessage, ErrorKind, ParticipantId, PolicyChange, ServerMessage};

use crate::harness::*;

fn update(body: &str) -> ClientMessage {
    ClientMessage::NotesUpdate { body: body.into() }
}

fn updates(msgs: &[ServerMessage]) -> Vec<(ParticipantId, String)> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMessage::NotesUpdate { from, body } => Some((*from, body.clone())),
            _ => None,
        })
        .collect()
}

fn syncs(msgs: &[ServerMessage]) -> Vec<(ParticipantId, String)> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMessage::NotesSync { from, body } => Some((*from, body.clone())),
            _ => None,
        })
        .collect()
}

fn lock(on: bool) -> ClientMessage {
    ClientMessage::SetPolicy {
        change: PolicyChange {
            notes_locked: Some(on),
            ..Default::default()
        },
    }
}

#[test]
fn a_change_reaches_everyone_else_and_a_sync_only_its_addressee() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    w.clear();
    w.send(&a, update("sealed-change"));
    let from_a = vec![(w.id(&a), "sealed-change".to_string())];
    assert_eq!(updates(&w.take(&host)), from_a);
    assert_eq!(updates(&w.take(&b)), from_a);
    assert!(updates(&w.take(&a)).is_empty(), "not echoed to its sender");

    let to = w.id(&b);
    w.send(
        &a,
        ClientMessage::NotesSync {
            to,
            body: "sealed-state".into(),
        },
    );
    assert_eq!(
        syncs(&w.take(&b)),
        vec![(w.id(&a), "sealed-state".to_string())]
    );
    assert!(
        syncs(&w.take(&host)).is_empty(),
        "only its addressee gets a sync"
    );

    // To nobody, to oneself, empty or oversized: refused, and nothing is relayed.
    for (msg, kind) in [
        (
            ClientMessage::NotesSync {
                to: ParticipantId(999),
                body: "x".into(),
            },
            ErrorKind::NoSuchParticipant,
        ),
        (
            ClientMessage::NotesSync {
                to: w.id(&a),
                body: "x".into(),
            },
            ErrorKind::InvalidValue,
        ),
        (update(""), ErrorKind::InvalidValue),
        (
            update(&"x".repeat(MAX_NOTES_BODY_CHARS + 1)),
            ErrorKind::InvalidValue,
        ),
    ] {
        w.send(&a, msg);
        assert_eq!(error(&w.take(&a)), Some(kind));
        assert!(updates(&w.take(&b)).is_empty() && syncs(&w.take(&host)).is_empty());
    }
}

#[test]
fn locked_notes_take_changes_only_from_hosts_and_cohosts() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let c = w.enter(&host, "Cleo");
    w.send(&host, ClientMessage::MakeCohost { id: w.id(&c) });
    w.send(&host, lock(true));
    w.clear();
    w.send(&a, update("from-ann"));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::DisabledByHost));
    assert!(updates(&w.take(&host)).is_empty());
    w.send(&c, update("from-cleo"));
    assert_eq!(
        updates(&w.take(&a)),
        vec![(w.id(&c), "from-cleo".to_string())]
    );
    w.send(&host, update("from-hana"));
    assert_eq!(
        updates(&w.take(&a)),
        vec![(w.id(&host), "from-hana".to_string())]
    );
    // A newcomer still gets the notes from anyone while they are locked.
    let to = w.id(&a);
    w.send(
        &c,
        ClientMessage::NotesSync {
            to,
            body: "state".into(),
        },
    );
    assert_eq!(syncs(&w.take(&a)).len(), 1);
    // A participant cannot lift the lock; the host can.
    w.send(&a, lock(false));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::NotPermitted));
    w.send(&host, lock(false));
    w.clear();
    w.send(&a, update("from-ann"));
    assert_eq!(
        updates(&w.take(&host)),
        vec![(w.id(&a), "from-ann".to_string())]
    );
}

#[test]
fn waiting_people_neither_send_nor_receive_notes() {
    let mut w = World::default();
    let host = w.host("Hana");
    let waiter = w.join("Wes");
    w.clear();
    w.send(&waiter, update("early"));
    assert_eq!(error(&w.take(&waiter)), Some(ErrorKind::NotAdmitted));
    w.send(&host, update("notes"));
    assert!(updates(&w.take(&waiter)).is_empty());
}

#[test]
fn a_meeting_holds_only_so_much_notes() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.clear();
    let body = "x".repeat(MAX_NOTES_BODY_CHARS);
    let fit = MAX_MEETING_NOTES_CHARS / MAX_NOTES_BODY_CHARS as u64;
    for _ in 0..fit {
        w.send(&host, update(&body));
    }
    assert_eq!(updates(&w.take(&a)).len() as u64, fit);
    assert_eq!(error(&w.take(&host)), None);
    w.send(&host, update(&body));
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::NotesFull));
    assert!(updates(&w.take(&a)).is_empty());
}
