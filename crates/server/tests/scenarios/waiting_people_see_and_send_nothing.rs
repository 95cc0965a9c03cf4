use parley_proto::{ClientMessage, ErrorKind, ServerMessage};

use crate::harness::*;

#[test]
fn waiting_person_receives_nothing_of_the_meeting() {
    let mut w = World::default();
    let host = w.host("Hana");
    let inside = w.enter(&host, "Ines");
    let waiter = w.join("Walt");
    w.take(&waiter);
    w.send(&host, chat("agenda item 1"));
    w.send(
        &inside,
        ClientMessage::Sealed {
            body: "aGFuZA".into(),
        },
    );
    let late = w.enter(&host, "Late");
    w.disconnect(&late);
    w.send(&host, ClientMessage::Lock {});
    assert_eq!(w.take(&waiter), Vec::<ServerMessage>::new());
}

#[test]
fn waiting_person_cannot_send_into_the_meeting() {
    let mut w = World::default();
    let host = w.host("Hana");
    let waiter = w.join("Walt");
    w.take(&host);
    for msg in [
        chat("let me in"),
        ClientMessage::Sealed {
            body: "c2VhbGVk".into(),
        },
        ClientMessage::AdmitAll {},
        ClientMessage::Rename {
            name: parley_proto::DisplayName::new("Host").unwrap(),
        },
    ] {
        w.send(&waiter, msg);
        assert_eq!(error(&w.take(&waiter)), Some(ErrorKind::NotAdmitted));
    }
    assert!(!w.is_admitted(&waiter));
    assert!(
        !w.is_closed(&waiter),
        "a user error does not close the connection"
    );
    assert!(w.take(&host).is_empty(), "the host saw nothing of it");
}
