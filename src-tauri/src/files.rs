//! Files in a meeting, as the app keeps them: what the window shows of each transfer
//! ([`FileView`]), and the content of received files until the person saves or discards them.
//! Bounded: the views of the last [`MAX_VIEWS`] transfers, at most [`MAX_KEPT`] received files
//! waiting. A received file is written only when the person clicks Save, into their Downloads
//! folder, under its (already safe) name, never over another file; nothing is ever opened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parley_client::files::{FileEvent, SafeName};
use serde::Serialize;

/// Transfers the window is shown (older ones are forgotten).
pub const MAX_VIEWS: usize = 32;
/// Received files waiting to be saved or discarded.
pub const MAX_KEPT: usize = 8;

/// Where a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Coming to us.
    Coming,
    /// Arrived whole and checked; may be saved.
    Received,
    /// Saved (see `saved_as`).
    Saved,
    /// Let go unsaved.
    Discarded,
    /// Ours, on its way.
    Sending,
    /// Ours, sent whole.
    Sent,
    /// Stopped (see `reason`).
    Failed,
}

/// One transfer as the window shows it. The name is safe to show as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct FileView {
    /// Its number in the meeting.
    pub transfer: u32,
    /// Who sends it (for ours: us).
    pub from: u32,
    /// It is ours.
    pub outgoing: bool,
    /// Its name.
    pub name: String,
    /// Its kind runs programs when opened.
    pub risky: bool,
    /// Its size in bytes (files are at most 256 MiB).
    pub size: u32,
    /// Bytes gone or come so far.
    pub done: u32,
    /// Where it is.
    pub state: FileState,
    /// Why it stopped.
    pub reason: Option<String>,
    /// Where it was saved.
    pub saved_as: Option<String>,
}

/// The transfers of a meeting and the received files waiting.
#[derive(Debug, Default)]
pub struct FileStore {
    views: BTreeMap<u32, FileView>,
    kept: BTreeMap<u32, (SafeName, Vec<u8>)>,
}

impl FileStore {
    /// Every transfer, oldest first.
    pub fn views(&self) -> Vec<FileView> {
        self.views.values().cloned().collect()
    }

    /// Take an engine event; the views that changed (a received file may push out the oldest
    /// one waiting, which is then discarded).
    pub fn event(&mut self, me: u32, e: FileEvent) -> Vec<FileView> {
        let mut pushed_out = None;
        let view = match e {
            FileEvent::Offered {
                transfer,
                from,
                name,
                size,
            } => self.insert(FileView {
                transfer: transfer.0,
                from: from.0,
                outgoing: false,
                name: name.name,
                risky: name.risky,
                size: bytes(size),
                done: 0,
                state: FileState::Coming,
                reason: None,
                saved_as: None,
            }),
            FileEvent::Sending {
                transfer,
                name,
                size,
            } => self.insert(FileView {
                transfer: transfer.0,
                from: me,
                outgoing: true,
                name,
                risky: false,
                size: bytes(size),
                done: 0,
                state: FileState::Sending,
                reason: None,
                saved_as: None,
            }),
            FileEvent::Progress { transfer, done, .. } => {
                let Some(v) = self.views.get_mut(&transfer.0) else {
                    return Vec::new();
                };
                v.done = bytes(done);
                v
            }
            FileEvent::Received {
                transfer,
                name,
                data,
                ..
            } => {
                if self.kept.len() >= MAX_KEPT
                    && let Some((old, _)) = self.kept.pop_first()
                    && let Some(v) = self.views.get_mut(&old)
                {
                    v.state = FileState::Discarded;
                    pushed_out = Some(v.clone());
                }
                self.kept.insert(transfer.0, (name, data));
                let Some(v) = self.views.get_mut(&transfer.0) else {
                    return pushed_out.into_iter().collect();
                };
                v.done = v.size;
                v.state = FileState::Received;
                v
            }
            FileEvent::Sent { transfer } => {
                let Some(v) = self.views.get_mut(&transfer.0) else {
                    return Vec::new();
                };
                v.done = v.size;
                v.state = FileState::Sent;
                v
            }
            FileEvent::Failed { transfer, reason } => {
                self.kept.remove(&transfer.0);
                let Some(v) = self.views.get_mut(&transfer.0) else {
                    return Vec::new();
                };
                v.state = FileState::Failed;
                v.reason = Some(reason);
                v
            }
        };
        let view = view.clone();
        pushed_out.into_iter().chain([view]).collect()
    }

    fn insert(&mut self, v: FileView) -> &mut FileView {
        if self.views.len() >= MAX_VIEWS {
            // The oldest that is not waiting to be saved goes.
            let old = self
                .views
                .keys()
                .find(|k| !self.kept.contains_key(k))
                .copied();
            if let Some(old) = old {
                self.views.remove(&old);
            }
        }
        let key = v.transfer;
        self.views.insert(key, v);
        self.views.get_mut(&key).expect("just inserted")
    }

    /// Save received file `transfer` in `dir` under its name (with " (2)", " (3)" … before
    /// its ending if that name is taken): never over another file. The view, now saved.
    pub fn save(&mut self, transfer: u32, dir: &Path) -> Result<FileView, String> {
        let (name, data) = self
            .kept
            .get(&transfer)
            .ok_or("That file is no longer waiting to be saved.")?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("The folder {} cannot be made ({e}).", dir.display()))?;
        let path = write_new(dir, &name.name, data)?;
        self.kept.remove(&transfer);
        let v = self
            .views
            .get_mut(&transfer)
            .ok_or("That file is no longer listed.")?;
        v.state = FileState::Saved;
        v.saved_as = Some(path.display().to_string());
        Ok(v.clone())
    }

    /// Let a received file go unsaved.
    pub fn discard(&mut self, transfer: u32) -> Option<FileView> {
        self.kept.remove(&transfer)?;
        let v = self.views.get_mut(&transfer)?;
        v.state = FileState::Discarded;
        Some(v.clone())
    }
}

fn bytes(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Write `data` as a new file named `name` in `dir`, or `name (2)` … if taken.
fn write_new(dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf, String> {
    use std::io::Write;
    let (stem, ending) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    for n in 1..=100 {
        let candidate = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ending}"))
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(mut f) => {
                return f
                    .write_all(data)
                    .and_then(|()| f.sync_all())
                    .map(|()| candidate.clone())
                    .map_err(|e| format!("The file could not be written ({e})."));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(format!(
                    "The file could not be saved in {} ({e}).",
                    dir.display()
                ));
            }
        }
    }
    Err(format!(
        "Too many files named {name} in {} already.",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_client::files::safe_file_name;
    use parley_proto::{ParticipantId, TransferId};

    fn offered(store: &mut FileStore, t: u32, name: &str) {
        store.event(
            1,
            FileEvent::Offered {
                transfer: TransferId(t),
                from: ParticipantId(2),
                name: safe_file_name(name),
                size: 3,
            },
        );
    }

    fn received(store: &mut FileStore, t: u32, name: &str) -> Vec<FileView> {
        store.event(
            1,
            FileEvent::Received {
                transfer: TransferId(t),
                from: ParticipantId(2),
                name: safe_file_name(name),
                data: b"abc".to_vec(),
            },
        )
    }

    #[test]
    fn a_received_file_is_saved_once_under_a_free_name_and_never_over_another() {
        let dir = std::env::temp_dir().join(format!("parley-app-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = FileStore::default();
        offered(&mut s, 1, "notes.txt");
        assert_eq!(s.views()[0].state, FileState::Coming);
        assert!(s.save(1, &dir).is_err(), "not before it has arrived");
        assert_eq!(
            received(&mut s, 1, "notes.txt")
                .iter()
                .map(|v| v.state)
                .collect::<Vec<_>>(),
            [FileState::Received]
        );
        let v = s.save(1, &dir).unwrap();
        assert_eq!(v.state, FileState::Saved);
        assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"abc");
        assert!(s.save(1, &dir).is_err(), "saved once");

        offered(&mut s, 2, "notes.txt");
        received(&mut s, 2, "notes.txt");
        let v = s.save(2, &dir).unwrap();
        assert!(v.saved_as.unwrap().ends_with("notes (2).txt"));
        assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"abc");

        offered(&mut s, 3, "x.bin");
        received(&mut s, 3, "x.bin");
        assert_eq!(s.discard(3).map(|v| v.state), Some(FileState::Discarded));
        assert!(s.save(3, &dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn waiting_files_and_views_are_bounded() {
        let mut s = FileStore::default();
        for t in 0..MAX_KEPT as u32 {
            offered(&mut s, t, "f");
            received(&mut s, t, "f");
        }
        offered(&mut s, 99, "f");
        let changed = received(&mut s, 99, "f");
        assert_eq!(
            changed
                .iter()
                .map(|v| (v.transfer, v.state))
                .collect::<Vec<_>>(),
            [(0, FileState::Discarded), (99, FileState::Received)],
            "the window is told of the one pushed out"
        );
        assert_eq!(s.kept.len(), MAX_KEPT);
        assert_eq!(
            s.views()[0].state,
            FileState::Discarded,
            "the oldest let go"
        );
        for t in 100..(100 + MAX_VIEWS as u32 * 2) {
            offered(&mut s, t, "g");
        }
        assert!(s.views().len() <= MAX_VIEWS + MAX_KEPT);
    }
}
