//! What the session tests share: a real in-process server, a meeting on it, the host as a
//! bare signaling client the test pumps, and a recorder standing in for the window.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use std::sync::Arc;

use parley_app::model::{ChatLine, MeetingView, Notice, PollView};
use parley_app::session::{self, MediaSetup, SessionHandle, Ui};
use parley_client::api::create_meeting;
use parley_client::call::VideoFormat;
use parley_client::e2ee::E2ee;
use parley_client::engine::JoinAs;
use parley_client::sink::MediaSink;
use parley_client::{Signaling, tls};
use parley_proto::api::{CreateMeeting, MeetingCreated};
use parley_proto::{
    DisplayName, Identity, MeetingKey, PolicyChange, ServerAddr, ServerMessage, Title,
};

/// How long any one step may take (a deadline for finishing, not a timing assertion).
pub const STEP: Duration = Duration::from_secs(15);

/// How long the app's session may wait for its media connection to the SFU
/// (`Call::on_message` waits for ICE on the SFU's answer) without reading signaling.
/// A removal that arrives while it waits tears down the SFU's side, so the wait runs out
/// before the session reads the removal.
pub const MEDIA_CONNECT: Duration = Duration::from_secs(15);

/// The host, as a bare signaling client with its own end-to-end encryption. Nothing runs it
/// but the test: every wait below pumps it, so it keeps answering while the app's session
/// works (adding the app to the encryption group needs the host's commit, and the host's
/// code moves only when it reads the server's answer to that commit).
pub struct Host {
    pub sig: Signaling,
    pub e2ee: E2ee,
    /// What the host was shown and the test has not taken yet, oldest first.
    pub shown: VecDeque<ServerMessage>,
}

impl Host {
    /// Do the host's work for `time`: read whatever arrives (its encryption answers what is
    /// its own, the rest is kept for [`Host::next_of`]), then run its encryption timers.
    pub async fn pump(&mut self, time: Duration) {
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
    pub async fn next_of(&mut self, ty: &str) -> ServerMessage {
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
pub struct Recorder {
    pub views: Mutex<Vec<MeetingView>>,
    pub chats: Mutex<Vec<ChatLine>>,
    pub notices: Mutex<Vec<Notice>>,
    pub polls: Mutex<Vec<PollView>>,
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
    fn poll(&self, poll: &PollView) {
        self.polls.lock().unwrap().push(poll.clone());
    }
    fn file(&self, _file: &parley_app::files::FileView) {}
    fn notes(&self, _notes: &parley_app::model::NotesView) {}
}

impl Recorder {
    pub fn last(&self) -> MeetingView {
        self.views.lock().unwrap().last().cloned().expect("a view")
    }
}

/// Wait until `pred` holds of the host and what the app showed, pumping the host all the
/// while (the app's session runs on its own task; the host runs only when the test runs it).
pub async fn until(
    host: &mut Host,
    ui: &Recorder,
    what: &str,
    pred: impl Fn(&Host, &Recorder) -> bool,
) {
    until_within(host, ui, what, STEP, pred).await;
}

/// [`until`] with its own deadline.
pub async fn until_within(
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

/// A server on a free loopback port, serving until the test ends.
pub async fn server() -> ServerAddr {
    let config = parley_server::Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..parley_server::Config::default()
    };
    let server = parley_server::Server::bind(config).await.unwrap();
    let addr = ServerAddr::parse(&format!("http://{}", server.local_addr())).unwrap();
    tokio::spawn(server.run());
    addr
}

/// A meeting on `addr` (waiting room on, as by default).
pub async fn meeting(addr: &ServerAddr, title: &str) -> MeetingCreated {
    create_meeting(
        addr,
        None,
        &CreateMeeting {
            title: Title::new(title).unwrap(),
            passcode: None,
            policy: PolicyChange::default(),
        },
        tls::client_config(None).unwrap(),
    )
    .await
    .unwrap()
}

impl Host {
    /// Join `created` on `addr` as its host, Hana, founding the encryption group with `key`.
    pub async fn join(addr: &ServerAddr, created: &MeetingCreated, key: &MeetingKey) -> Host {
        let hana = Identity::generate();
        let mut sig = Signaling::connect(addr, tls::client_config(None).unwrap())
            .await
            .unwrap();
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
            e2ee: E2ee::new(key, &hana).unwrap(),
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
        host
    }
}

/// Someone joins `created` at `server` as the app does: the app's session loop, the
/// microphone off, the camera (the test pattern) on if `camera`; decoded media goes to
/// `sinks`. The session (waiting or admitted, as the meeting says).
pub async fn start_app(
    server: &ServerAddr,
    name: &str,
    created: &MeetingCreated,
    key: &MeetingKey,
    ui: &Arc<Recorder>,
    camera: bool,
    sinks: Vec<Arc<dyn MediaSink>>,
) -> SessionHandle {
    let join = JoinAs {
        room: created.room.clone(),
        key: key.clone(),
        name: DisplayName::new(name).unwrap(),
        identity: Identity::generate(),
        passcode: None,
        host_secret: None,
    };
    let meeting = session::Meeting {
        server: server.clone(),
        tls: tls::client_config(None).unwrap(),
        join,
    };
    let media = MediaSetup {
        video: VideoFormat::default(),
        sinks,
        camera,
        microphone: false,
        devices: Default::default(),
        recordings: None,
    };
    let (handle, entering) =
        session::start(meeting, media, session::Origin::default(), ui.clone()).unwrap();
    // Entering needs nobody else's help (a waiting room or the meeting answers at once).
    tokio::time::timeout(STEP, entering.outcome())
        .await
        .expect("the join is answered in time")
        .expect("in the meeting or its waiting room");
    handle
}

impl Host {
    /// Admit the next one who knocks, and wait until the app behind `ui` shows the meeting.
    /// Their number.
    pub async fn admit_next(&mut self, ui: &Recorder) -> u32 {
        let ServerMessage::WaitingJoined { waiting } = self.next_of("waiting_joined").await else {
            unreachable!()
        };
        self.sig
            .send(&parley_proto::ClientMessage::Admit { id: waiting.id })
            .await
            .unwrap();
        until(self, ui, "admitted", |_, u| {
            u.last().phase == parley_app::model::Phase::InMeeting
        })
        .await;
        waiting.id.0
    }
}
