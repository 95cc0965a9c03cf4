use parley_proto::{ClientMessage, ErrorKind, ParticipantId, PolicyChange};

use crate::harness::*;

#[test]
fn every_host_command_from_a_participant_is_refused() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    let waiter = w.join("Walt");
    let wid = w.waiting_id(&host, "Walt");
    let hid = w.id(&host);
    let commands = vec![
        ClientMessage::Admit { id: wid },
        ClientMessage::AdmitAll {},
        ClientMessage::Deny { id: wid },
        ClientMessage::Lock {},
        ClientMessage::Unlock {},
        ClientMessage::Remove { id: hid },
        ClientMessage::MuteAll {},
        ClientMessage::AskUnmute { id: hid },
        ClientMessage::SetPolicy {
            change: PolicyChange {
                file_transfer: Some(true),
                ..Default::default()
            },
        },
        ClientMessage::SetPasscode {
            passcode: Some("x".into()),
        },
        ClientMessage::MakeCohost { id: w.id(&p) },
        ClientMessage::RevokeCohost { id: hid },
        ClientMessage::TransferHost { id: w.id(&p) },
        ClientMessage::End {},
    ];
    w.clear();
    for c in commands {
        w.send(&p, c.clone());
        let got = w.take(&p);
        assert_eq!(error(&got), Some(ErrorKind::NotPermitted), "{c:?}: {got:?}");
        assert!(!w.is_closed(&p));
    }
    assert!(!w.is_admitted(&waiter) && !w.is_closed(&waiter));
    assert!(
        w.take(&host).is_empty(),
        "nothing happened that the host could see"
    );
    assert!(!w.room.policy().file_transfer);
}

#[test]
fn actions_on_missing_participants_are_refused() {
    let mut w = World::default();
    let host = w.host("Hana");
    let ghost = ParticipantId(999);
    for c in [
        ClientMessage::Admit { id: ghost },
        ClientMessage::Deny { id: ghost },
        ClientMessage::Remove { id: ghost },
        ClientMessage::AskUnmute { id: ghost },
        ClientMessage::MakeCohost { id: ghost },
        ClientMessage::TransferHost { id: ghost },
        ClientMessage::Chat {
            to: Some(ghost),
            body: "psst".into(),
        },
    ] {
        w.send(&host, c.clone());
        assert_eq!(
            error(&w.take(&host)),
            Some(ErrorKind::NoSuchParticipant),
            "{c:?}"
        );
    }
}
