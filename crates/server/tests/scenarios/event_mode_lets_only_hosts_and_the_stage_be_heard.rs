use parley_proto::{ClientMessage, ErrorKind, PolicyChange, ServerMessage};

use crate::harness::*;

fn event_mode(on: bool) -> ClientMessage {
    ClientMessage::SetPolicy {
        change: PolicyChange {
            event_mode: Some(on),
            ..Default::default()
        },
    }
}

#[test]
fn in_event_mode_only_hosts_cohosts_and_the_stage_are_heard_and_seen() {
    let mut w = World::default();
    let host = w.host("Hana");
    let co = w.enter(&host, "Cora");
    w.send(&host, ClientMessage::MakeCohost { id: w.id(&co) });
    let p = w.enter(&host, "Pete");
    let (hid, pid) = (w.id(&host), w.id(&p));
    w.send(&host, event_mode(true));
    assert!(
        w.media_blocked.contains(&p.conn),
        "Pete's media is dropped at the SFU"
    );
    assert!(w.audio_blocked.contains(&p.conn), "and he is hard-muted");
    for c in [host.conn, co.conn] {
        assert!(!w.media_blocked.contains(&c) && !w.audio_blocked.contains(&c));
    }
    // Off the stage, Pete may not unmute nor share his screen.
    w.clear();
    w.send(&p, ClientMessage::SetMuted { muted: false });
    assert_eq!(error(&w.take(&p)), Some(ErrorKind::DisabledByHost));
    w.send(&p, ClientMessage::ShareScreen { sharing: true });
    assert_eq!(error(&w.take(&p)), Some(ErrorKind::DisabledByHost));
    // Nor put himself on the stage.
    w.send(&p, ClientMessage::SetStage { id: pid, on: true });
    assert_eq!(error(&w.take(&p)), Some(ErrorKind::NotPermitted));
    assert!(w.media_blocked.contains(&p.conn));

    // A newcomer comes in off the stage, muted.
    let q = w.enter(&host, "Quinn");
    assert!(w.media_blocked.contains(&q.conn) && w.audio_blocked.contains(&q.conn));

    // On the stage: everyone is told; Pete may unmute and is heard.
    w.clear();
    w.send(&host, ClientMessage::SetStage { id: pid, on: true });
    let seen = w.take(&q);
    assert!(
        seen.contains(&ServerMessage::Stage {
            id: pid,
            on: true,
            by: hid
        }),
        "{seen:?}"
    );
    assert!(!w.media_blocked.contains(&p.conn));
    assert!(
        w.audio_blocked.contains(&p.conn),
        "still muted until he unmutes"
    );
    w.send(&p, ClientMessage::SetMuted { muted: false });
    assert_eq!(error(&w.take(&p)), None);
    assert!(!w.audio_blocked.contains(&p.conn));

    // Off the stage again: muted by the host, dropped again.
    w.clear();
    w.send(&host, ClientMessage::SetStage { id: pid, on: false });
    let seen = w.take(&q);
    assert!(seen.contains(&ServerMessage::Muted {
        id: pid,
        muted: true,
        by_host: true
    }));
    assert!(w.media_blocked.contains(&p.conn) && w.audio_blocked.contains(&p.conn));

    // A co-host who is no longer one is off the air too.
    w.send(&host, ClientMessage::RevokeCohost { id: w.id(&co) });
    assert!(w.media_blocked.contains(&co.conn));

    // Event mode off: everyone's media is forwarded again; each unmutes when they choose.
    w.send(&host, event_mode(false));
    for c in [p.conn, q.conn, co.conn] {
        assert!(!w.media_blocked.contains(&c));
    }
    w.clear();
    w.send(&q, ClientMessage::SetMuted { muted: false });
    assert_eq!(error(&w.take(&q)), None);
    assert!(!w.audio_blocked.contains(&q.conn));
}

#[test]
fn the_stage_is_set_before_event_mode_and_holds_when_it_starts() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    let q = w.enter(&host, "Quinn");
    w.send(
        &host,
        ClientMessage::SetStage {
            id: w.id(&p),
            on: true,
        },
    );
    assert!(
        w.media_blocked.is_empty(),
        "outside event mode the stage blocks nobody"
    );
    w.send(&host, event_mode(true));
    assert!(!w.media_blocked.contains(&p.conn));
    assert!(w.media_blocked.contains(&q.conn));
    // A late joiner sees who is on the stage in the roster.
    w.clear();
    let late = w.enter(&host, "Lena");
    let roster = w.take(&late);
    let pid = w.id(&p);
    assert!(
        roster.iter().any(|m| matches!(m,
            ServerMessage::ParticipantsJoined { participants, .. }
                if participants.iter().any(|i| i.id == pid && i.on_stage))),
        "{roster:?}"
    );
}

/// Whoever is on the stage is a presenter: the SFU forwards their voice beyond the loudest
/// ones, in event mode or not; off the stage, not any more; and on a new connection too.
#[test]
fn the_stage_is_always_heard() {
    let mut w = World::default();
    let host = w.host("Hana");
    let a = w.enter(&host, "Ann");
    let id = w.id(&a);
    w.send(&host, ClientMessage::SetStage { id, on: true });
    assert!(w.presenters.contains(&a.conn));
    let a2 = w.rejoin(&a, None);
    assert!(w.presenters.contains(&a2.conn), "kept on a new connection");
    w.send(&host, ClientMessage::SetStage { id, on: false });
    assert!(!w.presenters.contains(&a2.conn));
    // Only hosts and co-hosts choose presenters.
    w.send(&a2, ClientMessage::SetStage { id, on: true });
    assert_eq!(
        error(&w.take(&a2)),
        Some(parley_proto::ErrorKind::NotPermitted)
    );
    assert!(!w.presenters.contains(&a2.conn));
}
