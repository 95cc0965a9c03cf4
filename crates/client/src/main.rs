//! `parley-cli`: host or join a Parley meeting from a terminal, and generate load.
//!
//! Events print as readable lines, or with `--json` as one JSON object per line (the
//! server's messages as they are, plus the CLI's own `invite` and `cli_error` lines).

mod command;
mod load;
mod output;
mod received;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use parley_client::api::create_meeting;
use parley_client::call::{Call, CallOptions, VideoFormat};
use parley_client::e2ee::{E2ee, E2eeEvent};
use parley_client::engine::{
    Action, Command as EngineCommand, Ending, Event, JoinAs, MeetingEngine, Output,
};
use parley_client::files::{FileEvent, MAX_FILE_BYTES};
use parley_client::signaling::{self, SignalingLink};
use parley_client::sink::{DumpSink, MediaSink};
use parley_client::{ClientError, identity, tls};
use parley_proto::api::CreateMeeting;
use parley_proto::{
    ClientMessage, DisplayName, GoodbyeReason, HostSecret, Identity, MeetingKey, MeetingLink,
    PolicyChange, ServerAddr, ServerMessage, Title,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;

use crate::command::Command;
use crate::output::Printer;

/// Parley from the command line: host or join meetings without the desktop app.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Print events as JSON lines.
    #[arg(long, global = true)]
    json: bool,
    /// Identity key file (default: the user's config directory, parley/identity.key).
    #[arg(long, global = true, env = "PARLEY_IDENTITY")]
    identity: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust, for a server with its own certificate authority.
    #[arg(long, global = true)]
    ca_file: Option<PathBuf>,
    /// Send a test pattern and a tone as camera and microphone once admitted, and decode what
    /// others send (printed as `media` lines every two seconds). For tests and bots.
    #[arg(long, global = true)]
    synthetic: bool,
    /// Local address for media (its IP is the ICE candidate the server reaches). By default,
    /// this computer's address on the route to the meeting server, on a free port.
    #[arg(long, global = true)]
    media_bind: Option<std::net::SocketAddr>,
    /// With --synthetic: the test pattern's size and frame rate.
    #[arg(long, global = true, default_value = "320x180@30")]
    video: VideoFormat,
    /// With --synthetic: write what is received to this folder, per participant: a PNG
    /// snapshot every two seconds and the audio as a WAV file.
    #[arg(long, global = true)]
    dump: Option<PathBuf>,
    /// Record what is received into this folder (a WebM file per participant, VP8 and Opus
    /// as they came) between `record on` and `record off`, while the host allows it; everyone
    /// in the meeting is told. Needs --synthetic or devices (a call to receive).
    #[arg(long, global = true)]
    record: Option<PathBuf>,
    /// With --synthetic: send and receive media only through the TURN relay the server
    /// announces, so the media server never learns this computer's address.
    #[arg(long, global = true)]
    relay_only: bool,
    /// Send this camera's picture (a name or id from `parley-cli devices`, or `default`).
    /// Without --camera and --synthetic no video is sent.
    #[arg(long, global = true, conflicts_with = "synthetic")]
    camera: Option<String>,
    /// The picture to ask the camera for.
    #[arg(long, global = true, default_value = "1280x720@30")]
    camera_format: VideoFormat,
    /// Send this microphone's sound (a name or id, or `default`). Without --mic and
    /// --synthetic you are muted.
    #[arg(long, global = true, conflicts_with = "synthetic")]
    mic: Option<String>,
    /// Play the others on this speaker (a name or id, or `default`).
    #[arg(long, global = true)]
    speaker: Option<String>,
    /// Send the microphone as it is: no echo cancellation, noise suppression or gain control
    /// (music, an instrument lesson).
    #[arg(long, global = true)]
    original_sound: bool,
    /// Leave the meeting after this long (e.g. 30s, 2m).
    #[arg(long, global = true, value_parser = parse_duration)]
    duration: Option<std::time::Duration>,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Create a meeting, print its invite link, and stay in it as host. Type `help` for the
    /// host commands (admit, lock, remove, mute-all, chat, end, …).
    Host(HostArgs),
    /// Join a meeting from its invite link.
    Join(JoinArgs),
    /// Load test: N participants join one meeting through the waiting room, are admitted in
    /// bulk, then chat. Prints latency and throughput.
    Load(load::LoadArgs),
    /// List cameras, microphones and speakers (names and ids for --camera, --mic, --speaker).
    Devices,
    /// Check microphone and speaker: record a few seconds, then play them back.
    EchoTest(EchoTestArgs),
}

#[derive(clap::Args, Debug)]
struct EchoTestArgs {
    /// Seconds to record (0.5 to 30).
    #[arg(long, default_value_t = 3.0)]
    seconds: f32,
}

fn choice(name: &str) -> parley_client::devices::DeviceChoice {
    use parley_client::devices::DeviceChoice;
    if name.eq_ignore_ascii_case("default") {
        DeviceChoice::Default
    } else {
        DeviceChoice::Named(name.to_string())
    }
}

/// The devices the command line chose (none unless named).
fn selection(cli: &Cli) -> parley_client::devices::DeviceSelection {
    use parley_client::devices::DeviceSelection;
    use parley_media::processing::ProcessingSettings;
    DeviceSelection {
        camera: cli.camera.as_deref().map(choice),
        camera_request: parley_media::camera::CameraRequest {
            width: cli.camera_format.width,
            height: cli.camera_format.height,
            fps: cli.camera_format.fps,
        },
        microphone: cli.mic.as_deref().map(choice),
        speaker: cli.speaker.as_deref().map(choice),
        processing: if cli.original_sound {
            ProcessingSettings::original_sound()
        } else {
            ProcessingSettings::voice()
        },
    }
}

fn echo_test(cli: &Cli, a: &EchoTestArgs, printer: &Printer) -> Result<ExitCode, ClientError> {
    let mic = choice(cli.mic.as_deref().unwrap_or("default"));
    let speaker = choice(cli.speaker.as_deref().unwrap_or("default"));
    match parley_client::devices::echo_test(&mic, &speaker, a.seconds, |p| printer.echo_phase(&p)) {
        Ok(report) => {
            printer.echo_report(&report);
            Ok(if report.heard_something {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(4)
            })
        }
        Err(e) => {
            printer.device_problem(&e);
            Ok(ExitCode::from(4))
        }
    }
}

#[derive(clap::Args, Debug)]
struct HostArgs {
    /// The server, e.g. https://meet.example.org or http://127.0.0.1:7880.
    #[arg(long, required_unless_present = "resume")]
    server: Option<String>,
    /// The meeting's title (everyone sees it; it is the meeting's only name in any UI).
    #[arg(long, default_value = "Meeting")]
    title: String,
    /// A passcode participants must enter (share it separately; it is never in the link).
    #[arg(long)]
    passcode: Option<String>,
    /// Let people in without the waiting room.
    #[arg(long)]
    no_waiting_room: bool,
    /// Do not promote a participant to host if you drop and no co-host is present.
    #[arg(long)]
    no_auto_promote: bool,
    /// Allow file transfer (off by default).
    #[arg(long)]
    allow_file_transfer: bool,
    /// Most participants.
    #[arg(long)]
    capacity: Option<u32>,
    /// Your display name.
    #[arg(long, default_value = "Host")]
    name: String,
    /// Host API token, for servers that require one.
    #[arg(long, env = "PARLEY_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Save the invite link and host secret here (owner-only) so you can reclaim the meeting.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Reclaim a meeting saved with --save instead of creating one.
    #[arg(long, conflicts_with_all = ["server", "passcode", "no_waiting_room"])]
    resume: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct JoinArgs {
    /// The invite link, as pasted.
    link: String,
    /// Your display name.
    #[arg(long)]
    name: String,
    /// The meeting's passcode, if it has one.
    #[arg(long)]
    passcode: Option<String>,
}

/// `30s`, `2m`, `1h` or plain seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (n, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = n
        .parse()
        .map_err(|_| format!("\"{s}\" is not a duration; write it like 30s or 2m"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("\"{s}\" has an unknown unit; use s, m or h")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// Media settings: a `--synthetic` participant, or one with real devices.
struct Media {
    /// `--media-bind`; otherwise the address the signaling connection left from.
    bind: Option<std::net::SocketAddr>,
    options: CallOptions,
    /// The devices chosen with --camera, --mic, --speaker (the call takes camera and mic).
    devices: Option<std::sync::Mutex<parley_client::devices::LocalDevices>>,
    /// Test pattern and tone stand in for camera and microphone.
    synthetic: bool,
    /// `--record`: records what is received while the meeting says so.
    recorder: Option<Arc<parley_client::record::RecordSink>>,
}

impl Media {
    fn from_cli(cli: &Cli, e2ee: &E2ee) -> Result<Option<Media>, ClientError> {
        let chosen = selection(cli);
        let real =
            chosen.camera.is_some() || chosen.microphone.is_some() || chosen.speaker.is_some();
        if !cli.synthetic && !real {
            return Ok(None);
        }
        let mut sinks: Vec<Arc<dyn MediaSink>> = Vec::new();
        let devices = real.then(|| parley_client::devices::LocalDevices::open(&chosen));
        if let Some(d) = &devices {
            sinks.push(d.sink());
        }
        if let Some(dir) = &cli.dump {
            let sink = DumpSink::new(dir).map_err(|e| {
                ClientError::Media(format!(
                    "cannot write to the dump folder {}: {e}",
                    dir.display()
                ))
            })?;
            sinks.push(Arc::new(sink));
        }
        let recorder = match &cli.record {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ClientError::Media(format!(
                        "cannot write to the recording folder {}: {e}",
                        dir.display()
                    ))
                })?;
                let r = Arc::new(parley_client::record::RecordSink::new(dir));
                sinks.push(r.clone());
                Some(r)
            }
            None => None,
        };
        Ok(Some(Media {
            recorder,
            devices: devices.map(std::sync::Mutex::new),
            synthetic: cli.synthetic,
            bind: cli.media_bind,
            options: CallOptions {
                video: cli.video,
                sinks,
                relay_only: cli.relay_only,
                transform: e2ee.frames(),
                ..CallOptions::default()
            },
        }))
    }

    /// Start media as participant `me` with the STUN/TURN servers `joined` announced, leaving
    /// from `route` (the signaling connection's address) unless --media-bind says otherwise.
    async fn start(
        &self,
        me: u32,
        ice_servers: &[parley_proto::IceServer],
        route: std::net::SocketAddr,
    ) -> Result<(Call, ClientMessage), ClientError> {
        let options = CallOptions {
            ice_servers: ice_servers.to_vec(),
            ..self.options.clone()
        };
        let bind = self.bind.unwrap_or(route);
        let (mut call, offer) = Call::start_with_options(me, bind, options).await?;
        if let Some(d) = &self.devices {
            let mut d = d.lock().unwrap_or_else(|p| p.into_inner());
            if d.camera.is_some() || d.microphone.is_some() || !self.synthetic {
                call.set_camera(d.take_camera());
                call.set_microphone(d.take_microphone());
            }
        }
        Ok((call, offer))
    }

    /// What could not be opened, once (the meeting goes on without it).
    fn take_problems(&self) -> Vec<parley_media::audio_device::DeviceError> {
        self.devices.as_ref().map_or_else(Vec::new, |d| {
            std::mem::take(&mut d.lock().unwrap_or_else(|p| p.into_inner()).problems)
        })
    }
}

/// Switch a device or change how someone is heard, during the call; what was done.
fn use_device(
    devices: &mut parley_client::devices::LocalDevices,
    call: &mut Call,
    command: Command,
) -> Result<String, parley_media::audio_device::DeviceError> {
    Ok(match command {
        Command::Camera(None) => {
            call.set_camera(None);
            "Camera off (closed).".into()
        }
        Command::Camera(Some(name)) => {
            call.set_camera(Some(devices.open_camera(&choice(&name))?));
            format!("Camera: {name}.")
        }
        Command::Microphone(None) => {
            call.set_microphone(None);
            "Microphone off (closed).".into()
        }
        Command::Microphone(Some(name)) => {
            call.set_microphone(Some(devices.open_microphone(&choice(&name))?));
            format!("Microphone: {name}.")
        }
        Command::Speaker(name) => {
            devices.switch_speaker(&choice(&name))?;
            format!("Speaker: {name}.")
        }
        Command::Volume(who, percent) => {
            devices.set_listening(&who.0.to_string(), Some(percent), None);
            format!("#{} at {percent} % for you.", who.0)
        }
        Command::MuteForMe(who, muted) => {
            devices.set_listening(&who.0.to_string(), None, Some(muted));
            if muted {
                format!("#{} muted for you.", who.0)
            } else {
                format!("#{} heard again.", who.0)
            }
        }
        _ => String::new(),
    })
}

/// What `--save` writes: enough to reclaim the meeting as host.
#[derive(Serialize, Deserialize)]
struct SavedMeeting {
    link: String,
    host_secret: HostSecret,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            // Parley's own code only: libraries underneath log addresses and SDP.
            tracing_subscriber::EnvFilter::new(parley_proto::log::filter_directives(Some(
                std::env::var("PARLEY_LOG").as_deref().unwrap_or("warn"),
            ))),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("parley-cli: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut printer = Printer::new(cli.json);
    let result = runtime.block_on(async {
        match &cli.command {
            Sub::Host(a) => host(&cli, a, &mut printer).await,
            Sub::Join(a) => join(&cli, a, &mut printer).await,
            Sub::Load(a) => load::run(&cli_tls(&cli)?, a).await,
            Sub::Devices => {
                printer.devices(&parley_client::devices::list());
                Ok(ExitCode::SUCCESS)
            }
            Sub::EchoTest(a) => {
                let (cli, a, p) = (&cli, a, &printer);
                tokio::task::block_in_place(|| echo_test(cli, a, p))
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            printer.error(&e);
            ExitCode::from(match e {
                ClientError::Refused { .. } => 3,
                _ => 1,
            })
        }
    }
}

fn cli_tls(cli: &Cli) -> Result<std::sync::Arc<rustls::ClientConfig>, ClientError> {
    tls::client_config(cli.ca_file.as_deref())
}

fn load_identity(cli: &Cli) -> Result<Identity, ClientError> {
    let path = cli
        .identity
        .clone()
        .or_else(identity::default_path)
        .ok_or_else(|| ClientError::Identity {
            path: "(none)".into(),
            detail: "no config directory; pass --identity FILE".into(),
        })?;
    identity::load_or_create(&path)
}

async fn host(cli: &Cli, a: &HostArgs, printer: &mut Printer) -> Result<ExitCode, ClientError> {
    let tls = cli_tls(cli)?;
    let me = load_identity(cli)?;
    let name = DisplayName::new(&a.name)?;
    let (link, secret) = match &a.resume {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| ClientError::Identity {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
            let saved: SavedMeeting =
                serde_json::from_str(&text).map_err(|e| ClientError::Identity {
                    path: path.display().to_string(),
                    detail: format!("not a saved meeting: {e}"),
                })?;
            (MeetingLink::parse(&saved.link)?, saved.host_secret)
        }
        None => {
            // Invariant: clap requires --server unless --resume is given.
            let server = ServerAddr::parse(a.server.as_deref().unwrap_or_default())?;
            let request = CreateMeeting {
                title: Title::new(&a.title)?,
                passcode: a.passcode.clone(),
                policy: PolicyChange {
                    waiting_room: a.no_waiting_room.then_some(false),
                    auto_promote: a.no_auto_promote.then_some(false),
                    file_transfer: a.allow_file_transfer.then_some(true),
                    capacity: a.capacity,
                    ..Default::default()
                },
            };
            let created =
                create_meeting(&server, a.api_token.as_deref(), &request, tls.clone()).await?;
            let link_server = match &created.public_url {
                Some(u) => ServerAddr::parse(u)?,
                None => server,
            };
            // The meeting key is made here and only ever travels inside the link.
            let link = MeetingLink::new(link_server, created.room, MeetingKey::random());
            (link, created.host_secret)
        }
    };
    printer.invite(&link);
    if let Some(path) = &a.save {
        save_meeting(path, &link, &secret)?;
    }
    let join = JoinAs {
        room: link.token.clone(),
        key: link.key.clone(),
        name,
        identity: me,
        passcode: None,
        host_secret: Some(secret),
    };
    let server = link.server.clone();
    run_meeting(cli, server, tls, join, printer, Some(link), a.save.clone()).await
}

fn save_meeting(
    path: &std::path::Path,
    link: &MeetingLink,
    secret: &HostSecret,
) -> Result<(), ClientError> {
    let saved = SavedMeeting {
        link: link.to_string(),
        host_secret: secret.clone(),
    };
    let text = serde_json::to_string(&saved).map_err(|e| ClientError::Protocol(e.to_string()))?;
    identity::write_private(path, text.as_bytes()).map_err(|e| ClientError::Identity {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

async fn join(cli: &Cli, a: &JoinArgs, printer: &mut Printer) -> Result<ExitCode, ClientError> {
    let link = MeetingLink::parse(&a.link)?;
    let tls = cli_tls(cli)?;
    let join = JoinAs {
        room: link.token.clone(),
        key: link.key.clone(),
        name: DisplayName::new(&a.name)?,
        identity: load_identity(cli)?,
        passcode: a.passcode.clone(),
        host_secret: None,
    };
    run_meeting(cli, link.server, tls, join, printer, None, None).await
}

/// The exit code for how the meeting ended (a failed first join is returned as the error).
/// A file to send: its name and content, refused before reading when larger than any
/// server takes.
fn read_file(path: &std::path::Path) -> Result<(String, Vec<u8>), String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{} is {} bytes; files of at most {MAX_FILE_BYTES} bytes can be sent",
            path.display(),
            meta.len()
        ));
    }
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    Ok((name, data))
}

/// Write a new file (never over an existing one); the error is a sentence.
fn save_new(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| {
            format!(
                "{} could not be written ({e}); choose another path",
                path.display()
            )
        })
}

fn exit_code(ending: Ending, printer: &Printer) -> Result<ExitCode, ClientError> {
    match ending {
        Ending::Goodbye(GoodbyeReason::Left | GoodbyeReason::MeetingEnded) | Ending::Left => {
            Ok(ExitCode::SUCCESS)
        }
        Ending::Goodbye(_) => Ok(ExitCode::from(4)),
        Ending::Failed(e) => Err(e),
        Ending::Lost(message) => {
            printer.lost(&message);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Drive the meeting: the engine decides, this loop moves messages, media and time. `link`:
/// the host's invite link; `save`: where `--save` keeps the meeting, rewritten when a host
/// secret is handed to us.
async fn run_meeting(
    cli: &Cli,
    server: ServerAddr,
    tls: Arc<rustls::ClientConfig>,
    join: JoinAs,
    printer: &mut Printer,
    link: Option<MeetingLink>,
    save: Option<PathBuf>,
) -> Result<ExitCode, ClientError> {
    use std::time::Instant;
    let mut engine = MeetingEngine::new(join, Instant::now())?;
    let media = Media::from_cli(cli, engine.e2ee())?;
    let mut signaling = SignalingLink::new(server, tls);
    let mut call: Option<Call> = None;
    let result: Result<ExitCode, ClientError> = async {
        let frame_interval = media
            .as_ref()
            .map_or(std::time::Duration::from_millis(33), |m| {
                m.options.video.frame_interval()
            });
        let mut video_tick = tokio::time::interval(frame_interval);
        let leave_at = tokio::time::sleep(cli.duration.unwrap_or(std::time::Duration::MAX / 4));
        tokio::pin!(leave_at);
        let mut leaving = false;
        let mut audio_tick = tokio::time::interval(std::time::Duration::from_millis(20));
        let mut stats_tick = tokio::time::interval(std::time::Duration::from_secs(2));
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut stdin_open = true;
        let mut received = received::Received::default();
        let recorder = media.as_ref().and_then(|m| m.recorder.clone());
        let mut media_tick = tokio::time::interval(std::time::Duration::from_millis(250));
        // Muted (by ourselves or a host): no audio leaves, in this call or the next one.
        let mut muted = false;
        loop {
            // Carry out everything the engine asks, in order.
            while let Some(output) = engine.poll_output() {
                let Some(output) = signaling.carry(&mut engine, output).await else {
                    continue;
                };
                match output {
                    Output::Action(Action::StartMedia { you, ice_servers }) => {
                        if let (Some(m), Some(route)) = (&media, signaling.media_bind()) {
                            if let Some(old) = call.take() {
                                old.close().await;
                            }
                            let (mut c, offer) = m.start(you.0, &ice_servers, route).await?;
                            c.set_muted(muted);
                            engine.handle_media_message(offer);
                            call = Some(c);
                        }
                    }
                    Output::Action(Action::StopMedia) => {
                        if let Some(c) = call.take() {
                            c.close().await;
                        }
                    }
                    Output::Event(Event::Shown(m)) => {
                        printer.event(&m);
                        if let ServerMessage::Muted { id, muted: now, .. } = &m
                            && Some(*id) == engine.me()
                        {
                            muted = *now;
                            if let Some(c) = &mut call {
                                c.set_muted(muted);
                            }
                        }
                        // Our recording runs exactly while the server has told everyone of it.
                        if let (ServerMessage::Recording { id, on }, Some(r)) = (&m, &recorder)
                            && Some(*id) == engine.me()
                        {
                            if *on {
                                if let Err(e) = r.start() {
                                    printer.note(&format!("The recording cannot be written: {e}"));
                                    engine.handle_command(
                                        Instant::now(),
                                        EngineCommand::Send(ClientMessage::Record { on: false }),
                                    );
                                }
                            } else {
                                printer.recorded(&r.stop());
                            }
                        }
                        if let Some(c) = &mut call
                            && let Some(reply) = c.on_message(&m).await?
                        {
                            engine.handle_media_message(reply);
                        }
                        if let (ServerMessage::HostSecret { secret }, Some(path), Some(link)) = (&m, &save, &link) {
                            save_meeting(path, link, secret)?;
                        }
                    }
                    Output::Event(Event::E2ee(E2eeEvent::NotesChanged)) => {
                        printer.notes(engine.e2ee().notes(), false);
                    }
                    Output::Event(Event::E2ee(e)) => {
                        printer.e2ee(&e);
                        // A file that arrived waits for save-file or discard-file.
                        if let E2eeEvent::File(FileEvent::Received { transfer, name, data, .. }) = e
                            && let Some(gone) = received.keep(transfer, name, data)
                        {
                            printer.note(&format!("{gone} was let go unsaved: at most {} files wait", received::MAX_KEPT));
                        }
                    }
                    Output::Event(Event::Reconnecting) => printer.connection("reconnecting"),
                    Output::Event(Event::Reconnected) => printer.connection("reconnected"),
                    Output::Event(Event::NotSent { reason, .. }) => {
                        printer.note(&format!("Not sent: {reason}"));
                    }
                    Output::Event(Event::HandHeld) => {
                        printer.note("Your hand is shown once the meeting's keys arrive.");
                    }
                    Output::Event(Event::Ended(ending)) => return exit_code(ending, printer),
                    // The link's part, carried out above.
                    Output::Transmit(_) | Output::Action(_) => {}
                }
            }
            let wake = engine.poll_timeout();
            tokio::select! {
                event = signaling.next() => {
                    if let Some(e) = SignalingLink::feed(&mut engine, event) {
                        // One message this version cannot read: said, and the meeting goes on.
                        printer.note(&e.to_string());
                    }
                }
                _ = signaling::sleep_until(wake) => engine.handle_timeout(Instant::now()),
                line = stdin.next_line(), if stdin_open => match line {
                    Ok(Some(line)) => match command::parse(&line, &printer.names()) {
                        Ok(Command::Send(ClientMessage::Chat { to, body })) => {
                            engine.handle_command(Instant::now(), EngineCommand::Chat { to, body });
                        }
                        Ok(Command::Send(ClientMessage::Record { on: true })) if recorder.is_none() => printer.note(
                            "To record, start parley-cli with --record FOLDER (and --synthetic or devices, so it receives the meeting).",
                        ),
                        Ok(Command::Send(msg)) => engine.handle_command(Instant::now(), EngineCommand::Send(msg)),
                        Ok(Command::React(reaction)) => engine.handle_command(Instant::now(), EngineCommand::React(reaction)),
                        Ok(Command::Hand(raised)) => engine.handle_command(Instant::now(), EngineCommand::Hand(raised)),
                        Ok(Command::OpenPoll { question, options, multiple, anonymous }) => engine.handle_command(
                            Instant::now(),
                            EngineCommand::OpenPoll { question, options, multiple, anonymous },
                        ),
                        Ok(Command::Vote(poll, choices)) => engine.handle_command(Instant::now(), EngineCommand::Vote { poll, choices }),
                        Ok(Command::SharePoll(poll)) => engine.handle_command(Instant::now(), EngineCommand::SharePollResults(poll)),
                        Ok(Command::SendFile(path, to)) => match read_file(&path) {
                            Ok((name, data)) => engine.handle_command(Instant::now(), EngineCommand::SendFile { to, name, data }),
                            Err(e) => printer.note(&e),
                        },
                        Ok(Command::SaveFile(transfer, path)) => match received.save(transfer, &path) {
                            Ok(saved) => printer.file_saved(transfer, &saved),
                            Err(e) => printer.note(&e),
                        },
                        Ok(Command::Notes(edit)) => engine.handle_command(Instant::now(), EngineCommand::Notes(edit)),
                        Ok(Command::BreakoutRandom { rooms, minutes }) => {
                            let me = engine.me();
                            let people: Vec<_> = printer.names().into_keys().filter(|p| Some(*p) != me).collect();
                            let rooms = command::deal(people, rooms);
                            engine.handle_command(Instant::now(), EngineCommand::Send(ClientMessage::BreakoutOpen { rooms, minutes }));
                        }
                        Ok(Command::BreakoutBroadcast(text)) => engine.handle_command(Instant::now(), EngineCommand::BreakoutBroadcast(text)),
                        Ok(Command::ShowNotes) => printer.notes(engine.e2ee().notes(), true),
                        Ok(Command::SaveNotes(path)) => {
                            let text = engine.e2ee().notes().markdown();
                            match save_new(&path, text.as_bytes()) {
                                Ok(()) => printer.note(&format!("The notes were saved as {}", path.display())),
                                Err(e) => printer.note(&e),
                            }
                        }
                        Ok(Command::SaveBoard(path)) => {
                            let svg = engine.e2ee().notes().svg();
                            match save_new(&path, svg.as_bytes()) {
                                Ok(()) => printer.note(&format!("The whiteboard was saved as {}", path.display())),
                                Err(e) => printer.note(&e),
                            }
                        }
                        Ok(Command::DiscardFile(transfer)) => {
                            if !received.discard(transfer) {
                                printer.note(&format!("no received file #{transfer} is waiting"));
                            }
                        }
                        Ok(Command::Link) => match &link {
                            Some(l) => printer.invite(l),
                            None => printer.note("Only the host's CLI keeps the invite link."),
                        },
                        Ok(Command::Who) => printer.who(),
                        Ok(device @ (Command::Camera(_)
                        | Command::Microphone(_)
                        | Command::Speaker(_)
                        | Command::Volume(..)
                        | Command::MuteForMe(..))) => {
                            match (media.as_ref().and_then(|m| m.devices.as_ref()), &mut call) {
                                (Some(devices), Some(c)) => {
                                    let mut devices = devices.lock().unwrap_or_else(|p| p.into_inner());
                                    match tokio::task::block_in_place(|| use_device(&mut devices, c, device)) {
                                        Ok(done) => printer.note(&done),
                                        Err(e) => printer.device_problem(&e),
                                    }
                                }
                                _ => printer.note(
                                    "No devices in use: join with --mic, --speaker or --camera to switch them.",
                                ),
                            }
                        }
                        Ok(Command::Help) => printer.note(command::HELP),
                        Ok(Command::Nothing) => {}
                        Err(e) => printer.note(&e),
                    },
                    // End of input: keep following the meeting.
                    Ok(None) | Err(_) => stdin_open = false,
                },
                _ = media_tick.tick(), if call.is_some() => {
                    // Media that stopped while signaling goes on (the network changed): the
                    // same call restarts ICE on whatever path there is now.
                    if let Some(c) = &mut call
                        && let Some(offer) = c.restart_if_down().await?
                    {
                        printer.note("media stopped (the network changed?): finding a new path");
                        engine.handle_media_message(offer);
                    }
                }
                _ = video_tick.tick(), if call.is_some() => {
                    if let Some(c) = &mut call {
                        c.send_video().await?;
                    }
                }
                _ = audio_tick.tick(), if call.is_some() => {
                    if let Some(c) = &mut call {
                        c.send_audio().await?;
                        for notice in c.take_notices() {
                            printer.note(&notice);
                        }
                        for (kind, why) in c.take_lost_devices() {
                            printer.device_problem(&parley_media::audio_device::DeviceError::Failed {
                                kind,
                                detail: format!("{why}; the meeting goes on without it"),
                            });
                        }
                    }
                    for problem in media.as_ref().map_or_else(Vec::new, Media::take_problems) {
                        printer.device_problem(&problem);
                    }
                    if let Some(devices) = media.as_ref().and_then(|m| m.devices.as_ref()) {
                        let mut devices = devices.lock().unwrap_or_else(|p| p.into_inner());
                        if devices.speaker_gone()
                            && let Some(notice) = tokio::task::block_in_place(|| devices.check_speaker())
                        {
                            printer.note(&notice);
                        }
                    }
                }
                _ = stats_tick.tick(), if call.is_some() => {
                    if let Some(c) = &call {
                        printer.media(&c.stats());
                    }
                }
                _ = &mut leave_at, if cli.duration.is_some() && !leaving => {
                    leaving = true;
                    if let Some(c) = &call {
                        printer.media(&c.stats());
                    }
                    engine.handle_command(Instant::now(), EngineCommand::Leave);
                }
                _ = tokio::signal::ctrl_c() => {
                    engine.handle_command(Instant::now(), EngineCommand::Leave);
                }
            }
        }
    }
    .await;
    if let Some(c) = call.take() {
        c.close().await;
    }
    // A recording under way ends with the meeting: its files are finished, not cut.
    if let Some(r) = media.as_ref().and_then(|m| m.recorder.as_ref())
        && r.is_recording()
    {
        let _ = r.stop();
    }
    if result.is_err() {
        // Stopping on an error is still a goodbye: the others see this participant leave at
        // once, not after the server has kept its place for the reconnect grace.
        signaling.send(&ClientMessage::Leave {}).await;
    }
    signaling.disconnect().await;
    result
}
