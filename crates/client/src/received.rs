//! Files that arrived and wait for the person to save or discard them: at most
//! [`MAX_KEPT`] (the oldest is let go beyond). Saving never writes over an existing file and
//! never opens anything.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use parley_client::files::SafeName;
use parley_proto::TransferId;

/// Received files kept at once.
pub const MAX_KEPT: usize = 8;

/// The received files not yet saved or discarded.
#[derive(Debug, Default)]
pub struct Received {
    files: BTreeMap<TransferId, (SafeName, Vec<u8>)>,
}

impl Received {
    /// Keep a file; the name of one let go to make room, if any.
    pub fn keep(&mut self, transfer: TransferId, name: SafeName, data: Vec<u8>) -> Option<String> {
        let dropped = if self.files.len() >= MAX_KEPT {
            self.files.pop_first().map(|(_, (n, _))| n.name)
        } else {
            None
        };
        self.files.insert(transfer, (name, data));
        dropped
    }

    /// Save file `transfer` at `path` (a folder: under its own name there), never over an
    /// existing file; where it went. It is forgotten once saved.
    pub fn save(&mut self, transfer: TransferId, path: &Path) -> Result<PathBuf, String> {
        let (name, data) = self
            .files
            .get(&transfer)
            .ok_or_else(|| format!("no received file #{transfer} is waiting"))?;
        let target = if path.is_dir() {
            path.join(&name.name)
        } else {
            path.to_path_buf()
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => format!(
                    "{} exists already; choose another name (nothing is written over)",
                    target.display()
                ),
                _ => format!("cannot write {}: {e}", target.display()),
            })?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        self.files.remove(&transfer);
        Ok(target)
    }

    /// Forget a file; whether it was there.
    pub fn discard(&mut self, transfer: TransferId) -> bool {
        self.files.remove(&transfer).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_client::files::safe_file_name;

    #[test]
    fn a_file_is_saved_once_never_over_another_and_at_most_eight_are_kept() {
        let dir = std::env::temp_dir().join(format!("parley-received-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Received::default();
        r.keep(
            TransferId(1),
            safe_file_name("notes.txt"),
            b"hello".to_vec(),
        );
        let saved = r.save(TransferId(1), &dir).unwrap();
        assert_eq!(saved, dir.join("notes.txt"));
        assert_eq!(std::fs::read(&saved).unwrap(), b"hello");
        assert!(
            r.save(TransferId(1), &dir).is_err(),
            "saved files are forgotten"
        );

        r.keep(
            TransferId(2),
            safe_file_name("notes.txt"),
            b"other".to_vec(),
        );
        let e = r.save(TransferId(2), &dir).unwrap_err();
        assert!(e.contains("exists already"), "{e}");
        assert_eq!(std::fs::read(&saved).unwrap(), b"hello", "not written over");
        assert!(r.save(TransferId(2), &dir.join("notes-2.txt")).is_ok());

        for i in 10..10 + MAX_KEPT as u32 {
            assert_eq!(r.keep(TransferId(i), safe_file_name("x"), vec![]), None);
        }
        assert_eq!(
            r.keep(TransferId(99), safe_file_name("y"), vec![])
                .as_deref(),
            Some("x")
        );
        assert!(r.discard(TransferId(99)));
        assert!(!r.discard(TransferId(99)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
