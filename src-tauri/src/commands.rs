//! The commands the UI may call, each returning a typed [`AppError`] on failure. Their
//! TypeScript bindings are generated into `ui/src/bindings.ts` (`parley-app
//! --export-bindings`), committed, and checked by `make test`.

use std::sync::Arc;

use parley_client::api::create_meeting;
use parley_client::call::VideoFormat;
use parley_client::engine::JoinAs;
use parley_client::notes::NotesEdit;
use parley_client::sink::MediaSink;
use parley_client::{identity, tls};
use parley_proto::api::CreateMeeting;
use parley_proto::message::MAX_TILE_HEIGHT;
use parley_proto::{
    ClientMessage, DisplayName, Identity, MeetingKey, MeetingLink, ParticipantId, PolicyChange,
    Reaction, ServerAddr, ShareRule, Title,
};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tauri_specta::Event;
use tokio::sync::Mutex;

use crate::devices::{DeviceOptions, DevicePrefs, EchoTestResult, MicCheck};
use crate::error::{AppError, ErrorCode};
use crate::files::FileView;
use crate::model::{ChatLine, MeetingView, NotesView, Notice, PollView, ViewUpdate};
use crate::session::{self, Control, MediaSetup, SessionHandle, Ui};
use crate::video::VideoRelay;
use crate::video_socket::{VideoSocket, VideoStream};
use parley_media::screen::ShareTarget;

/// The meeting view changed: whole the first time (and after a window reload), then only what
/// changed ([`ViewUpdate`]).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct MeetingUpdated(pub ViewUpdate);

/// A chat message arrived.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct ChatReceived(pub ChatLine);

/// Something to tell the person once.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct NoticeRaised(pub Notice);

/// A file transfer began or changed (progress, arrived, saved, stopped).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct FileChanged(pub FileView);

/// A poll opened or changed (a vote counted, closed, results shared).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct PollChanged(pub PollView);

/// The shared notes or whiteboard changed (here or by someone else).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct NotesChanged(pub NotesView);

/// An invite link was opened with the app (a clicked `parley://` link, or a second launch
/// with a link): the UI shows it on the pre-join screen and joins only when the person says so.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct LinkOpened {
    /// The link, checked to be a meeting link.
    pub link: String,
}

/// The app's state: at most one meeting at a time.
#[derive(Default)]
pub struct AppState {
    inner: Mutex<Inner>,
    video: Arc<VideoRelay>,
    /// The pre-join camera preview.
    preview: Arc<crate::devices::CameraPreview>,
    /// Desktop notifications (someone waiting).
    notifier: crate::notify::Notifier,
    /// The window's video socket, once started.
    video_socket: tokio::sync::OnceCell<VideoSocket>,
    /// A link the app was started with, until the UI has taken it.
    opened: std::sync::Mutex<Option<String>>,
    /// The pre-join screen's microphone check.
    mic_check: Arc<MicCheck>,
}

impl AppState {
    /// A link arrived from outside (the command line, a clicked `parley://` link): hostile
    /// until parsed. A meeting link is kept for the UI and announced; anything else is
    /// refused with the reason, and nothing connects.
    pub fn link_opened(&self, app: &AppHandle, text: &str) {
        match MeetingLink::parse(text) {
            Ok(link) => {
                let link = link.to_string();
                *self.opened.lock().unwrap_or_else(|e| e.into_inner()) = Some(link.clone());
                let _ = LinkOpened { link }.emit(app);
            }
            Err(e) => {
                let _ = NoticeRaised(Notice::BadLink {
                    code: ErrorCode::link(&e),
                    message: e.to_string(),
                })
                .emit(app);
            }
        }
    }
}

#[derive(Default)]
struct Inner {
    session: Option<SessionHandle>,
    /// The invite, kept here so the UI never holds the token except to copy it.
    invite: Option<MeetingLink>,
    /// The meeting servers this app runs for meetings hosted on this computer.
    hosting: crate::hosting::Hosting,
    /// Tells the session's window link to send the next view whole (a reloaded window).
    resync: Arc<std::sync::atomic::AtomicBool>,
}

impl Inner {
    fn busy(&self) -> Result<(), AppError> {
        match &self.session {
            Some(s) if !s.is_finished() => Err(AppError::new(
                ErrorCode::Busy,
                "You are already in a meeting. Leave it before joining another.",
            )),
            _ => Ok(()),
        }
    }

    fn session(&self) -> Result<&SessionHandle, AppError> {
        self.session
            .as_ref()
            .filter(|s| !s.is_finished())
            .ok_or_else(AppError::not_in_meeting)
    }
}

/// The window as a session's [`Ui`]. It remembers the view it last sent, to send only what
/// changed; `resync` (set when a reloaded window fetched the view anew) makes the next one whole.
struct TauriUi {
    app: AppHandle,
    last: std::sync::Mutex<Option<MeetingView>>,
    resync: Arc<std::sync::atomic::AtomicBool>,
}

impl TauriUi {
    fn new(app: AppHandle, resync: Arc<std::sync::atomic::AtomicBool>) -> Arc<Self> {
        Arc::new(TauriUi {
            app,
            last: std::sync::Mutex::new(None),
            resync,
        })
    }
}

impl Ui for TauriUi {
    fn view(&self, view: &MeetingView) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if self.resync.swap(false, std::sync::atomic::Ordering::SeqCst) {
            *last = None;
        }
        let update = ViewUpdate::between(last.as_ref(), view);
        *last = Some(view.clone());
        let _ = MeetingUpdated(update).emit(&self.app);
    }
    fn chat(&self, line: &ChatLine) {
        let _ = ChatReceived(line.clone()).emit(&self.app);
    }
    fn notice(&self, notice: &Notice) {
        let _ = NoticeRaised(notice.clone()).emit(&self.app);
    }
    fn poll(&self, poll: &PollView) {
        let _ = PollChanged(poll.clone()).emit(&self.app);
    }
    fn file(&self, file: &FileView) {
        let _ = FileChanged(file.clone()).emit(&self.app);
    }
    fn notes(&self, notes: &NotesView) {
        let _ = NotesChanged(notes.clone()).emit(&self.app);
    }
}

/// What the link box learned from a pasted link.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct LinkCheck {
    /// The server's host name (what the person may recognise), never the room token.
    pub server: String,
}

/// Joining a meeting from a pasted link.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct JoinRequest {
    /// The link as pasted.
    pub link: String,
    /// Display name.
    pub name: String,
    /// The passcode, if the meeting asked for one.
    pub passcode: Option<String>,
    /// Camera on when admitted.
    pub camera: bool,
    /// Microphone on when admitted.
    pub microphone: bool,
    /// Which camera, microphone and speaker (none chosen: the test pattern and tone, and the
    /// default speaker).
    #[serde(default)]
    pub devices: Option<DevicePrefs>,
}

/// Hosting a new meeting, on this computer or on a meeting server.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct HostRequest {
    /// The meeting server (e.g. `https://meet.example.org`); none or empty: this computer.
    pub server: Option<String>,
    /// The server's host API token, if it requires one (never stored by the app).
    pub api_token: Option<String>,
    /// The meeting's title.
    pub title: String,
    /// The host's display name.
    pub name: String,
    /// A passcode to share separately (never in the link), or none.
    pub passcode: Option<String>,
    /// Camera on.
    pub camera: bool,
    /// Microphone on.
    pub microphone: bool,
    /// Which camera, microphone and speaker.
    #[serde(default)]
    pub devices: Option<DevicePrefs>,
    /// Hosting on this computer: the address of this computer by which other computers on
    /// the network may join (one of [`network_addresses`]); none or empty: this computer only.
    #[serde(default)]
    pub network_address: Option<String>,
}

/// A switch of the host security menu.
#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
pub struct PolicySwitch {
    /// Waiting room.
    pub waiting_room: Option<bool>,
    /// Chat.
    pub chat: Option<bool>,
    /// Private chat.
    pub private_chat: Option<bool>,
    /// Participants may rename themselves.
    pub rename: Option<bool>,
    /// Participants may unmute themselves.
    pub unmute_self: Option<bool>,
    /// Everyone may share the screen.
    pub screen_share_everyone: Option<bool>,
    /// File transfer.
    pub file_transfer: Option<bool>,
    /// Participants may save the chat.
    pub save_chat: Option<bool>,
    /// Event mode: only hosts, co-hosts and those on the stage may be heard and seen.
    pub event_mode: Option<bool>,
    /// Participants may record the meeting on their computer.
    pub recording: Option<bool>,
    /// Only hosts and co-hosts may change the shared notes and whiteboard.
    pub notes_locked: Option<bool>,
}

/// Something to do in the meeting. Host actions are checked by the server: the UI offers them
/// to hosts, but the server is what refuses them to others.
#[derive(Debug, Clone, Deserialize, specta::Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Send a chat message, to everyone or privately to `to`.
    Chat {
        /// The text.
        body: String,
        /// Private to this participant.
        to: Option<u32>,
    },
    /// Raise or lower the hand.
    Hand {
        /// Raised.
        raised: bool,
    },
    /// Start or stop sharing the screen or a window (if the host allows it).
    ShareScreen {
        /// Sharing.
        on: bool,
        /// What to share: an id from [`share_sources`]; none: the whole screen.
        #[serde(default)]
        source: Option<String>,
    },
    /// Open a poll (hosts and co-hosts): a question and 2 to 10 options.
    OpenPoll {
        /// The question.
        question: String,
        /// The options.
        options: Vec<String>,
        /// Several options may be chosen.
        multiple: bool,
        /// Votes reach the hosts without the voter.
        anonymous: bool,
    },
    /// Hosts and co-hosts: open breakout rooms, each with the participants sent there (by
    /// number), for `minutes` if given.
    BreakoutOpen {
        /// Who goes to each room, room 1 first.
        rooms: Vec<Vec<u32>>,
        /// How long they stay open.
        minutes: Option<u16>,
    },
    /// Hosts and co-hosts: go into a breakout room for a while.
    BreakoutVisit {
        /// Which (from 1).
        room: u16,
    },
    /// Leave the breakout room for the main meeting.
    BreakoutReturn,
    /// Hosts and co-hosts: a message to every breakout room.
    BreakoutBroadcast {
        /// The text.
        text: String,
    },
    /// Hosts and co-hosts: close the breakout rooms (everyone returns after a countdown).
    BreakoutClose,
    /// The shared notes' text is now this (what changed is found by comparing).
    SetNotes {
        /// The whole text.
        text: String,
    },
    /// Draw a stroke on the whiteboard.
    Draw {
        /// Colour, 0xRRGGBB.
        color: u32,
        /// Pen width, in board units.
        width: u16,
        /// Its points, `[x, y]`, 0 to 10,000 each.
        points: Vec<[u16; 2]>,
    },
    /// Erase one stroke from the whiteboard.
    Erase {
        /// The stroke's number.
        stroke: u32,
    },
    /// Erase the whole whiteboard.
    ClearBoard,
    /// Vote in a poll: the options chosen (indexes from 0).
    Vote {
        /// The poll's number.
        poll: u32,
        /// The options chosen.
        choices: Vec<u8>,
    },
    /// Send a file (when the host allows file transfer), to one participant or everyone.
    SendFile {
        /// Its addressee; absent: everyone.
        to: Option<u32>,
        /// Its name.
        name: String,
        /// Its content, base64.
        data: String,
    },
    /// Stop sending one of our files.
    CancelFile {
        /// The transfer's number.
        transfer: u32,
    },
    /// Start or stop recording the meeting on this computer (while the host allows it).
    Record {
        /// Start (`true`) or stop.
        on: bool,
    },
    /// Close a poll (hosts and co-hosts).
    ClosePoll {
        /// The poll's number.
        poll: u32,
    },
    /// Share a poll's results with everyone (hosts and co-hosts).
    SharePollResults {
        /// The poll's number.
        poll: u32,
    },
    /// React (`thumbs_up`, `clap`, `heart`, `laugh`, `surprised`, `celebrate`).
    React {
        /// The reaction.
        reaction: String,
    },
    /// Camera on or off.
    Camera {
        /// On.
        on: bool,
    },
    /// Microphone on or off.
    Microphone {
        /// On.
        on: bool,
    },
    /// Use other devices from now on (the devices panel).
    Devices {
        /// What is picked.
        prefs: DevicePrefs,
    },
    /// How a participant is heard here (nobody else is told).
    Listen {
        /// Who.
        id: u32,
        /// Volume, 0–200 %.
        volume: u16,
        /// Silenced for this listener only.
        muted_for_me: bool,
    },
    /// Only these participants' tiles are on screen (their video is drawn; others' is not).
    VisibleTiles {
        /// Participant numbers.
        ids: Vec<u32>,
        /// The widest tile on screen, in device pixels (pictures are sent about that wide).
        width: Option<u32>,
    },
    /// Let a waiting participant in.
    Admit {
        /// Who.
        id: u32,
    },
    /// Let everyone waiting in.
    AdmitAll,
    /// Refuse a waiting participant.
    Deny {
        /// Who.
        id: u32,
    },
    /// Lock the meeting: nobody new may join.
    Lock,
    /// Unlock it.
    Unlock,
    /// Remove a participant (they cannot rejoin).
    Remove {
        /// Who.
        id: u32,
    },
    /// Mute everyone.
    MuteAll,
    /// Ask a participant to unmute.
    AskUnmute {
        /// Who.
        id: u32,
    },
    /// Put a participant on the stage (in event mode they may then be heard and seen) or
    /// take them off it.
    SetStage {
        /// Who.
        id: u32,
        /// On the stage, or off.
        on: bool,
    },
    /// Make a participant co-host.
    MakeCohost {
        /// Who.
        id: u32,
    },
    /// Hand the host role to a participant.
    TransferHost {
        /// Who.
        id: u32,
    },
    /// Change switches of the security menu.
    SetPolicy {
        /// The switches to change.
        change: PolicySwitch,
    },
    /// End the meeting for everyone.
    End,
    /// Leave the meeting.
    Leave,
}

fn to_message(action: Action) -> Result<Control, AppError> {
    let id = ParticipantId;
    Ok(Control::Send(match action {
        Action::Chat { body, to } => {
            if body.trim().is_empty() {
                return Err(AppError::new(
                    ErrorCode::EmptyMessage,
                    "Type a message first.",
                ));
            }
            ClientMessage::Chat {
                to: to.map(id),
                body,
            }
        }
        Action::Hand { raised } => return Ok(Control::Hand(raised)),
        Action::ShareScreen { on, source } => {
            let target = match source.as_deref() {
                None => ShareTarget::Screen,
                Some(id) => ShareTarget::parse(id).ok_or_else(|| {
                    AppError::new(
                        ErrorCode::BadShareSource,
                        "That is not something this computer can share. Pick the screen or a window from the list.",
                    )
                })?,
            };
            return Ok(Control::ShareScreen(on, target));
        }
        Action::OpenPoll {
            question,
            options,
            multiple,
            anonymous,
        } => {
            return Ok(Control::OpenPoll {
                question,
                options,
                multiple,
                anonymous,
            });
        }
        Action::Vote { poll, choices } => return Ok(Control::Vote(poll, choices)),
        Action::BreakoutBroadcast { text } => return Ok(Control::BreakoutBroadcast(text)),
        Action::SetNotes { text } => return Ok(Control::Notes(NotesEdit::SetText(text))),
        Action::Draw {
            color,
            width,
            points,
        } => {
            return Ok(Control::Notes(NotesEdit::Draw {
                color,
                width,
                points: points.into_iter().map(|[x, y]| (x, y)).collect(),
            }));
        }
        Action::Erase { stroke } => return Ok(Control::Notes(NotesEdit::Erase(stroke))),
        Action::ClearBoard => return Ok(Control::Notes(NotesEdit::ClearBoard)),
        Action::Record { on } => return Ok(Control::Record(on)),
        Action::SendFile { to, name, data } => return file_to_send(to, name, &data),
        Action::CancelFile { transfer } => ClientMessage::FileCancel {
            transfer: parley_proto::TransferId(transfer),
        },
        Action::BreakoutOpen { rooms, minutes } => ClientMessage::BreakoutOpen {
            rooms: rooms
                .into_iter()
                .map(|r| r.into_iter().map(id).collect())
                .collect(),
            minutes,
        },
        Action::BreakoutVisit { room } => ClientMessage::BreakoutVisit { room },
        Action::BreakoutReturn => ClientMessage::BreakoutReturn {},
        Action::BreakoutClose => ClientMessage::BreakoutClose {},
        Action::ClosePoll { poll } => ClientMessage::PollClose {
            poll: parley_proto::PollId(poll),
        },
        Action::SharePollResults { poll } => return Ok(Control::SharePoll(poll)),
        Action::React { reaction } => {
            let reaction: Reaction = serde_json::from_value(serde_json::Value::String(reaction))
                .map_err(|_| {
                    AppError::new(ErrorCode::BadReaction, "That reaction is not offered.")
                })?;
            return Ok(Control::React(reaction));
        }
        Action::Camera { on } => return Ok(Control::Camera(on)),
        Action::Microphone { on } => return Ok(Control::Microphone(on)),
        Action::Devices { prefs } => return Ok(Control::Devices(prefs)),
        Action::Listen {
            id,
            volume,
            muted_for_me,
        } => {
            return Ok(Control::Listen {
                id,
                volume,
                muted_for_me,
            });
        }
        Action::VisibleTiles { .. } => {
            return Err(AppError::new(ErrorCode::Internal, "handled by the app"));
        }
        Action::Admit { id: i } => ClientMessage::Admit { id: id(i) },
        Action::AdmitAll => ClientMessage::AdmitAll {},
        Action::Deny { id: i } => ClientMessage::Deny { id: id(i) },
        Action::Lock => ClientMessage::Lock {},
        Action::Unlock => ClientMessage::Unlock {},
        Action::Remove { id: i } => ClientMessage::Remove { id: id(i) },
        Action::MuteAll => ClientMessage::MuteAll {},
        Action::AskUnmute { id: i } => ClientMessage::AskUnmute { id: id(i) },
        Action::SetStage { id: i, on } => ClientMessage::SetStage { id: id(i), on },
        Action::MakeCohost { id: i } => ClientMessage::MakeCohost { id: id(i) },
        Action::TransferHost { id: i } => ClientMessage::TransferHost { id: id(i) },
        Action::SetPolicy { change: c } => ClientMessage::SetPolicy {
            change: PolicyChange {
                waiting_room: c.waiting_room,
                chat: c.chat,
                private_chat: c.private_chat,
                rename: c.rename,
                unmute_self: c.unmute_self,
                screen_share: c.screen_share_everyone.map(|e| {
                    if e {
                        ShareRule::Everyone
                    } else {
                        ShareRule::HostsOnly
                    }
                }),
                file_transfer: c.file_transfer,
                save_chat: c.save_chat,
                event_mode: c.event_mode,
                recording: c.recording,
                notes_locked: c.notes_locked,
                ..Default::default()
            },
        },
        Action::End => ClientMessage::End {},
        Action::Leave => return Ok(Control::Leave),
    }))
}

fn identity() -> Result<Identity, AppError> {
    let path = std::env::var_os("PARLEY_IDENTITY")
        .map(std::path::PathBuf::from)
        .or_else(identity::default_path)
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::Identity,
                "There is no configuration folder to keep this computer's identity key in. Set PARLEY_IDENTITY to a file path.",
            )
        })?;
    Ok(identity::load_or_create(&path)?)
}

/// Media for a meeting, sent from `bind` (this computer's address on the route to the meeting
/// server, [`Signaling::media_bind`]).
fn media(
    app: &AppHandle,
    state: &AppState,
    camera: bool,
    microphone: bool,
    devices: Option<DevicePrefs>,
) -> MediaSetup {
    let sinks: Vec<Arc<dyn MediaSink>> = vec![state.video.clone()];
    MediaSetup {
        // The camera's picture (the test pattern until devices land): 720p, lowered by
        // congestion control when the network asks.
        video: VideoFormat {
            width: 1280,
            height: 720,
            fps: 30,
        },
        sinks,
        camera,
        microphone,
        devices: devices.unwrap_or_default(),
        // Recordings go to Downloads, in a folder of their own.
        recordings: downloads(app).ok().map(|d| d.join("Parley recordings")),
    }
}

/// Something the host may share, for the picker.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ShareSourceView {
    /// What to pass back in [`Action::ShareScreen`].
    pub id: String,
    /// The whole screen (else a window).
    pub screen: bool,
    /// A window's title: another program's text, shown as text only. Empty for the screen.
    pub title: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// What can be shared: the screen, then each window on it with a title. Nothing is captured.
#[tauri::command]
#[specta::specta]
pub async fn share_sources() -> Result<Vec<ShareSourceView>, AppError> {
    let list = tokio::task::spawn_blocking(parley_media::screen::sources)
        .await
        .map_err(|_| AppError::new(ErrorCode::Internal, "Listing what can be shared failed."))?
        .map_err(|e| AppError::new(ErrorCode::Media, e.to_string()))?;
    Ok(list
        .into_iter()
        .map(|s| ShareSourceView {
            id: s.target.id(),
            screen: s.target == ShareTarget::Screen,
            title: s.title,
            width: s.width,
            height: s.height,
        })
        .collect())
}

/// This computer's addresses that other computers on the network could join a meeting
/// hosted here by (the host picks one; nothing is opened).
#[tauri::command]
#[specta::specta]
pub async fn network_addresses() -> Result<Vec<crate::hosting::NetworkAddress>, AppError> {
    Ok(
        tokio::task::spawn_blocking(crate::hosting::network_addresses)
            .await
            .unwrap_or_default(),
    )
}

/// The cameras, microphones and speakers this computer has (nothing is opened).
#[tauri::command]
#[specta::specta]
pub async fn list_devices() -> Result<DeviceOptions, AppError> {
    tokio::task::spawn_blocking(crate::devices::list)
        .await
        .map_err(|_| {
            AppError::new(
                ErrorCode::Internal,
                "Listing the devices failed; try again.",
            )
        })
}

/// Open the microphone `id` for the pre-join level meter, or close it (`None`). Only the
/// microphone the person picked and asked to test is opened.
#[tauri::command]
#[specta::specta]
pub async fn check_microphone(
    state: State<'_, AppState>,
    id: Option<String>,
) -> Result<(), AppError> {
    let check = state.mic_check.clone();
    tokio::task::spawn_blocking(move || check.set(id))
        .await
        .map_err(|_| {
            AppError::new(
                ErrorCode::Internal,
                "The microphone check failed; try again.",
            )
        })?
        .map_err(AppError::from)
}

/// Start the pre-join camera preview (`on`) of camera `camera` (an id; `None`: the test
/// pattern that stands in when none is picked), or stop it and close the camera. Its pictures
/// reach the window as participant [`crate::devices::PREVIEW_ID`].
#[tauri::command]
#[specta::specta]
pub async fn preview_camera(
    state: State<'_, AppState>,
    on: bool,
    camera: Option<String>,
) -> Result<(), AppError> {
    let preview = state.preview.clone();
    let sink: Arc<dyn MediaSink> = state.video.clone();
    tokio::task::spawn_blocking(move || {
        if on {
            preview.start(camera, sink)
        } else {
            preview.stop();
            Ok(())
        }
    })
    .await
    .map_err(|_| AppError::new(ErrorCode::Internal, "The camera preview failed; try again."))?
    .map_err(AppError::from)
}

/// The level of the microphone being checked, 0.0–1.0 (0.0 when none is).
#[tauri::command]
#[specta::specta]
pub fn microphone_level(state: State<'_, AppState>) -> f32 {
    state.mic_check.level()
}

/// Record a few seconds from the microphone and play them back on the speaker.
#[tauri::command]
#[specta::specta]
pub async fn echo_test(
    state: State<'_, AppState>,
    microphone: String,
    speaker: Option<String>,
    seconds: f32,
) -> Result<EchoTestResult, AppError> {
    let check = state.mic_check.clone();
    tokio::task::spawn_blocking(move || {
        // The microphone cannot be open twice.
        let _ = check.set(None);
        crate::devices::echo_test(&microphone, speaker.as_deref(), seconds)
    })
    .await
    .map_err(|_| AppError::new(ErrorCode::Internal, "The echo test failed; try again."))?
    .map_err(AppError::from)
}

/// Check a pasted link without connecting anywhere.
#[tauri::command]
#[specta::specta]
pub fn check_link(text: String) -> Result<LinkCheck, AppError> {
    let link = MeetingLink::parse(&text).map_err(parley_client::ClientError::from)?;
    Ok(LinkCheck {
        server: link.server.host_name(),
    })
}

/// Join a meeting from a pasted link. Answers with the first view (waiting room or meeting).
#[tauri::command]
#[specta::specta]
pub async fn join_meeting(
    app: AppHandle,
    state: State<'_, AppState>,
    request: JoinRequest,
) -> Result<MeetingView, AppError> {
    let mut inner = state.inner.lock().await;
    inner.busy()?;
    // The pre-join microphone check and camera preview end: the meeting opens its devices.
    let (check, preview) = (state.mic_check.clone(), state.preview.clone());
    let _ = tokio::task::spawn_blocking(move || {
        let _ = check.set(None);
        preview.stop();
    })
    .await;
    let link = MeetingLink::parse(&request.link).map_err(parley_client::ClientError::from)?;
    let name = DisplayName::new(&request.name).map_err(parley_client::ClientError::from)?;
    let join = JoinAs {
        room: link.token.clone(),
        key: link.key.clone(),
        name,
        identity: identity()?,
        passcode: request.passcode.filter(|p| !p.is_empty()),
        host_secret: None,
    };
    let meeting = session::Meeting {
        server: link.server.clone(),
        tls: tls::client_config(None)?,
        join,
    };
    let (s, entering) = session::start(
        meeting,
        media(
            &app,
            &state,
            request.camera,
            request.microphone,
            request.devices.clone(),
        ),
        session::Origin::default(),
        TauriUi::new(app, inner.resync.clone()),
    )?;
    inner.session = Some(s);
    inner.invite = None;
    // Nothing is held while the server answers: the person can cancel (leave) meanwhile.
    drop(inner);
    entered(&state, entering).await
}

/// The answer to a session's first join; a session that did not get in is let go.
async fn entered(state: &AppState, entering: session::Entering) -> Result<MeetingView, AppError> {
    let outcome = entering.outcome().await;
    if outcome.is_err() {
        let mut inner = state.inner.lock().await;
        inner.invite = None;
        if let Some(s) = inner.session.take() {
            s.finished(std::time::Duration::from_secs(5)).await;
        }
    }
    outcome.map_err(|e| match e {
        session::EntryError::Failed(e) => e.into(),
        session::EntryError::Cancelled => {
            AppError::new(ErrorCode::Cancelled, "You stopped joining the meeting.")
        }
    })
}

/// Start a meeting and join it as host: on the meeting server named in the request, or, with
/// none, on this computer (the app runs the meeting server itself: for this computer only, or
/// for the network through the address the request names, see [`crate::hosting`]).
/// The meeting key is made here and only ever travels inside the invite link.
#[tauri::command]
#[specta::specta]
pub async fn host_meeting(
    app: AppHandle,
    state: State<'_, AppState>,
    request: HostRequest,
) -> Result<MeetingView, AppError> {
    let mut inner = state.inner.lock().await;
    inner.busy()?;
    // The pre-join microphone check and camera preview end: the meeting opens its devices.
    let (check, preview) = (state.mic_check.clone(), state.preview.clone());
    let _ = tokio::task::spawn_blocking(move || {
        let _ = check.set(None);
        preview.stop();
    })
    .await;
    let title = Title::new(&request.title).map_err(parley_client::ClientError::from)?;
    let name = DisplayName::new(&request.name).map_err(parley_client::ClientError::from)?;
    let me = identity()?;
    let on_server = request
        .server
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let token = request
        .api_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let (server, api_token, hosted_here) = match on_server {
        Some(server) => (
            ServerAddr::parse(server).map_err(parley_client::ClientError::from)?,
            token.map(str::to_string),
            false,
        ),
        None => {
            let reach = crate::hosting::Reach::parse(request.network_address.as_deref())?;
            let (server, api_token) = inner.hosting.server(reach).await?;
            (server, api_token, true)
        }
    };
    let tls = tls::client_config(None)?;
    let created = create_meeting(
        &server,
        api_token.as_deref(),
        &CreateMeeting {
            title,
            passcode: request.passcode.filter(|p| !p.is_empty()),
            policy: PolicyChange::default(),
        },
        tls.clone(),
    )
    .await?;
    let link_server = match &created.public_url {
        Some(u) => ServerAddr::parse(u).map_err(parley_client::ClientError::from)?,
        None => server.clone(),
    };
    let link = MeetingLink::new(link_server, created.room, MeetingKey::random());
    let join = JoinAs {
        room: link.token.clone(),
        key: link.key.clone(),
        name,
        identity: me,
        passcode: None,
        host_secret: Some(created.host_secret),
    };
    let (s, entering) = session::start(
        session::Meeting { server, tls, join },
        media(
            &app,
            &state,
            request.camera,
            request.microphone,
            request.devices.clone(),
        ),
        session::Origin {
            hosted_here,
            started_here: true,
        },
        TauriUi::new(app, inner.resync.clone()),
    )?;
    inner.session = Some(s);
    inner.invite = Some(link);
    drop(inner);
    entered(&state, entering).await
}

/// The invite link, for "Copy invite link" (the UI puts it on the clipboard and never shows
/// it). Only the host of a meeting started here has it.
#[tauri::command]
#[specta::specta]
pub async fn invite_link(state: State<'_, AppState>) -> Result<String, AppError> {
    let inner = state.inner.lock().await;
    inner.session()?;
    inner.invite.as_ref().map(|l| l.to_string()).ok_or_else(|| {
        AppError::new(
            ErrorCode::NoInvite,
            "Only the person who started this meeting has its invite link. Ask them for it.",
        )
    })
}

/// Do something in the meeting.
#[tauri::command]
#[specta::specta]
pub async fn meeting_action(state: State<'_, AppState>, action: Action) -> Result<(), AppError> {
    if let Action::VisibleTiles { ids, width } = action {
        // Tiles off screen are not only left undrawn: the SFU stops sending their video, so
        // they cost neither bandwidth nor decoding (it resumes at a keyframe when shown).
        let wanted: Vec<ParticipantId> = ids.iter().copied().map(ParticipantId).collect();
        if state.video.set_visible(Some(ids), width) {
            let inner = state.inner.lock().await;
            if let Ok(s) = inner.session() {
                let _ = s
                    .send(Control::Send(ClientMessage::ReceiveVideo {
                        from: Some(wanted),
                        // Tiles are 16:9: the SFU sends the simulcast layer that fills them.
                        height: width.map(|w| {
                            u16::try_from(w * 9 / 16)
                                .unwrap_or(MAX_TILE_HEIGHT)
                                .clamp(1, MAX_TILE_HEIGHT)
                        }),
                        heights: Vec::new(),
                    }))
                    .await;
            }
        }
        return Ok(());
    }
    let control = to_message(action)?;
    let inner = state.inner.lock().await;
    if inner.session()?.send(control).await {
        Ok(())
    } else {
        Err(AppError::not_in_meeting())
    }
}

/// The most a saved chat may hold (what the window shows of a long meeting fits easily).
const MAX_SAVED_CHAT: usize = 8 * 1024 * 1024;

/// Save `text` (the chat as the window shows it) as `parley-chat-<stamp>.txt` in the person's
/// Downloads folder, only while the meeting's host allows saving the chat. Chat is end-to-end
/// encrypted, so the server cannot keep that rule: this app does. The file's path.
#[tauri::command]
#[specta::specta]
pub async fn save_chat(
    app: AppHandle,
    state: State<'_, AppState>,
    stamp: String,
    text: String,
) -> Result<String, AppError> {
    use tauri::Manager;
    let allowed = {
        let inner = state.inner.lock().await;
        let Some(session) = inner.session.as_ref() else {
            return Err(AppError::not_in_meeting());
        };
        session.view().policy.is_some_and(|p| p.save_chat)
    };
    // The system's Downloads folder; where none is set up (no XDG user dirs), ~/Downloads.
    let dir = app
        .path()
        .download_dir()
        .or_else(|_| app.path().home_dir().map(|h| h.join("Downloads")))
        .map_err(|e| {
            AppError::new(
                ErrorCode::SaveChatFailed,
                format!("There is no Downloads folder to save the chat in ({e})."),
            )
        })?;
    let path = saved_chat_path(allowed, &dir, &stamp, &text)?;
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, text.as_bytes()))
        .map_err(|e| {
            AppError::new(
                ErrorCode::SaveChatFailed,
                format!("The chat could not be saved in {} ({e}).", dir.display()),
            )
        })?;
    Ok(path.display().to_string())
}

/// Where a saved chat goes in `dir`, or why it may not be saved: the host's switch, its size,
/// and a name made only of the stamp's digits and dashes (never a path from the window); an
/// existing file is never overwritten.
pub fn saved_chat_path(
    allowed: bool,
    dir: &std::path::Path,
    stamp: &str,
    text: &str,
) -> Result<std::path::PathBuf, AppError> {
    if !allowed {
        return Err(AppError::new(
            ErrorCode::SaveChatOff,
            "The host has not allowed saving the chat in this meeting.",
        ));
    }
    if text.trim().is_empty() {
        return Err(AppError::new(
            ErrorCode::SaveChatOff,
            "There is no chat to save yet.",
        ));
    }
    if text.len() > MAX_SAVED_CHAT {
        return Err(AppError::new(
            ErrorCode::SaveChatFailed,
            "The chat is too long to save in one file.",
        ));
    }
    let stamp: String = stamp
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .take(24)
        .collect();
    let stamp = stamp.trim_matches('-');
    let stamp = if stamp.is_empty() { "meeting" } else { stamp };
    let mut path = dir.join(format!("parley-chat-{stamp}.txt"));
    let mut n = 2;
    while path.exists() && n < 1000 {
        path = dir.join(format!("parley-chat-{stamp}-{n}.txt"));
        n += 1;
    }
    Ok(path)
}

/// The current meeting view, if any (for a window that was reloaded).
#[tauri::command]
#[specta::specta]
pub async fn current_meeting(state: State<'_, AppState>) -> Result<Option<MeetingView>, AppError> {
    let inner = state.inner.lock().await;
    // The window starts from this view: what follows is sent whole once, then as changes.
    inner
        .resync
        .store(true, std::sync::atomic::Ordering::SeqCst);
    Ok(inner.session.as_ref().map(|s| s.view()))
}

/// The meeting's polls, oldest first (for a window that was reloaded).
#[tauri::command]
#[specta::specta]
pub async fn current_polls(state: State<'_, AppState>) -> Result<Vec<PollView>, AppError> {
    let inner = state.inner.lock().await;
    Ok(inner
        .session
        .as_ref()
        .map(|s| s.polls())
        .unwrap_or_default())
}

/// The meeting's file transfers, oldest first (for a window that was reloaded).
#[tauri::command]
#[specta::specta]
pub async fn current_files(state: State<'_, AppState>) -> Result<Vec<FileView>, AppError> {
    let inner = state.inner.lock().await;
    Ok(inner
        .session
        .as_ref()
        .map(|s| lock(&s.files()).views())
        .unwrap_or_default())
}

/// The shared notes and whiteboard (for a window that was reloaded).
#[tauri::command]
#[specta::specta]
pub async fn current_notes(state: State<'_, AppState>) -> Result<NotesView, AppError> {
    let inner = state.inner.lock().await;
    Ok(inner
        .session
        .as_ref()
        .map(|s| s.notes())
        .unwrap_or_default())
}

/// What to save of the shared notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum NotesExport {
    /// The notes, as a Markdown file.
    Markdown,
    /// The whiteboard, as an SVG picture.
    Svg,
}

/// Save the shared notes (Markdown) or the whiteboard (SVG) in the person's Downloads folder,
/// as `parley-notes-<stamp>.md` or `parley-whiteboard-<stamp>.svg` (the stamp only digits and
/// dashes; never over another file). The file's path.
#[tauri::command]
#[specta::specta]
pub async fn save_notes(
    app: AppHandle,
    state: State<'_, AppState>,
    what: NotesExport,
    stamp: String,
) -> Result<String, AppError> {
    let notes = {
        let inner = state.inner.lock().await;
        inner
            .session
            .as_ref()
            .map(|s| s.notes())
            .ok_or_else(AppError::not_in_meeting)?
    };
    let stamp: String = stamp
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '-')
        .take(32)
        .collect();
    let (name, bytes) = match what {
        NotesExport::Markdown => {
            let mut text = notes.text;
            if !text.ends_with('\n') {
                text.push('\n');
            }
            (format!("parley-notes-{stamp}.md"), text.into_bytes())
        }
        NotesExport::Svg => (
            format!("parley-whiteboard-{stamp}.svg"),
            board_svg(&notes.strokes).into_bytes(),
        ),
    };
    let dir = downloads(&app)?;
    let failed = |e: std::io::Error| {
        AppError::new(
            ErrorCode::SaveFileFailed,
            format!("The notes could not be saved in {} ({e}).", dir.display()),
        )
    };
    std::fs::create_dir_all(&dir).map_err(failed)?;
    let path = dir.join(&name);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
        .map_err(failed)?;
    Ok(path.display().to_string())
}

/// The whiteboard as SVG, drawn the way every client draws it.
fn board_svg(strokes: &[crate::model::StrokeView]) -> String {
    let strokes: Vec<parley_client::notes::Stroke> = strokes
        .iter()
        .map(|s| parley_client::notes::Stroke {
            id: s.id,
            color: s.color,
            width: s.width,
            points: s.points.iter().map(|[x, y]| (*x, *y)).collect(),
        })
        .collect();
    parley_client::notes::svg(&strokes)
}

/// Save a received file in the person's Downloads folder, under its name (never over another
/// file: " (2)" and so on before its ending). Nothing is opened.
#[tauri::command]
#[specta::specta]
pub async fn save_file(
    app: AppHandle,
    state: State<'_, AppState>,
    transfer: u32,
) -> Result<FileView, AppError> {
    let files = {
        let inner = state.inner.lock().await;
        inner
            .session
            .as_ref()
            .map(|s| s.files())
            .ok_or_else(AppError::not_in_meeting)?
    };
    let dir = downloads(&app)?;
    let view = lock(&files)
        .save(transfer, &dir)
        .map_err(|m| AppError::new(ErrorCode::SaveFileFailed, m))?;
    Ok(view)
}

/// Let a received file go unsaved.
#[tauri::command]
#[specta::specta]
pub async fn discard_file(
    state: State<'_, AppState>,
    transfer: u32,
) -> Result<Option<FileView>, AppError> {
    let inner = state.inner.lock().await;
    Ok(inner
        .session
        .as_ref()
        .and_then(|s| lock(&s.files()).discard(transfer)))
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The person's Downloads folder; where none is set up (no XDG user dirs), ~/Downloads.
fn downloads(app: &AppHandle) -> Result<std::path::PathBuf, AppError> {
    use tauri::Manager;
    app.path()
        .download_dir()
        .or_else(|_| app.path().home_dir().map(|h| h.join("Downloads")))
        .map_err(|e| {
            AppError::new(
                ErrorCode::SaveFileFailed,
                format!("There is no Downloads folder to save in ({e})."),
            )
        })
}

/// A file the window hands over to send: its content decoded, refused beyond what any
/// server takes before it is decoded.
fn file_to_send(to: Option<u32>, name: String, data: &str) -> Result<Control, AppError> {
    use base64::Engine as _;
    let limit = parley_client::files::MAX_FILE_BYTES;
    if data.len() as u64 > limit.div_ceil(3) * 4 {
        return Err(AppError::new(
            ErrorCode::FileTooLarge,
            format!("Files of at most {} MiB can be sent.", limit >> 20),
        ));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| AppError::new(ErrorCode::Internal, "The file could not be read."))?;
    Ok(Control::SendFile { to, name, data })
}

/// The invite link the app was opened with, if any (taken once).
#[tauri::command]
#[specta::specta]
pub fn opened_link(state: State<'_, AppState>) -> Option<String> {
    state
        .opened
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
}

/// Tell the person something needs them while the window is not in front (the window calls
/// this, in the person's language, when someone waits to be admitted): the window asks the
/// window manager for attention, and a desktop notification is posted (on Linux, through the
/// session bus; see [`crate::notify`] for escaping and rate limits).
#[tauri::command]
#[specta::specta]
pub fn notify(app: AppHandle, state: State<'_, AppState>, summary: String, body: String) {
    use tauri::Manager;
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.request_user_attention(Some(tauri::UserAttentionType::Informational));
    }
    state
        .notifier
        .show(crate::notify::Note::new(&summary, &body));
}

/// Where the window fetches decoded pictures: the app's loopback video socket (started on
/// first use; see [`crate::video_socket`] for who may connect, and [`crate::video`] for the
/// format).
#[tauri::command]
#[specta::specta]
pub async fn watch_video(state: State<'_, AppState>) -> Result<VideoStream, AppError> {
    state.video.set_visible(None, None);
    let socket = state
        .video_socket
        .get_or_try_init(|| VideoSocket::start(state.video.clone()))
        .await
        .map_err(|e| {
            AppError::new(
                ErrorCode::VideoUnavailable,
                format!(
                    "The app could not open its local video connection ({e}). Video cannot be shown; restart Parley."
                ),
            )
        })?;
    Ok(socket.stream())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_is_saved_only_when_the_host_allows_and_never_over_another_file() {
        let dir = std::env::temp_dir().join(format!("parley-saved-chat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let refused = saved_chat_path(false, &dir, "2026-12-07", "Ada: hello").unwrap_err();
        assert_eq!(refused.kind, ErrorCode::SaveChatOff);
        let empty = saved_chat_path(true, &dir, "2026-12-07", "  \n").unwrap_err();
        assert_eq!(empty.kind, ErrorCode::SaveChatOff);
        let huge = "x".repeat(MAX_SAVED_CHAT + 1);
        assert_eq!(
            saved_chat_path(true, &dir, "1", &huge).unwrap_err().kind,
            ErrorCode::SaveChatFailed
        );
        // The window names only the stamp: a path in it is dropped to its digits and dashes.
        let first = saved_chat_path(true, &dir, "../../etc/passwd-2026", "Ada: hi").unwrap();
        assert_eq!(first, dir.join("parley-chat-2026.txt"));
        std::fs::write(&first, "earlier").unwrap();
        let second = saved_chat_path(true, &dir, "2026", "Ada: hi").unwrap();
        assert_eq!(second, dir.join("parley-chat-2026-2.txt"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
