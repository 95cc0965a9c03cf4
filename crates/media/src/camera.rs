//! Cameras through nokhwa (V4L2 on Linux; Media Foundation and AVFoundation behind nokhwa's
//! own features on Windows and macOS): list them by their human names, open one at a chosen
//! size and frame rate in MJPEG, YUYV or NV12, and convert each frame to I420 ([`convert`]).
//!
//! A [`Camera`] captures on a thread of its own and keeps only the newest picture, so a slow
//! encoder never makes the camera fall behind; [`Camera::next_frame`] hands out that picture.
//! Dropping the camera stops the stream and closes the device: the camera light goes out.
//!
//! [`convert`]: crate::convert

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat,
    RequestedFormatType, Resolution,
};

use crate::audio_device::{Choice, DeviceError, DeviceInfo, DeviceKind};
use crate::convert::{PixelFormat, to_i420_into};
use crate::frame::VideoFrame;
use crate::source::{SourceError, VideoSource};

/// The formats Parley converts itself, in order of preference at the same size and rate
/// (MJPEG first: USB cameras give high resolutions at full frame rate only in MJPEG).
const FORMATS: [FrameFormat; 3] = [FrameFormat::MJPEG, FrameFormat::YUYV, FrameFormat::NV12];

const KIND: DeviceKind = DeviceKind::Camera;

/// The cameras this computer has. An empty list means none (the caller says "No camera
/// found"); an error means the system could not be asked.
pub fn cameras() -> Result<Vec<DeviceInfo>, DeviceError> {
    let found = nokhwa::query(ApiBackend::Auto).map_err(|e| map_error(&e, ""))?;
    Ok(listed(&found))
}

/// The cameras the system reported, as a person picks them: the first is the default, and one
/// whose driver gives no name is called by its place in the list ("Camera 2"), never shown as
/// a blank entry.
fn listed(found: &[CameraInfo]) -> Vec<DeviceInfo> {
    found
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = c.human_name().trim().to_string();
            DeviceInfo {
                kind: KIND,
                name: if name.is_empty() {
                    format!("Camera {}", i + 1)
                } else {
                    name
                },
                id: match c.index() {
                    CameraIndex::Index(n) => n.to_string(),
                    CameraIndex::String(s) => s.clone(),
                },
                default: i == 0,
            }
        })
        .collect()
}

fn map_error(e: &nokhwa::NokhwaError, name: &str) -> DeviceError {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("busy") {
        DeviceError::Busy { kind: KIND }
    } else if lower.contains("permission") || lower.contains("not permitted") {
        DeviceError::PermissionDenied { kind: KIND }
    } else if lower.contains("no such file") || lower.contains("no such device") {
        DeviceError::NotFound {
            kind: KIND,
            name: name.to_string(),
        }
    } else {
        match e {
            nokhwa::NokhwaError::ReadFrameError(_) => DeviceError::Gone { kind: KIND },
            _ => DeviceError::Failed {
                kind: KIND,
                detail: text,
            },
        }
    }
}

fn pixel_format(f: FrameFormat) -> Option<PixelFormat> {
    match f {
        FrameFormat::MJPEG => Some(PixelFormat::Mjpeg),
        FrameFormat::YUYV => Some(PixelFormat::Yuyv),
        FrameFormat::NV12 => Some(PixelFormat::Nv12),
        FrameFormat::RAWRGB => Some(PixelFormat::Rgb24),
        _ => None,
    }
}

/// The picture a camera is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CameraRequest {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl Default for CameraRequest {
    fn default() -> Self {
        CameraRequest {
            width: 1280,
            height: 720,
            fps: 30,
        }
    }
}

struct Latest {
    frame: Option<VideoFrame>,
    error: Option<DeviceError>,
    captured: u64,
}

/// An open camera.
pub struct Camera {
    info: DeviceInfo,
    format: (u32, u32, u32, PixelFormat),
    latest: Arc<(Mutex<Latest>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("name", &self.info.name)
            .field("format", &self.format)
            .finish()
    }
}

impl Camera {
    /// Open the chosen camera at the format closest to `request`.
    pub fn open(choice: &Choice, request: CameraRequest) -> Result<Self, DeviceError> {
        let list = cameras()?;
        let info = match choice {
            Choice::Default => list
                .first()
                .cloned()
                .ok_or(DeviceError::NoDevice { kind: KIND })?,
            Choice::Named(want) => list
                .iter()
                .find(|c| c.name == *want || c.id == *want)
                .cloned()
                .ok_or_else(|| DeviceError::NotFound {
                    kind: KIND,
                    name: want.clone(),
                })?,
        };
        let index = match info.id.parse::<u32>() {
            Ok(n) => CameraIndex::Index(n),
            Err(_) => CameraIndex::String(info.id.clone()),
        };
        let latest = Arc::new((
            Mutex::new(Latest {
                frame: None,
                error: None,
                captured: 0,
            }),
            Condvar::new(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (l, s, name) = (latest.clone(), stop.clone(), info.name.clone());
        let thread = std::thread::Builder::new()
            .name("parley-camera".into())
            .spawn(move || capture(index, request, &name, ready_tx, &l, &s))
            .map_err(|e| DeviceError::Failed {
                kind: KIND,
                detail: e.to_string(),
            })?;
        match ready_rx.recv() {
            Ok(Ok(format)) => Ok(Camera {
                info,
                format,
                latest,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(DeviceError::Failed {
                kind: KIND,
                detail: "the camera thread stopped".into(),
            }),
        }
    }

    /// Which camera this is.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The format it was opened in: width, height, frames per second and pixel format.
    pub fn format(&self) -> (u32, u32, u32, PixelFormat) {
        self.format
    }

    /// Pictures captured so far.
    pub fn captured(&self) -> u64 {
        self.latest
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .captured
    }
}

type Ready = std::sync::mpsc::Sender<Result<(u32, u32, u32, PixelFormat), DeviceError>>;

fn capture(
    index: CameraIndex,
    request: CameraRequest,
    name: &str,
    ready: Ready,
    latest: &(Mutex<Latest>, Condvar),
    stop: &AtomicBool,
) {
    let wanted = CameraFormat::new(
        Resolution::new(request.width, request.height),
        FrameFormat::MJPEG,
        request.fps,
    );
    let format = RequestedFormat::with_formats(RequestedFormatType::Closest(wanted), &FORMATS);
    let mut camera = match nokhwa::Camera::new(index, format) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(map_error(&e, name)));
            return;
        }
    };
    if let Err(e) = camera.open_stream() {
        let _ = ready.send(Err(map_error(&e, name)));
        return;
    }
    let f = camera.camera_format();
    let Some(pixels) = pixel_format(f.format()) else {
        let _ = ready.send(Err(DeviceError::Unsupported {
            kind: KIND,
            detail: f.format().to_string(),
        }));
        return;
    };
    let (w, h) = (f.resolution().width(), f.resolution().height());
    let _ = ready.send(Ok((w, h, f.frame_rate(), pixels)));
    let mut scratch = VideoFrame::black(w, h);
    let started = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let result = camera
            .frame_raw()
            .map_err(|e| map_error(&e, name))
            .and_then(|raw| {
                let at = started.elapsed().as_micros() as u64;
                to_i420_into(pixels, &raw, w, h, at, &mut scratch).map_err(|e| {
                    DeviceError::Unsupported {
                        kind: KIND,
                        detail: e.to_string(),
                    }
                })
            });
        let (lock, cv) = latest;
        let mut l = lock.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(()) => {
                l.frame = Some(scratch.clone());
                l.captured += 1;
            }
            // One bad MJPEG frame (cameras send some) is skipped.
            Err(DeviceError::Unsupported { .. }) => {}
            Err(e) => {
                l.error = Some(e);
                cv.notify_all();
                break;
            }
        }
        cv.notify_all();
    }
    // The light goes out.
    let _ = camera.stop_stream();
}

impl VideoSource for Camera {
    fn size(&self) -> (u32, u32) {
        (self.format.0, self.format.1)
    }

    fn next_frame(&mut self, capture_us: u64) -> Result<VideoFrame, SourceError> {
        let (lock, cv) = &*self.latest;
        let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let (l, _) = cv
            .wait_timeout_while(guard, Duration::from_secs(1), |l| {
                l.frame.is_none() && l.error.is_none()
            })
            .unwrap_or_else(|p| p.into_inner());
        if let Some(e) = &l.error {
            return Err(match e {
                DeviceError::Gone { .. } => SourceError::Gone,
                other => SourceError::Failed(other.to_string()),
            });
        }
        match &l.frame {
            Some(f) => Ok(VideoFrame {
                capture_us,
                ..f.clone()
            }),
            None => Err(SourceError::Failed(
                "the camera sent no picture for a second".into(),
            )),
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_for_a_camera_that_is_not_there_is_a_typed_error() {
        let err = Camera::open(
            &Choice::Named("Front camera of a phone".into()),
            CameraRequest::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DeviceError::NotFound {
                kind: KIND,
                name: "Front camera of a phone".into()
            }
        );
    }

    #[test]
    fn the_default_is_the_first_camera_listed_or_a_plain_no_camera_error() {
        // Whatever this machine has (CI has no camera), something is checked: without a camera
        // the typed "no camera" error; with one, the list a person picks from and the camera
        // the default opens.
        let list = cameras().expect("the system can be asked for its cameras");
        let opened = Camera::open(
            &Choice::Default,
            CameraRequest {
                width: 320,
                height: 240,
                fps: 15,
            },
        );
        let Some(first) = list.first() else {
            let err = opened.expect_err("no camera is listed, so none opens");
            assert_eq!(err, DeviceError::NoDevice { kind: KIND });
            assert_eq!(
                err.to_string(),
                "No camera found — you can still join with audio."
            );
            return;
        };
        for (i, c) in list.iter().enumerate() {
            assert_eq!(c.kind, KIND, "{c:?}");
            assert!(!c.name.trim().is_empty(), "camera {i} has no name: {c:?}");
            assert!(!c.id.is_empty(), "camera {i} has no id: {c:?}");
            assert_eq!(c.default, i == 0, "only the first is the default: {list:?}");
        }
        let mut ids: Vec<&str> = list.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), list.len(), "ids tell cameras apart: {list:?}");
        match opened {
            Ok(camera) => {
                assert_eq!(camera.info(), first, "the default opens the first listed");
                let (w, h, fps, _) = camera.format();
                assert!(w > 0 && h > 0 && fps > 0, "{:?}", camera.format());
            }
            // Another program may hold it, or the system may refuse: said as such, never as
            // "no camera" while one is listed.
            Err(e) => assert!(
                !matches!(
                    e,
                    DeviceError::NoDevice { .. } | DeviceError::NotFound { .. }
                ),
                "{first:?} is listed but opening the default said: {e}"
            ),
        }
    }

    #[test]
    fn listed_cameras_have_names_ids_and_one_default() {
        let found = [
            CameraInfo::new("HD Pro Webcam C920", "uvcvideo", "", CameraIndex::Index(2)),
            CameraInfo::new(
                "  ",
                "",
                "",
                CameraIndex::String("usb-0000:00:14.0-3".into()),
            ),
        ];
        assert_eq!(
            listed(&found),
            [
                DeviceInfo {
                    kind: KIND,
                    name: "HD Pro Webcam C920".into(),
                    id: "2".into(),
                    default: true,
                },
                DeviceInfo {
                    kind: KIND,
                    name: "Camera 2".into(),
                    id: "usb-0000:00:14.0-3".into(),
                    default: false,
                },
            ]
        );
        assert!(listed(&[]).is_empty());
    }

    #[test]
    fn device_errors_are_told_apart_by_the_system_message() {
        let busy = nokhwa::NokhwaError::OpenDeviceError(
            "/dev/video0".into(),
            "Device or resource busy".into(),
        );
        assert_eq!(map_error(&busy, "cam"), DeviceError::Busy { kind: KIND });
        let denied =
            nokhwa::NokhwaError::OpenDeviceError("/dev/video0".into(), "Permission denied".into());
        assert_eq!(
            map_error(&denied, "cam"),
            DeviceError::PermissionDenied { kind: KIND }
        );
        let gone = nokhwa::NokhwaError::ReadFrameError("EIO".into());
        assert_eq!(map_error(&gone, "cam"), DeviceError::Gone { kind: KIND });
    }
}
