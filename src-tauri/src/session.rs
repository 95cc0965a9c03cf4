//! One meeting, driven: the signaling connection, the [`MeetingModel`] that turns the server's
//! messages into what the UI draws, and the call (media) once admitted. The loop is a tokio
//! task; the app talks to it through a [`SessionHandle`] and hears from it through [`Ui`].
//!
//! Until the device issue lands, the camera and microphone are the synthetic test pattern and
//! tone, behind the same call engine real devices will use. Both are off unless the person
//! turned them on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use parley_client::Signaling;
use parley_client::call::{CallOptions, SyntheticCall, VideoFormat};
use parley_client::sink::MediaSink;
use parley_proto::{ClientMessage, ServerMessage};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::model::{Change, ChatLine, MeetingModel, MeetingView, Notice};

/// Where the session's news goes (the Tauri window, or a test's recorder).
pub trait Ui: Send + Sync + 'static {
    /// The meeting view changed.
    fn view(&self, view: &MeetingView);
    /// A chat message arrived.
    fn chat(&self, line: &ChatLine);
    /// Something to tell the person once.
    fn notice(&self, notice: &Notice);
}

/// What the app asks of a running session.
#[derive(Debug)]
pub enum Control {
    /// Send this to the server (host actions, chat, hand, reactions).
    Send(ClientMessage),
    /// Turn the camera on or off.
    Camera(bool),
    /// Turn the microphone on or off (the server is told we are muted or not).
    Microphone(bool),
    /// Leave the meeting.
    Leave,
}

/// How media is set up once admitted.
#[derive(Clone)]
pub struct MediaSetup {
    /// Local address for media (its IP becomes the ICE candidate).
    pub bind: std::net::SocketAddr,
    /// The camera's picture size and rate.
    pub video: VideoFormat,
    /// Where decoded pictures and audio go.
    pub sinks: Vec<Arc<dyn MediaSink>>,
    /// Camera on at the start.
    pub camera: bool,
    /// Microphone on at the start.
    pub microphone: bool,
}

/// The app's side of a running session.
pub struct SessionHandle {
    control: mpsc::Sender<Control>,
    view: Arc<Mutex<MeetingView>>,
    task: tokio::task::JoinHandle<()>,
}

impl SessionHandle {
    /// Ask the session to do something; false once it has ended.
    pub async fn send(&self, c: Control) -> bool {
        self.control.send(c).await.is_ok()
    }

    /// The latest view.
    pub fn view(&self) -> MeetingView {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The session has stopped (meeting over or connection lost).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Wait for the session to stop, at most `within`.
    pub async fn finished(self, within: Duration) {
        let _ = tokio::time::timeout(within, self.task).await;
    }
}

/// Where a meeting runs and who started it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin {
    /// On this computer's embedded server.
    pub hosted_here: bool,
    /// This app started it and holds the invite link.
    pub started_here: bool,
}

/// Start driving a meeting whose join was answered with `first` (`waiting` or `joined`).
pub fn start(
    sig: Signaling,
    first: ServerMessage,
    media: MediaSetup,
    origin: Origin,
    ui: Arc<dyn Ui>,
) -> SessionHandle {
    let (control, rx) = mpsc::channel(64);
    let mut model = MeetingModel::new(origin.hosted_here, origin.started_here);
    model.apply(&first);
    let view = Arc::new(Mutex::new(model.view().clone()));
    ui.view(model.view());
    let task = tokio::spawn(run(
        sig,
        first,
        model,
        media,
        rx,
        Shared {
            ui,
            view: view.clone(),
        },
    ));
    SessionHandle {
        control,
        view,
        task,
    }
}

struct Shared {
    ui: Arc<dyn Ui>,
    view: Arc<Mutex<MeetingView>>,
}

impl Shared {
    fn publish(&self, model: &MeetingModel, changes: Vec<Change>) {
        for c in changes {
            match c {
                Change::View => {
                    *self.view.lock().unwrap_or_else(|e| e.into_inner()) = model.view().clone();
                    self.ui.view(model.view());
                }
                Change::Chat(line) => self.ui.chat(&line),
                Change::Notice(n) => self.ui.notice(&n),
            }
        }
    }

    fn media_failed(&self, e: &parley_client::ClientError) {
        // The meeting goes on without media; the person is told why.
        self.ui.notice(&Notice {
            kind: "media".into(),
            who: None,
            detail: Some(e.to_string()),
        });
    }
}

async fn start_call(
    media: &MediaSetup,
    msg: &ServerMessage,
) -> Option<Result<(SyntheticCall, ClientMessage), parley_client::ClientError>> {
    let ServerMessage::Joined {
        you, ice_servers, ..
    } = msg
    else {
        return None;
    };
    let options = CallOptions {
        video: media.video,
        sinks: media.sinks.clone(),
        ice_servers: ice_servers.clone(),
        ..CallOptions::default()
    };
    Some(SyntheticCall::start_with_options(you.0, media.bind, options).await)
}

async fn run(
    sig: Signaling,
    first: ServerMessage,
    mut model: MeetingModel,
    media: MediaSetup,
    mut control: mpsc::Receiver<Control>,
    shared: Shared,
) {
    let (mut tx, mut rx) = sig.split();
    let mut call: Option<SyntheticCall> = None;
    let (mut camera, mut microphone) = (media.camera, media.microphone);
    let mut joined_once = false;
    let mut video_tick = tokio::time::interval(media.video.frame_interval());
    video_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut audio_tick = tokio::time::interval(Duration::from_millis(20));
    audio_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut pending = Some(first);
    // Counts only (no names, no addresses): what arrives and what is decoded, for diagnosis.
    let mut stats_tick = tokio::time::interval(Duration::from_secs(5));
    stats_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        if let Some(msg) = pending.take() {
            if matches!(msg, ServerMessage::Joined { .. }) && !joined_once {
                joined_once = true;
                // Our microphone state, so everyone's tile shows it from the start.
                if tx
                    .send(&ClientMessage::SetMuted { muted: !microphone })
                    .await
                    .is_err()
                {
                    break;
                }
            }
            if let Some(c) = &mut call {
                match c.on_message(&msg).await {
                    Ok(Some(reply)) => {
                        if tx.send(&reply).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        shared.media_failed(&e);
                        c.close().await;
                        call = None;
                    }
                }
            } else if let Some(started) = start_call(&media, &msg).await {
                match started {
                    Ok((c, offer)) => {
                        if tx.send(&offer).await.is_err() {
                            break;
                        }
                        call = Some(c);
                    }
                    Err(e) => shared.media_failed(&e),
                }
            }
        }
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(Some(m)) => {
                    let changes = model.apply(&m);
                    shared.publish(&model, changes);
                    pending = Some(m);
                }
                Ok(None) | Err(_) => {
                    let changes = model.connection_lost();
                    shared.publish(&model, changes);
                    break;
                }
            },
            c = control.recv() => {
                let msg = match c {
                    Some(Control::Send(m)) => Some(m),
                    Some(Control::Camera(on)) => { camera = on; None }
                    Some(Control::Microphone(on)) => {
                        microphone = on;
                        Some(ClientMessage::SetMuted { muted: !on })
                    }
                    Some(Control::Leave) | None => Some(ClientMessage::Leave {}),
                };
                if let Some(m) = msg && tx.send(&m).await.is_err() {
                    let changes = model.connection_lost();
                    shared.publish(&model, changes);
                    break;
                }
            }
            _ = video_tick.tick(), if call.is_some() && camera => {
                if let Some(c) = &mut call && let Err(e) = c.send_video().await {
                    shared.media_failed(&e);
                    camera = false;
                }
            }
            _ = stats_tick.tick(), if call.is_some() => {
                if let Some(c) = &call {
                    let stats = c.stats();
                    let frames: Vec<u64> = stats.values().map(|m| m.video_frames).collect();
                    let packets: Vec<u64> = stats.values().map(|m| m.video_packets).collect();
                    let lost: Vec<u64> = stats.values().map(|m| m.video_packets_lost).collect();
                    let freeze: Vec<u64> = stats.values().map(|m| m.longest_freeze_ms).collect();
                    tracing::info!(?frames, ?packets, ?lost, ?freeze, "video per remote participant");
                    for sink in &media.sinks {
                        sink.report();
                    }
                }
            }
            _ = audio_tick.tick(), if call.is_some() && microphone => {
                if let Some(c) = &mut call && let Err(e) = c.send_audio().await {
                    shared.media_failed(&e);
                    microphone = false;
                }
            }
        }
    }
    if let Some(c) = &call {
        c.close().await;
    }
    tx.close().await;
}
