//! Screen sharing: the whole screen, or one window, as a [`VideoSource`], captured from the X
//! server (`$DISPLAY`; XWayland under Wayland) with `GetImage`, converted from BGRX to I420.
//! [`sources`] lists what can be shared: the screen and each top-level window with a title.
//!
//! A shared window is captured at the size it had when sharing began (even width and height);
//! if it grows, the picture shows its top-left part, if it shrinks, the rest is black. When it
//! is closed or unmapped, the source fails with [`WINDOW_GONE`] and sharing ends.
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

/// What [`ScreenCapture`] fails with once the shared window is gone.
pub const WINDOW_GONE: &str = "the shared window was closed or hidden";

/// Most windows listed by [`sources`].
pub const MAX_SOURCES: usize = 64;

/// What to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareTarget {
    /// The whole (first) screen.
    Screen,
    /// One top-level window (its X window id).
    Window(u32),
}

impl ShareTarget {
    /// The id [`ShareSource::id`] gives it: `screen` or `window:<id>`.
    pub fn id(self) -> String {
        match self {
            ShareTarget::Screen => "screen".to_string(),
            ShareTarget::Window(w) => format!("window:{w}"),
        }
    }

    /// Read an id from [`ShareSource::id`]; `None` for anything else.
    pub fn parse(id: &str) -> Option<ShareTarget> {
        if id == "screen" {
            return Some(ShareTarget::Screen);
        }
        let n = id.strip_prefix("window:")?;
        if n.is_empty() || n.len() > 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok().map(ShareTarget::Window)
    }
}

/// Something that can be shared, for the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareSource {
    /// What to pass back ([`ShareTarget::parse`]).
    pub target: ShareTarget,
    /// The window's title (another program's text: show it as text only), or empty for the
    /// screen.
    pub title: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The screen, or one window, shared.
pub struct ScreenCapture {
    #[cfg(target_os = "linux")]
    conn: x11rb::rust_connection::RustConnection,
    /// The window captured: the root window for the whole screen.
    #[cfg(target_os = "linux")]
    root: u32,
    /// Capturing one window (so it may change size or go away).
    #[cfg(target_os = "linux")]
    window: bool,
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
    pub fn open() -> Result<Self, DeviceError> {
        Self::open_target(ShareTarget::Screen)
    }

    /// Capture the screen or one window.
    #[cfg(target_os = "linux")]
    pub fn open_target(target: ShareTarget) -> Result<Self, DeviceError> {
        use x11rb::protocol::xproto::ConnectionExt;
        let (conn, root, depth) = x11::connect()?;
        if depth != 24 && depth != 32 {
            return Err(failed(format!(
                "the screen has {depth} bits per pixel; 24 or 32 are supported"
            )));
        }
        let (drawable, window) = match target {
            ShareTarget::Screen => (root, false),
            ShareTarget::Window(w) => {
                // Only a top-level window of this display that is on screen.
                if !x11::top_level_windows(&conn, root).contains(&w) {
                    return Err(failed(WINDOW_GONE));
                }
                (w, true)
            }
        };
        let g = conn
            .get_geometry(drawable)
            .map_err(failed)?
            .reply()
            .map_err(|_| failed(WINDOW_GONE))?;
        let (width, height) = (u32::from(g.width) & !1, u32::from(g.height) & !1);
        if window && g.depth != 24 && g.depth != 32 {
            return Err(failed(format!("the window has {} bits per pixel", g.depth)));
        }
        if width < 2 || height < 2 || width > MAX_WIDTH {
            return Err(failed(format!("the picture is {width}x{height}")));
        }
        Ok(ScreenCapture {
            conn,
            root: drawable,
            window,
            width,
            height,
            last: None,
        })
    }

    /// Screen sharing needs X11 here.
    #[cfg(not(target_os = "linux"))]
    pub fn open_target(_target: ShareTarget) -> Result<Self, DeviceError> {
        Err(failed("not available on this system yet"))
    }

    #[cfg(target_os = "linux")]
    fn grab(&mut self, capture_us: u64) -> Result<VideoFrame, SourceError> {
        use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};
        let (w, h) = (self.width, self.height);
        let gone = |_| SourceError::Failed(WINDOW_GONE.to_string());
        // A window may have changed size since sharing began: capture what still fits.
        let (cw, ch) = if self.window {
            let g = self
                .conn
                .get_geometry(self.root)
                .map_err(|e| SourceError::Failed(e.to_string()))?
                .reply()
                .map_err(gone)?;
            (w.min(u32::from(g.width)), h.min(u32::from(g.height)))
        } else {
            (w, h)
        };
        if cw == 0 || ch == 0 {
            return Err(SourceError::Failed(WINDOW_GONE.to_string()));
        }
        let reply = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                0,
                0,
                cw as u16,
                ch as u16,
                !0,
            )
            .map_err(|e| SourceError::Failed(e.to_string()))?
            .reply()
            // An unmapped (minimised) window cannot be read.
            .map_err(|e| {
                if self.window {
                    SourceError::Failed(WINDOW_GONE.to_string())
                } else {
                    SourceError::Failed(e.to_string())
                }
            })?;
        // 32 bits per pixel, rows padded to 32 bits: exactly 4·cw bytes per row.
        let padded;
        let pixels = if (cw, ch) == (w, h) {
            &reply.data[..]
        } else {
            padded = pad_bgrx(&reply.data, cw, ch, w, h);
            &padded[..]
        };
        let mut frame = self
            .last
            .take()
            .map_or_else(|| VideoFrame::black(w, h), |(_, f)| f);
        to_i420_into(PixelFormat::Bgrx, pixels, w, h, capture_us, &mut frame)
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

/// `src` (`cw`×`ch` BGRX) in the top-left corner of a black `w`×`h` picture.
fn pad_bgrx(src: &[u8], cw: u32, ch: u32, w: u32, h: u32) -> Vec<u8> {
    let (cw, ch, w, h) = (cw as usize, ch as usize, w as usize, h as usize);
    let mut out = vec![0u8; w * h * 4];
    for (y, row) in src.chunks_exact(cw * 4).take(ch.min(h)).enumerate() {
        let n = cw.min(w) * 4;
        out[y * w * 4..y * w * 4 + n].copy_from_slice(&row[..n]);
    }
    out
}

/// What can be shared on this display: the screen first, then each top-level window that is
/// on screen and has a title (at most [`MAX_SOURCES`]).
#[cfg(target_os = "linux")]
pub fn sources() -> Result<Vec<ShareSource>, DeviceError> {
    use x11rb::protocol::xproto::ConnectionExt;
    let (conn, root, _) = x11::connect()?;
    let mut out = Vec::new();
    let g = conn
        .get_geometry(root)
        .map_err(failed)?
        .reply()
        .map_err(failed)?;
    out.push(ShareSource {
        target: ShareTarget::Screen,
        title: String::new(),
        width: u32::from(g.width),
        height: u32::from(g.height),
    });
    for w in x11::top_level_windows(&conn, root) {
        let Some(title) = x11::title(&conn, w) else {
            continue;
        };
        let Ok(Ok(g)) = conn.get_geometry(w).map(|c| c.reply()) else {
            continue;
        };
        if g.width < 16 || g.height < 16 {
            continue;
        }
        out.push(ShareSource {
            target: ShareTarget::Window(w),
            title,
            width: u32::from(g.width),
            height: u32::from(g.height),
        });
        if out.len() > MAX_SOURCES {
            break;
        }
    }
    Ok(out)
}

/// Screen sharing needs X11 here.
#[cfg(not(target_os = "linux"))]
pub fn sources() -> Result<Vec<ShareSource>, DeviceError> {
    Err(failed("not available on this system yet"))
}

#[cfg(target_os = "linux")]
mod x11 {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, MapState, Window};
    use x11rb::rust_connection::RustConnection;

    use super::failed;
    use crate::audio_device::DeviceError;

    /// Longest window title kept (bytes), so a hostile title cannot flood the picker.
    const MAX_TITLE: usize = 200;

    /// The display of `$DISPLAY`: the connection, its first screen's root and depth.
    pub fn connect() -> Result<(RustConnection, Window, u8), DeviceError> {
        let (conn, screen) = x11rb::connect(None).map_err(|e| {
            failed(format!(
                "no X display to capture ({e}); screen sharing needs X11 or XWayland"
            ))
        })?;
        let s = &conn.setup().roots[screen];
        let (root, depth) = (s.root, s.root_depth);
        Ok((conn, root, depth))
    }

    fn atom(conn: &RustConnection, name: &[u8]) -> Option<u32> {
        Some(conn.intern_atom(true, name).ok()?.reply().ok()?.atom).filter(|&a| a != 0)
    }

    /// The windows a person would call windows: those a window manager lists
    /// (`_NET_CLIENT_LIST`), or without one the root's children; only those on screen.
    pub fn top_level_windows(conn: &RustConnection, root: Window) -> Vec<Window> {
        let listed = atom(conn, b"_NET_CLIENT_LIST").and_then(|a| {
            let r = conn
                .get_property(false, root, a, AtomEnum::WINDOW, 0, 1024)
                .ok()?
                .reply()
                .ok()?;
            Some(r.value32()?.collect::<Vec<u32>>())
        });
        let candidates = match listed {
            Some(l) if !l.is_empty() => l,
            _ => conn
                .query_tree(root)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|t| t.children)
                .unwrap_or_default(),
        };
        candidates
            .into_iter()
            .filter(|&w| {
                conn.get_window_attributes(w)
                    .ok()
                    .and_then(|c| c.reply().ok())
                    .is_some_and(|a| a.map_state == MapState::VIEWABLE && !a.override_redirect)
            })
            .collect()
    }

    /// A window's title (`_NET_WM_NAME`, else `WM_NAME`), cut and cleaned of control
    /// characters; `None` for an untitled window.
    pub fn title(conn: &RustConnection, w: Window) -> Option<String> {
        let utf8 = atom(conn, b"UTF8_STRING");
        let net = atom(conn, b"_NET_WM_NAME");
        let read = |prop: u32, ty: u32| -> Option<Vec<u8>> {
            let r = conn
                .get_property(false, w, prop, ty, 0, 256)
                .ok()?
                .reply()
                .ok()?;
            (!r.value.is_empty()).then_some(r.value)
        };
        let bytes = match (net, utf8) {
            (Some(n), Some(u)) => read(n, u),
            _ => None,
        }
        .or_else(|| read(AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()))?;
        let text: String = String::from_utf8_lossy(&bytes)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        let mut text = text.trim().to_string();
        if text.len() > MAX_TITLE {
            let mut cut = MAX_TITLE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        (!text.is_empty()).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_ids_round_trip_and_anything_else_is_refused() {
        for t in [ShareTarget::Screen, ShareTarget::Window(0x0120_0007)] {
            assert_eq!(ShareTarget::parse(&t.id()), Some(t));
        }
        for bad in [
            "",
            "window:",
            "window:-1",
            "window:99999999999",
            "window:1 ",
            "tab:3",
            "Screen",
        ] {
            assert_eq!(ShareTarget::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_smaller_window_is_padded_black_and_a_larger_one_cut() {
        let src: Vec<u8> = (0..2 * 2 * 4).map(|i| i as u8 + 1).collect();
        let out = pad_bgrx(&src, 2, 2, 4, 3);
        assert_eq!(out.len(), 4 * 3 * 4);
        assert_eq!(&out[0..8], &src[0..8]);
        assert_eq!(&out[16..24], &src[8..16]);
        assert!(out[8..16].iter().all(|&b| b == 0));
        assert!(out[32..].iter().all(|&b| b == 0));
    }
}
