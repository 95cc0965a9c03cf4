use parley_proto::{ClientMessage, DisplayName, ErrorKind, PolicyChange, ServerMessage, ShareRule};

use crate::harness::*;

#[test]
fn screen_share_is_for_hosts_unless_opened_to_everyone() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.clear();
    w.send(&a, ClientMessage::ShareScreen { sharing: true });
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::DisabledByHost));
    w.send(&host, ClientMessage::ShareScreen { sharing: true });
    assert!(w.take(&a).contains(&ServerMessage::ScreenShare {
        id: w.id(&host),
        sharing: true
    }));
    w.send(
        &host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                screen_share: Some(ShareRule::Everyone),
                ..Default::default()
            },
        },
    );
    w.send(&a, ClientMessage::ShareScreen { sharing: true });
    assert_eq!(error(&w.take(&a)), None);
}

#[test]
fn file_transfer_is_off_until_the_host_enables_it() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    w.clear();
    let offer = ClientMessage::FileOffer {
        to: None,
        size: 1000,
        body: "report.pdf".into(),
    };
    w.send(&a, offer.clone());
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::DisabledByHost));
    assert!(w.take(&b).is_empty());
    w.send(
        &host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                file_transfer: Some(true),
                ..Default::default()
            },
        },
    );
    w.clear();
    w.send(&a, offer);
    assert!(
        w.take(&b)
            .iter()
            .any(|m| matches!(m, ServerMessage::FileOffer { body, .. } if body == "report.pdf"))
    );
}

#[test]
fn rename_follows_the_switch() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.clear();
    let name = DisplayName::new("Annie").unwrap();
    w.send(&a, ClientMessage::Rename { name: name.clone() });
    assert!(w.take(&host).contains(&ServerMessage::Renamed {
        id: w.id(&a),
        name: name.clone()
    }));
    w.send(
        &host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                rename: Some(false),
                ..Default::default()
            },
        },
    );
    w.send(
        &a,
        ClientMessage::Rename {
            name: DisplayName::new("The Host").unwrap(),
        },
    );
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::DisabledByHost));
}

#[test]
fn sealed_hands_and_reactions_reach_everyone() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    w.clear();
    w.send(
        &a,
        ClientMessage::Sealed {
            body: "cmVhY3Rpb24".into(),
        },
    );
    let got = w.take(&host);
    // A reaction or a hand is sealed content: relayed as it came, to everyone.
    assert!(got.contains(&ServerMessage::Sealed {
        from: w.id(&a),
        body: "cmVhY3Rpb24".into()
    }));
}

#[test]
fn join_and_leave_announcements_follow_the_switch() {
    let mut w = World::default();
    let host = w.host("Hana");
    w.send(
        &host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                announce_join_leave: Some(false),
                ..Default::default()
            },
        },
    );
    w.clear();
    let a = w.enter(&host, "Ann");
    let got = w.take(&host);
    assert!(got.iter().any(|m| matches!(
        m,
        ServerMessage::ParticipantsJoined {
            announce: false,
            ..
        }
    )));
    w.disconnect(&a);
    assert!(w.take(&host).iter().any(|m| matches!(
        m,
        ServerMessage::ParticipantLeft {
            announce: false,
            ..
        }
    )));
}

#[test]
fn capacity_above_the_server_limit_is_refused() {
    let mut w = World::default();
    let host = w.host("Hana");
    w.send(
        &host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                capacity: Some(1_000_000),
                ..Default::default()
            },
        },
    );
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
}
