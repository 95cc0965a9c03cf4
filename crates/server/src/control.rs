//! A host's media controls on their way to the SFU, latest state first: what the SFU must
//! forward of one connection (its audio at all; whose video to it). Each setting replaces the
//! one before, so a hard mute can never be overtaken by an older unmute however full the SFU's
//! command queue is, and none is lost: the SFU is only told *that* a connection's controls
//! changed, and reads their newest values when it gets to it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use parley_proto::ParticipantId;

use crate::room::ConnId;

/// The settings not yet applied for one connection.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Control {
    /// Forward its audio (`Some(true)`), drop it (`Some(false)`), or unchanged.
    pub audio: Option<bool>,
    /// Forward any of its media (`Some(true)`), drop all of it (`Some(false)`: off the stage
    /// in event mode), or unchanged.
    pub media: Option<bool>,
    /// Forward to it only the video of these (`Some(Some(ids))`), everyone's (`Some(None)`),
    /// or unchanged.
    pub video_from: Option<Option<Vec<ParticipantId>>>,
    /// How high it shows each sender's tile (which simulcast layer fits), or unchanged.
    pub tile_heights: Option<TileHeights>,
    /// Its voice is forwarded beyond the loudest ones (`Some(true)`: a presenter, on the
    /// stage), or not (`Some(false)`), or unchanged.
    pub presenter: Option<bool>,
}

/// How high a receiver shows each sender's video, as its last `receive_video` said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileHeights {
    /// For everyone not named (`None`: as large as sent).
    pub default: Option<u16>,
    /// Per sender.
    pub by: HashMap<ParticipantId, u16>,
}

impl TileHeights {
    /// The height `sender`'s tile has (`None`: as large as sent).
    pub fn of(&self, sender: ParticipantId) -> Option<u16> {
        self.by.get(&sender).copied().or(self.default)
    }
}

#[derive(Debug, Default)]
struct Entry {
    control: Control,
    /// A notice for this connection is on its way to the SFU.
    announced: bool,
}

/// Pending controls of every connection, shared by the signaling side (which sets them) and
/// the SFU (which takes them). At most one notice per connection is ever in flight.
#[derive(Debug, Default)]
pub struct Controls {
    pending: Mutex<HashMap<ConnId, Entry>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Controls {
    /// Set whether `conn`'s audio is forwarded. Returns true if the SFU must be told that
    /// `conn` changed (no notice for it is on its way yet).
    pub fn set_audio(&self, conn: ConnId, allowed: bool) -> bool {
        self.update(conn, |c| c.audio = Some(allowed))
    }

    /// Set whether any of `conn`'s media is forwarded. Returns true if the SFU must be told.
    pub fn set_media(&self, conn: ConnId, allowed: bool) -> bool {
        self.update(conn, |c| c.media = Some(allowed))
    }

    /// Set whether `conn`'s voice is always forwarded (a presenter). Returns true if the SFU
    /// must be told.
    pub fn set_presenter(&self, conn: ConnId, on: bool) -> bool {
        self.update(conn, |c| c.presenter = Some(on))
    }

    /// Set whose video `conn` receives, and how high it shows each. Returns true if the SFU
    /// must be told.
    pub fn set_video_from(
        &self,
        conn: ConnId,
        from: Option<Vec<ParticipantId>>,
        heights: TileHeights,
    ) -> bool {
        self.update(conn, |c| {
            c.video_from = Some(from);
            c.tile_heights = Some(heights);
        })
    }

    fn update(&self, conn: ConnId, f: impl FnOnce(&mut Control)) -> bool {
        let mut pending = lock(&self.pending);
        let e = pending.entry(conn).or_default();
        f(&mut e.control);
        !std::mem::replace(&mut e.announced, true)
    }

    /// The SFU got the notice for `conn`: the newest settings, and the next change will send
    /// a notice again.
    pub fn take(&self, conn: ConnId) -> Control {
        lock(&self.pending)
            .remove(&conn)
            .map(|e| e.control)
            .unwrap_or_default()
    }

    /// `conn` left: forget what was pending for it.
    pub fn forget(&self, conn: ConnId) {
        lock(&self.pending).remove(&conn);
    }

    /// Connections with settings pending (for tests and memory checks).
    pub fn pending_len(&self) -> usize {
        lock(&self.pending).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_setting_wins_and_one_notice_is_in_flight() {
        let c = Controls::default();
        let x = ConnId(7);
        assert!(c.set_audio(x, false), "first change announces");
        assert!(!c.set_audio(x, true), "a notice is already on its way");
        assert!(!c.set_audio(x, false));
        assert!(!c.set_media(x, false));
        assert!(!c.set_presenter(x, true));
        let heights = TileHeights {
            default: Some(180),
            by: HashMap::from([(ParticipantId(2), 720)]),
        };
        assert!(!c.set_video_from(x, Some(vec![ParticipantId(2)]), heights.clone()));
        assert_eq!(heights.of(ParticipantId(2)), Some(720));
        assert_eq!(heights.of(ParticipantId(3)), Some(180));
        assert_eq!(
            c.take(x),
            Control {
                audio: Some(false),
                media: Some(false),
                video_from: Some(Some(vec![ParticipantId(2)])),
                tile_heights: Some(heights),
                presenter: Some(true),
            }
        );
        assert_eq!(c.take(x), Control::default(), "taken once");
        assert!(
            c.set_audio(x, true),
            "after the take, a change announces again"
        );
        c.forget(x);
        assert_eq!(c.pending_len(), 0);
    }
}
