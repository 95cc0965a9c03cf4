use std::time::Duration;

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
fn repeated_wrong_passcodes_back_off_with_growing_waits() {
    let mut w = World::new(Policy::default(), Some("4711"));
    let mut last_wait = 0;
    let mut waits = Vec::new();
    for _ in 0..12 {
        let p = w.join_with("X", parley_proto::Identity::generate(), Some("nope"), None);
        match w.take(&p).as_slice() {
            [
                ServerMessage::Refused {
                    kind: ErrorKind::WrongPasscode,
                    ..
                },
            ] => {}
            [
                ServerMessage::Refused {
                    kind: ErrorKind::TooManyAttempts,
                    retry_after_ms: Some(ms),
                    ..
                },
            ] => {
                waits.push(*ms);
                assert!(*ms >= last_wait);
                last_wait = *ms;
                // Wait it out, then try again.
                w.advance(Duration::from_millis(u64::from(*ms)));
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(waits.len() >= 3, "{waits:?}");
    assert!(
        waits.windows(2).any(|p| p[1] > p[0]),
        "waits grow: {waits:?}"
    );
    // Even the right passcode waits while backing off: the limiter cannot be raced.
    w.send_wrong_until_blocked();
    let right = w.join_with("R", parley_proto::Identity::generate(), Some("4711"), None);
    assert_eq!(refused(&w.take(&right)), Some(ErrorKind::TooManyAttempts));
    // After the wait, the right passcode works.
    w.advance(Duration::from_secs(600));
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

impl World {
    fn send_wrong_until_blocked(&mut self) {
        for _ in 0..20 {
            let p = self.join_with("X", parley_proto::Identity::generate(), Some("nope"), None);
            if refused(&self.take(&p)) == Some(ErrorKind::TooManyAttempts) {
                return;
            }
        }
        panic!("never blocked");
    }
}
