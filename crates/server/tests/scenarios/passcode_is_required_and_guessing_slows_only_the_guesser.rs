use parley_proto::{ClientMessage, ErrorKind, Policy, ServerMessage};

use crate::harness::*;

#[test]
fn passcode_is_required_and_checked() {
    let mut w = World::new(Policy::default(), Some("4711"));
    let _host = w.host("Hana");
    let none = w.join_with("A", parley_proto::Identity::generate(), None, None);
    assert_eq!(refused(&w.take(&none)), Some(ErrorKind::PasscodeRequired));
    let wrong = w.join_with("B", parley_proto::Identity::generate(), Some("0000"), None);
    assert_eq!(refused(&w.take(&wrong)), Some(ErrorKind::WrongPasscode));
    assert_eq!(
        w.passcode_failures,
        vec![wrong.conn],
        "the server is told, for its per-address limiter"
    );
    let right = w.join_with("C", parley_proto::Identity::generate(), Some("4711"), None);
    assert!(matches!(
        &w.take(&right)[..],
        [ServerMessage::Waiting { .. }]
    ));
}

#[test]
fn wrong_passcodes_from_one_person_never_keep_the_others_out() {
    // The growing back-off is per address, in the hub (see `hub::tests`): the room itself
    // never blocks the right passcode, however many wrong ones came before.
    let mut w = World::new(Policy::default(), Some("4711"));
    for _ in 0..50 {
        let p = w.join_with("X", parley_proto::Identity::generate(), Some("nope"), None);
        assert_eq!(refused(&w.take(&p)), Some(ErrorKind::WrongPasscode));
    }
    assert_eq!(
        w.passcode_failures.len(),
        50,
        "each reported for its address"
    );
    let right = w.join_with("R", parley_proto::Identity::generate(), Some("4711"), None);
    assert!(matches!(
        &w.take(&right)[..],
        [ServerMessage::Waiting { .. }]
    ));
}

#[test]
fn host_changes_the_passcode() {
    let mut w = World::new(Policy::default(), Some("old"));
    let host = w.host("Hana");
    w.send(
        &host,
        ClientMessage::SetPasscode {
            passcode: Some("new".into()),
        },
    );
    assert!(
        w.take(&host)
            .contains(&ServerMessage::PasscodeChanged { has_passcode: true })
    );
    let old = w.join_with("A", parley_proto::Identity::generate(), Some("old"), None);
    assert_eq!(refused(&w.take(&old)), Some(ErrorKind::WrongPasscode));
    let new = w.join_with("B", parley_proto::Identity::generate(), Some("new"), None);
    assert!(matches!(&w.take(&new)[..], [ServerMessage::Waiting { .. }]));
    w.send(
        &host,
        ClientMessage::SetPasscode {
            passcode: Some("bad\u{7}".into()),
        },
    );
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
    w.send(&host, ClientMessage::SetPasscode { passcode: None });
    let free = w.join("C");
    assert!(matches!(
        &w.take(&free)[..],
        [ServerMessage::Waiting { .. }]
    ));
}
