//! A two-party call over the real server, shared by the media tests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use parley_client::Signaling;
use parley_client::call::{Call, CallOptions, FrameTransform, RemoteMedia};
use parley_client::signaling::{SignalingRx, SignalingTx};
use parley_proto::api::MeetingCreated;
use parley_proto::{ServerAddr, ServerMessage};
use parley_server::{Config, Server};
use parley_tests::bots::{self, Pump, RelayChange};
use parley_tests::relay::{LinkModel, Relay};
use tokio::task::JoinHandle;

/// Hold this for the whole of a test: the calls run one at a time. Each encodes and decodes
/// real video in a debug build, and on two cores several at once starve one another's
/// congestion control and timers, which is not what the tests are about.
pub async fn one_call_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// A running server (signaling and SFU) with one meeting, waiting room off.
pub struct Meeting {
    /// The server.
    pub srv: ServerAddr,
    /// Client TLS settings.
    pub tls: Arc<rustls::ClientConfig>,
    /// The meeting.
    pub created: MeetingCreated,
    /// The SFU's UDP address (its first media worker's, where a server's first meeting runs).
    pub media: SocketAddr,
    /// Every media worker's UDP address.
    pub server_media_addrs: Vec<SocketAddr>,
    /// Fails the test when the meeting ends if the server stopped or anything panicked.
    pub server: ServerGuard,
}

/// Every panic in this process so far (its message and thread), in order.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Record every panic from now on (then report it as before). A spawned task's panic only
/// reaches its `JoinHandle`, and the server's connection and SFU tasks have none a test holds.
fn record_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or("?").to_owned();
            PANICS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!("thread '{thread}': {info}"));
            report(info)
        }));
    });
}

fn panics() -> std::sync::MutexGuard<'static, Vec<String>> {
    PANICS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The server's accept loop, which should run until the test is over, and the count of
/// panics when it started. Dropping it (unless the test is already failing) fails the test if
/// the loop ended or anything in the process panicked meanwhile (a test holds
/// [`one_call_at_a_time`], so those are its own), then stops the server.
pub struct ServerGuard {
    task: JoinHandle<()>,
    panics_before: usize,
}

impl ServerGuard {
    fn start(task: JoinHandle<()>) -> Self {
        record_panics();
        ServerGuard {
            task,
            panics_before: panics().len(),
        }
    }

    /// `Err` saying what went wrong if the server's loop has ended or anything panicked since
    /// the server started or the last `check`; each panic is reported once.
    pub fn check(&mut self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.task.is_finished() {
            problems.push(match (&mut self.task).now_or_never() {
                Some(Err(e)) if e.is_panic() => {
                    let payload = e.into_panic();
                    let text = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic with no message".into());
                    format!("the server's loop panicked: {text}")
                }
                Some(Err(e)) => format!("the server's loop was stopped: {e}"),
                Some(Ok(())) | None => "the server's loop ended".to_owned(),
            });
        }
        let all = panics();
        problems.extend(all[self.panics_before..].iter().cloned());
        self.panics_before = all.len();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let found = if std::thread::panicking() {
            Ok(())
        } else {
            self.check()
        };
        self.task.abort();
        if let Err(e) = found {
            panic!("during the meeting: {e}");
        }
    }
}

/// Start a server on loopback and create a meeting on it.
pub async fn meeting(title: &str) -> Meeting {
    meeting_with(title, Config::default()).await
}

/// [`meeting`] with this server configuration (its listen address is replaced).
pub async fn meeting_with(title: &str, config: Config) -> Meeting {
    let server = Server::bind(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..config
    })
    .await
    .unwrap();
    let srv = ServerAddr::parse(&format!("http://{}", server.local_addr())).unwrap();
    let media = server.media_addr().expect("the server has an SFU");
    let server_media_addrs = server.media_addrs();
    let server = ServerGuard::start(tokio::spawn(server.run()));
    let tls = parley_client::tls::client_config(None).unwrap();
    let created = bots::open_meeting(&srv, tls.clone(), title).await;
    Meeting {
        srv,
        tls,
        created,
        media,
        server_media_addrs,
        server,
    }
}

/// Join `m` as `name` (as host if `host`); the participant number, and the connection with
/// the `joined` message.
pub async fn joined_with_message(
    m: &Meeting,
    name: &str,
    host: bool,
) -> (u32, (Signaling, ServerMessage)) {
    let secret = host.then(|| m.created.host_secret.clone());
    bots::join_with_message(&m.srv, m.tls.clone(), &m.created.room, name, secret).await
}

/// `name` joins `m` (as its host if `host`) and starts a call sending `video` (e.g.
/// `"640x360@30"`, simulcast), its offer sent: their number, the call, and the signaling halves.
pub async fn sending(
    m: &Meeting,
    name: &str,
    host: bool,
    video: &str,
) -> (u32, Call, SignalingTx, SignalingRx) {
    let (you, sig) = joined(m, name, host).await;
    let options = CallOptions {
        video: video.parse().unwrap(),
        ..CallOptions::default()
    };
    let (call, offer) = Call::start_with_options(you, "127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap();
    let (mut tx, rx) = sig.split();
    tx.send(&offer).await.unwrap();
    (you, call, tx, rx)
}

/// Join `m` as `name` (as host if `host`); the participant number and the connection.
pub async fn joined(m: &Meeting, name: &str, host: bool) -> (u32, Signaling) {
    let secret = host.then(|| m.created.host_secret.clone());
    bots::join(&m.srv, m.tls.clone(), &m.created.room, name, secret).await
}

/// One participant of [`call`].
pub struct Party {
    /// Display name.
    pub name: &'static str,
    /// How they send and what they keep.
    pub options: CallOptions,
    /// Their network, if not a clean loopback.
    pub link: Option<LinkModel>,
    /// Changes to their network during the call (see [`bots::Pump::relay_schedule`]).
    pub relay_schedule: Vec<(Duration, RelayChange)>,
}

impl Party {
    /// A participant on a clean network with default media.
    pub fn plain(name: &'static str) -> Self {
        Party {
            name,
            options: CallOptions::default(),
            link: None,
            relay_schedule: Vec::new(),
        }
    }
}

/// How one participant's call went.
pub struct Outcome {
    /// Their participant number.
    pub id: u32,
    /// What they received, by sender.
    pub got: BTreeMap<String, RemoteMedia>,
    /// Their VP8 target at the end, kbit/s.
    pub video_kbps: u32,
    /// What congestion control allowed them at the end, kbit/s.
    pub budget_kbps: u32,
    /// The simulcast layers it was sending at the end (indexes into `LAYERS`).
    pub layers: Vec<usize>,
    /// Their bad network, if they had one.
    pub relay: Option<Relay>,
    /// What congestion control allowed them every 100 ms: (ms since the start, kbit/s).
    pub budget_trace: Vec<(u64, u32)>,
    /// ICE restarts their call made.
    pub restarts: u32,
    /// The packet loss (percent) their audio's in-band FEC was tuned for at the end.
    pub fec_loss_pct: i32,
}

impl Outcome {
    /// What they received from `other`.
    pub fn from(&self, other: &Outcome) -> RemoteMedia {
        self.got
            .get(&other.id.to_string())
            .cloned()
            .unwrap_or_default()
    }
}

/// Everyone in `parties` in one meeting (the first is host) for `secs`; how it went for each.
pub async fn call(parties: Vec<Party>, secs: u64) -> Vec<Outcome> {
    let m = meeting("Call").await;
    let mut tasks = Vec::new();
    for (i, p) in parties.into_iter().enumerate() {
        let (you, sig) = joined(&m, p.name, i == 0).await;
        let relay = match p.link {
            Some(model) => Some(Relay::start(m.media, model).await.unwrap()),
            None => None,
        };
        let (mut call, offer) =
            Call::start_with_options(you, "127.0.0.1:0".parse().unwrap(), p.options)
                .await
                .unwrap();
        let (mut tx, mut rx) = sig.split();
        tx.send(&offer).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let end = Instant::now() + Duration::from_secs(secs);
            let trace = std::sync::Mutex::new(Vec::new());
            let how = Pump {
                end: Some(end),
                via: relay.as_ref(),
                relay_schedule: &p.relay_schedule,
                budget_trace: Some(&trace),
                ..Pump::default()
            };
            bots::pump(&mut call, &mut tx, &mut rx, how).await;
            let outcome = Outcome {
                id: you,
                got: call.stats(),
                video_kbps: call.video_bitrate_kbps(),
                budget_kbps: call.send_budget_kbps(),
                layers: call.video_layers(),
                relay,
                budget_trace: trace.into_inner().unwrap_or_else(|e| e.into_inner()),
                restarts: call.restarts(),
                fec_loss_pct: call.audio_expected_loss().unwrap(),
            };
            call.close().await;
            outcome
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Ann and Bob in one meeting for `secs`, each sealing and opening frames with their
/// transform; `during` is called with the SFU's UDP address when media starts. Returns Ann's
/// participant number and what Bob received from her.
pub async fn two_party(
    ann: Arc<dyn FrameTransform>,
    bob: Arc<dyn FrameTransform>,
    secs: u64,
    during: impl FnOnce(SocketAddr),
) -> (u32, Option<RemoteMedia>) {
    let m = meeting("Sealed").await;
    let mut sides = Vec::new();
    for (name, transform, host) in [("Ann", ann, true), ("Bob", bob, false)] {
        let (you, sig) = joined(&m, name, host).await;
        let (call, offer) = Call::start_with(you, "127.0.0.1:0".parse().unwrap(), transform)
            .await
            .unwrap();
        let (mut tx, rx) = sig.split();
        tx.send(&offer).await.unwrap();
        sides.push((you, call, tx, rx));
    }
    let ann_id = sides[0].0;
    during(m.media);
    let mut tasks = Vec::new();
    let bob_stats = Arc::new(std::sync::Mutex::new(None));
    for (me, mut call, mut tx, mut rx) in sides {
        let bob_stats = bob_stats.clone();
        tasks.push(tokio::spawn(async move {
            let end = Instant::now() + Duration::from_secs(secs);
            pump(&mut call, &mut tx, &mut rx, Some(end)).await;
            if me != ann_id {
                *bob_stats.lock().unwrap() = call.stats().get(&ann_id.to_string()).cloned();
            }
            call.close().await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = bob_stats.lock().unwrap().clone();
    (ann_id, s)
}

/// Run one participant's call until `end` (or for ever) or until signaling closes.
pub async fn pump(
    call: &mut Call,
    tx: &mut SignalingTx,
    rx: &mut SignalingRx,
    end: Option<Instant>,
) {
    bots::pump(
        call,
        tx,
        rx,
        Pump {
            end,
            ..Pump::default()
        },
    )
    .await
}
