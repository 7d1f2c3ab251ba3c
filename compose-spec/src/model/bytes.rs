//! Byte sizes in Docker's units (`512m`, `1g`, `1gb`, `2k`), written back as integers.

use std::fmt;

use serde::{Deserializer, Serialize, Serializer};

use crate::model::scalar::{self, Scalar};

/// A number of bytes, read as an integer or as a number with a binary unit: `b`, `k`, `m`, `g`,
/// `t`, `p` (powers of 1024), optionally followed by `b` or `ib`, in any case (`512m`, `1GiB`,
/// `1.5g`). Negative integers are kept: `-1` means unlimited for `memswap_limit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteSize(pub i64);

impl ByteSize {
    /// The number of bytes.
    pub fn bytes(self) -> i64 {
        self.0
    }

    /// Parses an integer or a number with a unit.
    pub fn parse(text: &str) -> Result<Self, String> {
        let error = || {
            format!(
                "invalid size {text:?}: expected a number of bytes or a number with a unit such as 512m, 1g, 100k"
            )
        };
        let trimmed = text.trim();
        if let Ok(n) = trimmed.parse::<i64>() {
            return Ok(Self(n));
        }
        ram_in_bytes(trimmed).map(Self).map_err(|_| error())
    }
}

/// Why [`ram_in_bytes`] refused a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeError {
    /// Not a number with an optional unit.
    Invalid,
    /// More bytes than a signed 64-bit count holds.
    TooLarge,
}

/// Parses a size as Docker does (go-units `RAMInBytes`): digits with an optional fraction, an
/// optional space, then an optional `k`, `m`, `g`, `t` or `p` (powers of 1024) followed by an
/// optional `i` and `b`, in any case (`512m`, `1GiB`, `1.5g`, `10 m`). No sign, no surrounding
/// space.
pub fn ram_in_bytes(text: &str) -> Result<i64, SizeError> {
    let number_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return Err(SizeError::Invalid);
    }
    let number: f64 = number.parse().map_err(|_| SizeError::Invalid)?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(SizeError::Invalid),
    };
    let bytes = number * 1024f64.powi(power);
    if bytes >= i64::MAX as f64 {
        return Err(SizeError::TooLarge);
    }
    Ok(bytes as i64)
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl Scalar for ByteSize {
    const EXPECTING: &'static str = "a size such as 512m or a number of bytes";

    fn from_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }

    fn from_bool(value: bool) -> Result<Self, String> {
        Err(format!(
            "invalid size {value}: expected a number of bytes or a number with a unit"
        ))
    }

    fn from_i64(value: i64) -> Result<Self, String> {
        Ok(Self(value))
    }

    fn from_f64(value: f64) -> Result<Self, String> {
        if value.is_finite() && value.abs() < i64::MAX as f64 {
            Ok(Self(value as i64))
        } else {
            Err(format!("invalid size {value}: too large"))
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

/// Writes an optional size as a string of bytes (`"536870912"`), for the keys the compose schema
/// types as strings only (`deploy.resources.*.memory`). A `serialize_with` function.
pub(super) fn serialize_opt_as_string<S: Serializer>(
    size: &Option<ByteSize>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match size {
        Some(size) => s.serialize_str(&size.0.to_string()),
        None => s.serialize_none(),
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar::scalar(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: i64 = 1024;

    #[test]
    fn parses_docker_units() {
        let cases: &[(&str, i64)] = &[
            ("512", 512),
            ("100b", 100),
            ("100B", 100),
            ("2k", 2 * K),
            ("2kb", 2 * K),
            ("2KiB", 2 * K),
            ("512m", 512 * K * K),
            ("512M", 512 * K * K),
            ("1g", K * K * K),
            ("1gb", K * K * K),
            ("1 GB", K * K * K),
            ("1.5g", 3 * K * K * K / 2),
            ("1t", K * K * K * K),
            ("1p", K * K * K * K * K),
            ("-1", -1),
            ("0", 0),
        ];
        for (text, want) in cases {
            assert_eq!(ByteSize::parse(text), Ok(ByteSize(*want)), "{text}");
        }
    }

    #[test]
    fn refuses_bad_sizes() {
        for text in ["12x", "", "g", "1.g", "-1g", "1kk", "1e3"] {
            let err = ByteSize::parse(text).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid size {text:?}: expected")),
                "{err}"
            );
        }
    }

    #[test]
    fn reads_numbers_and_writes_integers() {
        let read =
            |v: serde_json::Value| scalar::scalar::<_, ByteSize>(&v).map_err(|e| e.to_string());
        assert_eq!(read(serde_json::json!(1073741824)), Ok(ByteSize(1 << 30)));
        assert_eq!(read(serde_json::json!(1.0e3)), Ok(ByteSize(1000)));
        assert_eq!(read(serde_json::json!("1g")), Ok(ByteSize(1 << 30)));
        assert!(read(serde_json::json!(true)).is_err());
        assert_eq!(
            serde_json::to_value(ByteSize(2048)).unwrap(),
            serde_json::json!(2048)
        );
    }
}
