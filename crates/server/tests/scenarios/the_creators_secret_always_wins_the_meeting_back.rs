use parley_proto::{ClientMessage, ErrorKind, Identity, Role, ServerMessage};

use crate::harness::*;

fn got_secret(msgs: &[ServerMessage]) -> bool {
    msgs.iter()
        .any(|m| matches!(m, ServerMessage::HostSecret { .. }))
}

/// The attack: the host's connection drops, the longest-present participant stands in (auto
/// promote is on by default), hands the host role to a second identity of their own, and then
/// tries to keep the creator out. The creator's secret must still win.
#[test]
fn a_stand_in_cannot_take_the_meeting_from_the_secret_holder() {
    let mut w = World::default();
    let host = w.host("Hana");
    let mallory = w.enter(&host, "Mallory");
    let sock = w.enter(&host, "Sock puppet");
    w.disconnect(&host);
    assert_eq!(w.role_of(&mallory), Some(Role::Host), "stand-in");

    // Handing the stand-in role on mints no secret.
    w.take(&sock);
    w.send(&mallory, ClientMessage::TransferHost { id: w.id(&sock) });
    assert_eq!(w.role_of(&sock), Some(Role::Host));
    assert!(
        !got_secret(&w.take(&sock)),
        "a stand-in has no secret to give"
    );
    // A stand-in may not end the meeting, lock it against its owner, or remove the owner.
    w.send(&sock, ClientMessage::End {});
    assert_eq!(error(&w.take(&sock)), Some(ErrorKind::NotPermitted));
    assert!(!w.ended);
    w.send(&sock, ClientMessage::Lock {});
    w.send(
        &sock,
        ClientMessage::SetPasscode {
            passcode: Some("guess-this".into()),
        },
    );

    // The creator comes back with the original secret: through lock and passcode, host again.
    let back = w.join_with("Hana", Identity::generate(), None, Some(w.secret.clone()));
    assert_eq!(w.role_of(&back), Some(Role::Host));
    assert_eq!(
        w.role_of(&sock),
        Some(Role::Cohost),
        "the stand-in steps back"
    );
    // Nobody can remove the secret holder.
    w.take(&sock);
    w.send(&sock, ClientMessage::Remove { id: w.id(&back) });
    assert_eq!(error(&w.take(&sock)), Some(ErrorKind::NotPermitted));
    assert!(w.is_admitted(&back));
}

#[test]
fn the_secret_holder_is_let_back_in_even_after_a_ban() {
    let mut w = World::default();
    let host = w.host("Hana");
    let mallory = w.enter(&host, "Mallory");
    let identity = Identity::generate();
    // The creator's identity is known from an earlier visit without the secret, when the
    // stand-in removed it (which bans that identity).
    w.disconnect(&host);
    let visit = w.join_with("Hana", Identity::from_seed(&identity.seed()), None, None);
    let wid = w.waiting_id(&mallory, "Hana");
    assert!(!w.is_admitted(&visit));
    w.send(&mallory, ClientMessage::Deny { id: wid });
    // With the secret, the ban does not hold.
    let back = w.join_with("Hana", identity, None, Some(w.secret.clone()));
    assert_eq!(w.role_of(&back), Some(Role::Host));
    assert_eq!(w.role_of(&mallory), Some(Role::Cohost));
}

#[test]
fn the_secret_holder_still_hands_the_meeting_over_on_purpose() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    w.take(&p);
    w.send(&host, ClientMessage::TransferHost { id: w.id(&p) });
    assert!(
        got_secret(&w.take(&p)),
        "a real hand-over gives a new secret"
    );
    // And the new secret holder may end the meeting.
    w.send(&p, ClientMessage::End {});
    assert!(w.ended);
}
