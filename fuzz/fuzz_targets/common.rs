//! What the E2EE fuzz targets share: a group member with a fixed identity and link key.

use ed25519_dalek::{Signer, SigningKey};
use parley_e2ee::Member;

/// A member whose identity key comes from `seed`.
pub fn member(seed: u8) -> Member {
    let key = SigningKey::from_bytes(&[seed; 32]);
    Member::new(b"fuzzing link key, thirty-two b!!", key.verifying_key().to_bytes(), |m| {
        key.sign(&[parley_e2ee::credential::SIGNATURE_CONTEXT, m].concat()).to_bytes()
    })
    .expect("member")
}
