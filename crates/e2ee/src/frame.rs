//! SFrame (RFC 9605) on encoded media frames, keyed from the MLS group.
//!
//! Each epoch exports one base key ("SFrame 1.0 Base Key", RFC 9605 §5.2); every sender's key
//! is derived from it and its key id, which carries the sender's leaf index and the low bits
//! of the epoch ([`sframe::mls::MlsKeyId`]). A receiver derives a sender's key the first time
//! it sees their key id, so an epoch costs one export, not one derivation per member.
//!
//! The bytes an SFU or a decoder needs before decryption stay in the clear and are
//! authenticated with the frame: for VP8 the frame tag (3 bytes; 10 for a keyframe, which adds
//! the start code and the dimensions), for Opus the TOC byte. Nothing else.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sframe::CipherSuite;
use sframe::frame::validation::{ReplayAttackProtectionStore, Tolerance};
use sframe::frame::{EncryptedFrameView, MediaFrameView, MonotonicCounter};
use sframe::key::{DecryptionKey, EncryptionKey};
use sframe::mls::{MlsKeyId, MlsKeyIdBitRange};
use zeroize::Zeroizing;

use crate::error::FrameError;

/// The SFrame suite: AES-128-GCM with SHA-256 and a 16-byte tag, matching the MLS suite.
pub const SUITE: CipherSuite = CipherSuite::AesGcm128Sha256;
/// Epochs whose keys a receiver keeps, so frames sent just before a change still open.
pub const KEPT_EPOCHS: usize = 3;
/// Low bits of the epoch in a key id.
const EPOCH_BITS: u8 = 8;
/// Bits of the sender's leaf index in a key id (groups up to 65,536 leaves).
const INDEX_BITS: u8 = 16;
/// Frames a receiver accepts out of order before calling an old counter a replay.
const REPLAY_TOLERANCE: usize = 512;
/// After a change that only adds members, frames (audio and video together, about 80 a
/// second) still sealed with the previous epoch's key, so members whose commit is still on
/// its way over signaling open them without a glitch. A change that removes someone takes
/// effect at once.
pub const SWITCH_AFTER_FRAMES: u32 = 24;

/// What kind of media a frame carries: it decides how many bytes stay in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// An Opus packet: its TOC byte stays clear.
    Audio,
    /// A VP8 frame: its frame tag stays clear (3 bytes, 10 on a keyframe).
    Video,
}

/// How many leading bytes of `frame` stay in the clear. A frame shorter than that is not a
/// frame of its codec and is neither sealed nor opened.
pub fn clear_prefix(kind: MediaKind, frame: &[u8]) -> usize {
    match kind {
        MediaKind::Audio => 1,
        // VP8 frame tag: bit 0 of the first byte is 0 on a keyframe (RFC 6386 §9.1).
        MediaKind::Video => match frame.first() {
            Some(b) if b & 1 == 0 => 10,
            _ => 3,
        },
    }
}

fn bit_range() -> MlsKeyIdBitRange {
    MlsKeyIdBitRange::new(EPOCH_BITS, INDEX_BITS)
}

fn key_id(epoch: u64, leaf: u32) -> Option<MlsKeyId> {
    MlsKeyId::try_new(0u64, epoch, u64::from(leaf), bit_range()).ok()
}

struct SendKey {
    key: EncryptionKey,
    counter: MonotonicCounter,
}

struct EpochKeys {
    epoch: u64,
    base: Zeroizing<Vec<u8>>,
    /// Leaves in the tree this epoch: a key id naming a higher index is refused before any
    /// derivation (a hostile frame cannot make us derive keys without bound).
    leaves: u32,
    keys: HashMap<u64, DecryptionKey>,
}

struct Receive {
    epochs: VecDeque<EpochKeys>,
    replay: ReplayAttackProtectionStore,
}

/// Encrypts this member's frames and decrypts everyone else's. Shared between the member
/// (which gives it new keys at every epoch) and the media pipeline.
pub struct FrameCipher {
    send: Mutex<Send>,
    receive: Mutex<Receive>,
    /// Counts the changes of keys ([`FrameCipher::generation`]).
    generation: AtomicU64,
}

#[derive(Default)]
struct Send {
    current: Option<SendKey>,
    /// The next epoch's key and how many more frames go out under the current one.
    next: Option<(SendKey, u32)>,
}

impl Default for FrameCipher {
    fn default() -> Self {
        FrameCipher {
            send: Mutex::new(Send::default()),
            receive: Mutex::new(Receive {
                epochs: VecDeque::new(),
                replay: ReplayAttackProtectionStore::new(Tolerance::new(REPLAY_TOLERANCE)),
            }),
            generation: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for FrameCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameCipher")
            .field("epochs", &self.epochs())
            .finish_non_exhaustive()
    }
}

impl FrameCipher {
    /// Install the keys of a new epoch: `base` is the epoch's exported SFrame base key,
    /// `own_leaf` this member's leaf index, `leaves` the size of the tree. Receiving with them
    /// starts at once; sending after `switch_after` more frames (0: at once).
    pub(crate) fn rotate(
        &self,
        epoch: u64,
        base: Zeroizing<Vec<u8>>,
        own_leaf: u32,
        leaves: u32,
        switch_after: u32,
    ) {
        let key = key_id(epoch, own_leaf)
            .and_then(|kid| EncryptionKey::derive_from(SUITE, kid, &base[..]).ok())
            .map(|key| SendKey {
                key,
                counter: MonotonicCounter::default(),
            });
        {
            let mut send = lock(&self.send);
            // A switch still waiting is overtaken: its key is newer than the current one.
            if let Some((k, _)) = send.next.take() {
                send.current = Some(k);
            }
            match key {
                Some(k) if switch_after > 0 && send.current.is_some() => {
                    send.next = Some((k, switch_after));
                }
                k => {
                    send.current = k;
                    send.next = None;
                }
            }
        }
        let mut r = lock(&self.receive);
        r.epochs.retain(|e| e.epoch != epoch);
        r.epochs.push_front(EpochKeys {
            epoch,
            base,
            leaves,
            keys: HashMap::new(),
        });
        r.epochs.truncate(KEPT_EPOCHS);
        let kept: Vec<u64> = r
            .epochs
            .iter()
            .map(|e| e.epoch % (1 << EPOCH_BITS))
            .collect();
        r.replay.retain(|kid| {
            let id = MlsKeyId::from_key_id(kid, bit_range());
            kept.contains(&id.epoch_lsb())
        });
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// A number that changes whenever the keys do (a new epoch, or all forgotten): a receiver
    /// that could not open a sender's frames asks for a keyframe again when it changes, not
    /// over and over with the same keys.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Forget every key (this member left or was removed).
    pub(crate) fn clear(&self) {
        *lock(&self.send) = Send::default();
        let mut r = lock(&self.receive);
        r.epochs.clear();
        r.replay.retain(|_| false);
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The epochs whose keys are held, newest first.
    pub fn epochs(&self) -> Vec<u64> {
        lock(&self.receive).epochs.iter().map(|e| e.epoch).collect()
    }

    /// Whether there is a key to send with.
    pub fn can_send(&self) -> bool {
        lock(&self.send).current.is_some()
    }

    /// Encrypt one encoded frame: the clear prefix, then the SFrame (header, ciphertext, tag).
    pub fn seal(&self, kind: MediaKind, frame: &[u8]) -> Result<Vec<u8>, FrameError> {
        let split = clear_prefix(kind, frame);
        if frame.len() < split {
            return Err(FrameError::Malformed);
        }
        let (meta, payload) = frame.split_at(split);
        let mut guard = lock(&self.send);
        if let Some((_, left)) = guard.next.as_mut() {
            if *left == 0 {
                let (key, _) = guard.next.take().ok_or(FrameError::NoSendKey)?;
                guard.current = Some(key);
            } else {
                *left -= 1;
            }
        }
        let send = guard.current.as_mut().ok_or(FrameError::NoSendKey)?;
        let media = MediaFrameView::try_with_meta_data(&mut send.counter, &payload, &meta)
            // The counter is exhausted after 2^64 frames: rekeying long before is ours.
            .map_err(|_| FrameError::NoSendKey)?;
        let mut out = Vec::with_capacity(frame.len() + 32);
        media
            .encrypt_into(&send.key, &mut out)
            .map_err(|_| FrameError::NoSendKey)?;
        Ok(out)
    }

    /// Decrypt one frame as [`FrameCipher::seal`] made it; the original frame on success.
    pub fn open(&self, kind: MediaKind, data: &[u8]) -> Result<Vec<u8>, FrameError> {
        self.open_from(kind, data).map(|(frame, _)| frame)
    }

    /// [`FrameCipher::open`], also saying whose frame it was: the sender's leaf index in the
    /// group (known only once the frame opened with that sender's key).
    pub fn open_from(&self, kind: MediaKind, data: &[u8]) -> Result<(Vec<u8>, u32), FrameError> {
        let split = clear_prefix(kind, data);
        if data.len() < split {
            return Err(FrameError::Malformed);
        }
        let (meta, rest) = data.split_at(split);
        let view = EncryptedFrameView::try_with_meta_data(&rest, &meta)
            .map_err(|_| FrameError::Malformed)?;
        let kid = view.header().key_id();
        let id = MlsKeyId::from_key_id(kid, bit_range());
        if id.context_id() != 0 {
            return Err(FrameError::UnknownSender);
        }
        let mut guard = lock(&self.receive);
        let Receive { epochs, replay } = &mut *guard;
        let epoch = epochs
            .iter_mut()
            .find(|e| e.epoch % (1 << EPOCH_BITS) == id.epoch_lsb())
            .ok_or(FrameError::NoKey)?;
        if id.member_index() >= u64::from(epoch.leaves) {
            return Err(FrameError::UnknownSender);
        }
        if !epoch.keys.contains_key(&kid) {
            let key = DecryptionKey::derive_from(SUITE, kid, &epoch.base[..])
                .map_err(|_| FrameError::NoKey)?;
            epoch.keys.insert(kid, key);
        }
        let key = epoch.keys.get(&kid).ok_or(FrameError::NoKey)?;
        let mut buffer = Vec::with_capacity(data.len());
        let opened = view
            .validated_decrypt_into(key, &mut buffer, replay)
            .map_err(|e| match e {
                sframe::error::SframeError::FrameValidationFailed(_) => FrameError::Replayed,
                _ => FrameError::Forged,
            })?;
        let mut out = Vec::with_capacity(split + opened.payload().len());
        out.extend_from_slice(meta);
        out.extend_from_slice(opened.payload());
        // Below the group's leaf count, checked above.
        Ok((out, id.member_index() as u32))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
