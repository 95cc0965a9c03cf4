//! The computer's own camera, microphone and speakers in a call, and the device check before
//! one: what the engine offers `parley-cli` and the desktop app's pre-join screen.
//!
//! Nothing is opened unless chosen: a [`DeviceSelection`] names what the user picked (each
//! may be left out), [`LocalDevices::open`] opens exactly those, and a device that cannot be
//! opened becomes a [`DeviceError`] in [`LocalDevices::problems`] while the call goes on
//! without it (audio-only, listen-only, or with the default speaker).
//!
//! Remote audio is played through one [`Mixer`] ([`MixerSink`] is the call's sink for it);
//! the microphone's echo canceller is referenced to exactly what that mixer played.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_media::audio_device::{self, Choice, DeviceError, DeviceInfo, Microphone, Speaker};
use parley_media::camera::{self, Camera, CameraRequest};
use parley_media::meter::LevelMeter;
use parley_media::mixer::Mixer;
use parley_media::processing::{
    AudioProcessor, CaptureProcessor, ProcessingSettings, RenderReference,
};
use parley_media::{AudioSource, SAMPLE_RATE, VideoFrame, VideoSource};

use crate::sink::MediaSink;

pub use parley_media::audio_device::{Choice as DeviceChoice, DeviceKind};

/// What the user chose to use in a call. `None` means "off" (the default: camera and
/// microphone are off when joining unless turned on).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSelection {
    /// The camera, if on.
    pub camera: Option<Choice>,
    /// The picture to ask the camera for.
    pub camera_request: CameraRequest,
    /// The microphone, if on.
    pub microphone: Option<Choice>,
    /// The speaker (on unless the user chose to hear nothing).
    pub speaker: Option<Choice>,
    /// Echo cancellation, noise suppression, gain control.
    pub processing: ProcessingSettings,
}

impl Default for DeviceSelection {
    fn default() -> Self {
        DeviceSelection {
            camera: None,
            camera_request: CameraRequest::default(),
            microphone: None,
            speaker: None,
            processing: ProcessingSettings::voice(),
        }
    }
}

/// Every camera, microphone and speaker, or the reason a kind could not be listed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceList {
    /// Cameras.
    pub cameras: Vec<DeviceInfo>,
    /// Microphones.
    pub microphones: Vec<DeviceInfo>,
    /// Speakers and headphones.
    pub speakers: Vec<DeviceInfo>,
    /// What went wrong listing, one per kind at most; an empty kind with no problem here is
    /// reported as [`DeviceError::NoDevice`].
    pub problems: Vec<DeviceError>,
}

/// List the devices. Kinds with none get a [`DeviceError::NoDevice`] in `problems`, whose
/// message tells the user they can still join.
pub fn list() -> DeviceList {
    let mut out = DeviceList::default();
    let mut take =
        |kind: DeviceKind, found: Result<Vec<DeviceInfo>, DeviceError>| -> Vec<DeviceInfo> {
            match found {
                Ok(v) if v.is_empty() => {
                    out.problems.push(DeviceError::NoDevice { kind });
                    v
                }
                Ok(v) => v,
                Err(e) => {
                    out.problems.push(e);
                    Vec::new()
                }
            }
        };
    let cameras = take(DeviceKind::Camera, camera::cameras());
    let microphones = take(DeviceKind::Microphone, audio_device::microphones());
    let speakers = take(DeviceKind::Speaker, audio_device::speakers());
    DeviceList {
        cameras,
        microphones,
        speakers,
        ..out
    }
}

/// The call's sink that plays every remote participant through the mixer.
#[derive(Debug, Clone)]
pub struct MixerSink {
    mixer: Arc<Mutex<Mixer>>,
}

impl MixerSink {
    /// Play into `mixer`.
    pub fn new(mixer: Arc<Mutex<Mixer>>) -> Self {
        MixerSink { mixer }
    }
}

impl MediaSink for MixerSink {
    fn video(&self, _from: &str, _frame: &VideoFrame) {}

    fn audio(&self, from: &str, pcm: &[i16]) {
        self.mixer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(from, pcm);
    }
}

/// The devices open for a call.
pub struct LocalDevices {
    /// The camera, until handed to the call.
    pub camera: Option<Camera>,
    /// The microphone, until handed to the call.
    pub microphone: Option<Microphone>,
    /// The speaker; it plays as long as this lives.
    pub speaker: Option<Speaker>,
    /// Everyone's audio for this listener: volumes and mute-for-me are set here.
    pub mixer: Arc<Mutex<Mixer>>,
    /// The microphone's level meter, if one is open.
    pub meter: Option<Arc<LevelMeter>>,
    /// What could not be opened (the call goes on without it).
    pub problems: Vec<DeviceError>,
    /// The echo canceller's halves, for devices opened later.
    capture: Option<CaptureProcessor>,
    render: Option<RenderReference>,
    camera_request: CameraRequest,
}

impl std::fmt::Debug for LocalDevices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDevices")
            .field(
                "camera",
                &self.camera.as_ref().map(|c| c.info().name.clone()),
            )
            .field(
                "microphone",
                &self.microphone.as_ref().map(|m| m.info().name.clone()),
            )
            .field(
                "speaker",
                &self.speaker.as_ref().map(|s| s.info().name.clone()),
            )
            .field("problems", &self.problems)
            .finish()
    }
}

impl LocalDevices {
    /// Open what `selection` names. A speaker that cannot be opened falls back to the default
    /// one; anything that fails is listed in `problems`.
    pub fn open(selection: &DeviceSelection) -> Self {
        let mixer = Arc::new(Mutex::new(Mixer::new()));
        let mut problems = Vec::new();
        let processor = AudioProcessor::new(selection.processing)
            .map_err(|e| {
                problems.push(DeviceError::Failed {
                    kind: DeviceKind::Microphone,
                    detail: e.to_string(),
                })
            })
            .ok()
            .map(AudioProcessor::split);
        let (capture, render) = match processor {
            Some((c, r)) => (Some(c), Some(r)),
            None => (None, None),
        };
        let (capture_template, render_template) = (capture.clone(), render.clone());
        let camera = selection.camera.as_ref().and_then(|c| {
            Camera::open(c, selection.camera_request)
                .map_err(|e| problems.push(e))
                .ok()
        });
        let microphone = selection.microphone.as_ref().and_then(|c| {
            let mut m = Microphone::open(c).map_err(|e| problems.push(e)).ok()?;
            m.set_processor(capture);
            Some(m)
        });
        let speaker = selection.speaker.as_ref().and_then(|c| {
            match Speaker::open(c, mixer.clone(), render) {
                Ok(s) => Some(s),
                Err(e) if *c != Choice::Default => {
                    problems.push(e);
                    // The echo canceller's reference went with the failed attempt; the
                    // default speaker plays without it (and the user is told).
                    Speaker::open(&Choice::Default, mixer.clone(), None)
                        .map_err(|e| problems.push(e))
                        .ok()
                }
                Err(e) => {
                    problems.push(e);
                    None
                }
            }
        });
        let meter = microphone.as_ref().map(Microphone::meter);
        LocalDevices {
            camera,
            microphone,
            speaker,
            mixer,
            meter,
            problems,
            capture: capture_template,
            render: render_template,
            camera_request: selection.camera_request,
        }
    }

    /// Open another camera for the call (blocking).
    pub fn open_camera(&self, choice: &Choice) -> Result<Box<dyn VideoSource>, DeviceError> {
        Camera::open(choice, self.camera_request).map(|c| Box::new(c) as Box<dyn VideoSource>)
    }

    /// Open another microphone for the call, with this call's audio processing (blocking).
    pub fn open_microphone(&self, choice: &Choice) -> Result<Box<dyn AudioSource>, DeviceError> {
        let mut m = Microphone::open(choice)?;
        m.set_processor(self.capture.clone());
        Ok(Box::new(m))
    }

    /// Play on another speaker from now on; the old one is closed first (blocking).
    pub fn switch_speaker(&mut self, choice: &Choice) -> Result<(), DeviceError> {
        self.speaker = None;
        self.speaker = Some(Speaker::open(
            choice,
            self.mixer.clone(),
            self.render.clone(),
        )?);
        Ok(())
    }

    /// Whether the speaker went away (call [`LocalDevices::check_speaker`] off the async
    /// threads then).
    pub fn speaker_gone(&self) -> bool {
        self.speaker.as_ref().is_some_and(Speaker::is_gone)
    }

    /// If the speaker went away, continue on the default one; what to tell the user.
    pub fn check_speaker(&mut self) -> Option<String> {
        self.speaker.as_mut()?.fall_back_if_gone()
    }

    /// How `from` (a participant number) is heard: volume 0–200 % and mute-for-me.
    pub fn set_listening(&self, from: &str, volume: Option<u16>, muted_for_me: Option<bool>) {
        let mut m = self.mixer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = volume {
            m.set_volume(from, v);
        }
        if let Some(muted) = muted_for_me {
            m.set_muted_for_me(from, muted);
        }
    }

    /// The sink to give the call so remote audio is played.
    pub fn sink(&self) -> Arc<dyn MediaSink> {
        Arc::new(MixerSink::new(self.mixer.clone()))
    }

    /// The camera as a source for the call.
    pub fn take_camera(&mut self) -> Option<Box<dyn VideoSource>> {
        self.camera
            .take()
            .map(|c| Box::new(c) as Box<dyn VideoSource>)
    }

    /// The microphone as a source for the call.
    pub fn take_microphone(&mut self) -> Option<Box<dyn AudioSource>> {
        self.microphone
            .take()
            .map(|m| Box::new(m) as Box<dyn AudioSource>)
    }
}

/// Where an echo test is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EchoPhase {
    /// Recording; the microphone's level now, 0.0–1.0.
    Recording {
        /// Seconds recorded.
        seconds: f32,
        /// The live level.
        level: f32,
    },
    /// Playing the recording back.
    PlayingBack {
        /// Seconds played.
        seconds: f32,
    },
}

/// What an echo test found.
#[derive(Debug, Clone, PartialEq)]
pub struct EchoTestReport {
    /// The microphone used.
    pub microphone: String,
    /// The speaker used.
    pub speaker: String,
    /// Seconds recorded.
    pub recorded_seconds: f32,
    /// The loudest moment of the recording, in dBFS.
    pub peak_dbfs: f32,
    /// The recording's average loudness, in dBFS.
    pub level_dbfs: f32,
    /// Whether the microphone heard anything at all (above -50 dBFS at its loudest).
    pub heard_something: bool,
}

/// Record `seconds` from the microphone (as it is, no processing) and play them back on the
/// speaker, as a person checks their devices before joining. `progress` is told how it goes
/// about ten times a second.
pub fn echo_test(
    microphone: &Choice,
    speaker: &Choice,
    seconds: f32,
    mut progress: impl FnMut(EchoPhase),
) -> Result<EchoTestReport, DeviceError> {
    let seconds = seconds.clamp(0.5, 30.0);
    let want = (seconds * SAMPLE_RATE as f32) as usize;
    let mut mic = Microphone::open(microphone)?;
    let meter = mic.meter();
    let mut recorded = Vec::with_capacity(want);
    let deadline = Instant::now() + Duration::from_secs_f32(seconds * 3.0 + 2.0);
    while recorded.len() < want && Instant::now() < deadline {
        if let Some(frame) = mic.take(SAMPLE_RATE as usize / 10, Duration::from_millis(500))? {
            recorded.extend(frame);
            progress(EchoPhase::Recording {
                seconds: recorded.len() as f32 / SAMPLE_RATE as f32,
                level: meter.level(),
            });
        }
    }
    let mic_name = mic.info().name.clone();
    drop(mic);
    if recorded.is_empty() {
        return Err(DeviceError::Failed {
            kind: DeviceKind::Microphone,
            detail: "it delivered no sound; check it is connected and not muted".into(),
        });
    }
    let level = LevelMeter::new();
    level.feed_i16(&recorded);
    let peak = level.peak_dbfs();
    let mut mixer = Mixer::with_queue_limit(recorded.len());
    mixer.push("echo-test", &recorded);
    let mixer = Arc::new(Mutex::new(mixer));
    let out = Speaker::open(speaker, mixer.clone(), None)?;
    let total = recorded.len();
    let deadline = Instant::now() + Duration::from_secs_f32(seconds * 3.0 + 2.0);
    loop {
        let left = mixer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .queued("echo-test");
        progress(EchoPhase::PlayingBack {
            seconds: (total - left) as f32 / SAMPLE_RATE as f32,
        });
        if left == 0 || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Let the device play out what it holds.
    std::thread::sleep(
        Duration::from_micros(u64::from(out.device_latency_us())) + Duration::from_millis(50),
    );
    Ok(EchoTestReport {
        microphone: mic_name,
        speaker: out.info().name.clone(),
        recorded_seconds: total as f32 / SAMPLE_RATE as f32,
        peak_dbfs: peak,
        level_dbfs: level.level_dbfs(),
        heard_something: peak > -50.0,
    })
}
