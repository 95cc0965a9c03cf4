//! The security code: 20 digits in four groups, the same on every honest participant's screen
//! for one state of the group, different when anyone's view of the group differs.

use std::fmt;

/// A short code derived from the MLS epoch authenticator. Participants compare it aloud.
#[derive(Clone, PartialEq, Eq)]
pub struct SecurityCode {
    digits: [u8; 20],
    epoch: u64,
}

impl SecurityCode {
    pub(crate) fn from_authenticator(epoch: u64, authenticator: &[u8]) -> Self {
        // Domain-separate from MLS's own use of the authenticator.
        use sha2::Digest as _;
        let h =
            sha2::Sha256::digest([b"parley security code v1\0".as_slice(), authenticator].concat());
        let mut n = 0u128;
        for b in &h[..16] {
            n = (n << 8) | u128::from(*b);
        }
        // 10^20 < 2^67: the remainder's bias is below 2^-60.
        let mut n = n % 10u128.pow(20);
        let mut digits = [0u8; 20];
        for d in digits.iter_mut().rev() {
            *d = (n % 10) as u8;
            n /= 10;
        }
        SecurityCode { digits, epoch }
    }

    /// The MLS epoch the code belongs to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The four groups of five digits.
    pub fn groups(&self) -> [String; 4] {
        std::array::from_fn(|g| {
            self.digits[g * 5..g * 5 + 5]
                .iter()
                .map(|d| char::from(b'0' + d))
                .collect()
        })
    }
}

impl fmt::Display for SecurityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.groups().join(" "))
    }
}

impl fmt::Debug for SecurityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecurityCode({self}, epoch {})", self.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every client (the app, parley-cli, the browser guest built for wasm with other crypto
    /// code) must show the same code: a known answer, computed apart (Python's hashlib).
    #[test]
    fn the_code_is_the_known_answer() {
        let authenticator: Vec<u8> = (0u8..32).collect();
        let code = SecurityCode::from_authenticator(4, &authenticator);
        assert_eq!(code.to_string(), "15719 86168 61659 03337");
        assert_eq!(code.epoch(), 4);
    }
}
