//! Join tokens: `BOSUN-1-<hex SHA-256 of the CA certificate DER>-<secret>`, one per role.
//! The digest lets a joining node pin the CA before it trusts anything the manager says.

use std::fmt;
use std::str::FromStr;

use super::{PkiError, secure_random};

/// Characters of a secret: lower-case letters and digits.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Length of a secret (about 129 bits).
const SECRET_LEN: usize = 25;

/// A parsed join token.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinToken {
    /// Hex SHA-256 of the CA certificate's DER.
    pub ca_digest: String,
    /// The role's secret.
    pub secret: String,
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinToken")
            .field("ca_digest", &self.ca_digest)
            .finish_non_exhaustive()
    }
}

/// A fresh random secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_LEN];
    secure_random(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

impl fmt::Display for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BOSUN-1-{}-{}", self.ca_digest, self.secret)
    }
}

impl FromStr for JoinToken {
    type Err = PkiError;

    fn from_str(token: &str) -> Result<Self, PkiError> {
        let bad = |why: &str| PkiError::BadToken(why.to_owned());
        let rest = token
            .trim()
            .strip_prefix("BOSUN-")
            .ok_or_else(|| bad("it does not start with BOSUN-"))?;
        let (version, rest) = rest
            .split_once('-')
            .ok_or_else(|| bad("it has no version"))?;
        if version != "1" {
            return Err(PkiError::BadToken(format!("unknown version {version:?}")));
        }
        let (digest, secret) = rest
            .split_once('-')
            .ok_or_else(|| bad("it has no secret"))?;
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the ca digest is not 64 hex digits"));
        }
        if secret.is_empty() || !secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad("the secret is empty or not alphanumeric"));
        }
        Ok(JoinToken {
            ca_digest: digest.to_ascii_lowercase(),
            secret: secret.to_owned(),
        })
    }
}

impl JoinToken {
    /// Whether `secret` matches this token's secret, compared in constant time.
    pub fn secret_matches(&self, secret: &str) -> bool {
        let (a, b) = (self.secret.as_bytes(), secret.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips() {
        let token = JoinToken {
            ca_digest: "ab".repeat(32),
            secret: new_secret(),
        };
        let text = token.to_string();
        assert!(text.starts_with(&format!("BOSUN-1-{}-", "ab".repeat(32))));
        assert_eq!(text.parse::<JoinToken>().unwrap(), token);
    }

    #[test]
    fn secrets_are_random_and_well_formed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), SECRET_LEN);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)));
    }

    #[test]
    fn malformed_tokens_are_refused_with_a_reason() {
        let digest = "0".repeat(64);
        let table = [
            ("SWMTKN-1-abc-def", "it does not start with BOSUN-"),
            (&*format!("BOSUN-2-{digest}-abc"), "unknown version \"2\""),
            ("BOSUN-1-abcd-secret", "the ca digest is not 64 hex digits"),
            (&*format!("BOSUN-1-{digest}"), "it has no secret"),
            (
                &*format!("BOSUN-1-{digest}-"),
                "the secret is empty or not alphanumeric",
            ),
        ];
        for (token, why) in table {
            let err = token.parse::<JoinToken>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid join token: {why}"),
                "{token}"
            );
        }
    }

    #[test]
    fn secret_comparison() {
        let token = JoinToken {
            ca_digest: "0".repeat(64),
            secret: "abc".into(),
        };
        assert!(token.secret_matches("abc"));
        assert!(!token.secret_matches("abd"));
        assert!(!token.secret_matches("abcd"));
    }
}
