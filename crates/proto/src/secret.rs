//! Random tokens and secrets: room tokens, host secrets, meeting keys, and the `Redacted` wrapper
//! that keeps personal data and secrets out of logs.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Fill `buf` from the operating system's CSPRNG.
///
/// # Panics
/// Panics if the OS has no working random source: nothing secure can be done then, and every
/// platform Parley supports has one.
pub fn os_random(buf: &mut [u8]) {
    // Invariant: getrandom only fails on platforms without an entropy source.
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// Why a base64url-encoded token or secret was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The text has the wrong number of characters.
    #[error("expected {expected} characters, found {found}")]
    Length {
        /// How many characters the encoding has.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// The text holds a character outside the URL-safe base64 alphabet (A–Z a–z 0–9 - _).
    #[error("contains a character that is not URL-safe base64")]
    Alphabet,
}

fn decode_fixed<const N: usize>(text: &str) -> Result<[u8; N], TokenError> {
    let expected = base64_len(N);
    if text.len() != expected {
        return Err(TokenError::Length {
            expected,
            found: text.chars().count(),
        });
    }
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(TokenError::Alphabet);
    }
    let mut out = [0u8; N];
    // The decoder also refuses non-canonical trailing bits, so every token has exactly one text.
    match URL_SAFE_NO_PAD.decode_slice(text, &mut out) {
        Ok(n) if n == N => Ok(out),
        _ => Err(TokenError::Alphabet),
    }
}

const fn base64_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(6)
}

macro_rules! fixed_token {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Length of the value in bytes.
            pub const BYTES: usize = $len;
            /// Length of its URL-safe base64 text.
            pub const TEXT_LEN: usize = base64_len($len);

            /// A fresh value from the operating system's CSPRNG.
            pub fn random() -> Self {
                let mut bytes = [0u8; $len];
                os_random(&mut bytes);
                Self(bytes)
            }

            /// Wrap raw bytes (tests and decoders).
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Parse the URL-safe base64 text form.
            pub fn parse(text: &str) -> Result<Self, TokenError> {
                decode_fixed::<$len>(text).map(Self)
            }

            /// The URL-safe base64 text form. Callers decide where it may appear: never in a log.
            pub fn to_text(&self) -> String {
                URL_SAFE_NO_PAD.encode(self.0)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.ct_eq(&other.0).into()
            }
        }
        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_text())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

fixed_token!(
    /// The unguessable identifier of a meeting: 128 bits from the OS CSPRNG, 22 URL-safe
    /// characters. It is the meeting's address, so no UI shows it on its own and no log holds it.
    RoomToken, 16
);
fixed_token!(
    /// The secret that makes its holder the host of a meeting (and lets a host who dropped
    /// reclaim it). Returned once, at creation; never part of an invite link.
    HostSecret, 32
);
fixed_token!(
    /// The meeting key carried in the invite link's `#k=` fragment. It never leaves the device
    /// that holds the link: the server never sees it.
    MeetingKey, 32
);
fixed_token!(
    /// The SHA-256 fingerprint of a server's TLS certificate, carried in the invite link's
    /// `&c=` fragment for a meeting hosted on someone's own computer, whose certificate no
    /// authority signed. A client holding it accepts that certificate and no other. Not a
    /// secret, but it travels with the link and, like it, is never logged.
    CertPin, 32
);
fixed_token!(
    /// A fresh per-connection challenge that a join signature must cover, so a captured join
    /// cannot be replayed on another connection.
    Challenge, 32
);

/// A value that is personal data or a secret: its `Debug` and `Display` print `[redacted]`.
///
/// Wrap names, addresses and tokens in it before they can reach a log line.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Redacted<T>(pub T);

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_token_is_128_bits_in_22_url_safe_characters() {
        let t = RoomToken::random();
        let text = t.to_text();
        assert_eq!(text.len(), 22);
        assert_eq!(RoomToken::TEXT_LEN, 22);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(RoomToken::parse(&text).unwrap(), t);
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(RoomToken::random(), RoomToken::random());
        assert_ne!(MeetingKey::random(), MeetingKey::random());
    }

    #[test]
    fn debug_never_shows_secret_material() {
        let k = MeetingKey::from_bytes([7; 32]);
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&k.to_text()), "{dbg}");
        assert_eq!(dbg, "MeetingKey([redacted])");
        assert_eq!(format!("{:?}", Redacted("Alice")), "[redacted]");
        assert_eq!(format!("{}", Redacted("Alice")), "[redacted]");
    }

    #[test]
    fn parse_refuses_wrong_length_and_alphabet() {
        assert_eq!(
            RoomToken::parse("abc"),
            Err(TokenError::Length {
                expected: 22,
                found: 3
            })
        );
        assert_eq!(
            RoomToken::parse("AAAAAAAAAAAAAAAAAAAAA+"),
            Err(TokenError::Alphabet)
        );
        // Non-canonical: the last character carries bits beyond the 128.
        assert_eq!(
            RoomToken::parse("AAAAAAAAAAAAAAAAAAAAAB"),
            Err(TokenError::Alphabet)
        );
    }

    #[test]
    fn serde_uses_text_form() {
        let t = RoomToken::from_bytes([1; 16]);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, format!("\"{}\"", t.to_text()));
        let back: RoomToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<RoomToken>("\"short\"").is_err());
    }
}
