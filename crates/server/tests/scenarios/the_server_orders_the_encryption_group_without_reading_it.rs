//! The room as the MLS delivery service: it names a founder, carries key packages to the
//! group, accepts one commit per epoch, hands Welcomes to the people added, and re-founds the
//! group when everyone in it has gone. It never looks inside what it carries.

use parley_proto::message::MAX_KEY_PACKAGE_BATCH_CHARS;
use parley_proto::{ClientMessage, ErrorKind, MlsRefusal, ParticipantId, Policy, ServerMessage};

use crate::harness::*;

fn key_package(tag: &str) -> ClientMessage {
    ClientMessage::MlsKeyPackage {
        key_package: format!("kp-{tag}"),
        rejoin: false,
    }
}

fn commit(epoch: u64, added: Vec<ParticipantId>) -> ClientMessage {
    ClientMessage::MlsCommit {
        epoch,
        commit: format!("commit-{epoch}"),
        welcome: (!added.is_empty()).then(|| "welcome".to_string()),
        added,
    }
}

fn founds(msgs: &[ServerMessage]) -> bool {
    msgs.iter().any(|m| {
        matches!(
            m,
            ServerMessage::Joined {
                found_group: true,
                ..
            } | ServerMessage::MlsFound {}
        )
    })
}

fn key_packages(msgs: &[ServerMessage]) -> Vec<(ParticipantId, String)> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMessage::MlsKeyPackage { from, key_package } => {
                Some(vec![(*from, key_package.clone())])
            }
            ServerMessage::MlsKeyPackages { packages } => Some(
                packages
                    .iter()
                    .map(|p| (p.from, p.key_package.clone()))
                    .collect(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

fn result(msgs: &[ServerMessage]) -> Option<bool> {
    msgs.iter().find_map(|m| match m {
        ServerMessage::MlsCommitResult { accepted, .. } => Some(*accepted),
        _ => None,
    })
}

#[test]
fn the_first_one_in_founds_and_a_waiting_key_package_reaches_it_on_admission() {
    let mut w = World::default();
    let host = w.host("Hana");
    assert!(
        founds(&w.take(&host)),
        "the host is first: it founds the group"
    );
    let pia = w.join("Pia");
    // Published from the waiting room: held there, given to nobody yet.
    w.send(&pia, key_package("pia"));
    assert!(error(&w.take(&pia)).is_none());
    let waiting_id = w.waiting_id(&host, "Pia");
    assert!(key_packages(&w.take(&host)).is_empty());
    w.send(&host, ClientMessage::Admit { id: waiting_id });
    let pia_id = w.id(&pia);
    assert!(
        !founds(&w.take(&pia)),
        "a group exists: Pia waits for a Welcome"
    );
    assert_eq!(
        key_packages(&w.take(&host)),
        vec![(pia_id, "kp-pia".into())]
    );
}

#[test]
fn one_commit_per_epoch_wins_and_the_added_get_the_welcome() {
    let mut w = World::default();
    let host = w.host("Hana");
    let pia = w.enter(&host, "Pia");
    let pia_id = w.id(&pia);
    w.send(&host, commit(0, vec![pia_id]));
    assert_eq!(result(&w.take(&host)), Some(true));
    let got = w.take(&pia);
    assert!(
        got.iter().any(
            |m| matches!(m, ServerMessage::MlsWelcome { welcome, .. } if welcome == "welcome")
        )
    );
    assert!(
        !got.iter()
            .any(|m| matches!(m, ServerMessage::MlsCommit { .. })),
        "the added get the Welcome, not the commit"
    );
    // Now both are in the group; both commit for epoch 1: the first wins.
    let ray = w.enter(&host, "Ray");
    let ray_id = w.id(&ray);
    w.clear();
    w.send(&pia, commit(1, vec![ray_id]));
    w.send(&host, commit(1, vec![ray_id]));
    assert_eq!(result(&w.take(&pia)), Some(true));
    let host_got = w.take(&host);
    assert_eq!(
        result(&host_got),
        Some(false),
        "the second commit for epoch 1 is refused"
    );
    assert!(host_got.iter().any(|m| matches!(
        m,
        ServerMessage::MlsCommit { from, epoch: 1, .. } if *from == pia_id
    )));
    let welcomes = w
        .take(&ray)
        .into_iter()
        .filter(|m| matches!(m, ServerMessage::MlsWelcome { .. }))
        .count();
    assert_eq!(welcomes, 1, "one Welcome, from the commit that won");
}

#[test]
fn only_the_group_commits_and_sizes_are_bounded() {
    let mut w = World::default();
    let host = w.host("Hana");
    let pia = w.enter(&host, "Pia");
    w.take(&pia);
    // Pia is admitted but not in the group yet.
    w.send(&pia, commit(0, vec![]));
    assert_eq!(error(&w.take(&pia)), Some(ErrorKind::NotPermitted));
    w.send(
        &pia,
        ClientMessage::MlsKeyPackage {
            key_package: "x".repeat(9 * 1024),
            rejoin: false,
        },
    );
    assert_eq!(error(&w.take(&pia)), Some(ErrorKind::InvalidValue));
    // A Welcome without anyone to give it to is refused, and so is the reverse.
    w.send(
        &host,
        ClientMessage::MlsCommit {
            epoch: 0,
            commit: "c".into(),
            welcome: Some("w".into()),
            added: vec![],
        },
    );
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::InvalidValue));
    // The meeting carries on.
    w.send(&host, commit(0, vec![]));
    assert_eq!(result(&w.take(&host)), Some(true));
}

#[test]
fn when_everyone_in_the_group_has_left_the_longest_present_founds_anew() {
    let mut w = World::default();
    let host = w.host("Hana");
    let pia = w.enter(&host, "Pia");
    w.send(&pia, key_package("pia"));
    let ray = w.enter(&host, "Ray");
    w.send(&ray, key_package("ray"));
    let (pia_id, ray_id) = (w.id(&pia), w.id(&ray));
    w.clear();
    // The host (the only one in the group) drops before adding anyone.
    w.disconnect(&host);
    let got = w.take(&pia);
    assert!(founds(&got), "Pia, present longest, founds the new group");
    assert_eq!(key_packages(&got), vec![(ray_id, "kp-ray".into())]);
    assert!(!founds(&w.take(&ray)));
    // The new group starts at epoch 0.
    w.send(&pia, commit(0, vec![ray_id]));
    assert_eq!(result(&w.take(&pia)), Some(true));
    let _ = pia_id;
}

#[test]
fn a_refusal_reaches_the_refused_person() {
    let mut w = World::default();
    let host = w.host("Hana");
    let eve = w.enter(&host, "Eve");
    let eve_id = w.id(&eve);
    w.take(&eve);
    w.send(
        &host,
        ClientMessage::MlsRefuse {
            id: eve_id,
            reason: MlsRefusal::WrongLink,
        },
    );
    let got = w.take(&eve);
    assert!(got.iter().any(|m| matches!(
        m,
        ServerMessage::MlsRefused { reason: MlsRefusal::WrongLink, message, .. }
            if message.contains("fresh invite link")
    )));
    // Someone outside the group cannot refuse anyone.
    let host_id = w.id(&host);
    w.send(
        &eve,
        ClientMessage::MlsRefuse {
            id: host_id,
            reason: MlsRefusal::WrongLink,
        },
    );
    assert_eq!(error(&w.take(&eve)), Some(ErrorKind::NotPermitted));
}

#[test]
fn a_member_out_of_step_asks_to_be_added_again_and_gets_the_welcome() {
    let mut w = World::default();
    let host = w.host("Hana");
    let pia = w.enter(&host, "Pia");
    let pia_id = w.id(&pia);
    w.send(&host, commit(0, vec![pia_id]));
    w.clear();
    // Pia could not apply a commit: she publishes a new key package asking to rejoin.
    w.send(
        &pia,
        ClientMessage::MlsKeyPackage {
            key_package: "kp-again".into(),
            rejoin: true,
        },
    );
    assert_eq!(
        key_packages(&w.take(&host)),
        vec![(pia_id, "kp-again".into())]
    );
    // The host's commit re-adds her; the server hands her the Welcome again.
    w.send(&host, commit(1, vec![pia_id]));
    assert!(
        w.take(&pia)
            .iter()
            .any(|m| matches!(m, ServerMessage::MlsWelcome { .. }))
    );
}

/// Admitting a thousand people at once hands the group their key packages in a few batches:
/// one message each would be a thousand messages in the host's queue (1,024 by default) on top
/// of the roster, and the host would be disconnected as a slow consumer before anyone is added.
#[test]
fn admitting_a_thousand_at_once_sends_their_key_packages_in_a_few_batches() {
    let mut w = World::new(
        Policy {
            capacity: 1_001,
            ..Default::default()
        },
        None,
    );
    let host = w.host("Hana");
    let people: Vec<_> = (0..1_000)
        .map(|i| {
            let name: &'static str = Box::leak(format!("P{i}").into_boxed_str());
            let p = w.join(name);
            // About the size of a real key package in base64.
            w.send(&p, key_package(&format!("{i:0>800}")));
            p
        })
        .collect();
    w.take(&host);
    w.send(&host, ClientMessage::AdmitAll {});
    let msgs = w.take(&host);
    let mut got = key_packages(&msgs);
    got.sort();
    let mut want: Vec<_> = people
        .iter()
        .enumerate()
        .map(|(i, p)| (w.id(p), format!("kp-{i:0>800}")))
        .collect();
    want.sort();
    assert_eq!(got, want, "every key package reaches the host exactly once");
    let batches: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            ServerMessage::MlsKeyPackages { packages } => Some(packages),
            _ => None,
        })
        .collect();
    assert!(
        batches
            .iter()
            .all(|b| b.iter().map(|p| p.key_package.len()).sum::<usize>()
                <= MAX_KEY_PACKAGE_BATCH_CHARS),
        "no batch is larger than the limit"
    );
    assert!(
        batches.len() <= 16,
        "1,000 key packages of 800 characters fit 13 batches of 64 KiB, got {}",
        batches.len()
    );
    assert!(
        msgs.len() < 128,
        "the admission of 1,000 sends the host {} messages; its queue holds 1,024",
        msgs.len()
    );
    assert!(!w.is_closed(&host));
}
