use parley_proto::{ClientMessage, Identity, PolicyChange, ServerMessage};

use crate::harness::*;

/// The names under which `msgs` announce participants (rosters and joins) and renames.
fn names(msgs: &[ServerMessage]) -> Vec<String> {
    let mut out = Vec::new();
    for m in msgs {
        match m {
            ServerMessage::ParticipantsJoined { participants, .. } => {
                out.extend(participants.iter().map(|p| p.name.as_str().to_string()));
            }
            ServerMessage::Renamed { name, .. } => out.push(name.as_str().to_string()),
            _ => {}
        }
    }
    out
}

fn renaming(w: &mut World, host: &crate::harness::Person, on: bool) {
    w.send(
        host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                rename: Some(on),
                ..Default::default()
            },
        },
    );
}

#[test]
fn with_renaming_off_a_reconnect_under_another_name_keeps_the_old_one() {
    let mut w = World::default();
    let host = w.host("Hana");
    renaming(&mut w, &host, false);
    let ann = w.enter(&host, "Ann");
    w.clear();
    let again = w.join_with(
        "Dr. Berger",
        Identity::from_seed(&ann.identity.seed()),
        None,
        None,
    );
    assert!(w.is_admitted(&again));
    assert!(names(&w.take(&host)).is_empty(), "nothing to tell the host");
    // Someone arriving now sees the name the host saw.
    w.clear();
    let late = w.enter(&host, "Lena");
    let seen = names(&w.take(&late));
    assert!(seen.contains(&"Ann".to_string()), "{seen:?}");
    assert!(!seen.contains(&"Dr. Berger".to_string()), "{seen:?}");
}

#[test]
fn with_renaming_on_a_reconnect_under_another_name_is_a_rename_everyone_sees() {
    let mut w = World::default();
    let host = w.host("Hana");
    renaming(&mut w, &host, true);
    let ann = w.enter(&host, "Ann");
    w.clear();
    w.join_with(
        "Annie",
        Identity::from_seed(&ann.identity.seed()),
        None,
        None,
    );
    assert!(w.take(&host).iter().any(|m| matches!(
        m,
        ServerMessage::Renamed { id, name } if *id == w.id(&ann) && name.as_str() == "Annie"
    )));
}

#[test]
fn a_waiting_person_is_admitted_under_the_name_they_were_announced_with() {
    let mut w = World::default();
    let host = w.host("Hana");
    let key = Identity::generate();
    let first = w.join_with(
        "Dr. Berger (union lawyer)",
        Identity::from_seed(&key.seed()),
        None,
        None,
    );
    let id = w.waiting_id(&host, "Dr. Berger (union lawyer)");
    let swapped = w.join_with("Mallory", key, None, None);
    assert!(w.is_closed(&first), "the older connection was replaced");
    w.clear();
    w.send(&host, ClientMessage::Admit { id });
    assert!(w.is_admitted(&swapped));
    assert_eq!(
        names(&w.take(&host)),
        vec!["Dr. Berger (union lawyer)".to_string()]
    );
}
