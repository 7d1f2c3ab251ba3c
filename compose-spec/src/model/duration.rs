//! Go-style durations (`1m30s`, `500ms`, `1.5h`), as written for healthchecks, grace periods and
//! update delays, written back in Go's canonical form.

use std::fmt;

use serde::{Deserializer, Serialize, Serializer};

use crate::model::scalar::{self, Scalar};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A non-negative duration read from Go's syntax: a sequence of decimal numbers, each with an
/// optional fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, and also `d`, `w`), such as
/// `1m30s` or `1.5h`; `0` alone is zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    /// A duration of whole seconds.
    pub fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }

    /// The standard-library value.
    pub fn as_std(&self) -> std::time::Duration {
        self.0
    }

    /// Parses Go's duration syntax.
    pub fn parse(text: &str) -> Result<Self, String> {
        let error = || {
            format!(
                "invalid duration {text:?}: expected a number with a unit such as 10s, 1m30s, 500ms"
            )
        };
        let body = text.strip_prefix('+').unwrap_or(text);
        if body == "0" {
            return Ok(Self::default());
        }
        if body.is_empty() {
            return Err(error());
        }
        let mut total: u128 = 0;
        let mut rest = body;
        while !rest.is_empty() {
            let digits_end = rest
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(rest.len());
            let (number, after) = rest.split_at(digits_end);
            let unit_end = after
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_end);
            let unit_nanos = unit_nanos(unit).ok_or_else(error)?;
            total = total
                .checked_add(scale(number, unit_nanos).ok_or_else(error)?)
                .ok_or_else(error)?;
            rest = next;
        }
        let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| error())?;
        let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| error())?;
        Ok(Self(std::time::Duration::new(secs, nanos)))
    }
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3_600 * NANOS_PER_SEC,
        "d" => 86_400 * NANOS_PER_SEC,
        "w" => 7 * 86_400 * NANOS_PER_SEC,
        _ => return None,
    })
}

/// `number` (digits with an optional fraction) times `unit` nanoseconds, truncated.
fn scale(number: &str, unit: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut value = whole.checked_mul(unit)?;
    let mut divisor = 1u128;
    for digit in fraction.bytes() {
        divisor = divisor.checked_mul(10)?;
        let digit = u128::from(digit - b'0');
        value = value.checked_add(digit.checked_mul(unit)? / divisor)?;
    }
    Some(value)
}

/// `value / 10^digits` printed without trailing zeros (`1500, 3` -> `1.5`).
fn decimal(value: u128, digits: u32) -> String {
    let base = 10u128.pow(digits);
    let fraction = value % base;
    if fraction == 0 {
        return (value / base).to_string();
    }
    let text = format!("{:0width$}", fraction, width = digits as usize);
    format!("{}.{}", value / base, text.trim_end_matches('0'))
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`: `0s`, `3ns`, `2µs`, `500ms`, `1m30s`, `1h0m0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        if nanos < 1_000_000 {
            return write!(f, "{}µs", decimal(nanos, 3));
        }
        if nanos < NANOS_PER_SEC {
            return write!(f, "{}ms", decimal(nanos, 6));
        }
        let secs = nanos / NANOS_PER_SEC;
        let (hours, minutes) = (secs / 3_600, (secs / 60) % 60);
        let seconds = decimal(nanos % (60 * NANOS_PER_SEC), 9);
        if hours > 0 {
            write!(f, "{hours}h{minutes}m{seconds}s")
        } else if minutes > 0 {
            write!(f, "{minutes}m{seconds}s")
        } else {
            write!(f, "{seconds}s")
        }
    }
}

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl Scalar for Duration {
    const EXPECTING: &'static str = "a duration such as 10s or 1m30s";

    fn from_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar::scalar(d)
    }
}

/// Reads a CPU real-time period or runtime: an integer number of microseconds or a duration
/// (`cpu_rt_period: 1000` or `cpu_rt_period: 1ms`). A `deserialize_with` function.
pub(super) fn opt_micros<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    scalar::opt::<D, Micros>(d).map(|v| v.map(|m| m.0))
}

struct Micros(i64);

impl Scalar for Micros {
    const EXPECTING: &'static str = "microseconds or a duration";

    fn from_text(text: &str) -> Result<Self, String> {
        if let Ok(n) = text.trim().parse::<i64>() {
            return Ok(Micros(n));
        }
        let duration = Duration::parse(text)?;
        i64::try_from(duration.0.as_micros())
            .map(Micros)
            .map_err(|_| format!("invalid duration {text:?}: too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let ms = |n: u64| std::time::Duration::from_millis(n);
        let cases: &[(&str, std::time::Duration)] = &[
            ("10s", ms(10_000)),
            ("1m30s", ms(90_000)),
            ("1.5h", ms(5_400_000)),
            ("500ms", ms(500)),
            ("2us", std::time::Duration::from_micros(2)),
            ("1µs", std::time::Duration::from_micros(1)),
            ("1μs", std::time::Duration::from_micros(1)),
            ("3ns", std::time::Duration::from_nanos(3)),
            ("0", ms(0)),
            ("+5s", ms(5_000)),
            (".5s", ms(500)),
            ("1h2m3.25s", ms(3_723_250)),
            ("2d", ms(172_800_000)),
            ("1w", ms(604_800_000)),
        ];
        for (text, want) in cases {
            assert_eq!(Duration::parse(text), Ok(Duration(*want)), "{text}");
        }
    }

    #[test]
    fn refuses_malformed_durations() {
        for text in ["10x", "10", "", "s", "-5s", "1..5s", "1.2.3s", "abc", "5 s"] {
            let err = Duration::parse(text).unwrap_err();
            assert_eq!(
                err,
                format!(
                    "invalid duration {text:?}: expected a number with a unit such as 10s, 1m30s, 500ms"
                )
            );
        }
    }

    #[test]
    fn displays_like_go() {
        let cases = [
            ("0s", "0s"),
            ("3ns", "3ns"),
            ("2us", "2µs"),
            ("1500ns", "1.5µs"),
            ("500ms", "500ms"),
            ("1.5ms", "1.5ms"),
            ("10s", "10s"),
            ("1.5s", "1.5s"),
            ("90s", "1m30s"),
            ("1h", "1h0m0s"),
            ("1h30m", "1h30m0s"),
            ("61.5s", "1m1.5s"),
            ("2d", "48h0m0s"),
        ];
        for (input, want) in cases {
            let d = Duration::parse(input).unwrap();
            assert_eq!(d.to_string(), want, "{input}");
            assert_eq!(Duration::parse(want), Ok(d), "{want} parses back");
        }
    }

    #[test]
    fn cpu_rt_values_accept_micros_or_durations() {
        let read = |v: serde_json::Value| opt_micros(&v).map_err(|e| e.to_string());
        assert_eq!(read(serde_json::json!(1000)), Ok(Some(1000)));
        assert_eq!(read(serde_json::json!("1000")), Ok(Some(1000)));
        assert_eq!(read(serde_json::json!("1ms")), Ok(Some(1000)));
        assert_eq!(read(serde_json::json!(null)), Ok(None));
        assert!(read(serde_json::json!("soon")).is_err());
    }
}
