//! Parsing and rendering of the units the docker CLI uses: sizes, signals, durations.

use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::Signal;

/// Parses a size as `docker run -m` does: a number with an optional `b`, `k`, `m`, `g` (or
/// `kb`, `mib`, ...) suffix, in binary units.
pub fn parse_size(text: &str) -> anyhow::Result<i64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let value: f64 = number
        .parse()
        .with_context(|| format!("invalid size {text:?}: expected e.g. 512m or 1g"))?;
    let factor: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0_f64.powi(4),
        _ => bail!("invalid size {text:?}: unknown unit {unit:?}"),
    };
    Ok((value * factor) as i64)
}

/// Parses `--memory-swap`: a size, or `-1` for unlimited swap.
pub fn parse_swap(text: &str) -> anyhow::Result<i64> {
    if text.trim() == "-1" {
        Ok(-1)
    } else {
        parse_size(text)
    }
}

/// Parses a signal by number or name (`9`, `KILL`, `SIGKILL`, `sigterm`).
pub fn parse_signal(text: &str) -> anyhow::Result<i32> {
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number)
            .map(|s| s as i32)
            .map_err(|_| anyhow::anyhow!("invalid signal {text:?}"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map(|s| s as i32)
        .map_err(|_| anyhow::anyhow!("invalid signal {text:?}"))
}

/// A duration as the docker CLI words it (`5 seconds`, `About a minute`, `3 hours`).
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours) = (secs / 60, secs / 3600);
    match secs {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        _ if mins == 1 => "About a minute".into(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// Bytes in binary units with two decimals, as `docker stats` (`1.5MiB`).
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.2}{}", UNITS[unit])
    }
}

/// Time since `nanos` (since the Unix epoch), saturating at zero.
pub fn since(nanos: u64) -> Duration {
    let now = engine::state::now_nanos();
    Duration::from_nanos(now.saturating_sub(nanos))
}

/// RFC 3339 of a nanosecond timestamp (0 = the epoch, as Docker prints "never").
pub fn rfc3339(nanos: u64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_nanos(nanos);
    humantime::format_rfc3339_nanos(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases = [
            ("100", 100),
            ("1k", 1024),
            ("64m", 64 << 20),
            ("1g", 1 << 30),
            ("1.5g", 3 << 29),
            ("512MB", 512 << 20),
            ("2MiB", 2 << 20),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).unwrap(), want, "{text}");
        }
        for bad in ["", "x", "12q"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_swap("-1").unwrap(), -1);
    }

    #[test]
    fn signals() {
        for (text, want) in [
            ("9", 9),
            ("KILL", 9),
            ("sigterm", 15),
            ("SIGHUP", 1),
            ("usr1", 10),
        ] {
            assert_eq!(parse_signal(text).unwrap(), want, "{text}");
        }
        for bad in ["0x", "FOO", "999"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_and_bytes() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (45, "45 seconds"),
            (90, "About a minute"),
            (600, "10 minutes"),
            (3700, "About an hour"),
            (5 * 3600, "5 hours"),
            (3 * 86400, "3 days"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), want);
        }
        assert_eq!(format_bytes(512), "512B");
        assert_eq!(format_bytes(1536), "1.50KiB");
        assert_eq!(format_bytes(64 << 20), "64.00MiB");
    }
}
