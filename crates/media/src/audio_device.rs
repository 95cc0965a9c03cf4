//! Microphones and loudspeakers through cpal (ALSA on Linux, WASAPI on Windows, CoreAudio on
//! macOS): list them with their human names, open one at its native rate and format, and
//! convert to and from Parley's 48 kHz mono with a real resampler.
//!
//! - [`Microphone`] is an [`AudioSource`]: the device's callback stores what it captured; the
//!   send loop pulls 20 ms frames, cleaned by the [`CaptureProcessor`] when one is attached.
//! - [`Speaker`] plays a shared [`Mixer`]: the device's callback pulls exactly what it needs,
//!   and hands every mixed sample to the echo canceller's [`RenderReference`].
//!
//! A device is only opened when asked for by name (or the default when the user picked "the
//! default"); nothing is opened by listing. Errors are [`DeviceError`]s a person can act on.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};

use crate::audio_buffer::{CaptureQueue, PACER_SLACK, Pacer, PlayoutQueue};
use crate::frame::{AudioFrame, SAMPLE_RATE};
use crate::meter::LevelMeter;
use crate::mixer::Mixer;
use crate::processing::{CaptureProcessor, RenderReference};
use crate::source::{AudioSource, SourceError};

/// What kind of device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeviceKind {
    /// A camera.
    Camera,
    /// A microphone.
    Microphone,
    /// Loudspeakers or headphones.
    Speaker,
}

impl DeviceKind {
    fn noun(self) -> &'static str {
        match self {
            DeviceKind::Camera => "camera",
            DeviceKind::Microphone => "microphone",
            DeviceKind::Speaker => "speaker",
        }
    }

    fn without(self) -> &'static str {
        match self {
            DeviceKind::Camera => "you can still join with audio",
            DeviceKind::Microphone => "you can still join and listen",
            DeviceKind::Speaker => "you can still join, but you will not hear the others",
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

/// One device, as a person picks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Camera, microphone or speaker.
    pub kind: DeviceKind,
    /// The name to show ("USB Audio, Headset Microphone").
    pub name: String,
    /// A stable identifier to remember the choice by.
    pub id: String,
    /// Whether this is the system's default.
    pub default: bool,
}

/// Why a device could not be used. The message says what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// There is no device of this kind at all.
    #[error("No {kind} found — {}.", kind.without())]
    NoDevice {
        /// Which kind.
        kind: DeviceKind,
    },
    /// No device has this name or id.
    #[error("The {kind} \"{name}\" was not found; pick one from the list ({}).", kind.without())]
    NotFound {
        /// Which kind.
        kind: DeviceKind,
        /// What was asked for.
        name: String,
    },
    /// Another program holds the device.
    #[error("The {kind} is in use by another program; close it there and try again.")]
    Busy {
        /// Which kind.
        kind: DeviceKind,
    },
    /// The system refused access.
    #[error("Parley may not use the {kind}; allow it in your system's privacy settings.")]
    PermissionDenied {
        /// Which kind.
        kind: DeviceKind,
    },
    /// The device offers no format Parley can take.
    #[error("The {kind} offers no format Parley can use ({detail}); try another {kind}.")]
    Unsupported {
        /// Which kind.
        kind: DeviceKind,
        /// What it offered.
        detail: String,
    },
    /// The device went away (unplugged) while in use.
    #[error("The {kind} was disconnected.")]
    Gone {
        /// Which kind.
        kind: DeviceKind,
    },
    /// Anything else the system reported.
    #[error("The {kind} failed: {detail}")]
    Failed {
        /// Which kind.
        kind: DeviceKind,
        /// The system's words.
        detail: String,
    },
}

impl DeviceError {
    /// A stable name for the kind of error (for the UI and JSON output).
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::NoDevice { .. } => "no_device",
            DeviceError::NotFound { .. } => "not_found",
            DeviceError::Busy { .. } => "busy",
            DeviceError::PermissionDenied { .. } => "permission_denied",
            DeviceError::Unsupported { .. } => "unsupported",
            DeviceError::Gone { .. } => "gone",
            DeviceError::Failed { .. } => "failed",
        }
    }

    pub(crate) fn from_cpal(kind: DeviceKind, e: &cpal::Error) -> Self {
        match e.kind() {
            cpal::ErrorKind::DeviceBusy => DeviceError::Busy { kind },
            cpal::ErrorKind::PermissionDenied => DeviceError::PermissionDenied { kind },
            cpal::ErrorKind::DeviceNotAvailable | cpal::ErrorKind::StreamInvalidated => {
                DeviceError::Gone { kind }
            }
            cpal::ErrorKind::UnsupportedConfig => DeviceError::Unsupported {
                kind,
                detail: e.to_string(),
            },
            _ => DeviceError::Failed {
                kind,
                detail: e.to_string(),
            },
        }
    }
}

/// While opening, "not available" means there is no such device to open, not that one was
/// unplugged (ALSA's "default" on a machine without a sound card says so).
fn opening(e: DeviceError, choice: &Choice) -> DeviceError {
    match (e, choice) {
        (DeviceError::Gone { kind }, Choice::Default) => DeviceError::NoDevice { kind },
        (DeviceError::Gone { kind }, Choice::Named(name)) => DeviceError::NotFound {
            kind,
            name: name.clone(),
        },
        (e, _) => e,
    }
}

/// ALSA's placeholders that are not devices a person would pick.
fn is_placeholder(id: &str) -> bool {
    let name = id.rsplit(':').next().unwrap_or(id);
    name == "null" || id.ends_with(":null")
}

fn list(kind: DeviceKind) -> Result<Vec<DeviceInfo>, DeviceError> {
    let host = cpal::default_host();
    let default = match kind {
        DeviceKind::Microphone => host.default_input_device(),
        _ => host.default_output_device(),
    }
    .and_then(|d| d.id().ok())
    .map(|id| id.to_string());
    let devices = match kind {
        DeviceKind::Microphone => host.input_devices().map(|d| d.collect::<Vec<_>>()),
        _ => host.output_devices().map(|d| d.collect::<Vec<_>>()),
    }
    .map_err(|e| DeviceError::from_cpal(kind, &e))?;
    let mut out = Vec::new();
    for d in devices {
        let Ok(id) = d.id().map(|i| i.to_string()) else {
            continue;
        };
        if is_placeholder(&id) {
            continue;
        }
        let name = d
            .description()
            .map(|desc| desc.name().to_string())
            .unwrap_or_else(|_| id.clone());
        out.push(DeviceInfo {
            kind,
            default: default.as_deref() == Some(id.as_str()),
            name,
            id,
        });
    }
    Ok(out)
}

/// The microphones this computer has (ALSA's "discard everything" placeholder left out).
pub fn microphones() -> Result<Vec<DeviceInfo>, DeviceError> {
    list(DeviceKind::Microphone)
}

/// The loudspeakers and headphones this computer has.
pub fn speakers() -> Result<Vec<DeviceInfo>, DeviceError> {
    list(DeviceKind::Speaker)
}

/// Which device to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The system's default.
    Default,
    /// A device by its name or id (as [`DeviceInfo`] lists them).
    Named(String),
}

fn find(kind: DeviceKind, choice: &Choice) -> Result<cpal::Device, DeviceError> {
    let host = cpal::default_host();
    let found = match choice {
        Choice::Default => match kind {
            DeviceKind::Microphone => host.default_input_device(),
            _ => host.default_output_device(),
        }
        .filter(|d| d.id().is_ok_and(|id| !is_placeholder(&id.to_string()))),
        Choice::Named(want) => {
            let devices = match kind {
                DeviceKind::Microphone => host.input_devices().map(|d| d.collect::<Vec<_>>()),
                _ => host.output_devices().map(|d| d.collect::<Vec<_>>()),
            }
            .map_err(|e| DeviceError::from_cpal(kind, &e))?;
            devices.into_iter().find(|d| {
                d.id().is_ok_and(|id| {
                    let id = id.to_string();
                    id == *want || id.rsplit_once(':').is_some_and(|(_, local)| local == want)
                }) || d.description().is_ok_and(|desc| desc.name() == want)
            })
        }
    };
    found.ok_or_else(|| match choice {
        Choice::Default => DeviceError::NoDevice { kind },
        Choice::Named(name) => DeviceError::NotFound {
            kind,
            name: name.clone(),
        },
    })
}

/// The stream format to open: what was asked for if the device offers it, else its own
/// default; 16-bit integer or 32-bit float samples.
/// Ask for 10 ms callbacks where the device says what it can do: less waiting in its buffer,
/// and chunks Parley's queues are sized for (left to the device otherwise).
fn with_short_periods(s: cpal::SupportedStreamConfig) -> cpal::StreamConfig {
    let mut config = s.config();
    if let cpal::SupportedBufferSize::Range { min, max } = *s.buffer_size() {
        let want = (config.sample_rate / 100).clamp(min.max(1), max.max(1));
        config.buffer_size = cpal::BufferSize::Fixed(want);
    }
    config
}

fn pick_config(
    kind: DeviceKind,
    device: &cpal::Device,
    want: Option<(u32, u16)>,
) -> Result<(cpal::StreamConfig, cpal::SampleFormat), DeviceError> {
    let usable =
        |f: cpal::SampleFormat| matches!(f, cpal::SampleFormat::I16 | cpal::SampleFormat::F32);
    let ranges: Vec<cpal::SupportedStreamConfigRange> = match kind {
        DeviceKind::Microphone => device.supported_input_configs().map(|r| r.collect()),
        _ => device.supported_output_configs().map(|r| r.collect()),
    }
    .map_err(|e| DeviceError::from_cpal(kind, &e))?;
    if let Some((rate, channels)) = want {
        for format in [cpal::SampleFormat::I16, cpal::SampleFormat::F32] {
            if let Some(r) = ranges.iter().find(|r| {
                r.sample_format() == format && r.channels() == channels && r.contains_rate(rate)
            }) {
                return Ok((with_short_periods(r.with_sample_rate(rate)), format));
            }
        }
    }
    let default = match kind {
        DeviceKind::Microphone => device.default_input_config(),
        _ => device.default_output_config(),
    }
    .map_err(|e| DeviceError::from_cpal(kind, &e))?;
    if usable(default.sample_format()) {
        let format = default.sample_format();
        return Ok((with_short_periods(default), format));
    }
    let rate = default.sample_rate();
    ranges
        .iter()
        .filter(|r| usable(r.sample_format()) && r.contains_rate(rate))
        .min_by_key(|r| r.channels())
        .map(|r| {
            (
                with_short_periods(r.with_sample_rate(rate)),
                r.sample_format(),
            )
        })
        .ok_or_else(|| DeviceError::Unsupported {
            kind,
            detail: format!("{:?}", default.sample_format()),
        })
}

/// Keeps a cpal stream alive on a thread of its own (streams are not `Send` on every
/// platform); dropping it stops the stream and releases the device.
struct StreamThread {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StreamThread {
    fn start(
        kind: DeviceKind,
        build: impl FnOnce() -> Result<cpal::Stream, DeviceError> + Send + 'static,
    ) -> Result<Self, DeviceError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("parley-{kind}"))
            .spawn(move || {
                let stream = match build().and_then(|s| {
                    s.play().map_err(|e| DeviceError::from_cpal(kind, &e))?;
                    Ok(s)
                }) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                // Wait for the owner to go away, then stop.
                let _ = stop_rx.recv();
                drop(stream);
            })
            .map_err(|e| DeviceError::Failed {
                kind,
                detail: e.to_string(),
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(StreamThread {
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(DeviceError::Failed {
                kind,
                detail: "the audio thread stopped".into(),
            }),
        }
    }
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Captured {
    queue: CaptureQueue,
    error: Option<DeviceError>,
}

/// An open microphone: 48 kHz mono frames, whatever the device's own format.
pub struct Microphone {
    info: DeviceInfo,
    native: (u32, u16),
    shared: Arc<(Mutex<Captured>, Condvar)>,
    processor: Option<CaptureProcessor>,
    meter: Arc<LevelMeter>,
    latency_us: Arc<AtomicU32>,
    notices: Vec<String>,
    stream: Option<StreamThread>,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("name", &self.info.name)
            .field("native", &self.native)
            .finish()
    }
}

fn info_of(kind: DeviceKind, d: &cpal::Device) -> DeviceInfo {
    let id = d.id().map(|i| i.to_string()).unwrap_or_default();
    DeviceInfo {
        kind,
        name: d
            .description()
            .map(|x| x.name().to_string())
            .unwrap_or_else(|_| id.clone()),
        id,
        default: false,
    }
}

impl Microphone {
    /// Open a microphone at its own rate and format.
    pub fn open(choice: &Choice) -> Result<Self, DeviceError> {
        Self::open_with(choice, None)
    }

    /// Open a microphone asking for a rate and channel count (used when it is known what the
    /// device does best; the device's default is taken if it does not offer them).
    ///
    /// If the device disappears during the call (an unplugged headset), the microphone
    /// switches to the system's default one by itself and says so in [`Microphone::notices`].
    pub fn open_with(choice: &Choice, want: Option<(u32, u16)>) -> Result<Self, DeviceError> {
        let placeholder = CaptureQueue::new(SAMPLE_RATE).map_err(|e| DeviceError::Failed {
            kind: DeviceKind::Microphone,
            detail: e.to_string(),
        })?;
        let shared = Arc::new((
            Mutex::new(Captured {
                queue: placeholder,
                error: None,
            }),
            Condvar::new(),
        ));
        let meter = Arc::new(LevelMeter::new());
        let latency_us = Arc::new(AtomicU32::new(0));
        let (info, native, stream) = Self::start(choice, want, &shared, &meter, &latency_us)
            .map_err(|e| opening(e, choice))?;
        Ok(Microphone {
            info,
            native,
            shared,
            processor: None,
            meter,
            latency_us,
            notices: Vec::new(),
            stream: Some(stream),
        })
    }

    /// Open the device and start its stream into `shared`.
    fn start(
        choice: &Choice,
        want: Option<(u32, u16)>,
        shared: &Arc<(Mutex<Captured>, Condvar)>,
        meter: &Arc<LevelMeter>,
        latency_us: &Arc<AtomicU32>,
    ) -> Result<(DeviceInfo, (u32, u16), StreamThread), DeviceError> {
        let kind = DeviceKind::Microphone;
        let device = find(kind, choice)?;
        let info = info_of(kind, &device);
        let (config, format) = pick_config(kind, &device, want)?;
        let native = (config.sample_rate, config.channels);
        let queue = CaptureQueue::new(native.0).map_err(|e| DeviceError::Unsupported {
            kind,
            detail: e.to_string(),
        })?;
        {
            // A fresh queue: what the old device left is from before the switch.
            let mut c = shared.0.lock().unwrap_or_else(|p| p.into_inner());
            c.queue = queue;
            c.error = None;
        }
        let (s, m, l) = (shared.clone(), meter.clone(), latency_us.clone());
        StreamThread::start(kind, move || {
            let channels = usize::from(config.channels.max(1));
            let on_error = {
                let s = s.clone();
                move |e: cpal::Error| {
                    let err = DeviceError::from_cpal(kind, &e);
                    if matches!(err, DeviceError::Gone { .. }) {
                        let (lock, cv) = &*s;
                        lock.lock().unwrap_or_else(|p| p.into_inner()).error = Some(err);
                        cv.notify_all();
                    }
                }
            };
            let mut pacer = Pacer::new(native.0, PACER_SLACK);
            let mut deliver = move |mono: &[f32], info: &cpal::InputCallbackInfo| {
                let t = info.timestamp();
                let late = t.callback.duration_since(t.capture);
                l.store(
                    late.as_micros().min(u128::from(u32::MAX)) as u32,
                    Ordering::Relaxed,
                );
                m.feed_f32(mono);
                let (lock, cv) = &*s;
                lock.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .queue
                    .push_device(mono);
                cv.notify_all();
                if let Some(wait) = pacer.after(mono.len(), std::time::Instant::now()) {
                    std::thread::sleep(wait);
                }
            };
            match format {
                cpal::SampleFormat::I16 => {
                    let mut mono = Vec::new();
                    device.build_input_stream::<i16, _, _>(
                        config,
                        move |data, info| {
                            downmix(
                                data.iter().map(|&v| f32::from(v) / 32768.0),
                                channels,
                                &mut mono,
                            );
                            deliver(&mono, info);
                        },
                        on_error,
                        Some(Duration::from_secs(2)),
                    )
                }
                _ => {
                    let mut mono = Vec::new();
                    device.build_input_stream::<f32, _, _>(
                        config,
                        move |data, info| {
                            downmix(data.iter().copied(), channels, &mut mono);
                            deliver(&mono, info);
                        },
                        on_error,
                        Some(Duration::from_secs(2)),
                    )
                }
            }
            .map_err(|e| DeviceError::from_cpal(kind, &e))
        })
        .map(|stream| (info, native, stream))
    }

    /// What happened to the device that the user should be told ("…was disconnected; now
    /// using …"), oldest first; taking them clears the list.
    pub fn notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// Act as if the device had just been unplugged (the next frame finds it gone). Tests use
    /// it: no machine running them can unplug a device.
    #[doc(hidden)]
    pub fn simulate_disconnect(&self) {
        let (lock, cv) = &*self.shared;
        lock.lock().unwrap_or_else(|p| p.into_inner()).error = Some(DeviceError::Gone {
            kind: DeviceKind::Microphone,
        });
        cv.notify_all();
    }

    /// The device is gone: stop its stream and continue on the default one.
    fn fall_back(&mut self) -> Result<(), DeviceError> {
        let was = self.info.name.clone();
        self.stream = None;
        match Self::start(
            &Choice::Default,
            None,
            &self.shared,
            &self.meter,
            &self.latency_us,
        ) {
            Ok((info, native, stream)) => {
                self.notices.push(format!(
                    "The microphone \"{was}\" was disconnected; now using \"{}\".",
                    info.name
                ));
                self.info = info;
                self.native = native;
                self.stream = Some(stream);
                Ok(())
            }
            Err(_) => {
                self.notices.push(format!(
                    "The microphone \"{was}\" was disconnected and there is no other; the others \
                     cannot hear you until you connect one."
                ));
                Err(DeviceError::Gone {
                    kind: DeviceKind::Microphone,
                })
            }
        }
    }

    /// Which device this is.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The device's own rate and channel count.
    pub fn native_format(&self) -> (u32, u16) {
        self.native
    }

    /// Clean every frame with echo cancellation, noise suppression and gain control.
    pub fn set_processor(&mut self, processor: Option<CaptureProcessor>) {
        self.processor = processor;
    }

    /// The processing attached, to change its switches.
    pub fn processor_mut(&mut self) -> Option<&mut CaptureProcessor> {
        self.processor.as_mut()
    }

    /// The live level of what the microphone hears (before processing), for a meter.
    pub fn meter(&self) -> Arc<LevelMeter> {
        self.meter.clone()
    }

    /// How long captured sound waited in the device before the callback saw it, in µs.
    pub fn device_latency_us(&self) -> u32 {
        self.latency_us.load(Ordering::Relaxed)
    }

    /// How much captured sound waits in Parley's buffers now, in ms
    /// ([`CaptureQueue::queued_ms`]; sampled often, its mean is the delay this side adds on
    /// top of the device).
    pub fn queued_ms(&self) -> f64 {
        self.shared
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .queue
            .queued_ms()
    }

    /// Samples dropped (the reader fell behind the device, or a backlog was skipped).
    pub fn dropped(&self) -> u64 {
        self.shared
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .queue
            .dropped()
    }

    /// Take `samples` samples, waiting up to `timeout` for them; `None` if they did not come.
    pub fn take(
        &mut self,
        samples: usize,
        timeout: Duration,
    ) -> Result<Option<Vec<i16>>, DeviceError> {
        let (lock, cv) = &*self.shared;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (mut c, _) = cv
            .wait_timeout_while(guard, timeout, |c| {
                c.queue.ready() < samples && c.error.is_none()
            })
            .unwrap_or_else(|p| p.into_inner());
        if let Some(e) = c.error.clone() {
            drop(c);
            if matches!(e, DeviceError::Gone { .. }) && self.stream.is_some() {
                self.fall_back()?;
                return Ok(None);
            }
            return Err(e);
        }
        let Some(mut frame) = c.queue.take(samples) else {
            return Ok(None);
        };
        drop(c);
        if let Some(p) = &mut self.processor {
            // Processing that fails for one frame leaves it as captured.
            let _ = p.process(&mut frame);
        }
        Ok(Some(frame))
    }
}

impl AudioSource for Microphone {
    fn notices(&mut self) -> Vec<String> {
        Microphone::notices(self)
    }

    fn next_frame(&mut self, capture_us: u64, samples: usize) -> Result<AudioFrame, SourceError> {
        let wait = Duration::from_micros(samples as u64 * 1_000_000 / u64::from(SAMPLE_RATE) * 2);
        match self.take(samples, wait) {
            Ok(Some(samples)) => Ok(AudioFrame {
                samples,
                capture_us,
            }),
            // The device is late: a frame of silence keeps the stream going.
            Ok(None) => Ok(AudioFrame {
                samples: vec![0; samples],
                capture_us,
            }),
            Err(DeviceError::Gone { .. }) => Err(SourceError::Gone),
            Err(e) => Err(SourceError::Failed(e.to_string())),
        }
    }
}

fn downmix(samples: impl Iterator<Item = f32>, channels: usize, out: &mut Vec<f32>) {
    out.clear();
    if channels == 1 {
        out.extend(samples);
        return;
    }
    let mut acc = 0.0f32;
    for (i, v) in samples.enumerate() {
        acc += v;
        if i % channels == channels - 1 {
            out.push(acc / channels as f32);
            acc = 0.0;
        }
    }
}

struct Playout {
    /// What waits after each callback, in µs (for [`Speaker::queued_ms`]).
    queued_us: Arc<AtomicU32>,
    mixer: Arc<Mutex<Mixer>>,
    queue: PlayoutQueue,
}

impl Playout {
    fn fill<T: Copy>(&mut self, out: &mut [T], channels: usize, convert: impl Fn(f32) -> T) {
        let mut mixer = self.mixer.lock().unwrap_or_else(|p| p.into_inner());
        self.queue.fill(&mut mixer, out, channels, convert);
        drop(mixer);
        self.queued_us
            .store((self.queue.queued_ms() * 1000.0) as u32, Ordering::Relaxed);
    }
}

/// Open loudspeakers or headphones, playing a [`Mixer`].
pub struct Speaker {
    info: DeviceInfo,
    native: (u32, u16),
    latency_us: Arc<AtomicU32>,
    queued_us: Arc<AtomicU32>,
    /// Set by the stream's error callback when the device went away.
    gone: Arc<std::sync::atomic::AtomicBool>,
    /// What a replacement plays: the same mixer, the same echo reference.
    mixer: Arc<Mutex<Mixer>>,
    render: Option<RenderReference>,
    _stream: StreamThread,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("name", &self.info.name)
            .field("native", &self.native)
            .finish()
    }
}

impl Speaker {
    /// Open a speaker at its own rate and play `mixer` through it. Every sample played is
    /// handed to `render` (the echo canceller's reference) first.
    pub fn open(
        choice: &Choice,
        mixer: Arc<Mutex<Mixer>>,
        render: Option<RenderReference>,
    ) -> Result<Self, DeviceError> {
        Self::open_with(choice, None, mixer, render)
    }

    /// [`Speaker::open`] asking for a rate and channel count.
    pub fn open_with(
        choice: &Choice,
        want: Option<(u32, u16)>,
        mixer: Arc<Mutex<Mixer>>,
        render: Option<RenderReference>,
    ) -> Result<Self, DeviceError> {
        let kind = DeviceKind::Speaker;
        let device = find(kind, choice)?;
        let info = info_of(kind, &device);
        let (config, format) = pick_config(kind, &device, want).map_err(|e| opening(e, choice))?;
        let native = (config.sample_rate, config.channels);
        let keep_render = render.clone();
        let queue = PlayoutQueue::new(native.0, render).map_err(|e| DeviceError::Unsupported {
            kind,
            detail: e.to_string(),
        })?;
        let latency_us = Arc::new(AtomicU32::new(0));
        let l = latency_us.clone();
        let queued_us = Arc::new(AtomicU32::new(0));
        let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let keep_mixer = mixer.clone();
        let mut playout = Playout {
            queued_us: queued_us.clone(),
            mixer,
            queue,
        };
        let g = gone.clone();
        let stream = StreamThread::start(kind, move || {
            let channels = usize::from(config.channels.max(1));
            let on_error = move |e: cpal::Error| {
                if matches!(DeviceError::from_cpal(kind, &e), DeviceError::Gone { .. }) {
                    g.store(true, Ordering::Relaxed);
                }
            };
            let note = move |info: &cpal::OutputCallbackInfo| {
                let t = info.timestamp();
                let ahead = t.playback.duration_since(t.callback);
                l.store(
                    ahead.as_micros().min(u128::from(u32::MAX)) as u32,
                    Ordering::Relaxed,
                );
            };
            let mut pacer = Pacer::new(native.0, PACER_SLACK);
            let mut hold = move |frames: usize| {
                if let Some(wait) = pacer.after(frames, std::time::Instant::now()) {
                    std::thread::sleep(wait);
                }
            };
            match format {
                cpal::SampleFormat::I16 => device.build_output_stream::<i16, _, _>(
                    config,
                    move |out, info| {
                        note(info);
                        playout.fill(out, channels, |v| {
                            (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16
                        });
                        hold(out.len() / channels);
                    },
                    on_error,
                    Some(Duration::from_secs(2)),
                ),
                _ => device.build_output_stream::<f32, _, _>(
                    config,
                    move |out, info| {
                        note(info);
                        playout.fill(out, channels, |v| v);
                        hold(out.len() / channels);
                    },
                    on_error,
                    Some(Duration::from_secs(2)),
                ),
            }
            .map_err(|e| DeviceError::from_cpal(kind, &e))
        })
        .map_err(|e| opening(e, choice))?;
        Ok(Speaker {
            info,
            native,
            latency_us,
            queued_us,
            gone,
            mixer: keep_mixer,
            render: keep_render,
            _stream: stream,
        })
    }

    /// If the device went away (unplugged headphones), switch to the system's default
    /// speaker and say so; call it now and then (the call's audio loop does). `None` when
    /// nothing happened.
    pub fn fall_back_if_gone(&mut self) -> Option<String> {
        if !self.gone.load(Ordering::Relaxed) {
            return None;
        }
        let was = self.info.name.clone();
        match Speaker::open(&Choice::Default, self.mixer.clone(), self.render.clone()) {
            Ok(next) => {
                let notice = format!(
                    "The speaker \"{was}\" was disconnected; now using \"{}\".",
                    next.info.name
                );
                *self = next;
                Some(notice)
            }
            Err(_) => {
                // Tell once; the others are not heard until a speaker is connected.
                self.gone.store(false, Ordering::Relaxed);
                Some(format!(
                    "The speaker \"{was}\" was disconnected and there is no other; you will not hear \
                     the others until you connect one."
                ))
            }
        }
    }

    /// The echo canceller's reference this speaker feeds, for a speaker opened instead.
    pub fn render_reference(&self) -> Option<RenderReference> {
        self.render.clone()
    }

    /// Whether the device went away and [`Speaker::fall_back_if_gone`] has work to do.
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// Act as if the device had just been unplugged. Tests use it: no machine running them
    /// can unplug a device.
    #[doc(hidden)]
    pub fn simulate_disconnect(&self) {
        self.gone.store(true, Ordering::Relaxed);
    }

    /// Which device this is.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The device's own rate and channel count.
    pub fn native_format(&self) -> (u32, u16) {
        self.native
    }

    /// How much mixed sound waited in Parley's buffers after the last callback, in ms (the
    /// resampled samples not yet given to the device, and the resampler's delay). The mixer's
    /// own queues come before this ([`Mixer::queued`]).
    pub fn queued_ms(&self) -> f64 {
        f64::from(self.queued_us.load(Ordering::Relaxed)) / 1000.0
    }

    /// How far ahead of the sound leaving the device the last callback ran, in µs.
    pub fn device_latency_us(&self) -> u32 {
        self.latency_us.load(Ordering::Relaxed)
    }
}
