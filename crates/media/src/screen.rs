//! Screen sharing: the whole screen as a [`VideoSource`], captured from the X server
//! (`$DISPLAY`; XWayland under Wayland) with `GetImage` on the root window, converted from
//! BGRX to I420.
//!
//! The screen is captured at most [`MAX_FPS`] times a second; asked more often, the source
//! repeats the last picture (a static screen costs the VP8 encoder almost nothing). Odd sizes
//! lose their last column or row; a screen larger than [`MAX_WIDTH`] wide is refused rather
//! than encoded at a size no receiver would want.

use std::time::{Duration, Instant};

use crate::audio_device::{DeviceError, DeviceKind};
use crate::convert::{PixelFormat, to_i420_into};
use crate::frame::VideoFrame;
use crate::source::{SourceError, VideoSource};

/// Most screen captures a second.
pub const MAX_FPS: u32 = 10;
/// Widest screen shared.
pub const MAX_WIDTH: u32 = 3840;

/// The screen, shared.
pub struct ScreenCapture {
    #[cfg(target_os = "linux")]
    conn: x11rb::rust_connection::RustConnection,
    #[cfg(target_os = "linux")]
    root: u32,
    width: u32,
    height: u32,
    last: Option<(Instant, VideoFrame)>,
}

impl std::fmt::Debug for ScreenCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScreenCapture")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

fn failed(detail: impl std::fmt::Display) -> DeviceError {
    DeviceError::Failed {
        kind: DeviceKind::Camera,
        detail: format!("screen capture: {detail}"),
    }
}

impl ScreenCapture {
    /// Connect to the X server of `$DISPLAY` and capture its first screen.
    #[cfg(target_os = "linux")]
    pub fn open() -> Result<Self, DeviceError> {
        use x11rb::connection::Connection;
        let (conn, screen) = x11rb::connect(None).map_err(|e| {
            failed(format!(
                "no X display to capture ({e}); screen sharing needs X11 or XWayland"
            ))
        })?;
        let s = &conn.setup().roots[screen];
        let (root, width, height) = (
            s.root,
            u32::from(s.width_in_pixels) & !1,
            u32::from(s.height_in_pixels) & !1,
        );
        if s.root_depth != 24 && s.root_depth != 32 {
            return Err(failed(format!(
                "the screen has {} bits per pixel; 24 or 32 are supported",
                s.root_depth
            )));
        }
        if width == 0 || height == 0 || width > MAX_WIDTH {
            return Err(failed(format!("the screen is {width}x{height}")));
        }
        Ok(ScreenCapture {
            conn,
            root,
            width,
            height,
            last: None,
        })
    }

    /// Screen sharing needs X11 here.
    #[cfg(not(target_os = "linux"))]
    pub fn open() -> Result<Self, DeviceError> {
        Err(failed("not available on this system yet"))
    }

    #[cfg(target_os = "linux")]
    fn grab(&mut self, capture_us: u64) -> Result<VideoFrame, SourceError> {
        use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};
        let (w, h) = (self.width, self.height);
        let reply = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                0,
                0,
                w as u16,
                h as u16,
                !0,
            )
            .map_err(|e| SourceError::Failed(e.to_string()))?
            .reply()
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        // 32 bits per pixel, rows padded to 32 bits: exactly 4·w bytes per row.
        let mut frame = self
            .last
            .take()
            .map_or_else(|| VideoFrame::black(w, h), |(_, f)| f);
        to_i420_into(PixelFormat::Bgrx, &reply.data, w, h, capture_us, &mut frame)
            .map_err(|e| SourceError::Failed(e.to_string()))?;
        Ok(frame)
    }

    #[cfg(not(target_os = "linux"))]
    fn grab(&mut self, _capture_us: u64) -> Result<VideoFrame, SourceError> {
        Err(SourceError::Failed("no screen capture here".into()))
    }
}

impl VideoSource for ScreenCapture {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn next_frame(&mut self, capture_us: u64) -> Result<VideoFrame, SourceError> {
        let period = Duration::from_micros(1_000_000 / u64::from(MAX_FPS));
        if let Some((at, frame)) = &self.last
            && at.elapsed() < period
        {
            let mut again = frame.clone();
            again.capture_us = capture_us;
            return Ok(again);
        }
        let frame = self.grab(capture_us)?;
        self.last = Some((Instant::now(), frame.clone()));
        Ok(frame)
    }
}
