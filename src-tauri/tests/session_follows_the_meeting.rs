//! The app's session loop against a real in-process server over real sockets (no window): it
//! follows the waiting room, admission, chat and removal as the UI will show them.

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

/// The host, as a bare signaling client with its own end-to-end encryption.
struct Host {
    sig: Signaling,
    e2ee: E2ee,
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
    async fn until(&self, what: &str, pred: impl Fn(&Recorder) -> bool) {
        for _ in 0..300 {
            if pred(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{what}: not seen; views: {:?}",
            self.views.lock().unwrap().last()
        );
    }

    fn last(&self) -> MeetingView {
        self.views.lock().unwrap().last().cloned().expect("a view")
    }
}

/// Do the host's work for `time` (whatever arrives is handled, nothing is returned).
async fn pump(host: &mut Host, time: Duration) {
    let end = tokio::time::Instant::now() + time;
    while let Ok(m) = tokio::time::timeout_at(end, host.sig.recv()).await {
        let m = m.expect("no error").expect("still open");
        let inbound = host.e2ee.on_message(std::time::Instant::now(), m);
        for reply in &inbound.send {
            host.sig.send(reply).await.unwrap();
        }
    }
}

/// The next message of type `ty` the host is shown, doing the host's encryption work
/// (adding the participant to the group) on the way.
async fn next_of(host: &mut Host, ty: &str) -> ServerMessage {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(15), host.sig.recv())
            .await
            .expect("in time")
            .expect("no error")
            .expect("still open");
        let inbound = host.e2ee.on_message(std::time::Instant::now(), m);
        for reply in &inbound.send {
            host.sig.send(reply).await.unwrap();
        }
        if let Some(m) = inbound.show
            && parley_client::signaling::type_name(&m) == ty
        {
            return m;
        }
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
    };
    host.e2ee.on_message(std::time::Instant::now(), joined);
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

    let ServerMessage::WaitingJoined { waiting } = next_of(&mut host, "waiting_joined").await
    else {
        unreachable!()
    };
    host.sig
        .send(&ClientMessage::Admit { id: waiting.id })
        .await
        .unwrap();
    ui.until("admitted", |u| u.last().phase == Phase::InMeeting)
        .await;
    let me = ui.last().you.expect("our number");
    assert_eq!(me, waiting.id.0);
    ui.until("the host in the roster", |u| {
        u.last().participants.iter().any(|p| p.name == "Hana")
    })
    .await;

    // Microphone off is told to the server, so the host sees us muted.
    let muted = next_of(&mut host, "muted").await;
    assert!(matches!(muted, ServerMessage::Muted { id, muted: true, .. } if id.0 == me));

    // The host adds us to the encryption group: both show the same security code.
    for _ in 0..100 {
        if ui.last().security.is_some() {
            break;
        }
        pump(&mut host, Duration::from_millis(100)).await;
    }
    let code = host.e2ee.security_code().expect("host code").to_string();
    ui.until("the host's security code", |u| {
        u.last()
            .security
            .as_ref()
            .is_some_and(|s| s.code == code && s.members == 2)
    })
    .await;

    // Chat both ways, encrypted end to end; the body arrives untouched, with the sender's name.
    let line = host.e2ee.seal_chat(None, r"agenda on \\fs\board").unwrap();
    let ClientMessage::Chat { body: sealed, .. } = &line else {
        unreachable!()
    };
    assert!(!sealed.contains("agenda"), "the server relays ciphertext");
    host.sig.send(&line).await.unwrap();
    ui.until("the chat line", |u| !u.chats.lock().unwrap().is_empty())
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
        let ServerMessage::Chat { body, from, .. } = next_of(&mut host, "chat").await else {
            unreachable!()
        };
        if from.0 == me {
            break (body, from);
        }
    };
    assert_eq!((body.as_str(), from), ("thanks", ParticipantId(me)));
    // Our own line comes back to us as well: that is how the UI shows what was sent.
    ui.until("our own line echoed", |u| {
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
    ui.until("ended", |u| u.last().phase == Phase::Ended).await;
    assert_eq!(ui.last().ended_reason.as_deref(), Some("removed"));
    handle.finished(Duration::from_secs(10)).await;
}
