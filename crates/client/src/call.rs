//! A call: camera and microphone (the test pattern and a tone unless real devices are set
//! with [`Call::set_camera`] and [`Call::set_microphone`]), VP8 and Opus
//! encoding, one peer connection with the SFU, and every remote track decoded, measured and
//! handed to the sinks (the speaker's mixer among them). `parley-cli` and the load tests use it.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parley_media::assembler::FrameAssembler;
use parley_media::audio_codec::{FRAME_SAMPLES, OpusConfig, OpusDecoder, OpusEncoder};
use parley_media::audio_device::DeviceKind;
use parley_media::jitter::{JitterBuffer, Playout};
use parley_media::pattern::{TestPattern, read_stamp};
use parley_media::tone::{BURST_PERIOD_US, OnsetDetector, Tone, participant_frequency, power_at};
use parley_media::vp8::Vp8Decoder;
use parley_media::{AudioSource, SourceError, VideoSource};
use parley_proto::{ClientMessage, ServerMessage};
use serde::Serialize;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::error::ClientError;
use crate::keyframe::KeyframeAsks;
use crate::loss::LossCounter;
use crate::peer::{MediaPeer, PeerSettings, Route, request_keyframe};
use crate::simulcast::{LayeredEncoder, MIN_VIDEO_KBPS, bitrate_for};
use crate::sink::MediaSink;

/// Opus's in-band FEC is tuned for at least this much loss (percent), whatever is measured.
const FEC_LOSS_FLOOR_PCT: i32 = 10;

/// While media stays down, how often a new ICE restart is tried.
pub const RESTART_EVERY: Duration = Duration::from_secs(5);

/// What this participant receives from one other participant.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RemoteMedia {
    /// Video frames decoded.
    pub video_frames: u64,
    /// Size of the last decoded picture, e.g. `640x360`.
    pub video_size: Option<String>,
    /// The test-pattern frame number first decoded.
    pub first_frame: Option<u32>,
    /// The test-pattern frame number last decoded.
    pub last_frame: Option<u32>,
    /// Capture-to-decode time of the last frame, in ms (same wall clock on both ends).
    pub video_latency_ms: Option<u32>,
    /// Median capture-to-decode time, in ms.
    pub video_latency_p50_ms: Option<u32>,
    /// 99th percentile of the capture-to-decode time, in ms.
    pub video_latency_p99_ms: Option<u32>,
    /// Encoded video bytes received (RTP payload).
    pub video_bytes: u64,
    /// Video RTP packets that arrived, duplicates and retransmissions included.
    pub video_packets: u64,
    /// Video RTP packets the sequence numbers span, from the first to the highest: each
    /// received once or lost.
    pub video_packets_expected: u64,
    /// Of those, packets that never arrived (not even retransmitted). Counted by sequence
    /// number, so a duplicate does not cancel a loss.
    pub video_packets_lost: u64,
    /// The longest time between two decoded frames, in ms (a freeze).
    pub longest_freeze_ms: u64,
    /// Milliseconds from the start of this call to the first decoded frame from them.
    pub first_video_ms: Option<u64>,
    /// Milliseconds of audio played from packets that arrived (or were rebuilt from FEC).
    pub audio_ms: u64,
    /// Milliseconds of audio concealed (lost packets, or the buffer growing).
    pub audio_concealed_ms: u64,
    /// Audio frames rebuilt from the next packet's forward error correction.
    pub audio_recovered: u64,
    /// The longest run of concealed audio, in ms (a gap a listener hears).
    pub longest_concealed_ms: u64,
    /// Tone bursts whose start was heard (the test tone is on for 250 ms of every 500).
    pub audio_bursts_heard: u64,
    /// The participant number whose tone the last second of audio carries, if recognisable.
    pub tone_of: Option<u32>,
    /// Median capture-to-playout time of the audio, in ms (from the tone bursts).
    pub audio_latency_p50_ms: Option<u32>,
    /// 99th percentile of the capture-to-playout time of the audio, in ms.
    pub audio_latency_p99_ms: Option<u32>,
    /// Frames (video) and packets (audio) that could not be decrypted.
    pub undecryptable: u64,
    /// Why the last frame from them could not be decrypted, until one can again (shown on
    /// their tile: "can't decrypt — waiting for keys").
    pub decrypt_problem: Option<String>,
}

/// Counts of values in 1 ms steps up to a second, for percentiles.
#[derive(Debug, Clone)]
struct Histogram(Vec<u32>);

impl Default for Histogram {
    fn default() -> Self {
        Histogram(vec![0; 1001])
    }
}

impl Histogram {
    fn record(&mut self, ms: u32) {
        let i = (ms as usize).min(self.0.len() - 1);
        self.0[i] = self.0[i].saturating_add(1);
    }

    fn percentile(&self, p: f64) -> Option<u32> {
        let total: u64 = self.0.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return None;
        }
        let want = ((total as f64 * p).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (ms, &c) in self.0.iter().enumerate() {
            seen += u64::from(c);
            if seen >= want {
                return Some(ms as u32);
            }
        }
        None
    }
}

#[derive(Debug, Default)]
struct Remote {
    media: RemoteMedia,
    video_latency: Histogram,
    audio_latency: Histogram,
    last_decoded: Option<Instant>,
    /// Size of the last decoded picture (simulcast changes it at a layer switch).
    last_size: (u32, u32),
}

#[derive(Debug)]
struct StatsInner {
    started: Instant,
    by_sender: BTreeMap<String, Remote>,
}

type Stats = Arc<Mutex<StatsInner>>;

/// Picture size and frame rate of the synthetic camera, written `640x360@30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl Default for VideoFormat {
    fn default() -> Self {
        VideoFormat {
            width: 320,
            height: 180,
            fps: 30,
        }
    }
}

impl VideoFormat {
    /// The VP8 bitrate to aim for at this size and rate, in kbit/s (about 800 for 640x360@30;
    /// bitrate adaptation goes below it when the network asks).
    pub fn bitrate_kbps(&self) -> u32 {
        bitrate_for(self.width, self.height, self.fps)
    }

    /// Time between frames.
    pub fn frame_interval(&self) -> Duration {
        Duration::from_micros(1_000_000 / u64::from(self.fps.max(1)))
    }
}

impl FromStr for VideoFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("\"{s}\" is not a video format; write it like 640x360@30");
        let (size, fps) = s.split_once('@').unwrap_or((s, "30"));
        let (w, h) = size.split_once('x').ok_or_else(bad)?;
        let (width, height, fps): (u32, u32, u32) = (
            w.trim().parse().map_err(|_| bad())?,
            h.trim().parse().map_err(|_| bad())?,
            fps.trim().parse().map_err(|_| bad())?,
        );
        if !(16..=3840).contains(&width) || !(16..=2160).contains(&height) {
            return Err(format!(
                "{width}x{height} is outside 16x16 to 3840x2160; choose a size in that range"
            ));
        }
        if width % 2 != 0 || height % 2 != 0 {
            return Err(format!(
                "{width}x{height} has an odd side; use even numbers"
            ));
        }
        if !(1..=60).contains(&fps) {
            return Err(format!("{fps} frames per second is outside 1 to 60"));
        }
        Ok(VideoFormat { width, height, fps })
    }
}

/// How a call sends and what it keeps of what it receives.
#[derive(Clone)]
pub struct CallOptions {
    /// The synthetic camera's format.
    pub video: VideoFormat,
    /// Frame encryption (end-to-end), or [`Plain`].
    pub transform: Arc<dyn FrameTransform>,
    /// Where decoded pictures and played audio go, per participant (the app's renderer and
    /// player, [`crate::sink::DumpSink`]).
    pub sinks: Vec<Arc<dyn MediaSink>>,
    /// Decode what arrives (off: only count packets and bytes — for load bots).
    pub decode: bool,
    /// STUN/TURN servers the meeting server announced (in `joined`).
    pub ice_servers: Vec<parley_proto::IceServer>,
    /// Connect only through a TURN relay, so the SFU never learns this computer's address.
    pub relay_only: bool,
    /// Encode the first [`PRERECORDED_FRAMES`] frames once and send them round and round (the
    /// keyframe again when one is asked for): a sender that costs almost nothing, for load
    /// bots. Receivers cannot decode the loop seamlessly; use it with `decode: false`.
    pub prerecorded: bool,
    /// Send the camera in simulcast layers ([`crate::simulcast`]); off: one layer, at the
    /// camera's size.
    pub simulcast: bool,
}

/// Frames a prerecorded sender keeps (two seconds at 30 fps).
pub const PRERECORDED_FRAMES: usize = 60;

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            video: VideoFormat::default(),
            transform: Arc::new(Plain),
            sinks: Vec::new(),
            decode: true,
            prerecorded: false,
            simulcast: true,
            ice_servers: Vec::new(),
            relay_only: false,
        }
    }
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("video", &self.video)
            .field("sinks", &self.sinks.len())
            .field("decode", &self.decode)
            .field("prerecorded", &self.prerecorded)
            .field("simulcast", &self.simulcast)
            .finish_non_exhaustive()
    }
}

pub use parley_engine::frames::{FrameKind, FrameTransform, OpenError, Plain};

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn update(stats: &Stats, who: &str, f: impl FnOnce(&mut Remote, Duration)) {
    let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
    let since = s.started.elapsed();
    f(s.by_sender.entry(who.to_string()).or_default(), since);
}

/// What audio takes of the send budget: Opus at 32 kbit/s plus RTP/UDP/SRTP headers for 50
/// packets a second.
const AUDIO_BUDGET_BPS: f64 = 60_000.0;

/// How long media may take to connect after the SFU's answer before the call gives up on it.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(15);

/// One participant's call: what it sends (camera or test pattern, microphone or tone) and what it
/// receives, over one WebRTC peer connection to the SFU.
pub struct Call {
    peer: MediaPeer,
    /// The person muted themselves (or a host did): no audio leaves, so the server forwards
    /// none and picks nobody's silence as a voice that speaks.
    muted: bool,
    // In a Mutex only so the call is Sync (sources need not be); `get_mut` never locks.
    camera: Option<Mutex<Box<dyn VideoSource>>>,
    video: LayeredEncoder,
    /// Whether the camera goes out in simulcast layers ([`CallOptions::simulcast`]).
    simulcast: bool,
    format: VideoFormat,
    microphone: Option<Mutex<Box<dyn AudioSource>>>,
    audio: OpusEncoder,
    /// Audio frames sent (the FEC tuning looks at the uplink's loss once a second).
    audio_frames: u64,
    connected: bool,
    /// When our last ICE-restart offer went out, while its answer is awaited.
    restarting: Option<Instant>,
    /// ICE restarts made in this call.
    restarts: u32,
    /// Frames sent as keyframes because someone asked ([`Call::keyframes_asked`]).
    keyframes_asked: u32,
    /// When the SFU's answer came (ICE and DTLS run from then on), until connected.
    answered: Option<Instant>,
    stats: Stats,
    transform: Arc<dyn FrameTransform>,
    /// Encoded frames kept for a prerecorded sender, and where in the loop it is.
    recording: Option<(Vec<Vec<u8>>, usize)>,
    /// Sources that stopped working, not yet reported.
    lost: Vec<(DeviceKind, SourceError)>,
}

impl Call {
    /// Set up media for participant number `me` (which picks the colour and the tone) and make
    /// the offer to send as `sdp_offer`.
    pub async fn start(
        me: u32,
        bind: std::net::SocketAddr,
    ) -> Result<(Self, ClientMessage), ClientError> {
        Self::start_with_options(me, bind, CallOptions::default()).await
    }

    /// [`Call::start`] with a frame transform (end-to-end encryption).
    pub async fn start_with(
        me: u32,
        bind: std::net::SocketAddr,
        transform: Arc<dyn FrameTransform>,
    ) -> Result<(Self, ClientMessage), ClientError> {
        let options = CallOptions {
            transform,
            ..CallOptions::default()
        };
        Self::start_with_options(me, bind, options).await
    }

    /// [`Call::start`] with every option.
    pub async fn start_with_options(
        me: u32,
        bind: std::net::SocketAddr,
        options: CallOptions,
    ) -> Result<(Self, ClientMessage), ClientError> {
        let f = options.video;
        let codec = |e: parley_media::vp8::CodecError| ClientError::Media(e.to_string());
        let simulcast = options.simulcast && !options.prerecorded;
        let video = LayeredEncoder::new(f.width, f.height, f.fps, simulcast).map_err(codec)?;
        let video_bps = f64::from(video.full_kbps()) * 1000.0;
        let settings = PeerSettings {
            start_bps: video_bps + AUDIO_BUDGET_BPS,
            max_bps: 1.5 * video_bps + AUDIO_BUDGET_BPS,
            ice_servers: options.ice_servers.clone(),
            relay_only: options.relay_only,
        };
        let mut peer = MediaPeer::new(bind, &settings).await?;
        let sdp = peer.offer().await?;
        let stats: Stats = Arc::new(Mutex::new(StatsInner {
            started: Instant::now(),
            by_sender: BTreeMap::new(),
        }));
        // Every remote track is decoded and measured in its own task.
        if let Some(mut tracks) = peer.take_tracks() {
            let stats = stats.clone();
            let transform = options.transform.clone();
            let sinks: Arc<[Arc<dyn MediaSink>]> = options.sinks.clone().into();
            let decode = options.decode;
            let ext = peer.sender_extension();
            tokio::spawn(async move {
                while let Some(t) = tracks.recv().await {
                    if decode {
                        tokio::spawn(receive(
                            t,
                            stats.clone(),
                            transform.clone(),
                            sinks.clone(),
                            ext.clone(),
                        ));
                    } else {
                        tokio::spawn(count_only(t, stats.clone(), ext.clone()));
                    }
                }
            });
        }
        let call = Call {
            peer,
            camera: Some(Mutex::new(Box::new(TestPattern::new(
                f.width, f.height, me,
            )))),
            video,
            simulcast,
            format: f,
            microphone: Some(Mutex::new(Box::new(Tone::for_participant(me).in_bursts()))),
            audio: OpusEncoder::new(&OpusConfig::default()).map_err(codec)?,
            audio_frames: 0,
            muted: false,
            connected: false,
            restarting: None,
            restarts: 0,
            keyframes_asked: 0,
            answered: None,
            stats,
            transform: options.transform,
            recording: options.prerecorded.then(|| (Vec::new(), 0)),
            lost: Vec::new(),
        };
        Ok((call, ClientMessage::SdpOffer { sdp }))
    }

    /// Send pictures from `camera` from now on (a real camera, or another one), or none.
    /// The track stays; the receivers see the new picture from its first keyframe.
    pub fn set_camera(&mut self, camera: Option<Box<dyn VideoSource>>) {
        self.camera = camera.map(Mutex::new);
        self.video.set_simulcast(self.simulcast);
    }

    /// Send a shared screen or window on the camera's track from now on: one layer at its
    /// full size (small copies of a screen are unreadable; the SFU forwards the one layer to
    /// everyone). [`Call::set_camera`] gives the track back to a camera.
    pub fn share_screen(&mut self, screen: Box<dyn VideoSource>) {
        self.camera = Some(Mutex::new(screen));
        self.video.set_simulcast(false);
    }

    /// Send sound from `microphone` from now on, or none.
    pub fn set_microphone(&mut self, microphone: Option<Box<dyn AudioSource>>) {
        self.microphone = microphone.map(Mutex::new);
    }

    /// The camera or microphone that stopped (unplugged, failed) since the last call, and why.
    /// It is no longer used; the caller tells the user and may open another.
    pub fn take_lost_devices(&mut self) -> Vec<(DeviceKind, SourceError)> {
        std::mem::take(&mut self.lost)
    }

    /// What the microphone has to tell the user (it switched to the default one), once.
    pub fn take_notices(&mut self) -> Vec<String> {
        self.microphone.as_mut().map_or_else(Vec::new, |m| {
            m.get_mut().unwrap_or_else(|p| p.into_inner()).notices()
        })
    }

    /// How often to call [`Call::send_video`].
    pub fn frame_interval(&self) -> Duration {
        self.format.frame_interval()
    }

    /// Handle a media message from the server; returns the reply to send, if any.
    pub async fn on_message(
        &mut self,
        msg: &ServerMessage,
    ) -> Result<Option<ClientMessage>, ClientError> {
        match msg {
            ServerMessage::SdpAnswer { sdp } => {
                // ICE and DTLS go on from here; [`Call::check_connection`] sees them
                // finish (nothing waits: the caller goes on reading and sending).
                self.peer.accept_answer(sdp.clone()).await?;
                self.restarting = None;
                if !self.connected {
                    self.answered = Some(Instant::now());
                }
                Ok(None)
            }
            // The SFU's offer crossed our restart offer: the SFU drops it when ours arrives
            // and offers again after answering (PROTOCOL.md), so it is not answered here.
            ServerMessage::SdpOffer { .. } if self.restarting.is_some() => Ok(None),
            ServerMessage::SdpOffer { sdp } => {
                let sdp = self.peer.answer_offer(sdp.clone()).await?;
                Ok(Some(ClientMessage::SdpAnswer { sdp }))
            }
            ServerMessage::SendLayers { rids } => {
                // Rids we do not send are ignored; the next picture follows the new set.
                let wanted = rids
                    .iter()
                    .take(crate::peer::LAYERS.len() * 4)
                    .filter_map(|r| crate::peer::LAYERS.iter().position(|l| *l == r.as_str()))
                    .fold(0u8, |bits, i| bits | (1 << i));
                self.video.set_wanted(wanted);
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// When media that worked has stopped (its path no longer answers: the network changed,
    /// an address went away), an offer that restarts ICE on new sockets, to send to the
    /// server: the call goes on, on whatever path there is now. Again every
    /// [`RESTART_EVERY`] while media stays down. Call it a few times a second.
    pub async fn restart_if_down(&mut self) -> Result<Option<ClientMessage>, ClientError> {
        if self.peer.down_since().is_none() {
            return Ok(None);
        }
        if self.restarting.is_some_and(|t| t.elapsed() < RESTART_EVERY) {
            return Ok(None);
        }
        let sdp = self.peer.restart_offer().await?;
        tracing::info!(restarts = self.restarts, "media path lost: ICE restart");
        self.restarting = Some(Instant::now());
        self.restarts += 1;
        Ok(Some(ClientMessage::SdpOffer { sdp }))
    }

    /// ICE restarts this call made (the network changed under it).
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// The layers a keyframe was asked of since the last frame (counted).
    fn asked_for_keyframe(&mut self) -> u8 {
        let asked = self.peer.take_keyframe_requests();
        if asked != 0 {
            self.keyframes_asked += 1;
        }
        asked
    }

    /// How many times a keyframe was asked of this sender (each one costs every receiver a
    /// large frame: a receiver that cannot decrypt must not keep asking).
    pub fn keyframes_asked(&self) -> u32 {
        self.keyframes_asked
    }

    /// Whether media is connected (ICE and DTLS, after the SFU's answer), without waiting. An
    /// error, once, if the connection failed or is not up [`CONNECT_WITHIN`] after the answer:
    /// the caller tells the user and closes the call. Sending checks it too.
    pub fn check_connection(&mut self) -> Result<bool, ClientError> {
        if self.connected {
            return Ok(true);
        }
        let Some(since) = self.answered else {
            return Ok(false);
        };
        match self.peer.poll_connected() {
            Ok(true) => {
                self.connected = true;
                self.answered = None;
                Ok(true)
            }
            Ok(false) if since.elapsed() < CONNECT_WITHIN => Ok(false),
            Ok(false) => {
                self.answered = None;
                Err(ClientError::Media(
                    "timed out connecting media to the meeting server".into(),
                ))
            }
            Err(e) => {
                self.answered = None;
                Err(e)
            }
        }
    }

    /// Send the next video frame (call at the frame rate).
    pub async fn send_video(&mut self) -> Result<(), ClientError> {
        if !self.check_connection()? {
            return Ok(());
        }
        let ticks = u64::from(90_000 / self.format.fps.max(1));
        let top = crate::peer::LAYERS.len() - 1;
        if self
            .recording
            .as_ref()
            .is_some_and(|(frames, _)| frames.len() >= PRERECORDED_FRAMES)
        {
            let asked = self.asked_for_keyframe();
            // Invariant: checked just above.
            let Some((frames, at)) = &mut self.recording else {
                return Ok(());
            };
            // Replay: the keyframe when asked for, else the next frame of the loop.
            *at = if asked != 0 {
                0
            } else {
                (*at + 1) % frames.len()
            };
            let Some(frame) = self.transform.seal(FrameKind::Video, frames[*at].clone()) else {
                return Ok(());
            };
            return self.peer.send_video(top, frame, ticks).await;
        }
        let Some(camera) = &mut self.camera else {
            return Ok(());
        };
        let camera = camera.get_mut().unwrap_or_else(|p| p.into_inner());
        let frame = match camera.next_frame(wall_us()) {
            Ok(f) => f,
            Err(e) => {
                // Unplugged or failed: no more video from it; the caller is told and may
                // offer another camera. The call goes on.
                self.camera = None;
                self.lost.push((DeviceKind::Camera, e));
                return Ok(());
            }
        };
        // Another camera, or one that changed its size, makes new encoders on the same
        // track (their first frames are keyframes), no renegotiation.
        let before = self.video.active();
        self.follow_the_network()?;
        let mut keyframes =
            self.asked_for_keyframe() | LayeredEncoder::resumed(&before, &self.video.active());
        if self.recording.as_ref().is_some_and(|(f, _)| f.is_empty()) {
            keyframes = u8::MAX;
        }
        let encoded = self
            .video
            .encode(&frame, keyframes)
            .map_err(|e| ClientError::Media(e.to_string()))?;
        for (layer, e) in encoded {
            if let Some((frames, _)) = &mut self.recording
                && layer == top
            {
                frames.push(e.data.clone());
            }
            // No key yet: the frame is dropped (receivers ask for a keyframe once keys come).
            if let Some(frame) = self.transform.seal(FrameKind::Video, e.data) {
                self.peer.send_video(layer, frame, ticks).await?;
            }
        }
        Ok(())
    }

    /// Keep the encoders' targets inside what congestion control allows (shared among the
    /// simulcast layers, the top one stopping first when it is short).
    fn follow_the_network(&mut self) -> Result<(), ClientError> {
        let budget = self.peer.target_bitrate_bps() * 0.9 - AUDIO_BUDGET_BPS;
        let kbps = ((budget / 1000.0).max(0.0) as u32).max(MIN_VIDEO_KBPS);
        self.video
            .follow(kbps)
            .map_err(|e| ClientError::Media(e.to_string()))
    }

    /// What the VP8 encoders aim at now, all layers together, in kbit/s (follows
    /// congestion control).
    pub fn video_bitrate_kbps(&self) -> u32 {
        self.video.bitrate_kbps()
    }

    /// The simulcast layers being sent now (indexes into [`crate::peer::LAYERS`]).
    pub fn video_layers(&self) -> Vec<usize> {
        self.video.active()
    }

    /// What congestion control allows this participant to send, in kbit/s.
    pub fn send_budget_kbps(&self) -> u32 {
        (self.peer.target_bitrate_bps() / 1000.0) as u32
    }

    /// Mute (no audio is sent) or unmute the microphone.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Send the next 20 ms of audio (call every 20 ms).
    pub async fn send_audio(&mut self) -> Result<(), ClientError> {
        if !self.check_connection()? {
            return Ok(());
        }
        let Some(microphone) = &mut self.microphone else {
            return Ok(());
        };
        let microphone = microphone.get_mut().unwrap_or_else(|p| p.into_inner());
        let f = match microphone.next_frame(wall_us(), FRAME_SAMPLES) {
            Ok(f) => f,
            Err(e) => {
                self.microphone = None;
                self.lost.push((DeviceKind::Microphone, e));
                return Ok(());
            }
        };
        // Muted: the source keeps its pace (it was read), nothing is sent.
        if self.muted {
            return Ok(());
        }
        let level = f.level();
        self.audio_frames += 1;
        if self.audio_frames.is_multiple_of(50) {
            self.tune_fec()?;
        }
        let packet = self
            .audio
            .encode(&f)
            .map_err(|e| ClientError::Media(e.to_string()))?;
        match self.transform.seal(FrameKind::Audio, packet) {
            Some(packet) => self.peer.send_audio(packet, level).await,
            None => Ok(()),
        }
    }

    /// Opus's in-band FEC tuned to the loss our uplink has whatever we send (the SFU's
    /// feedback shows it): never under the default 10 %, at most 40 %, changed when it moves
    /// by 2 points or more.
    fn tune_fec(&mut self) -> Result<(), ClientError> {
        let want = i32::from(self.peer.uplink_loss_pct()).clamp(FEC_LOSS_FLOOR_PCT, 40);
        let now = self.audio_expected_loss()?;
        if (want - now).abs() >= 2 {
            self.audio
                .set_expected_loss(want)
                .map_err(|e| ClientError::Media(e.to_string()))?;
        }
        Ok(())
    }

    /// The packet loss in percent the audio's in-band FEC is tuned for now.
    pub fn audio_expected_loss(&mut self) -> Result<i32, ClientError> {
        self.audio
            .expected_loss()
            .map_err(|e| ClientError::Media(e.to_string()))
    }

    /// What has been received so far, by sending participant.
    pub fn stats(&self) -> BTreeMap<String, RemoteMedia> {
        let s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.by_sender
            .iter()
            .map(|(who, r)| {
                let mut m = r.media.clone();
                m.video_latency_p50_ms = r.video_latency.percentile(0.5);
                m.video_latency_p99_ms = r.video_latency.percentile(0.99);
                m.audio_latency_p50_ms = r.audio_latency.percentile(0.5);
                m.audio_latency_p99_ms = r.audio_latency.percentile(0.99);
                (who.clone(), m)
            })
            .collect()
    }

    /// How this participant's media reaches the SFU (`None` until ICE has selected a pair).
    pub async fn route(&self) -> Option<Route> {
        self.peer.route().await
    }

    /// Hang up.
    pub async fn close(&self) {
        self.peer.close().await;
    }
}

/// The participant whose tone `pcm` carries: a clear winner among the tone frequencies, well
/// above the runner-up, or `None` (noise, speech, silence, undecryptable garbage).
fn recognise_tone(pcm: &[i16]) -> Option<u32> {
    let mut powers: Vec<(u32, f64)> = (0..13)
        .map(|n| (n, power_at(pcm, participant_frequency(n))))
        .collect();
    powers.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (best, p) = powers[0];
    let second = powers[1].1;
    (p > 0.002 && p > 8.0 * second).then_some(best)
}

type Sinks = Arc<[Arc<dyn MediaSink>]>;

/// Count a frame that did not open (and say why); clear the problem when one does.
fn opened(stats: &Stats, who: &str, r: Result<Vec<u8>, OpenError>) -> Option<Vec<u8>> {
    match r {
        Ok(frame) => {
            let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = s.by_sender.get_mut(who) {
                r.media.decrypt_problem = None;
            }
            Some(frame)
        }
        Err(e) => {
            update(stats, who, |r, _| {
                r.media.undecryptable += 1;
                r.media.decrypt_problem = Some(e.to_string());
            });
            None
        }
    }
}

/// Whether a remote track carries audio: the kind of its m-line.
async fn is_audio(track: &Arc<dyn TrackRemote>) -> bool {
    track.kind().await == rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio
}

async fn receive(
    track: Arc<dyn TrackRemote>,
    stats: Stats,
    transform: Arc<dyn FrameTransform>,
    sinks: Sinks,
    sender_ext: Arc<AtomicU8>,
) {
    let who = track.stream_id().await.to_string();
    let ssrc = track.ssrcs().await.first().copied().unwrap_or_default();
    // The kind of the m-line the track came on. Not its codec: that can still be unknown
    // when the track is announced, and an audio track taken for video was then fed to the
    // VP8 path and never heard (about one late joiner in thirty heard the host only so).
    if is_audio(&track).await {
        receive_audio(track, &who, stats, transform, sinks, sender_ext).await;
    } else {
        receive_video(track, ssrc, &who, stats, transform, sinks, sender_ext).await;
    }
}

/// For load bots: count what arrives, decode nothing.
async fn count_only(track: Arc<dyn TrackRemote>, stats: Stats, sender_ext: Arc<AtomicU8>) {
    let stream = track.stream_id().await.to_string();
    let audio = is_audio(&track).await;
    let mut loss = TurnLoss::default();
    let mut current = String::new();
    let mut names = SenderNames::new(sender_ext, &stream);
    while let Some(ev) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(pkt) = ev else {
            continue;
        };
        let bytes = pkt.payload.len() as u64;
        let who = names.of(&pkt);
        if audio {
            update(&stats, who, |r, _| r.media.audio_ms += 20);
            continue;
        }
        if who != current {
            // Another sender in this slot: its own count (a load bot watches one at a time).
            who.clone_into(&mut current);
            loss = TurnLoss::default();
        }
        let (expected, lost) = loss.packet(pkt.header.sequence_number);
        update(&stats, who, |r, _| {
            r.media.video_packets += 1;
            r.media.video_bytes += bytes;
            r.media.video_packets_expected = expected;
            r.media.video_packets_lost = lost;
        });
    }
}

/// Who sent each packet of a remote track, as the SFU's sender extension names it (see
/// [`crate::peer::SENDER_EXTENSION`]), else the track's stream id. The name is made anew only
/// when the sender changes, not for every packet.
struct SenderNames {
    ext: Arc<AtomicU8>,
    stream: String,
    last: Option<u32>,
    name: String,
}

impl SenderNames {
    fn new(ext: Arc<AtomicU8>, stream: &str) -> Self {
        SenderNames {
            ext,
            stream: stream.to_owned(),
            last: None,
            name: stream.to_owned(),
        }
    }

    /// The sender of `pkt`.
    fn of(&mut self, pkt: &rtc::rtp::Packet) -> &str {
        let number = self.number(pkt);
        if number != self.last {
            self.last = number;
            self.name = number.map_or_else(|| self.stream.clone(), |n| n.to_string());
        }
        &self.name
    }

    fn number(&self, pkt: &rtc::rtp::Packet) -> Option<u32> {
        let id = self.ext.load(Ordering::Relaxed);
        if id == 0 {
            return None;
        }
        let v = pkt.header.get_extension(id)?;
        let b: [u8; 4] = v.as_ref().try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }
}

/// Most voices one audio slot keeps state for at once (the SFU moves a slot to another voice
/// when the one it carried is no longer among the loudest); the longest silent goes first.
const MAX_VOICES_PER_SLOT: usize = 8;
/// A voice whose frame index jumps by more than this (it came back to the slot after others
/// used it) starts a fresh buffer.
const VOICE_SEQ_JUMP: u16 = 25;

/// One voice's playout: its jitter buffer, decoder and measurements.
struct Voice {
    dec: OpusDecoder,
    buffer: JitterBuffer,
    onsets: OnsetDetector,
    recent: Vec<i16>,
    /// The frame index of the last packet (see [`Voice::push`]).
    last_seq: Option<u16>,
    /// The RTP timestamp frame indexes count from.
    ts_base: Option<u32>,
    last_packet: Instant,
    /// Concealed audio since the last frame heard, in ms.
    concealed_run_ms: u64,
    /// When the last burst counted as heard began (playout clock, µs).
    last_burst_us: Option<u64>,
}

impl Voice {
    fn new() -> Option<Self> {
        Some(Voice {
            dec: OpusDecoder::new().ok()?,
            buffer: JitterBuffer::new(20_000, 400_000),
            onsets: OnsetDetector::new(),
            recent: Vec::new(),
            last_seq: None,
            ts_base: None,
            last_packet: Instant::now(),
            concealed_run_ms: 0,
            last_burst_us: None,
        })
    }

    /// Take one packet. The jitter buffer orders packets by a frame index taken from the RTP
    /// timestamp (20 ms frames), not by sequence number: the SFU forwards audio as frames
    /// and numbers what it sends afresh, so a packet lost on the sender's uplink leaves no
    /// gap in the numbers a receiver sees, only in the timestamps. Ordered by number, the
    /// next packet played at once in the lost one's place and FEC never rebuilt it.
    fn push(&mut self, now_us: u64, timestamp: u32, packet: Vec<u8>) {
        let index = |base: u32| {
            // A packet from before the base (reordered) gets an index just below it.
            let d = timestamp.wrapping_sub(base) as i32;
            d.div_euclid(FRAME_SAMPLES as i32) as u16
        };
        let mut seq = index(*self.ts_base.get_or_insert(timestamp));
        if self
            .last_seq
            .is_some_and(|l| (VOICE_SEQ_JUMP..0x8000).contains(&seq.wrapping_sub(l)))
        {
            self.buffer = JitterBuffer::new(20_000, 400_000);
            self.ts_base = Some(timestamp);
            seq = 0;
        }
        self.last_seq = Some(seq);
        self.last_packet = Instant::now();
        self.buffer.push(now_us, seq, timestamp, packet);
    }

    /// The next 20 ms: decoded, rebuilt or concealed, to the sinks and the statistics.
    fn play(&mut self, who: &str, now_us: u64, stats: &Stats, sinks: &Sinks) {
        let (pcm, heard) = match self.buffer.pop(now_us) {
            Playout::Waiting => return,
            Playout::Packet(p) => (self.dec.decode(&p), true),
            Playout::Recover(p) => (self.dec.recover_from(&p), true),
            Playout::Conceal => (self.dec.conceal(), false),
        };
        let Ok(pcm) = pcm else { return };
        for sink in sinks.iter() {
            sink.audio(who, &pcm);
        }
        let delay = self.onsets.feed(wall_us(), &pcm);
        self.recent.extend(&pcm);
        let tone = if self.recent.len() >= 48_000 {
            let t = recognise_tone(&self.recent);
            self.recent.clear();
            t
        } else {
            None
        };
        let recovered = self.buffer.stats().recovered;
        let ms = (pcm.len() / 48) as u64;
        self.concealed_run_ms = if heard { 0 } else { self.concealed_run_ms + ms };
        let run = self.concealed_run_ms;
        // A burst counts once: a gap inside one (concealment fading to quiet, then the tone
        // again) looks like another start.
        let new_burst = delay.is_some()
            && self
                .last_burst_us
                .is_none_or(|t| now_us.saturating_sub(t) >= BURST_PERIOD_US * 4 / 5);
        if new_burst {
            self.last_burst_us = Some(now_us);
        }
        update(stats, who, |r, _| {
            if heard {
                r.media.audio_ms += ms;
            } else {
                r.media.audio_concealed_ms += ms;
                r.media.longest_concealed_ms = r.media.longest_concealed_ms.max(run);
            }
            r.media.audio_recovered = recovered;
            if tone.is_some() {
                r.media.tone_of = tone;
            }
            if new_burst {
                r.media.audio_bursts_heard += 1;
            }
            if let Some(d) = delay {
                r.audio_latency.record((d / 1000) as u32);
            }
        });
    }
}

/// Audio: one of the SFU's voice slots (or a sender's own track). Each packet goes to its
/// sender's voice (named by the sender extension; else the track's stream id): its adaptive
/// jitter buffer; every 20 ms of playout clock each voice plays one frame, decoded, rebuilt
/// from FEC or concealed.
async fn receive_audio(
    track: Arc<dyn TrackRemote>,
    stream: &str,
    stats: Stats,
    transform: Arc<dyn FrameTransform>,
    sinks: Sinks,
    sender_ext: Arc<AtomicU8>,
) {
    let mut voices: BTreeMap<String, Voice> = BTreeMap::new();
    let mut names = SenderNames::new(sender_ext, stream);
    let base = Instant::now();
    let clock = || base.elapsed().as_micros() as u64;
    let mut playout = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            ev = track.poll() => match ev {
                None => break,
                Some(TrackRemoteEvent::OnRtpPacket(pkt)) => {
                    let who = names.of(&pkt);
                    let Some(packet) = opened(&stats, who, transform.open(FrameKind::Audio, who, pkt.payload.to_vec())) else {
                        continue;
                    };
                    for s in sinks.iter() {
                        s.encoded_audio(who, &packet);
                    }
                    if !voices.contains_key(who) {
                        if voices.len() >= MAX_VOICES_PER_SLOT
                            && let Some(oldest) = voices
                                .iter()
                                .min_by_key(|(_, v)| v.last_packet)
                                .map(|(k, _)| k.clone())
                        {
                            voices.remove(&oldest);
                        }
                        let Some(v) = Voice::new() else { continue };
                        voices.insert(who.to_owned(), v);
                    }
                    if let Some(v) = voices.get_mut(who) {
                        v.push(clock(), pkt.header.timestamp, packet);
                    }
                }
                Some(_) => {}
            },
            _ = playout.tick() => {
                let now = clock();
                for (who, v) in &mut voices {
                    v.play(who, now, &stats, &sinks);
                }
            }
        }
    }
}

/// Packet loss of one sender's video as seen in a slot that may have carried others between
/// its turns: counted from sequence numbers within each turn, added up over the turns.
#[derive(Default)]
struct TurnLoss {
    turn: LossCounter,
    expected_before: u64,
    lost_before: u64,
}

impl TurnLoss {
    /// The sender's turn in the slot begins (its sequence numbers jump over the others').
    fn new_turn(&mut self) {
        self.expected_before += self.turn.expected();
        self.lost_before += self.turn.lost();
        self.turn = LossCounter::default();
    }

    /// (expected, lost) so far.
    fn packet(&mut self, seq: u16) -> (u64, u64) {
        self.turn.packet(seq);
        (
            self.expected_before + self.turn.expected(),
            self.lost_before + self.turn.lost(),
        )
    }
}

/// Video: one of the SFU's video slots (or a sender's own track). Its packets say whose they
/// are (the sender extension; else the track's stream id); when the slot moves to another
/// sender, decoding starts again at that sender's keyframe.
async fn receive_video(
    track: Arc<dyn TrackRemote>,
    ssrc: u32,
    stream: &str,
    stats: Stats,
    transform: Arc<dyn FrameTransform>,
    sinks: Sinks,
    sender_ext: Arc<AtomicU8>,
) {
    let Ok(mut dec) = Vp8Decoder::new() else {
        return;
    };
    let mut frames = FrameAssembler::new();
    let base = Instant::now();
    let mut need_keyframe = true;
    let mut asks = KeyframeAsks::default();
    let mut who = String::new();
    let mut names = SenderNames::new(sender_ext, stream);
    let mut losses: BTreeMap<String, TurnLoss> = BTreeMap::new();
    while let Some(ev) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(pkt) = ev else {
            continue;
        };
        let sender = names.of(&pkt);
        if sender != who {
            // The slot carries someone else now: their picture starts at their keyframe.
            sender.clone_into(&mut who);
            frames = FrameAssembler::new();
            need_keyframe = true;
            asks = KeyframeAsks::default();
            if !losses.contains_key(&who) && losses.len() >= MAX_VOICES_PER_SLOT {
                let first = losses.keys().next().cloned();
                if let Some(first) = first {
                    losses.remove(&first);
                }
            }
            losses.entry(who.clone()).or_default().new_turn();
        }
        let who = who.as_str();
        let (expected, lost) = losses
            .get_mut(who)
            .map_or((0, 0), |l| l.packet(pkt.header.sequence_number));
        let bytes = pkt.payload.len() as u64;
        update(&stats, who, |r, _| {
            r.media.video_packets += 1;
            r.media.video_bytes += bytes;
            r.media.video_packets_expected = expected;
            r.media.video_packets_lost = lost;
        });
        // Until the decoder has a keyframe, ask for one (every 300 ms; while the frames
        // cannot be opened, when the keys change and rarely otherwise).
        let wanted = need_keyframe || sinks.iter().any(|s| s.wants_keyframe(who));
        if wanted && asks.ask(Instant::now(), transform.key_generation()) {
            request_keyframe(track.as_ref(), ssrc).await;
        }
        let h = &pkt.header;
        if frames
            .push(h.sequence_number, h.timestamp, h.marker, &pkt.payload)
            .is_err()
        {
            continue;
        }
        while let Some(f) = frames.pop(base.elapsed().as_micros() as u64) {
            if f.after_gap && !f.keyframe {
                // A frame is missing: what follows would decode wrong until a keyframe.
                need_keyframe = true;
            }
            if need_keyframe && !f.keyframe {
                continue;
            }
            let keys = transform.key_generation();
            let Some(frame) = opened(&stats, who, transform.open(FrameKind::Video, who, f.data))
            else {
                need_keyframe = true;
                asks.unreadable(keys);
                continue;
            };
            for s in sinks.iter() {
                s.encoded_video(who, &frame, f.keyframe);
            }
            match dec.decode(&frame) {
                Ok(Some(frame)) => {
                    need_keyframe = false;
                    asks.decoded();
                    let stamp = read_stamp(&frame);
                    let now_ms = (wall_us() / 1000) as u32;
                    let now = Instant::now();
                    update(&stats, who, |r, since| {
                        let m = &mut r.media;
                        m.video_frames += 1;
                        m.first_video_ms
                            .get_or_insert(u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
                        if let Some(prev) = r.last_decoded.replace(now) {
                            let gap = now.duration_since(prev).as_millis() as u64;
                            m.longest_freeze_ms = m.longest_freeze_ms.max(gap);
                        }
                        if r.last_size != (frame.width, frame.height) {
                            r.last_size = (frame.width, frame.height);
                            m.video_size = Some(format!("{}x{}", frame.width, frame.height));
                        }
                        if let Some(stamp) = stamp {
                            let latency = now_ms.wrapping_sub(stamp.capture_ms);
                            m.first_frame.get_or_insert(stamp.seq);
                            m.last_frame = Some(stamp.seq);
                            m.video_latency_ms = Some(latency);
                            r.video_latency.record(latency);
                        }
                    });
                    for sink in sinks.iter() {
                        sink.video(who, &frame);
                    }
                }
                Ok(None) => {}
                Err(_) => need_keyframe = true,
            }
        }
    }
}

impl RemoteMedia {
    /// Of the frames the sender captured from the first one decoded here to the last, the
    /// share decoded (from the test pattern's frame numbers); `None` without two readable
    /// numbers in order.
    pub fn decoded_share(&self) -> Option<f64> {
        let (first, last) = (self.first_frame?, self.last_frame?);
        let sent = u64::from(last.checked_sub(first)?) + 1;
        (sent >= 2).then(|| self.video_frames as f64 / sent as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_media::jitter::Playout;

    #[test]
    fn a_voice_finds_a_lost_frame_by_its_timestamp() {
        // The SFU numbers forwarded audio afresh: the packet lost on the sender's uplink
        // (timestamp 3 × 960) leaves no gap in the sequence numbers, only in the timestamps.
        let mut v = Voice::new().unwrap();
        let base = 4_000_000_000u32; // wraps within the run
        let mut out = Vec::new();
        for frame in 0..7u32 {
            let now = 20_000 * u64::from(frame);
            if frame != 3 {
                v.push(now, base.wrapping_add(frame * 960), vec![frame as u8]);
            }
            out.push(v.buffer.pop(now + 10_000));
        }
        let at = out.iter().position(|p| *p == Playout::Packet(vec![2]));
        let next = at.and_then(|i| out.get(i + 1));
        assert_eq!(
            next,
            Some(&Playout::Recover(vec![4])),
            "frame 3 is rebuilt from frame 4: {out:?}"
        );
    }

    #[test]
    fn a_voice_back_after_a_long_break_starts_afresh() {
        let mut v = Voice::new().unwrap();
        v.push(0, 960, vec![1]);
        v.push(20_000, 1_920, vec![2]);
        // A minute later (another voice used the slot meanwhile).
        v.push(60_000_000, 1_920 + 60 * 48_000, vec![3]);
        assert_eq!(v.buffer.pop(60_100_000), Playout::Packet(vec![3]));
    }

    #[test]
    fn tones_are_recognised_and_noise_is_not() {
        let mut t = Tone::for_participant(5);
        let pcm = t.next_frame(0, 48_000).unwrap().samples;
        assert_eq!(recognise_tone(&pcm), Some(5));
        let mut x = 1u32;
        let noise: Vec<i16> = (0..48_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 20) as i16 - 2048
            })
            .collect();
        assert_eq!(recognise_tone(&noise), None);
        assert_eq!(recognise_tone(&[0; 48_000]), None);
    }

    #[test]
    fn video_formats_parse_and_bad_ones_are_explained() {
        let f: VideoFormat = "640x360@30".parse().unwrap();
        assert_eq!((f.width, f.height, f.fps), (640, 360, 30));
        assert_eq!(f.bitrate_kbps(), 800);
        assert_eq!(f.frame_interval(), Duration::from_micros(33_333));
        assert_eq!("1280x720".parse::<VideoFormat>().unwrap().fps, 30);
        for bad in [
            "640",
            "640x",
            "ax360@30",
            "641x360@30",
            "640x360@0",
            "640x360@61",
            "9000x9000@30",
        ] {
            assert!(bad.parse::<VideoFormat>().is_err(), "{bad}");
        }
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(0.5), None);
        for ms in 1..=100 {
            h.record(ms);
        }
        h.record(5000);
        assert_eq!(h.percentile(0.5), Some(51));
        assert_eq!(h.percentile(0.99), Some(100));
        assert_eq!(h.percentile(1.0), Some(1000));
    }
}
