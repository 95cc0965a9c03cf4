use parley_proto::{ClientMessage, ErrorKind, Identity, Role, ServerMessage};

use crate::harness::*;

#[test]
fn transfer_gives_the_new_host_a_fresh_secret_and_voids_the_old() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    w.take(&p);
    w.send(&host, ClientMessage::TransferHost { id: w.id(&p) });
    assert_eq!(w.role_of(&p), Some(Role::Host));
    assert_eq!(w.role_of(&host), Some(Role::Cohost));
    let new_secret = w
        .take(&p)
        .into_iter()
        .find_map(|m| match m {
            ServerMessage::HostSecret { secret } => Some(secret),
            _ => None,
        })
        .expect("the new host receives the secret");
    assert_ne!(new_secret, w.secret);
    // The old secret no longer works.
    let old = w.secret.clone();
    let thief = w.join_with("Old", Identity::generate(), None, Some(old));
    assert_eq!(refused(&w.take(&thief)), Some(ErrorKind::NotPermitted));
    // The new one does.
    let again = w.join_with("Pete", Identity::generate(), None, Some(new_secret));
    assert!(w.is_admitted(&again));
}

#[test]
fn only_the_host_transfers_and_ends() {
    let mut w = World::default();
    let host = w.host("Hana");
    let co = w.enter(&host, "Cora");
    w.send(&host, ClientMessage::MakeCohost { id: w.id(&co) });
    w.take(&co);
    w.send(&co, ClientMessage::TransferHost { id: w.id(&co) });
    assert_eq!(error(&w.take(&co)), Some(ErrorKind::NotPermitted));
    w.send(&co, ClientMessage::End {});
    assert_eq!(error(&w.take(&co)), Some(ErrorKind::NotPermitted));
    w.send(&co, ClientMessage::MakeCohost { id: w.id(&host) });
    assert_eq!(error(&w.take(&co)), Some(ErrorKind::NotPermitted));
    assert!(!w.ended);
}
