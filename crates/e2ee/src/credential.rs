//! A member's MLS credential: who they are (their Parley identity key, which signs the MLS
//! signature key) and a proof that they hold the invite link (a MAC with a key derived from
//! the link's secret). Members check both before adding anyone.
//!
//! Layout (132 bytes): `"PLY1"`, the 32-byte Ed25519 identity key, its 64-byte signature over
//! [`credential_message`], a 32-byte HMAC-SHA256 over the identity key and the MLS signature
//! key.

use ed25519_dalek::{Signature, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::E2eeError;
use crate::link::LinkKeys;

const MAGIC: &[u8; 4] = b"PLY1";
/// Length of a credential.
pub(crate) const LEN: usize = 4 + 32 + 64 + 32;
/// The context every identity signature in Parley's E2EE starts with. `parley-proto`'s
/// `Identity::sign_e2ee` prepends the same bytes; the two must stay equal.
pub const SIGNATURE_CONTEXT: &[u8] = b"parley e2ee v1\0";
const PROOF_CONTEXT: &[u8] = b"parley link proof v1\0";

/// What the identity key signs (after [`SIGNATURE_CONTEXT`]): the MLS signature key this
/// install uses in this meeting.
pub fn credential_message(mls_signature_key: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(32 + mls_signature_key.len());
    m.extend_from_slice(b"mls credential\0");
    m.extend_from_slice(mls_signature_key);
    m
}

fn proof_input(identity: &[u8; 32], mls_signature_key: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(PROOF_CONTEXT.len() + 32 + mls_signature_key.len());
    m.extend_from_slice(PROOF_CONTEXT);
    m.extend_from_slice(identity);
    m.extend_from_slice(mls_signature_key);
    m
}

/// HMAC-SHA256 over the proof input, keyed with the link's proof key.
fn proof_mac(link: &LinkKeys, identity: &[u8; 32], mls_signature_key: &[u8]) -> Hmac<Sha256> {
    // Invariant: HMAC takes a key of any length.
    #[allow(clippy::expect_used)]
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&link.proof[..]).expect("HMAC takes any key length");
    mac.update(&proof_input(identity, mls_signature_key));
    mac
}

pub(crate) fn build(
    identity: &[u8; 32],
    signature: &[u8; 64],
    link: &LinkKeys,
    mls_signature_key: &[u8],
) -> Vec<u8> {
    let tag = proof_mac(link, identity, mls_signature_key)
        .finalize()
        .into_bytes();
    let mut out = Vec::with_capacity(LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(identity);
    out.extend_from_slice(signature);
    out.extend_from_slice(tag.as_ref());
    out
}

/// Check a credential against the MLS signature key it came with; the identity key on
/// success.
pub(crate) fn verify(
    bytes: &[u8],
    mls_signature_key: &[u8],
    link: &LinkKeys,
) -> Result<[u8; 32], E2eeError> {
    if bytes.len() != LEN || &bytes[..4] != MAGIC {
        return Err(E2eeError::Malformed("credential"));
    }
    let mut identity = [0u8; 32];
    identity.copy_from_slice(&bytes[4..36]);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&bytes[36..100]);
    let key = VerifyingKey::from_bytes(&identity).map_err(|_| E2eeError::BadCredential)?;
    let mut signed = SIGNATURE_CONTEXT.to_vec();
    signed.extend_from_slice(&credential_message(mls_signature_key));
    key.verify_strict(&signed, &Signature::from_bytes(&sig))
        .map_err(|_| E2eeError::BadCredential)?;
    proof_mac(link, &identity, mls_signature_key)
        .verify_slice(&bytes[100..])
        .map_err(|_| E2eeError::WrongLink)?;
    Ok(identity)
}

/// The identity key in a credential, without checking it (for a member already checked).
pub(crate) fn identity_of(bytes: &[u8]) -> Option<[u8; 32]> {
    (bytes.len() == LEN && &bytes[..4] == MAGIC).then(|| {
        let mut id = [0u8; 32];
        id.copy_from_slice(&bytes[4..36]);
        id
    })
}
