//! Participant identity keys (Ed25519) and the signed join.
//!
//! Each install has one identity key pair. A join carries the public key and a signature over
//! the server's per-connection challenge, the room token and the display name, so a join cannot
//! be forged for someone else's key nor replayed on another connection. A removed participant's
//! key is banned for the meeting.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::name::DisplayName;
use crate::secret::{Challenge, RoomToken, os_random};

/// Domain separation for join signatures.
const JOIN_CONTEXT: &[u8] = b"parley/join/v1\0";

/// A participant's public identity key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityKey([u8; 32]);

impl IdentityKey {
    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short, non-reversible label for this key, for a person to compare (not a secret).
    pub fn fingerprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0[..6])
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A stable identifier of a person across meetings is personal data.
        f.write_str("IdentityKey([redacted])")
    }
}

impl Serialize for IdentityKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl<'de> Deserialize<'de> for IdentityKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut out) {
            Ok(32) if text.len() == 43 => {}
            _ => return Err(serde::de::Error::custom("identity key must be 32 bytes")),
        }
        // Refuse encodings that are not valid curve points now, not at verification time.
        VerifyingKey::from_bytes(&out)
            .map_err(|_| serde::de::Error::custom("identity key is not a valid Ed25519 key"))?;
        Ok(IdentityKey(out))
    }
}

/// An Ed25519 join signature (64 bytes, base64url on the wire).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct JoinSignature([u8; 64]);

impl fmt::Debug for JoinSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinSignature(..)")
    }
}

impl Serialize for JoinSignature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl<'de> Deserialize<'de> for JoinSignature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut out = [0u8; 64];
        match URL_SAFE_NO_PAD.decode_slice(text.as_bytes(), &mut out) {
            Ok(64) if text.len() == 86 => Ok(JoinSignature(out)),
            _ => Err(serde::de::Error::custom("signature must be 64 bytes")),
        }
    }
}

/// The private half of an identity: kept in the user's config directory, never sent anywhere.
pub struct Identity {
    key: SigningKey,
}

impl Identity {
    /// A new identity from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        os_random(&mut seed);
        let id = Self::from_seed(&seed);
        zeroize::Zeroize::zeroize(&mut seed);
        id
    }

    /// Restore from the 32-byte seed stored on disk.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Identity {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte seed, for storing on disk.
    pub fn seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.key.to_bytes())
    }

    /// The public key others see.
    pub fn public(&self) -> IdentityKey {
        IdentityKey(self.key.verifying_key().to_bytes())
    }

    /// Sign a join to `room` on the connection that issued `challenge`.
    pub fn sign_join(
        &self,
        challenge: &Challenge,
        room: &RoomToken,
        name: &DisplayName,
    ) -> JoinSignature {
        let msg = join_message(challenge, room, &self.public(), name);
        JoinSignature(self.key.sign(&msg).to_bytes())
    }

    /// Sign for end-to-end encryption (parley-e2ee's credential): the signature covers
    /// [`E2EE_CONTEXT`] followed by `msg`, so it can never be mistaken for a join signature.
    pub fn sign_e2ee(&self, msg: &[u8]) -> [u8; 64] {
        let mut m = Vec::with_capacity(E2EE_CONTEXT.len() + msg.len());
        m.extend_from_slice(E2EE_CONTEXT);
        m.extend_from_slice(msg);
        self.key.sign(&m).to_bytes()
    }
}

/// What every E2EE signature by an identity key starts with; parley-e2ee's
/// `credential::SIGNATURE_CONTEXT` is the same (a test in parley-client checks).
pub const E2EE_CONTEXT: &[u8] = b"parley e2ee v1\0";

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Identity([redacted])")
    }
}

fn join_message(
    challenge: &Challenge,
    room: &RoomToken,
    key: &IdentityKey,
    name: &DisplayName,
) -> Vec<u8> {
    let name = name.as_str().as_bytes();
    let mut msg = Vec::with_capacity(JOIN_CONTEXT.len() + 32 + 16 + 32 + 2 + name.len());
    msg.extend_from_slice(JOIN_CONTEXT);
    msg.extend_from_slice(challenge.as_bytes());
    msg.extend_from_slice(room.as_bytes());
    msg.extend_from_slice(key.as_bytes());
    // Names are at most 64 characters, so at most 256 bytes: the length fits in u16.
    msg.extend_from_slice(&(name.len() as u16).to_be_bytes());
    msg.extend_from_slice(name);
    msg
}

/// Check a join signature. Strict verification: no malleable signatures, no small-order keys.
pub fn verify_join(
    challenge: &Challenge,
    room: &RoomToken,
    key: &IdentityKey,
    name: &DisplayName,
    signature: &JoinSignature,
) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(key.as_bytes()) else {
        return false;
    };
    if vk.is_weak() {
        return false;
    }
    let sig = ed25519_dalek::Signature::from_bytes(&signature.0);
    let msg = join_message(challenge, room, key, name);
    vk.verify_strict(&msg, &sig).is_ok() && vk.verify(&msg, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_join_verifies_only_for_its_context() {
        let me = Identity::generate();
        let ch = Challenge::random();
        let room = RoomToken::random();
        let name = DisplayName::new("Ada").unwrap();
        let sig = me.sign_join(&ch, &room, &name);
        assert!(verify_join(&ch, &room, &me.public(), &name, &sig));
        // Replayed on another connection (another challenge): refused.
        assert!(!verify_join(
            &Challenge::random(),
            &room,
            &me.public(),
            &name,
            &sig
        ));
        // Another room, another name, another key: refused.
        assert!(!verify_join(
            &ch,
            &RoomToken::random(),
            &me.public(),
            &name,
            &sig
        ));
        let other = DisplayName::new("Eve").unwrap();
        assert!(!verify_join(&ch, &room, &me.public(), &other, &sig));
        let eve = Identity::generate();
        assert!(!verify_join(&ch, &room, &eve.public(), &name, &sig));
    }

    #[test]
    fn seed_round_trips() {
        let me = Identity::generate();
        let again = Identity::from_seed(&me.seed());
        assert_eq!(me.public(), again.public());
        assert_eq!(format!("{me:?}"), "Identity([redacted])");
    }

    #[test]
    fn wire_forms_are_checked() {
        let me = Identity::generate();
        let json = serde_json::to_string(&me.public()).unwrap();
        assert_eq!(
            serde_json::from_str::<IdentityKey>(&json).unwrap(),
            me.public()
        );
        assert!(serde_json::from_str::<IdentityKey>("\"AAAA\"").is_err());
        assert!(serde_json::from_str::<JoinSignature>("\"AAAA\"").is_err());
    }
}
