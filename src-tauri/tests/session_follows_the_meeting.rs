//! The app's session loop against a real in-process server over real sockets (no window): it
//! follows the waiting room, admission, chat and removal as the UI will show them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parley_app::model::{ChatLine, MeetingView, Notice, Phase};
use parley_app::session::{self, Control, MediaSetup, Ui};
use parley_client::api::create_meeting;
use parley_client::call::VideoFormat;
use parley_client::e2ee::E2ee;
use parley_client::{Signaling, tls};
use parley_proto::api::CreateMeeting;
use parley_proto::{
    ClientMessage, DisplayName, Identity, MeetingKey, ParticipantId, PolicyChange, ServerAddr,
    ServerMessage, Title,
};

/// How long any one step may take (a deadline for finishing, not a timing assertion).
const STEP: Duration = Duration::from_secs(15);

/// How long the app's session may wait for its media connection to the SFU
/// (`SyntheticCall::on_message` waits for ICE on the SFU's answer) without reading signaling.
/// A removal that arrives while it waits tears down the SFU's side, so the wait runs out
/// before the session reads the removal.
const MEDIA_CONNECT: Duration = Duration::from_secs(15);

/// The host, as a bare signaling client with its own end-to-end encryption. Nothing runs it
/// but the test: every wait below pumps it, so it keeps answering while the app's session
/// works (adding the app to the encryption group needs the host's commit, and the host's
/// code moves only when it reads the server's answer to that commit).
struct Host {
    sig: Signaling,
    e2ee: E2ee,
    /// What the host was shown and the test has not taken yet, oldest first.
    shown: VecDeque<ServerMessage>,
}

impl Host {
    /// Do the host's work for `time`: read whatever arrives (its encryption answers what is
    /// its own, the rest is kept for [`Host::next_of`]), then run its encryption timers.
    async fn pump(&mut self, time: Duration) {
        let end = tokio::time::Instant::now() + time;
        while let Ok(m) = tokio::time::timeout_at(end, self.sig.recv()).await {
            let m = m.expect("no error").expect("still open");
            let inbound = self.e2ee.on_message(std::time::Instant::now(), m);
            for reply in &inbound.send {
                self.sig.send(reply).await.unwrap();
            }
            self.shown.extend(inbound.show);
        }
        for m in self.e2ee.poll(std::time::Instant::now()) {
            self.sig.send(&m).await.unwrap();
        }
    }

    /// The oldest message of type `ty` the host was shown and the test has not taken yet,
    /// pumping the host until one arrives.
    async fn next_of(&mut self, ty: &str) -> ServerMessage {
        let end = tokio::time::Instant::now() + STEP;
        loop {
            if let Some(i) = self
                .shown
                .iter()
                .position(|m| parley_client::signaling::type_name(m) == ty)
            {
                return self.shown.remove(i).expect("found");
            }
            assert!(
                tokio::time::Instant::now() < end,
                "the host was shown no {ty:?}; shown: {:?}",
                self.shown
            );
            self.pump(Duration::from_millis(50)).await;
        }
    }
}

#[derive(Default)]
struct Recorder {
    views: Mutex<Vec<MeetingView>>,
    chats: Mutex<Vec<ChatLine>>,
    notices: Mutex<Vec<Notice>>,
}

impl Ui for Recorder {
    fn view(&self, view: &MeetingView) {
        self.views.lock().unwrap().push(view.clone());
    }
    fn chat(&self, line: &ChatLine) {
        self.chats.lock().unwrap().push(line.clone());
    }
    fn notice(&self, notice: &Notice) {
        self.notices.lock().unwrap().push(notice.clone());
    }
}

impl Recorder {
    fn last(&self) -> MeetingView {
        self.views.lock().unwrap().last().cloned().expect("a view")
    }
}

/// Wait until `pred` holds of the host and what the app showed, pumping the host all the
/// while (the app's session runs on its own task; the host runs only when the test runs it).
async fn until(
    host: &mut Host,
    ui: &Recorder,
    what: &str,
    pred: impl Fn(&Host, &Recorder) -> bool,
) {
    until_within(host, ui, what, STEP, pred).await;
}

/// [`until`] with its own deadline.
async fn until_within(
    host: &mut Host,
    ui: &Recorder,
    what: &str,
    within: Duration,
    pred: impl Fn(&Host, &Recorder) -> bool,
) {
    let end = tokio::time::Instant::now() + within;
    while !pred(host, ui) {
        assert!(
            tokio::time::Instant::now() < end,
            "{what}: not seen; last view: {:?}; host code: {:?}",
            ui.views.lock().unwrap().last(),
            host.e2ee.security_code().map(|c| c.to_string())
        );
        host.pump(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_follows_waiting_room_admission_chat_and_removal() {
    let config = parley_server::Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..parley_server::Config::default()
    };
    let server = parley_server::Server::bind(config).await.unwrap();
    let addr = ServerAddr::parse(&format!("http://{}", server.local_addr())).unwrap();
    tokio::spawn(server.run());
    let tls = tls::client_config(None).unwrap();
    let created = create_meeting(
        &addr,
        None,
        &CreateMeeting {
            title: Title::new("Clinic board").unwrap(),
            passcode: None,
            policy: PolicyChange::default(),
        },
        tls.clone(),
    )
    .await
    .unwrap();

    let key = MeetingKey::random();
    let hana = Identity::generate();
    let mut sig = Signaling::connect(&addr, tls.clone()).await.unwrap();
    let joined = sig
        .join(
            &created.room,
            &DisplayName::new("Hana").unwrap(),
            &hana,
            None,
            Some(created.host_secret.clone()),
        )
        .await
        .unwrap();
    let mut host = Host {
        sig,
        e2ee: E2ee::new(&key, &hana).unwrap(),
        shown: VecDeque::new(),
    };
    let inbound = host.e2ee.on_message(std::time::Instant::now(), joined);
    for reply in &inbound.send {
        host.sig.send(reply).await.unwrap();
    }
    assert!(
        host.e2ee.is_secured(),
        "the host founds the encryption group"
    );

    // The participant, as the app runs it: camera and microphone off.
    let mut sig = Signaling::connect(&addr, tls).await.unwrap();
    let ada = Identity::generate();
    let first = sig
        .join(
            &created.room,
            &DisplayName::new("Ada").unwrap(),
            &ada,
            None,
            None,
        )
        .await
        .unwrap();
    let e2ee = E2ee::new(&key, &ada).unwrap();
    let ui = Arc::new(Recorder::default());
    let media = MediaSetup {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        video: VideoFormat::default(),
        sinks: Vec::new(),
        camera: false,
        microphone: false,
        devices: Default::default(),
    };
    let handle = session::start(
        sig,
        first,
        media,
        session::Origin::default(),
        ui.clone(),
        e2ee,
    );
    assert_eq!(handle.view().phase, Phase::Waiting);
    assert_eq!(handle.view().title, "Clinic board");

    let ServerMessage::WaitingJoined { waiting } = host.next_of("waiting_joined").await else {
        unreachable!()
    };
    host.sig
        .send(&ClientMessage::Admit { id: waiting.id })
        .await
        .unwrap();
    until(&mut host, &ui, "admitted", |_, u| {
        u.last().phase == Phase::InMeeting
    })
    .await;
    let me = ui.last().you.expect("our number");
    assert_eq!(me, waiting.id.0);
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
