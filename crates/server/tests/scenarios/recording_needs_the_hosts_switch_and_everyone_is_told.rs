use parley_proto::{ClientMessage, ErrorKind, PolicyChange, ServerMessage};

use crate::harness::*;

fn recording(on: bool) -> ClientMessage {
    ClientMessage::Record { on }
}

fn switch(w: &mut World, host: &Person, on: bool) {
    w.send(
        host,
        ClientMessage::SetPolicy {
            change: PolicyChange {
                recording: Some(on),
                ..Default::default()
            },
        },
    );
}

/// The `recording` announcements in `msgs`: (who, on).
fn announced(msgs: &[ServerMessage]) -> Vec<(u32, bool)> {
    msgs.iter()
        .filter_map(|m| match m {
            ServerMessage::Recording { id, on } => Some((id.0, *on)),
            _ => None,
        })
        .collect()
}

/// Whether the last `waiting` in `msgs` says someone records.
fn waiting_says(msgs: &[ServerMessage]) -> Option<bool> {
    msgs.iter().rev().find_map(|m| match m {
        ServerMessage::Waiting { recording, .. } => Some(*recording),
        _ => None,
    })
}

#[test]
fn nobody_records_until_the_host_allows_it_and_everyone_knows_who_does() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let b = w.enter(&host, "Bob");
    w.clear();

    // Off by default, for the host too.
    w.send(&a, recording(true));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::DisabledByHost));
    w.send(&host, recording(true));
    assert_eq!(error(&w.take(&host)), Some(ErrorKind::DisabledByHost));
    assert!(announced(&w.take(&b)).is_empty());

    switch(&mut w, &host, true);
    // Someone knocks; then Ann starts recording: everyone is told, and so is the knocker.
    let cy = w.join("Cy");
    assert_eq!(waiting_says(&w.take(&cy)), Some(false));
    let cy_id = w.waiting_id(&host, "Cy");
    w.clear();
    w.send(&a, recording(true));
    let ann = w.id(&a).0;
    for p in [&host, &a, &b] {
        assert_eq!(announced(&w.take(p)), [(ann, true)]);
    }
    assert_eq!(
        waiting_says(&w.take(&cy)),
        Some(true),
        "told before entering"
    );
    // Admitted, Cy sees in the roster who records.
    w.send(&host, ClientMessage::Admit { id: cy_id });
    let roster = w.take(&cy);
    let recorders: Vec<u32> = roster
        .iter()
        .filter_map(|m| match m {
            ServerMessage::ParticipantsJoined { participants, .. } => Some(participants),
            _ => None,
        })
        .flatten()
        .filter(|p| p.recording)
        .map(|p| p.id.0)
        .collect();
    assert_eq!(recorders, [ann]);

    // The host switches recording off: every recording stops, and everyone is told.
    w.clear();
    switch(&mut w, &host, false);
    for p in [&host, &b, &cy] {
        assert!(announced(&w.take(p)).contains(&(ann, false)));
    }
    w.send(&a, recording(true));
    assert_eq!(error(&w.take(&a)), Some(ErrorKind::DisabledByHost));
}

#[test]
fn a_recorder_who_leaves_is_no_longer_announced_to_those_who_wait() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    switch(&mut w, &host, true);
    w.send(&a, recording(true));
    let cy = w.join("Cy");
    assert_eq!(waiting_says(&w.take(&cy)), Some(true));
    w.send(&a, ClientMessage::Leave {});
    assert_eq!(waiting_says(&w.take(&cy)), Some(false));
}
