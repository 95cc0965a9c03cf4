use parley_proto::{ClientMessage, ErrorKind};
use parley_server::room::MediaSignal;

use crate::harness::*;

fn offer() -> ClientMessage {
    ClientMessage::SdpOffer {
        sdp: "v=0\r\n".into(),
    }
}

#[test]
fn a_waiting_person_cannot_start_media() {
    let mut w = World::default();
    let _host = w.host("Hana");
    let waiter = w.join("Walt");
    w.take(&waiter);
    w.send(&waiter, offer());
    assert_eq!(error(&w.take(&waiter)), Some(ErrorKind::NotAdmitted));
    assert!(w.media.is_empty(), "nothing reached the SFU");
}

#[test]
fn an_admitted_participant_negotiates_media_with_the_sfu() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pia");
    w.send(&p, offer());
    w.send(
        &p,
        ClientMessage::SdpAnswer {
            sdp: "v=0\r\n".into(),
        },
    );
    assert_eq!(
        w.media,
        vec![
            (p.conn, MediaSignal::Offer("v=0\r\n".into())),
            (p.conn, MediaSignal::Answer("v=0\r\n".into()))
        ]
    );
}

#[test]
fn oversized_or_empty_sdp_is_refused() {
    let mut w = World::default();
    let host = w.host("Hana");
    let p = w.enter(&host, "Pia");
    w.take(&p);
    for sdp in [
        String::new(),
        "x".repeat(parley_proto::message::MAX_SDP_BYTES + 1),
    ] {
        w.send(&p, ClientMessage::SdpOffer { sdp });
        assert_eq!(error(&w.take(&p)), Some(ErrorKind::InvalidValue));
    }
    assert!(w.media.is_empty());
}
