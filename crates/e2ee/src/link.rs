//! Keys derived from the invite link's `#k=` secret, which the server never sees.

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The link's key, expanded for its two uses: the MLS external PSK (so only someone who saw
/// the link can read the group's epoch secrets) and the MAC key for the proof of the link in
/// each member's credential (so members refuse a joiner who does not hold it before adding
/// them).
pub(crate) struct LinkKeys {
    pub(crate) psk: Zeroizing<[u8; 32]>,
    /// The HMAC-SHA256 key of the proof.
    pub(crate) proof: Zeroizing<[u8; 32]>,
}

impl LinkKeys {
    pub(crate) fn derive(link_key: &[u8]) -> Self {
        let prk = Hkdf::<Sha256>::new(Some(b"parley link v1"), link_key);
        let expand = |label: &'static [u8]| {
            let mut out = Zeroizing::new([0u8; 32]);
            // Fails only for lengths over 255 × 32 bytes; 32 is fixed.
            #[allow(clippy::expect_used)]
            prk.expand(label, &mut out[..])
                .expect("HKDF-SHA256 expands 32 bytes");
            out
        };
        LinkKeys {
            psk: expand(b"mls external psk"),
            proof: expand(b"credential proof"),
        }
    }
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKeys([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HKDF-SHA256 as RFC 5869 has it, whatever library computes it: a known answer,
    /// computed apart (Python's hmac and hashlib).
    #[test]
    fn the_proof_key_is_the_known_answer() {
        let keys = LinkKeys::derive(&[7u8; 32]);
        let hex: String = keys.proof.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "15954ef75b5f965998e8ba19950f32909da57db24515945987bb0390920d165c"
        );
        assert_ne!(keys.psk[..], keys.proof[..]);
    }
}
