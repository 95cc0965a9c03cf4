use parley_proto::{ClientMessage, Identity, ServerMessage};

use crate::harness::*;

/// Someone joining from a web page (the server's browser guest) is a participant like any
/// other, and everyone sees that they are in a browser: in the waiting list and in the roster.
#[test]
fn a_guest_from_a_browser_is_marked_in_the_waiting_list_and_the_roster() {
    let mut w = World::default();
    let host = w.host("Hana");
    w.join_from("Gwen", Identity::generate(), None, None, true);
    w.join("Ann");
    let knocks: Vec<(String, bool, parley_proto::ParticipantId)> = w
        .take(&host)
        .into_iter()
        .filter_map(|m| match m {
            ServerMessage::WaitingJoined { waiting } => Some((
                waiting.name.as_str().to_string(),
                waiting.browser,
                waiting.id,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        knocks
            .iter()
            .map(|(n, b, _)| (n.as_str(), *b))
            .collect::<Vec<_>>(),
        [("Gwen", true), ("Ann", false)]
    );
    w.send(&host, ClientMessage::AdmitAll {});
    let roster = w.take(&host);
    let browser_of = |name: &str| {
        roster.iter().find_map(|m| match m {
            ServerMessage::ParticipantsJoined { participants, .. } => participants
                .iter()
                .find(|p| p.name.as_str() == name)
                .map(|p| p.browser),
            _ => None,
        })
    };
    assert_eq!(browser_of("Gwen"), Some(true));
    assert_eq!(browser_of("Ann"), Some(false));
}
