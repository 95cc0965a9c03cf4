//! Display names and meeting titles: Unicode-normalised (NFC), trimmed, bounded, and free of
//! control and direction-changing characters that could disguise who someone is.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

/// Most characters in a display name.
pub const MAX_NAME_CHARS: usize = 64;
/// Most characters in a meeting title.
pub const MAX_TITLE_CHARS: usize = 120;

/// Why a name or title was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty after trimming.
    #[error("The name is empty. Type a name others will see.")]
    Empty,
    /// Too many characters.
    #[error("The name is too long: at most {max} characters.")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Control, zero-width or direction-changing characters.
    #[error(
        "The name contains invisible or control characters. Use letters, digits, spaces and punctuation."
    )]
    ForbiddenCharacter,
}

fn clean(input: &str, max: usize) -> Result<String, NameError> {
    // Bound the work before normalising: NFC never shrinks text by more than a few times.
    if input.len() > max * 16 {
        return Err(NameError::TooLong { max });
    }
    let normalised: String = input.nfc().collect();
    let trimmed = normalised.trim();
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.chars().any(forbidden) {
        return Err(NameError::ForbiddenCharacter);
    }
    // Collapse runs of spaces so two names cannot differ only by spacing.
    let mut out = String::with_capacity(trimmed.len());
    let mut last_space = false;
    for c in trimmed.chars() {
        let space = c.is_whitespace();
        if space && last_space {
            continue;
        }
        out.push(if space { ' ' } else { c });
        last_space = space;
    }
    if out.chars().count() > max {
        return Err(NameError::TooLong { max });
    }
    Ok(out)
}

fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' // soft hyphen
            | '\u{061C}' // Arabic letter mark
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}' // tag characters
        )
        || (c.is_whitespace() && c != ' ' && c != '\u{3000}' && c != '\u{00A0}')
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validate and normalise.
            pub fn new(input: &str) -> Result<Self, NameError> {
                clean(input, $max).map(Self)
            }

            /// The normalised text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::new(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_type!(
    /// A participant's display name as others see it. `Debug` hides it (personal data).
    DisplayName,
    MAX_NAME_CHARS
);
text_type!(
    /// A meeting's title, the only way the UI names a meeting. `Debug` hides it.
    Title,
    MAX_TITLE_CHARS
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalises_to_nfc_and_trims() {
        let decomposed = "  Jose\u{0301}   Garci\u{0301}a ";
        let n = DisplayName::new(decomposed).unwrap();
        assert_eq!(n.as_str(), "Jos\u{00E9} Garc\u{00ED}a");
        assert_eq!(n, DisplayName::new("José García").unwrap());
    }

    #[test]
    fn refuses_control_and_invisible_characters() {
        for bad in [
            "Eve\u{0000}",
            "Eve\nHost",
            "\u{202E}tsoH",
            "Ev\u{200B}e",
            "Eve\u{E0041}",
            "Eve\tX",
        ] {
            assert_eq!(
                DisplayName::new(bad),
                Err(NameError::ForbiddenCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn length_limits() {
        assert_eq!(DisplayName::new(""), Err(NameError::Empty));
        assert_eq!(DisplayName::new("   "), Err(NameError::Empty));
        assert!(DisplayName::new(&"é".repeat(64)).is_ok());
        assert_eq!(
            DisplayName::new(&"é".repeat(65)),
            Err(NameError::TooLong { max: 64 })
        );
        assert_eq!(
            DisplayName::new(&"a".repeat(100_000)),
            Err(NameError::TooLong { max: 64 })
        );
        assert!(Title::new(&"t".repeat(120)).is_ok());
    }

    #[test]
    fn debug_hides_the_name() {
        let n = DisplayName::new("Alice").unwrap();
        assert!(!format!("{n:?}").contains("Alice"));
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<DisplayName>("\"ok name\"").is_ok());
        assert!(serde_json::from_str::<DisplayName>("\"bad\\u0007\"").is_err());
    }

    proptest! {
        #[test]
        fn accepted_names_are_stable_under_revalidation(s in "\\PC{0,80}") {
            if let Ok(n) = DisplayName::new(&s) {
                prop_assert_eq!(DisplayName::new(n.as_str()).unwrap(), n.clone());
                prop_assert!(n.as_str().chars().count() <= MAX_NAME_CHARS);
                prop_assert!(!n.as_str().chars().any(forbidden));
            }
        }
    }
}
