//! One meeting, driven: the signaling connection, the [`MeetingModel`] that turns the server's
//! messages into what the UI draws, and the call (media) once admitted. The loop is a tokio
//! task; the app talks to it through a [`SessionHandle`] and hears from it through [`Ui`].
//!
//! Camera and microphone are the ones the person picked ([`DevicePrefs`]), or the synthetic
//! test pattern and tone when none was picked; both are off unless the person turned them on,
//! and a real device is opened only while it is on. Everyone else is played on the speaker
//! through one mixer, each at the volume this listener set.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_client::ClientError;
use parley_client::call::{Call, CallOptions, VideoFormat};
use parley_client::e2ee::{E2ee, E2eeEvent};
use parley_client::engine::{
    Action, Command, Ending, Event, JoinAs, MeetingEngine, Output, Unsent,
};
use parley_client::signaling::{self, SignalingLink};
use parley_client::sink::{MediaSink, SpeakingDetector};
use parley_proto::{ClientMessage, ParticipantId, ServerAddr, ServerMessage};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use crate::devices::{DevicePrefs, DeviceProblem, LocalMedia};
use crate::files::{FileStore, FileView};
use crate::model::{
    Change, ChatLine, MeetingModel, MeetingView, NotesView, Notice, PollView, SecurityView,
};

/// Where the session's news goes (the Tauri window, or a test's recorder).
pub trait Ui: Send + Sync + 'static {
    /// The meeting view changed.
    fn view(&self, view: &MeetingView);
    /// A chat message arrived.
    fn chat(&self, line: &ChatLine);
    /// A poll opened or changed.
    fn poll(&self, poll: &PollView);
    /// A file transfer began or changed.
    fn file(&self, file: &FileView);
    /// The shared notes or whiteboard changed.
    fn notes(&self, notes: &NotesView);
    /// Something to tell the person once.
    fn notice(&self, notice: &Notice);
}

/// What the app asks of a running session.
#[derive(Debug)]
pub enum Control {
    /// Send this to the server (host actions, chat, hand, reactions).
    Send(ClientMessage),
    /// React (sealed end to end before it is sent).
    React(parley_proto::Reaction),
    /// Raise or lower our hand (sealed end to end before it is sent).
    Hand(bool),
    /// Open a poll (sealed end to end before it is sent).
    OpenPoll {
        /// The question.
        question: String,
        /// The options.
        options: Vec<String>,
        /// Several may be chosen.
        multiple: bool,
        /// Votes reach the hosts without the voter.
        anonymous: bool,
    },
    /// Vote in a poll (sealed): the options chosen.
    Vote(u32, Vec<u8>),
    /// Change the shared notes or whiteboard (sealed).
    Notes(parley_client::notes::NotesEdit),
    /// A message to every breakout room (sealed with the link's key).
    BreakoutBroadcast(String),
    /// Share a poll's results with everyone (sealed).
    SharePoll(u32),
    /// Start or stop recording on this computer (the server must allow it and tells
    /// everyone; the recording runs only once it has).
    Record(bool),
    /// Send a file (sealed) to one participant or everyone.
    SendFile {
        /// Its addressee; `None`: everyone.
        to: Option<u32>,
        /// Its name.
        name: String,
        /// Its content.
        data: Vec<u8>,
    },
    /// Start or stop sharing the screen or a window (the server decides whether we may).
    ShareScreen(bool, parley_media::screen::ShareTarget),
    /// Turn the camera on or off.
    Camera(bool),
    /// Turn the microphone on or off (the server is told we are muted or not).
    Microphone(bool),
    /// Other devices picked during the meeting.
    Devices(DevicePrefs),
    /// How a participant is heard here: volume 0–200 % and mute-for-me.
    Listen {
        /// Their participant number.
        id: u32,
        /// Percent.
        volume: u16,
        /// Silenced for this listener only.
        muted_for_me: bool,
    },
    /// Leave the meeting.
    Leave,
}

/// How media is set up once admitted. It leaves from this computer's address on the route
/// the signaling connection took (so a new network after a reconnect is used as it is).
#[derive(Clone)]
pub struct MediaSetup {
    /// The camera's picture size and rate.
    pub video: VideoFormat,
    /// Where decoded pictures and audio go.
    pub sinks: Vec<Arc<dyn MediaSink>>,
    /// Camera on at the start.
    pub camera: bool,
    /// Microphone on at the start.
    pub microphone: bool,
    /// Which camera, microphone and speaker.
    pub devices: DevicePrefs,
    /// Where this app's own recordings go (what it receives, while the host allows it and
    /// the server has told everyone); `None`: it cannot record.
    pub recordings: Option<std::path::PathBuf>,
}

/// The app's side of a running session.
pub struct SessionHandle {
    control: mpsc::Sender<Control>,
    view: Arc<Mutex<MeetingView>>,
    polls: Polls,
    notes: Arc<Mutex<NotesView>>,
    files: Arc<Mutex<FileStore>>,
    task: tokio::task::JoinHandle<()>,
}

/// How the first join of a session ends: the first view (the waiting room or the meeting),
/// or why there is none.
pub struct Entering(oneshot::Receiver<Result<MeetingView, EntryError>>);

impl Entering {
    /// Wait for the server's answer (or the person cancelling).
    pub async fn outcome(self) -> Result<MeetingView, EntryError> {
        self.0.await.unwrap_or(Err(EntryError::Cancelled))
    }
}

/// Why a session never got into the meeting.
#[derive(Debug)]
pub enum EntryError {
    /// The server could not be reached, refused the join, or is not a Parley server.
    Failed(ClientError),
    /// The person stopped joining (left before the server answered).
    Cancelled,
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

    /// The meeting's polls as this app knows them, oldest first.
    pub fn polls(&self) -> Vec<PollView> {
        self.polls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The shared notes and whiteboard as last published.
    pub fn notes(&self) -> NotesView {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The meeting's file transfers and the received files waiting.
    pub fn files(&self) -> Arc<Mutex<FileStore>> {
        self.files.clone()
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

/// Which meeting, on which server, as whom.
pub struct Meeting {
    /// The meeting server (the link's, or this computer's embedded one).
    pub server: ServerAddr,
    /// The TLS settings to reach it with.
    pub tls: Arc<rustls::ClientConfig>,
    /// Who joins, with the link's room token and key.
    pub join: JoinAs,
}

/// Start a session: it joins `meeting` ([`Entering`] says how that ends),
/// encrypted end to end with the link's key, and if the connection drops it joins again as
/// the same person, keeping their place. Nothing is held while it connects: the person can
/// leave (cancel) at any moment.
pub fn start(
    meeting: Meeting,
    media: MediaSetup,
    origin: Origin,
    ui: Arc<dyn Ui>,
) -> Result<(SessionHandle, Entering), ClientError> {
    let (control, rx) = mpsc::channel(64);
    let model = MeetingModel::new(origin.hosted_here, origin.started_here);
    let view = Arc::new(Mutex::new(model.view().clone()));
    let polls = Polls::default();
    let notes = Arc::new(Mutex::new(NotesView::default()));
    let files = Arc::new(Mutex::new(FileStore::default()));
    let engine = MeetingEngine::new(meeting.join, Instant::now())?;
    let (entry_tx, entry_rx) = oneshot::channel();
    let task = tokio::spawn(run(
        Driver {
            engine,
            link: SignalingLink::new(meeting.server, meeting.tls),
        },
        model,
        media,
        rx,
        Shared {
            ui,
            view: view.clone(),
            polls: polls.clone(),
            notes: notes.clone(),
            files: files.clone(),
        },
        entry_tx,
    ));
    Ok((
        SessionHandle {
            control,
            view,
            polls,
            notes,
            files,
            task,
        },
        Entering(entry_rx),
    ))
}

/// The meeting's polls by number, as last published (for a reloaded window).
type Polls = Arc<Mutex<std::collections::BTreeMap<u32, PollView>>>;

struct Shared {
    ui: Arc<dyn Ui>,
    view: Arc<Mutex<MeetingView>>,
    polls: Polls,
    notes: Arc<Mutex<NotesView>>,
    files: Arc<Mutex<FileStore>>,
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
                Change::Poll(poll) => {
                    self.polls
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(poll.id, poll.clone());
                    self.ui.poll(&poll);
                }
                Change::File(file) => self.ui.file(&file),
                Change::Notice(n) => self.ui.notice(&n),
            }
        }
    }

    /// What end-to-end encryption reported, into the view and notices.
    fn e2ee(&self, model: &mut MeetingModel, e2ee: &E2ee, events: Vec<E2eeEvent>) {
        for event in events {
            let changes = match event {
                E2eeEvent::Secured { code, members, .. } => {
                    model.set_security(Some(SecurityView {
                        code: code.to_string(),
                        members: u32::try_from(members).unwrap_or(u32::MAX),
                    }))
                }
                E2eeEvent::Removed => model.set_security(None),
                E2eeEvent::Reaction { from, reaction } => model.reacted(from.0, reaction),
                E2eeEvent::Hand { from, raised } => model.set_hand(from.0, raised),
                E2eeEvent::Poll(poll) => {
                    let known = self
                        .polls
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .contains_key(&poll.id.0);
                    let mut changes = vec![Change::Poll(PollView::from(&poll))];
                    if !known && poll.open && Some(poll.by.0) != model.view().you {
                        changes.push(Change::Notice(Notice::PollOpened {
                            poll: poll.id.0,
                            by: poll.by.0,
                        }));
                    }
                    changes
                }
                E2eeEvent::Refused(message) => {
                    self.ui.notice(&Notice::E2eeRefused {
                        message: message.clone(),
                    });
                    model.e2ee_refused(message)
                }
                E2eeEvent::File(e) => {
                    let offered = match &e {
                        parley_client::files::FileEvent::Offered { transfer, from, .. } => {
                            Some(Notice::FileOffered {
                                transfer: transfer.0,
                                from: from.0,
                            })
                        }
                        _ => None,
                    };
                    let me = model.view().you.unwrap_or(0);
                    let view = self
                        .files
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .event(me, e);
                    view.into_iter()
                        .map(Change::File)
                        .chain(offered.map(Change::Notice))
                        .collect()
                }
                E2eeEvent::NotesChanged => {
                    let notes = NotesView::from(e2ee.notes());
                    *self.notes.lock().unwrap_or_else(|e| e.into_inner()) = notes.clone();
                    self.ui.notes(&notes);
                    Vec::new()
                }
                E2eeEvent::Unreadable { from } => {
                    self.ui.notice(&Notice::ChatUnreadable { from: from.0 });
                    Vec::new()
                }
                E2eeEvent::Problem(message) => {
                    tracing::warn!(%message, secured = e2ee.is_secured(), "end-to-end encryption");
                    Vec::new()
                }
            };
            self.publish(model, changes);
        }
    }

    fn device_problem(&self, e: &parley_media::audio_device::DeviceError) {
        // The UI says it in the person's language, by device and kind.
        self.ui.notice(&Notice::DeviceProblem {
            problem: DeviceProblem::from(e),
        });
    }

    fn media_failed(&self, e: &parley_client::ClientError) {
        // The meeting goes on without media; the person is told why.
        self.ui.notice(&Notice::Media {
            message: e.to_string(),
        });
    }
}

#[allow(clippy::too_many_arguments)] // what a call is made of, each passed once
async fn start_call(
    media: &MediaSetup,
    you: ParticipantId,
    ice_servers: Vec<parley_proto::IceServer>,
    bind: std::net::SocketAddr,
    e2ee: &E2ee,
    speaking: &Arc<SpeakingDetector>,
    local: Option<&Arc<LocalMedia>>,
) -> Result<(Call, ClientMessage), parley_client::ClientError> {
    let mut sinks = media.sinks.clone();
    sinks.push(speaking.clone());
    if let Some(l) = local {
        sinks.push(l.sink());
    }
    let options = CallOptions {
        video: media.video,
        sinks,
        ice_servers,
        transform: e2ee.frames(),
        ..CallOptions::default()
    };
    Call::start_with_options(you.0, bind, options).await
}

/// Give the call the chosen camera while it is on, and none while it is off (closing the
/// device); with no camera chosen the test pattern stays.
async fn use_camera(
    call: &mut Call,
    local: Option<&Arc<LocalMedia>>,
    on: bool,
    video: VideoFormat,
    shared: &Shared,
) {
    let Some(l) = local.filter(|l| l.real_camera()) else {
        return;
    };
    if !on {
        call.set_camera(None);
        return;
    }
    let l = l.clone();
    let request = parley_media::camera::CameraRequest {
        width: video.width,
        height: video.height,
        fps: video.fps,
    };
    match tokio::task::spawn_blocking(move || l.open_camera(request)).await {
        Ok(Some(Ok(camera))) => call.set_camera(Some(camera)),
        Ok(Some(Err(e))) => {
            shared.device_problem(&e);
            call.set_camera(None);
        }
        _ => call.set_camera(None),
    }
}

/// Tell the person about devices that stopped since the last look. While `sharing`, a lost
/// camera track is the shared screen or window: that is reported as sharing having ended, and
/// the answer is true.
fn report_lost(call: &mut Call, sharing: bool, shared: &Shared) -> bool {
    let mut share_ended = false;
    for (kind, why) in call.take_lost_devices() {
        if sharing && kind == parley_media::audio_device::DeviceKind::Camera {
            share_ended = true;
            // The window going away is the usual end, and the UI words it; anything else
            // is said as it is.
            let why = why.to_string();
            shared.ui.notice(&Notice::ShareEnded {
                message: (!why.contains(parley_media::screen::WINDOW_GONE)).then_some(why),
            });
        } else {
            shared.device_problem(&parley_media::audio_device::DeviceError::Failed {
                kind,
                detail: format!("{why}; the meeting goes on without it"),
            });
        }
    }
    share_ended
}

/// Whether the call's media failed to connect (or timed out connecting): then the user is
/// told, and the call's media ends (the meeting goes on without it, as when media cannot
/// start).
async fn media_failed(call: &mut Option<Call>, shared: &Shared) -> bool {
    let Some(c) = call else {
        return false;
    };
    match c.check_connection() {
        Ok(_) => false,
        Err(e) => {
            shared.media_failed(&e);
            c.close().await;
            *call = None;
            true
        }
    }
}

/// Share the screen or a window (`to`) on the camera's track, or (`None`) stop and give the
/// track back to the camera (or the test pattern standing in for it). False if it could not
/// be captured (the problem is reported; the camera is back).
async fn share_screen(
    call: &mut Call,
    local: Option<&Arc<LocalMedia>>,
    to: Option<parley_media::screen::ShareTarget>,
    camera: bool,
    video: VideoFormat,
    me: u32,
    shared: &Shared,
) -> bool {
    let on = to.is_some();
    if let Some(target) = to {
        match tokio::task::spawn_blocking(move || {
            parley_media::screen::ScreenCapture::open_target(target)
        })
        .await
        {
            Ok(Ok(screen)) => {
                call.share_screen(Box::new(screen));
                return true;
            }
            Ok(Err(e)) => shared.device_problem(&e),
            Err(_) => {}
        }
    }
    call.set_camera(None);
    if local.is_some_and(|l| l.real_camera()) {
        use_camera(call, local, camera, video, shared).await;
    } else {
        let (w, h) = (video.width, video.height);
        call.set_camera(Some(Box::new(parley_media::pattern::TestPattern::new(
            w, h, me,
        ))));
    }
    !on
}

/// The same for the microphone.
async fn use_microphone(
    call: &mut Call,
    local: Option<&Arc<LocalMedia>>,
    on: bool,
    shared: &Shared,
) {
    let Some(l) = local.filter(|l| l.real_microphone()) else {
        return;
    };
    if !on {
        call.set_microphone(None);
        return;
    }
    let l = l.clone();
    match tokio::task::spawn_blocking(move || l.open_microphone()).await {
        Ok(Some(Ok(mic))) => call.set_microphone(Some(mic)),
        Ok(Some(Err(e))) => {
            shared.device_problem(&e);
            call.set_microphone(None);
        }
        _ => call.set_microphone(None),
    }
}

/// The meeting engine and the signaling connection it drives.
struct Driver {
    engine: MeetingEngine,
    link: SignalingLink,
}

/// The server announced that our recording started (`on`) or ended: it runs exactly then.
fn recording_changed(
    r: &parley_client::record::RecordSink,
    on: bool,
    shared: &Shared,
    engine: &mut MeetingEngine,
) {
    if on {
        if let Err(e) = r.start() {
            shared.ui.notice(&Notice::RecordingFailed {
                message: format!(
                    "The recording cannot be written in {} ({e}).",
                    r.dir().display()
                ),
            });
            engine.handle_command(
                Instant::now(),
                Command::Send(ClientMessage::Record { on: false }),
            );
        }
    } else if r.is_recording() {
        let files = r.stop().iter().map(|p| p.display().to_string()).collect();
        shared.ui.notice(&Notice::RecordingSaved { files });
    }
}

/// What to tell the UI when a request could not be sent.
fn not_sent(what: Unsent, reason: String) -> Notice {
    match what {
        Unsent::Chat => Notice::ChatNotSent { reason },
        Unsent::Hand => Notice::HandNotSent { reason },
        Unsent::Reaction => Notice::ReactionNotSent { reason },
        Unsent::Poll => Notice::PollNotSent { reason },
        Unsent::File => Notice::FileNotSent { reason },
        Unsent::Notes => Notice::NotesNotSent { reason },
        Unsent::Request => Notice::RequestNotSent { reason },
    }
}

/// The session's loop: the engine decides what the meeting conversation needs (joining,
/// encryption, coming back after a drop); this loop carries it out, turns what the server
/// says into the view, and runs media and devices.
async fn run(
    mut d: Driver,
    mut model: MeetingModel,
    mut media: MediaSetup,
    mut control: mpsc::Receiver<Control>,
    shared: Shared,
    entry: oneshot::Sender<Result<MeetingView, EntryError>>,
) {
    let mut entry = Some(entry);
    // This app's own recording: it receives what the call receives, and writes only while
    // the server has told everyone.
    let recorder = media
        .recordings
        .as_ref()
        .map(|dir| Arc::new(parley_client::record::RecordSink::new(dir)));
    if let Some(r) = &recorder {
        media.sinks.push(r.clone());
    }
    // Who is speaking, from the audio as it plays: the tiles' highlight and speaker view.
    let speaking = Arc::new(SpeakingDetector::default());
    let mut speaking_tick = tokio::time::interval(Duration::from_millis(250));
    speaking_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut decrypt_tick = tokio::time::interval(Duration::from_secs(1));
    decrypt_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut call: Option<Call> = None;
    let mut local: Option<Arc<LocalMedia>> = None;
    let (mut camera, mut microphone) = (media.camera, media.microphone);
    // We share the screen (the server said so).
    let mut sharing = false;
    // What to share once the server lets us.
    let mut share_target = parley_media::screen::ShareTarget::Screen;
    let mut video_tick = tokio::time::interval(media.video.frame_interval());
    video_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut audio_tick = tokio::time::interval(Duration::from_millis(20));
    audio_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Counts only (no names, no addresses): what arrives and what is decoded, for diagnosis.
    let mut stats_tick = tokio::time::interval(Duration::from_secs(5));
    stats_tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // Back after a drop: the next message shown is the server's answer to the new join.
    let mut rejoined = false;
    'session: loop {
        while let Some(output) = d.engine.poll_output() {
            let Some(output) = d.link.carry(&mut d.engine, output).await else {
                continue;
            };
            match output {
                Output::Action(Action::StartMedia { you, ice_servers }) => {
                    if local.is_none() {
                        // Media starts: the speaker (and audio processing) first.
                        let prefs = media.devices.clone();
                        if let Ok((l, problems)) =
                            tokio::task::spawn_blocking(move || LocalMedia::open(prefs)).await
                        {
                            for p in &problems {
                                shared.device_problem(p);
                            }
                            local = Some(Arc::new(l));
                        }
                    }
                    if let Some(old) = call.take() {
                        old.close().await;
                    }
                    let Some(bind) = d.link.media_bind() else {
                        continue;
                    };
                    let e2ee = d.engine.e2ee();
                    match start_call(
                        &media,
                        you,
                        ice_servers,
                        bind,
                        e2ee,
                        &speaking,
                        local.as_ref(),
                    )
                    .await
                    {
                        Ok((mut c, offer)) => {
                            d.engine.handle_media_message(offer);
                            use_camera(&mut c, local.as_ref(), camera, media.video, &shared).await;
                            use_microphone(&mut c, local.as_ref(), microphone, &shared).await;
                            call = Some(c);
                        }
                        Err(e) => shared.media_failed(&e),
                    }
                }
                Output::Action(Action::StopMedia) => {
                    // Media went with the connection (the server drops our side of it): it
                    // starts again on the new one. The devices stay open.
                    if let Some(c) = call.take() {
                        c.close().await;
                    }
                }
                Output::Event(Event::Shown(m)) => {
                    // Polls belong to the meeting we were in (a breakout room moves us).
                    if matches!(m, ServerMessage::Moved { .. }) {
                        shared
                            .polls
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .clear();
                    }
                    let changes = if std::mem::take(&mut rejoined) {
                        model.reconnected(&m)
                    } else {
                        model.apply(&m)
                    };
                    shared.publish(&model, changes);
                    if let (ServerMessage::Recording { id, on }, Some(r)) = (&m, &recorder)
                        && Some(id.0) == model.view().you
                    {
                        recording_changed(r, *on, &shared, &mut d.engine);
                    }
                    if matches!(
                        m,
                        ServerMessage::Waiting { .. } | ServerMessage::Joined { .. }
                    ) && let Some(tx) = entry.take()
                    {
                        let _ = tx.send(Ok(model.view().clone()));
                    }
                    if matches!(m, ServerMessage::Joined { .. }) {
                        // Our microphone state, so everyone's tile shows it from the start.
                        d.engine.handle_command(
                            Instant::now(),
                            Command::Send(ClientMessage::SetMuted { muted: !microphone }),
                        );
                    }
                    // In event mode's audience nothing of ours may be heard or seen (the
                    // server drops it): the camera and microphone close here too.
                    if !model.may_send() && (camera || microphone) {
                        camera = false;
                        microphone = false;
                        if let Some(c) = &mut call {
                            use_camera(c, local.as_ref(), false, media.video, &shared).await;
                            use_microphone(c, local.as_ref(), false, &shared).await;
                        }
                    }
                    // The server let us share (or stopped us): the screen replaces the
                    // camera on the same track, or the camera comes back.
                    let me = model.view().you;
                    if let ServerMessage::ScreenShare { id, sharing: now } = &m
                        && Some(id.0) == me
                        && *now != sharing
                    {
                        sharing = *now;
                        if let Some(c) = &mut call
                            && !share_screen(
                                c,
                                local.as_ref(),
                                sharing.then_some(share_target),
                                camera,
                                media.video,
                                me.unwrap_or(0),
                                &shared,
                            )
                            .await
                        {
                            // The screen could not be captured: tell everyone we stopped.
                            sharing = false;
                            d.engine.handle_command(
                                Instant::now(),
                                Command::Send(ClientMessage::ShareScreen { sharing: false }),
                            );
                        }
                    }
                    if let Some(c) = &mut call {
                        match c.on_message(&m).await {
                            Ok(Some(reply)) => d.engine.handle_media_message(reply),
                            Ok(None) => {}
                            Err(e) => {
                                shared.media_failed(&e);
                                c.close().await;
                                call = None;
                            }
                        }
                    }
                }
                Output::Event(Event::E2ee(event)) => {
                    shared.e2ee(&mut model, d.engine.e2ee(), vec![event]);
                }
                Output::Event(Event::Reconnecting) => {
                    tracing::info!("connection to the meeting server dropped; reconnecting");
                    let changes = model.reconnecting();
                    shared.publish(&model, changes);
                }
                Output::Event(Event::Reconnected) => {
                    tracing::info!("reconnected");
                    rejoined = true;
                    // The server still counts us as sharing; the new call starts with the
                    // camera.
                    if std::mem::take(&mut sharing) {
                        d.engine.handle_command(
                            Instant::now(),
                            Command::Send(ClientMessage::ShareScreen { sharing: false }),
                        );
                    }
                }
                Output::Event(Event::NotSent { what, reason }) => {
                    shared.ui.notice(&not_sent(what, reason));
                }
                // The hand goes up for the others once the keys arrive; the view shows it now.
                Output::Event(Event::HandHeld) => {}
                Output::Event(Event::Ended(ending)) => {
                    let changes = match ending {
                        Ending::Failed(e) => {
                            if let Some(tx) = entry.take() {
                                let _ = tx.send(Err(EntryError::Failed(e)));
                            }
                            Vec::new()
                        }
                        Ending::Left if entry.is_some() => {
                            if let Some(tx) = entry.take() {
                                let _ = tx.send(Err(EntryError::Cancelled));
                            }
                            Vec::new()
                        }
                        Ending::Left => model.left(),
                        // The goodbye was shown (the view says why).
                        Ending::Goodbye(_) => model.connection_lost(),
                        Ending::Lost(message) => {
                            tracing::info!("could not get the connection back");
                            model.connection_refused(&message)
                        }
                    };
                    shared.publish(&model, changes);
                    break 'session;
                }
                // The link's part, carried out above.
                Output::Transmit(_) | Output::Action(_) => {}
            }
        }
        let wake = d.engine.poll_timeout();
        tokio::select! {
            event = d.link.next() => {
                if let Some(e) = SignalingLink::feed(&mut d.engine, event) {
                    tracing::warn!(message = %e, "a message from the server could not be read");
                }
            }
            _ = signaling::sleep_until(wake) => d.engine.handle_timeout(Instant::now()),
            c = control.recv() => {
                let now = Instant::now();
                let command = match c {
                    Some(Control::Send(ClientMessage::Chat { to, body })) => {
                        Some(Command::Chat { to, body })
                    }
                    Some(Control::Send(m)) => Some(Command::Send(m)),
                    Some(Control::ShareScreen(on, target)) => {
                        if on {
                            share_target = target;
                        }
                        Some(Command::Send(ClientMessage::ShareScreen { sharing: on }))
                    }
                    Some(Control::Hand(raised)) => Some(Command::Hand(raised)),
                    Some(Control::OpenPoll { question, options, multiple, anonymous }) => {
                        Some(Command::OpenPoll { question, options, multiple, anonymous })
                    }
                    Some(Control::Vote(poll, choices)) => Some(Command::Vote {
                        poll: parley_proto::PollId(poll),
                        choices,
                    }),
                    Some(Control::Notes(edit)) => Some(Command::Notes(edit)),
                    Some(Control::BreakoutBroadcast(text)) => Some(Command::BreakoutBroadcast(text)),
                    Some(Control::SendFile { to, name, data }) => Some(Command::SendFile {
                        to: to.map(ParticipantId),
                        name,
                        data,
                    }),
                    Some(Control::Record(on)) => {
                        if on && recorder.is_none() {
                            shared.ui.notice(&Notice::RecordingFailed {
                                message: "This computer has no folder to record into.".into(),
                            });
                            None
                        } else {
                            Some(Command::Send(ClientMessage::Record { on }))
                        }
                    }
                    Some(Control::SharePoll(poll)) => {
                        Some(Command::SharePollResults(parley_proto::PollId(poll)))
                    }
                    Some(Control::React(reaction)) => Some(Command::React(reaction)),
                    Some(Control::Camera(on)) => {
                        // Not in event mode's audience (the UI does not offer it there either).
                        camera = on && model.may_send();
                        if let Some(c) = &mut call {
                            use_camera(c, local.as_ref(), camera, media.video, &shared).await;
                        }
                        None
                    }
                    Some(Control::Microphone(on)) => {
                        // In event mode's audience the microphone stays closed; the server's
                        // refusal of the unmute tells the person why.
                        microphone = on && model.may_send();
                        if let Some(c) = &mut call {
                            use_microphone(c, local.as_ref(), microphone, &shared).await;
                        }
                        Some(Command::Send(ClientMessage::SetMuted { muted: !on }))
                    }
                    Some(Control::Devices(prefs)) => {
                        if let Some(l) = local.clone() {
                            let l2 = l.clone();
                            if let Ok((camera_changed, mic_changed, speaker)) =
                                tokio::task::spawn_blocking(move || l2.repick(prefs)).await
                            {
                                if let Err(e) = speaker {
                                    shared.device_problem(&e);
                                }
                                if let Some(c) = &mut call {
                                    let me = model.view().you.unwrap_or(0);
                                    if camera_changed {
                                        // Off first, so the old camera is closed (its light goes out).
                                        c.set_camera(None);
                                        if l.real_camera() {
                                            use_camera(c, Some(&l), camera, media.video, &shared).await;
                                        } else {
                                            let (w, h) = (media.video.width, media.video.height);
                                            c.set_camera(Some(Box::new(parley_media::pattern::TestPattern::new(w, h, me))));
                                        }
                                    }
                                    if mic_changed {
                                        c.set_microphone(None);
                                        if l.real_microphone() {
                                            use_microphone(c, Some(&l), microphone, &shared).await;
                                        } else {
                                            c.set_microphone(Some(Box::new(parley_media::tone::Tone::for_participant(me).in_bursts())));
                                        }
                                    }
                                }
                            }
                        }
                        None
                    }
                    Some(Control::Listen { id, volume, muted_for_me }) => {
                        if let Some(l) = &local {
                            l.set_listening(id, volume, muted_for_me);
                        }
                        let changes = model.set_listening(id, volume, muted_for_me);
                        shared.publish(&model, changes);
                        None
                    }
                    Some(Control::Leave) | None => Some(Command::Leave),
                };
                if let Some(command) = command {
                    d.engine.handle_command(now, command);
                }
            }
            _ = speaking_tick.tick(), if call.is_some() => {
                // Headphones unplugged: the default speaker takes over (checked 4 times a second).
                if let Some(l) = local.clone().filter(|l| l.speaker_gone())
                    && let Ok(Some(_)) = tokio::task::spawn_blocking(move || l.check_speaker()).await
                {
                    shared.ui.notice(&Notice::DeviceSwitched { device: "speaker".into() });
                }
                let ids: Vec<u32> = speaking
                    .speaking(std::time::Instant::now())
                    .iter()
                    .filter_map(|who| who.parse().ok())
                    .collect();
                let changes = model.set_speaking(&ids);
                shared.publish(&model, changes);
            }
            _ = decrypt_tick.tick(), if call.is_some() => {
                if media_failed(&mut call, &shared).await {
                    continue;
                }
                // Media that stopped while signaling goes on (the network changed): the same
                // call restarts ICE on whatever path there is now.
                let restart = match &mut call {
                    Some(c) => c.restart_if_down().await,
                    None => Ok(None),
                };
                match restart {
                    Ok(Some(offer)) => d.engine.handle_media_message(offer),
                    Ok(None) => {}
                    Err(e) => shared.media_failed(&e),
                }
                if let Some(c) = &call {
                    let problems: Vec<(u32, String)> = c
                        .stats()
                        .into_iter()
                        .filter_map(|(who, m)| Some((who.parse().ok()?, m.decrypt_problem?)))
                        .collect();
                    let changes = model.set_decrypt_problems(&problems);
                    shared.publish(&model, changes);
                }
            }
            _ = video_tick.tick(), if call.is_some() && (camera || sharing) => {
                if media_failed(&mut call, &shared).await {
                    continue;
                }
                if let Some(c) = &mut call {
                    if let Err(e) = c.send_video().await {
                        shared.media_failed(&e);
                        camera = false;
                    }
                    // A shared window that closed ends the sharing: the camera comes back
                    // and everyone is told.
                    if sharing && report_lost(c, true, &shared) {
                        sharing = false;
                        let me = model.view().you.unwrap_or(0);
                        share_screen(c, local.as_ref(), None, camera, media.video, me, &shared).await;
                        d.engine.handle_command(
                            Instant::now(),
                            Command::Send(ClientMessage::ShareScreen { sharing: false }),
                        );
                    }
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
                if media_failed(&mut call, &shared).await {
                    continue;
                }
                if let Some(c) = &mut call {
                    if let Err(e) = c.send_audio().await {
                        shared.media_failed(&e);
                        microphone = false;
                    }
                    for _ in c.take_notices() {
                        // The microphone was unplugged and the default one took over.
                        shared.ui.notice(&Notice::DeviceSwitched { device: "microphone".into() });
                    }

                    // While sharing, the video tick reports (a lost capture ends the sharing).
                    if !sharing {
                        report_lost(c, false, &shared);
                    }
                }
            }
        }
    }
    if let Some(c) = &call {
        c.close().await;
    }
    // A recording under way ends with the meeting: its files are finished, and said.
    if let Some(r) = recorder.as_ref().filter(|r| r.is_recording()) {
        let files = r.stop().iter().map(|p| p.display().to_string()).collect();
        shared.ui.notice(&Notice::RecordingSaved { files });
    }
    d.link.disconnect().await;
}
