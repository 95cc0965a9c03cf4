use parley_proto::{ClientMessage, ErrorKind, PolicyChange, ServerMessage};

use crate::harness::*;

fn no_self_unmute() -> ClientMessage {
    ClientMessage::SetPolicy {
        change: PolicyChange {
            unmute_self: Some(false),
            ..Default::default()
        },
    }
}

#[test]
fn muted_by_host_participants_cannot_unmute_when_host_forbids() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    w.send(&host, no_self_unmute());
    w.clear();
    w.send(&host, ClientMessage::MuteAll {});
    let hid = w.id(&host);
    assert!(w.take(&p).contains(&ServerMessage::AllMuted { by: hid }));
    w.send(&p, ClientMessage::SetMuted { muted: false });
    assert_eq!(error(&w.take(&p)), Some(ErrorKind::DisabledByHost));
    // Asked to unmute: allowed once.
    w.send(&host, ClientMessage::AskUnmute { id: w.id(&p) });
    assert!(
        w.take(&p)
            .contains(&ServerMessage::UnmuteRequested { by: hid })
    );
    w.send(&p, ClientMessage::SetMuted { muted: false });
    let got = w.take(&p);
    assert!(
        got.contains(&ServerMessage::Muted {
            id: w.id(&p),
            muted: false,
            by_host: false
        }),
        "{got:?}"
    );
}

#[test]
fn with_self_unmute_allowed_participants_may_unmute() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    w.send(&host, ClientMessage::MuteAll {});
    w.take(&p);
    w.send(&p, ClientMessage::SetMuted { muted: false });
    assert_eq!(error(&w.take(&p)), None);
}

#[test]
fn mute_all_spares_hosts_and_cohosts() {
    let mut w = World::default();
    let host = w.host("Hana");
    let co = w.enter(&host, "Cora");
    w.send(&host, ClientMessage::MakeCohost { id: w.id(&co) });
    w.send(&host, no_self_unmute());
    w.send(&host, ClientMessage::MuteAll {});
    w.take(&co);
    w.send(&co, ClientMessage::SetMuted { muted: false });
    assert_eq!(error(&w.take(&co)), None);
}

#[test]
fn the_sfu_is_told_to_drop_hard_muted_audio_until_an_allowed_unmute() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pete");
    w.send(&host, no_self_unmute());
    w.send(&host, ClientMessage::MuteAll {});
    assert!(
        w.audio_blocked.contains(&p.conn),
        "the host's mute is enforced at the SFU"
    );
    assert!(!w.audio_blocked.contains(&host.conn), "hosts are not muted");
    // A refused unmute changes nothing at the SFU.
    w.send(&p, ClientMessage::SetMuted { muted: false });
    assert!(w.audio_blocked.contains(&p.conn));
    // Asked to unmute, the participant unmutes and is heard again.
    w.send(&host, ClientMessage::AskUnmute { id: w.id(&p) });
    w.send(&p, ClientMessage::SetMuted { muted: false });
    assert!(!w.audio_blocked.contains(&p.conn));
}
