//! Keys derived from the invite link's `#k=` secret, which the server never sees.

use ring::{hkdf, hmac};
use zeroize::Zeroizing;

/// The link's key, expanded for its two uses: the MLS external PSK (so only someone who saw
/// the link can read the group's epoch secrets) and the MAC key for the proof of the link in
/// each member's credential (so members refuse a joiner who does not hold it before adding
/// them).
pub(crate) struct LinkKeys {
    pub(crate) psk: Zeroizing<[u8; 32]>,
    pub(crate) proof: hmac::Key,
}

impl LinkKeys {
    pub(crate) fn derive(link_key: &[u8]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"parley link v1").extract(link_key);
        let expand = |label: &'static [u8]| {
            let mut out = Zeroizing::new([0u8; 32]);
            let labels = [label];
            // Both calls can only fail for lengths over 255 × 32 bytes; 32 is fixed.
            #[allow(clippy::expect_used)]
            prk.expand(&labels, hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(&mut out[..]))
                .expect("HKDF-SHA256 expands 32 bytes");
            out
        };
        let psk = expand(b"mls external psk");
        let proof_key = expand(b"credential proof");
        LinkKeys {
            psk,
            proof: hmac::Key::new(hmac::HMAC_SHA256, &proof_key[..]),
        }
    }
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKeys([redacted])")
    }
}
