//! The computer's camera, microphone and speakers for the app: what the pre-join screen lists
//! and picks ([`DeviceOptions`], [`DevicePrefs`]), and what a meeting opens ([`LocalMedia`]).
//!
//! Nothing is opened that the person did not turn on: the speaker plays from when media
//! starts (the chosen one, or the system's default), the microphone and camera only while
//! they are on, and turning them off closes the device (the camera light goes out). A device
//! left unchosen (`None`) is the synthetic test pattern or tone, which is what a machine
//! without devices (and the tests) uses.

use std::sync::{Arc, Mutex};

use parley_client::devices::{self as engine, MixerSink};
use parley_client::sink::MediaSink;
use parley_media::audio_device::{Choice, DeviceError, DeviceInfo, Microphone, Speaker};
use parley_media::camera::{Camera, CameraRequest};
use parley_media::mixer::Mixer;
use parley_media::processing::{AudioProcessor, CaptureProcessor, ProcessingSettings};
use parley_media::{AudioSource, VideoSource};
use serde::{Deserialize, Serialize};

/// One device the person can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct DeviceOption {
    /// What to pass back to choose it.
    pub id: String,
    /// Its name, to show.
    pub name: String,
    /// The system's default.
    pub default: bool,
}

/// A kind of device that is missing or could not be listed, with the words to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct DeviceProblem {
    /// `camera`, `microphone` or `speaker`.
    pub device: String,
    /// Stable kind: `no_device`, `not_found`, `busy`, `permission_denied`, `unsupported`,
    /// `gone`, `failed`.
    pub kind: String,
    /// What happened and what the person can do.
    pub message: String,
}

impl From<&DeviceError> for DeviceProblem {
    fn from(e: &DeviceError) -> Self {
        let device = match e {
            DeviceError::NoDevice { kind }
            | DeviceError::NotFound { kind, .. }
            | DeviceError::Busy { kind }
            | DeviceError::PermissionDenied { kind }
            | DeviceError::Unsupported { kind, .. }
            | DeviceError::Gone { kind }
            | DeviceError::Failed { kind, .. } => kind.to_string(),
            _ => "device".to_string(),
        };
        DeviceProblem {
            device,
            kind: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// Everything the pre-join screen offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct DeviceOptions {
    /// Cameras.
    pub cameras: Vec<DeviceOption>,
    /// Microphones.
    pub microphones: Vec<DeviceOption>,
    /// Speakers and headphones.
    pub speakers: Vec<DeviceOption>,
    /// Kinds with nothing in them, or that could not be listed.
    pub problems: Vec<DeviceProblem>,
}

fn options(found: &[DeviceInfo]) -> Vec<DeviceOption> {
    found
        .iter()
        .map(|d| DeviceOption {
            id: d.id.clone(),
            name: d.name.clone(),
            default: d.default,
        })
        .collect()
}

/// List the devices (this asks the system; it can take a moment).
pub fn list() -> DeviceOptions {
    let l = engine::list();
    DeviceOptions {
        cameras: options(&l.cameras),
        microphones: options(&l.microphones),
        speakers: options(&l.speakers),
        problems: l.problems.iter().map(DeviceProblem::from).collect(),
    }
}

impl From<DeviceError> for crate::error::AppError {
    fn from(e: DeviceError) -> Self {
        crate::error::AppError::new(crate::error::ErrorCode::device(e.code()), e.to_string())
    }
}

/// The microphone check on the pre-join screen: the picked microphone, open while the person
/// watches its level meter.
#[derive(Default)]
pub struct MicCheck {
    open: Mutex<Option<Microphone>>,
}

impl MicCheck {
    /// Open `id` (closing any other), or close the check with `None`. Blocking.
    pub fn set(&self, id: Option<String>) -> Result<(), DeviceError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        *open = None;
        if let Some(id) = id {
            *open = Some(Microphone::open(&Choice::Named(id))?);
        }
        Ok(())
    }

    /// The level now, 0.0 (silence) to 1.0 (full scale); 0.0 when nothing is open.
    pub fn level(&self) -> f32 {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.as_ref().map_or(0.0, |m| m.meter().level())
    }
}

/// The participant number the pre-join camera preview is drawn as (no participant has it: the
/// server numbers from 1 and never reaches it).
pub const PREVIEW_ID: u32 = u32::MAX;

/// The pre-join camera preview: the picked camera, or the test pattern that stands in when
/// none is picked, sends its pictures to the window as [`PREVIEW_ID`] until stopped. The
/// camera is open only while the preview runs (its light is on only then).
#[derive(Default)]
pub struct CameraPreview {
    running: Mutex<Option<PreviewThread>>,
}

struct PreviewThread {
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl CameraPreview {
    /// Show `camera` (by id; `None`: the test pattern) to `sink` as [`PREVIEW_ID`], replacing
    /// any preview running. Blocking: opening a camera takes a moment.
    pub fn start(
        &self,
        camera: Option<String>,
        sink: Arc<dyn MediaSink>,
    ) -> Result<(), DeviceError> {
        use std::sync::atomic::Ordering;
        self.stop();
        let (w, h, fps) = (640, 360, 30);
        let mut source: Box<dyn VideoSource> = match camera {
            Some(id) => Box::new(Camera::open(
                &Choice::Named(id),
                CameraRequest {
                    width: w,
                    height: h,
                    fps,
                },
            )?),
            None => Box::new(parley_media::pattern::TestPattern::new(w, h, 0)),
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let handle = std::thread::Builder::new()
            .name("camera-preview".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                let period = std::time::Duration::from_micros(1_000_000 / u64::from(fps));
                let id = PREVIEW_ID.to_string();
                let mut next = std::time::Instant::now();
                while !stopped.load(Ordering::Relaxed) {
                    let us = started.elapsed().as_micros() as u64;
                    match source.next_frame(us) {
                        Ok(frame) => sink.video(&id, &frame),
                        Err(e) => {
                            tracing::info!(error = %e, "the camera preview stopped");
                            return;
                        }
                    }
                    next += period;
                    let now = std::time::Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    } else {
                        next = now;
                    }
                }
                // Dropping the source closes the camera.
            })
            .map_err(|e| DeviceError::Failed {
                kind: parley_media::audio_device::DeviceKind::Camera,
                detail: e.to_string(),
            })?;
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(PreviewThread { stop, handle });
        Ok(())
    }

    /// Stop the preview and close its camera (waits until it is closed).
    pub fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(p) = running {
            p.stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = p.handle.join();
        }
    }

    /// Whether a preview is running.
    pub fn is_running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|p| !p.handle.is_finished())
    }
}

/// What an echo test found, for the pre-join screen.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct EchoTestResult {
    /// Seconds recorded and played back.
    pub seconds: f32,
    /// The loudest moment, in dBFS.
    pub peak_dbfs: f32,
    /// The microphone heard something (else: muted, or the wrong one).
    pub heard_something: bool,
}

/// Record `seconds` from microphone `mic` and play them back on `speaker` (or the default).
/// Blocking, about twice `seconds`.
pub fn echo_test(
    mic: &str,
    speaker: Option<&str>,
    seconds: f32,
) -> Result<EchoTestResult, DeviceError> {
    let speaker = speaker.map_or(Choice::Default, |s| Choice::Named(s.to_string()));
    let r = engine::echo_test(&Choice::Named(mic.to_string()), &speaker, seconds, |_| {})?;
    Ok(EchoTestResult {
        seconds: r.recorded_seconds,
        peak_dbfs: r.peak_dbfs,
        heard_something: r.heard_something,
    })
}

/// What the person picked before joining. `None` for camera and microphone means the
/// synthetic test pattern and tone; for the speaker, the system's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct DevicePrefs {
    /// The camera's id.
    pub camera: Option<String>,
    /// The microphone's id.
    pub microphone: Option<String>,
    /// The speaker's id.
    pub speaker: Option<String>,
    /// Send the microphone as it is (no echo cancellation, noise suppression, gain control).
    pub original_sound: bool,
}

/// The devices of one meeting.
pub struct LocalMedia {
    /// What is picked now (changed during the meeting from the devices panel).
    prefs: Mutex<DevicePrefs>,
    mixer: Arc<Mutex<Mixer>>,
    /// Plays as long as it lives (replaced by the default one if it goes away).
    speaker: Mutex<Option<Speaker>>,
    /// The echo canceller's microphone half (its loudspeaker half is the speaker's).
    capture: Option<CaptureProcessor>,
}

impl std::fmt::Debug for LocalMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMedia").finish_non_exhaustive()
    }
}

impl LocalMedia {
    /// Open the speaker (the chosen one, else the default) and set up audio processing;
    /// what fails is returned to be told, and the meeting goes on without it.
    pub fn open(prefs: DevicePrefs) -> (Self, Vec<DeviceError>) {
        let mut problems = Vec::new();
        let settings = if prefs.original_sound {
            ProcessingSettings::original_sound()
        } else {
            ProcessingSettings::voice()
        };
        let (capture, render) = match AudioProcessor::new(settings) {
            Ok(p) => {
                let (c, r) = p.split();
                (Some(c), Some(r))
            }
            Err(_) => (None, None),
        };
        let mixer = Arc::new(Mutex::new(Mixer::new()));
        let choice = prefs.speaker.clone().map_or(Choice::Default, Choice::Named);
        let speaker = match Speaker::open(&choice, mixer.clone(), render) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(e);
                if choice == Choice::Default {
                    None
                } else {
                    Speaker::open(&Choice::Default, mixer.clone(), None)
                        .map_err(|e| problems.push(e))
                        .ok()
                }
            }
        };
        (
            LocalMedia {
                prefs: Mutex::new(prefs),
                mixer,
                speaker: Mutex::new(speaker),
                capture,
            },
            problems,
        )
    }

    /// The call's sink for remote audio.
    pub fn sink(&self) -> Arc<dyn MediaSink> {
        Arc::new(MixerSink::new(self.mixer.clone()))
    }

    fn prefs(&self) -> DevicePrefs {
        self.prefs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether a real camera was chosen (else the test pattern stands in).
    pub fn real_camera(&self) -> bool {
        self.prefs().camera.is_some()
    }

    /// Whether a real microphone was chosen (else the test tone stands in).
    pub fn real_microphone(&self) -> bool {
        self.prefs().microphone.is_some()
    }

    /// Pick other devices during the meeting: which of camera and microphone changed (the
    /// caller opens them); a new speaker is opened here (blocking).
    pub fn repick(&self, next: DevicePrefs) -> (bool, bool, Result<(), DeviceError>) {
        let before = self.prefs();
        *self.prefs.lock().unwrap_or_else(|p| p.into_inner()) = next.clone();
        let speaker = if next.speaker != before.speaker {
            let choice = next.speaker.clone().map_or(Choice::Default, Choice::Named);
            let mut s = self.speaker.lock().unwrap_or_else(|p| p.into_inner());
            let render = s.as_ref().and_then(Speaker::render_reference);
            *s = None;
            Speaker::open(&choice, self.mixer.clone(), render).map(|sp| *s = Some(sp))
        } else {
            Ok(())
        };
        (
            next.camera != before.camera,
            next.microphone != before.microphone,
            speaker,
        )
    }

    /// Open the chosen camera (blocking: call off the async threads).
    pub fn open_camera(
        &self,
        request: CameraRequest,
    ) -> Option<Result<Box<dyn VideoSource>, DeviceError>> {
        let id = self.prefs().camera?;
        Some(Camera::open(&Choice::Named(id), request).map(|c| Box::new(c) as Box<dyn VideoSource>))
    }

    /// Open the chosen microphone, cleaned by this meeting's audio processing (blocking).
    pub fn open_microphone(&self) -> Option<Result<Box<dyn AudioSource>, DeviceError>> {
        let id = self.prefs().microphone?;
        Some(Microphone::open(&Choice::Named(id)).map(|mut m| {
            m.set_processor(self.capture.clone());
            Box::new(m) as Box<dyn AudioSource>
        }))
    }

    /// Whether the speaker went away ([`LocalMedia::check_speaker`] has work to do).
    pub fn speaker_gone(&self) -> bool {
        let s = self.speaker.lock().unwrap_or_else(|p| p.into_inner());
        s.as_ref().is_some_and(Speaker::is_gone)
    }

    /// If the speaker went away, continue on the default one; whether it switched (blocking).
    pub fn check_speaker(&self) -> Option<String> {
        let mut s = self.speaker.lock().unwrap_or_else(|p| p.into_inner());
        s.as_mut()?.fall_back_if_gone()
    }

    /// How `from` (their participant number) is heard here.
    pub fn set_listening(&self, from: u32, volume: u16, muted_for_me: bool) {
        let mut m = self.mixer.lock().unwrap_or_else(|p| p.into_inner());
        let who = from.to_string();
        m.set_volume(&who, volume);
        m.set_muted_for_me(&who, muted_for_me);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Pictures(Mutex<Vec<(String, u64)>>);
    impl MediaSink for Pictures {
        fn video(&self, from: &str, frame: &parley_media::VideoFrame) {
            // A checksum of the luma, so moving pictures can be told from a still one.
            let sum = frame.data.iter().step_by(97).map(|&b| u64::from(b)).sum();
            self.0.lock().unwrap().push((from.to_string(), sum));
        }
        fn audio(&self, _: &str, _: &[i16]) {}
    }

    #[test]
    fn the_preview_shows_moving_pictures_until_stopped_and_a_missing_camera_is_a_typed_error() {
        let preview = CameraPreview::default();
        let sink = Arc::new(Pictures::default());
        preview.start(None, sink.clone()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert!(preview.is_running());
        preview.stop();
        assert!(!preview.is_running());
        let got = sink.0.lock().unwrap().clone();
        assert!(got.len() >= 5, "about 30 pictures a second: {}", got.len());
        assert!(got.iter().all(|(id, _)| *id == PREVIEW_ID.to_string()));
        let distinct: std::collections::HashSet<u64> = got.iter().map(|p| p.1).collect();
        assert!(distinct.len() > 1, "the test pattern moves");
        let n = got.len();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(sink.0.lock().unwrap().len(), n, "nothing after stop");

        let err = preview
            .start(Some("no such camera".into()), sink.clone())
            .expect_err("there is no such camera");
        assert!(
            matches!(err.code(), "not_found" | "no_device"),
            "a typed refusal: {err}"
        );
        assert!(!preview.is_running());
    }

    #[test]
    fn unchosen_camera_and_microphone_are_never_opened() {
        let (local, _) = LocalMedia::open(DevicePrefs::default());
        assert!(!local.real_camera() && !local.real_microphone());
        assert!(local.open_camera(CameraRequest::default()).is_none());
        assert!(local.open_microphone().is_none());
    }

    #[test]
    fn a_missing_device_is_a_problem_with_words_for_the_person() {
        let prefs = DevicePrefs {
            camera: Some("No such camera".into()),
            ..DevicePrefs::default()
        };
        let (local, _) = LocalMedia::open(prefs);
        let err = match local.open_camera(CameraRequest::default()) {
            Some(Err(e)) => e,
            _ => panic!("a camera that is not there cannot open"),
        };
        let p = DeviceProblem::from(&err);
        assert_eq!(
            (p.device.as_str(), p.kind.as_str()),
            ("camera", "not_found")
        );
        assert!(
            p.message.contains("you can still join with audio"),
            "{}",
            p.message
        );
    }
}
