//! File permission modes (`mode: 0440`), read from numbers or octal strings.

use std::fmt;

use serde::{Deserializer, Serialize, Serializer};

use crate::model::scalar::{self, Scalar};

/// Unix permission bits. A number is taken as is (YAML already reads `0440` as octal); a string
/// is read as octal (`"0440"`, `"1777"`). Written back as an octal string such as `"0440"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileMode(pub u32);

impl FileMode {
    /// Parses an octal string.
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits = text.trim();
        let digits = digits.strip_prefix("0o").unwrap_or(digits);
        u32::from_str_radix(digits, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(Self)
            .ok_or_else(|| {
                format!("invalid file mode {text:?}: expected octal digits such as 0440")
            })
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Scalar for FileMode {
    const EXPECTING: &'static str = "a file mode such as 0440";

    fn from_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }

    fn from_bool(value: bool) -> Result<Self, String> {
        Err(format!(
            "invalid file mode {value}: expected octal digits such as 0440"
        ))
    }

    fn from_u64(value: u64) -> Result<Self, String> {
        u32::try_from(value)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(Self)
            .ok_or_else(|| format!("invalid file mode {value}: expected at most 0o7777"))
    }

    fn from_i64(value: i64) -> Result<Self, String> {
        u64::try_from(value)
            .map_err(|_| format!("invalid file mode {value}: expected a positive number"))
            .and_then(Self::from_u64)
    }

    fn from_f64(value: f64) -> Result<Self, String> {
        if value.fract() == 0.0 && value >= 0.0 {
            Self::from_u64(value as u64)
        } else {
            Err(format!("invalid file mode {value}: expected an integer"))
        }
    }
}

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar::scalar(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_values_and_strings_are_octal() {
        let read =
            |v: serde_json::Value| scalar::scalar::<_, FileMode>(&v).map_err(|e| e.to_string());
        assert_eq!(read(json!(288)), Ok(FileMode(0o440)));
        assert_eq!(read(json!("0440")), Ok(FileMode(0o440)));
        assert_eq!(read(json!("440")), Ok(FileMode(0o440)));
        assert_eq!(read(json!("1777")), Ok(FileMode(0o1777)));
        assert_eq!(
            read(json!("0899")),
            Err("invalid file mode \"0899\": expected octal digits such as 0440".to_owned())
        );
        assert_eq!(
            serde_json::to_value(FileMode(0o440)).unwrap(),
            json!("0440")
        );
        assert_eq!(read(json!("0440")).unwrap().to_string(), "0440");
    }
}
