//! The app's session loop against a real in-process server over real sockets (no window): it
//! follows the waiting room, admission, chat and removal as the UI will show them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use parley_app::model::Phase;
use parley_app::session::Control;
use parley_proto::{ClientMessage, MeetingKey, ParticipantId, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_follows_waiting_room_admission_chat_and_removal() {
    let addr = server().await;
    let created = meeting(&addr, "Clinic board").await;
    let key = MeetingKey::random();
    let mut host = Host::join(&addr, &created, &key).await;

    // The participant, as the app runs it: camera and microphone off.
    let ui = Arc::new(Recorder::default());
    let handle = start_app(&addr, "Ada", &created, &key, &ui, false, Vec::new()).await;
    assert_eq!(handle.view().phase, Phase::Waiting);
    assert_eq!(handle.view().title, "Clinic board");

    let admitted = host.admit_next(&ui).await;
    let me = ui.last().you.expect("our number");
    assert_eq!(me, admitted);
    until(&mut host, &ui, "the host in the roster", |_, u| {
        u.last().participants.iter().any(|p| p.name == "Hana")
    })
    .await;

    // Microphone off is told to the server, so the host sees us muted.
    let muted = host.next_of("muted").await;
    assert!(matches!(muted, ServerMessage::Muted { id, muted: true, .. } if id.0 == me));

    // The host adds us to the encryption group: both show the same security code, for a
    // group of two (the host's code is read afresh each time: it moves when the host reads
    // the server's answer to its commit).
    until(&mut host, &ui, "the host's security code", |h, u| {
        let host_code = h.e2ee.security_code().map(|c| c.to_string());
        h.e2ee.group_size() == 2
            && u.last()
                .security
                .as_ref()
                .is_some_and(|s| Some(&s.code) == host_code.as_ref() && s.members == 2)
    })
    .await;

    // Chat both ways, encrypted end to end; the body arrives untouched, with the sender's name.
    let line = host.e2ee.seal_chat(None, r"agenda on \\fs\board").unwrap();
    let ClientMessage::Chat { body: sealed, .. } = &line else {
        unreachable!()
    };
    assert!(!sealed.contains("agenda"), "the server relays ciphertext");
    host.sig.send(&line).await.unwrap();
    until(&mut host, &ui, "the chat line", |_, u| {
        !u.chats.lock().unwrap().is_empty()
    })
    .await;
    let line = ui.chats.lock().unwrap()[0].clone();
    assert_eq!(
        (line.from_name.as_str(), line.body.as_str()),
        ("Hana", r"agenda on \\fs\board")
    );
    assert!(
        handle
            .send(Control::Send(ClientMessage::Chat {
                to: None,
                body: "thanks".into()
            }))
            .await
    );
    // The server echoes a chat line to its sender too: skip the host's own.
    let (body, from) = loop {
        let ServerMessage::Chat { body, from, .. } = host.next_of("chat").await else {
            unreachable!()
        };
        if from.0 == me {
            break (body, from);
        }
    };
    assert_eq!((body.as_str(), from), ("thanks", ParticipantId(me)));
    // Our own line comes back to us as well: that is how the UI shows what was sent.
    until(&mut host, &ui, "our own line echoed", |_, u| {
        u.chats.lock().unwrap().iter().any(|c| c.from == me)
    })
    .await;

    // Removal ends the session with the reason the UI explains.
    host.sig
        .send(&ClientMessage::Remove {
            id: ParticipantId(me),
        })
        .await
        .unwrap();
    // (The session may still be waiting for its media connection, which the removal ends.)
    until_within(&mut host, &ui, "ended", MEDIA_CONNECT + STEP, |_, u| {
        u.last().phase == Phase::Ended
    })
    .await;
    assert_eq!(ui.last().ended_reason.as_deref(), Some("removed"));
    handle.finished(Duration::from_secs(10)).await;
}

/// A server that never answers (its socket takes connections and says nothing): joining
/// waits, holds nothing, and the person's Cancel ends it at once, with no view shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_the_server_never_answers_is_cancelled_at_once() {
    use parley_app::session::{self, EntryError, MediaSetup};
    use parley_client::engine::JoinAs;
    use parley_proto::{DisplayName, Identity, RoomToken, ServerAddr};

    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = ServerAddr::parse(&format!("http://{}", silent.local_addr().unwrap())).unwrap();
    let ui = Arc::new(Recorder::default());
    let (handle, entering) = session::start(
        session::Meeting {
            server,
            tls: parley_client::tls::client_config(None).unwrap(),
            join: JoinAs {
                room: RoomToken::random(),
                key: MeetingKey::random(),
                name: DisplayName::new("Ada").unwrap(),
                identity: Identity::generate(),
                passcode: None,
                host_secret: None,
            },
        },
        MediaSetup {
            video: Default::default(),
            sinks: Vec::new(),
            camera: false,
            microphone: false,
            devices: Default::default(),
            recordings: None,
        },
        session::Origin::default(),
        ui.clone(),
    )
    .unwrap();
    let outcome = tokio::spawn(entering.outcome());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !outcome.is_finished(),
        "still waiting for the silent server"
    );
    assert_eq!(handle.view().phase, Phase::Connecting);
    assert!(handle.send(Control::Leave).await);
    let outcome = tokio::time::timeout(STEP, outcome)
        .await
        .expect("cancelled at once")
        .unwrap();
    assert!(matches!(outcome, Err(EntryError::Cancelled)), "{outcome:?}");
    handle.finished(STEP).await;
    assert!(ui.views.lock().unwrap().is_empty(), "no meeting was shown");
}
