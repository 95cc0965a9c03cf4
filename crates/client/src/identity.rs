//! This install's identity key: created once, kept in the user's config directory with
//! owner-only permissions, never sent anywhere (only its public half is).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parley_proto::Identity;
use zeroize::Zeroizing;

use crate::error::ClientError;

/// `<config dir>/parley/identity.key`, e.g. `~/.config/parley/identity.key` on Linux.
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("parley").join("identity.key"))
}

/// Load the identity at `path`, creating it (and its directory, owner-only) if missing.
pub fn load_or_create(path: &Path) -> Result<Identity, ClientError> {
    let err = |detail: String| ClientError::Identity {
        path: path.display().to_string(),
        detail,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            let mut seed = Zeroizing::new([0u8; 32]);
            match URL_SAFE_NO_PAD.decode_slice(text.trim().as_bytes(), seed.as_mut()) {
                Ok(32) => Ok(Identity::from_seed(&seed)),
                _ => Err(err(
                    "the file is damaged; delete it to create a new identity".into(),
                )),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = Identity::generate();
            if let Some(dir) = path.parent() {
                create_private_dir(dir).map_err(|e| err(e.to_string()))?;
            }
            let text = Zeroizing::new(URL_SAFE_NO_PAD.encode(*id.seed()));
            write_private(path, text.as_bytes()).map_err(|e| err(e.to_string()))?;
            Ok(id)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Write a file only its owner can read.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reloaded_with_owner_only_permissions() {
        let dir = std::env::temp_dir().join(format!("parley-id-{}", std::process::id()));
        let path = dir.join("sub").join("identity.key");
        let a = load_or_create(&path).unwrap();
        let b = load_or_create(&path).unwrap();
        assert_eq!(a.public(), b.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "identity file readable by others: {mode:o}"
            );
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(ClientError::Identity { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
