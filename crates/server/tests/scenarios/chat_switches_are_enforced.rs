use parley_proto::{ClientMessage, ErrorKind, PolicyChange};

use crate::harness::*;

fn set(change: PolicyChange) -> ClientMessage {
    ClientMessage::SetPolicy { change }
}

#[test]
fn room_chat_reaches_every_participant_verbatim() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    w.clear();
    // Opaque bodies: the server relays them byte for byte.
    let body = "ciphertext:QUJD\u{1F600}<script>";
    w.send(&a, chat(body));
    for p in [&host, &a, &b] {
        assert_eq!(chats(&w.take(p)), vec![body.to_string()]);
    }
}

#[test]
fn chat_off_silences_participants_but_not_hosts() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.send(
        &host,
        set(PolicyChange {
            chat: Some(false),
            ..Default::default()
        }),
    );
    w.clear();
    w.send(&a, chat("hello?"));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::DisabledByHost));
    assert!(chats(&w.take(&host)).is_empty());
    w.send(&host, chat("announcement"));
    assert_eq!(chats(&w.take(&a)), vec!["announcement".to_string()]);
    w.take(&host);
    // A private message to the host still works.
    w.send(
        &a,
        ClientMessage::Chat {
            to: Some(w.id(&host)),
            body: "question".into(),
        },
    );
    assert_eq!(chats(&w.take(&host)), vec!["question".to_string()]);
}

#[test]
fn private_chat_goes_only_to_its_recipient() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    let c = w.enter(&host, "Cat");
    w.clear();
    w.send(
        &a,
        ClientMessage::Chat {
            to: Some(w.id(&b)),
            body: "just you".into(),
        },
    );
    assert_eq!(chats(&w.take(&b)), vec!["just you".to_string()]);
    assert_eq!(
        chats(&w.take(&a)),
        vec!["just you".to_string()],
        "echoed to the sender"
    );
    assert!(chats(&w.take(&c)).is_empty());
    assert!(chats(&w.take(&host)).is_empty());
    w.send(
        &host,
        set(PolicyChange {
            private_chat: Some(false),
            ..Default::default()
        }),
    );
    w.send(
        &a,
        ClientMessage::Chat {
            to: Some(w.id(&b)),
            body: "again".into(),
        },
    );
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::DisabledByHost));
    assert!(chats(&w.take(&b)).is_empty());
}

#[test]
fn chat_bodies_are_size_limited() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.clear();
    w.send(
        &a,
        chat(&"x".repeat(parley_proto::message::MAX_BODY_BYTES + 1)),
    );
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::InvalidValue));
    w.send(&a, chat(""));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::InvalidValue));
    assert!(chats(&w.take(&host)).is_empty());
}
