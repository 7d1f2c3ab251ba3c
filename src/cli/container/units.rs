//! Parsing and rendering of the units the docker CLI uses: sizes, signals, durations.

use std::time::Duration;

use anyhow::bail;
use nix::sys::signal::Signal;

/// Parses a size as `docker run -m` does (go-units `RAMInBytes`): digits with an optional
/// fraction, an optional space, then an optional `k`, `m`, `g`, `t` or `p` (binary units), `i`
/// and `b`, case-insensitive. Anything else, a negative number included, is Docker's
/// `invalid size: '<text>'`; a size beyond what a signed 64-bit byte count holds is refused too.
pub(crate) fn parse_size(text: &str) -> anyhow::Result<i64> {
    let invalid = || {
        anyhow::anyhow!(
            "invalid size: '{text}' (expected a number with an optional unit b, k, m, g, t or p, \
             e.g. 512m)"
        )
    };
    match compose_spec::model::ram_in_bytes(text) {
        Ok(bytes) => Ok(bytes),
        Err(compose_spec::model::SizeError::TooLarge) => {
            bail!("invalid size: '{text}': larger than the 8 EiB a byte count can hold")
        }
        Err(compose_spec::model::SizeError::Invalid) => Err(invalid()),
    }
}

/// Parses `--memory-swap`: a size, or `-1` for unlimited swap.
pub(crate) fn parse_swap(text: &str) -> anyhow::Result<i64> {
    if text == "-1" {
        Ok(-1)
    } else {
        parse_size(text)
    }
}

/// Parses `--cpus` into nano-CPUs as the docker CLI does: an exact decimal (`1.5`, `2`, `1e-2`)
/// whose value in billionths is whole, else `value is too precise`.
pub(crate) fn parse_cpus(text: &str) -> anyhow::Result<i64> {
    let invalid = || anyhow::anyhow!("failed to parse {text} as a rational number");
    let (mantissa, exponent) = match text.to_ascii_lowercase().split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().map_err(|_| invalid())?),
        None => (text.to_string(), 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m.to_string()),
        None => (
            false,
            mantissa.strip_prefix('+').unwrap_or(&mantissa).to_string(),
        ),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((&mantissa, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    // value = digits × 10^(exponent − fraction digits); nanos = value × 10^9.
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let shift = i64::from(exponent) - fraction.len() as i64 + 9;
    let too_large = || anyhow::anyhow!("value {text} is too large");
    let mut nanos: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| too_large())?
    };
    if shift >= 0 {
        for _ in 0..shift {
            nanos = nanos.checked_mul(10).ok_or_else(too_large)?;
            if nanos > i128::from(i64::MAX) {
                return Err(too_large());
            }
        }
    } else {
        for _ in 0..-shift {
            if nanos % 10 != 0 {
                bail!("value is too precise");
            }
            nanos /= 10;
        }
    }
    let nanos = i64::try_from(nanos).map_err(|_| too_large())?;
    Ok(if negative { -nanos } else { nanos })
}

/// Parses a signal by number or name (`9`, `KILL`, `SIGKILL`, `sigterm`).
pub(crate) fn parse_signal(text: &str) -> anyhow::Result<i32> {
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
pub(crate) fn human_duration(d: Duration) -> String {
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

/// Bytes in binary units with four significant digits, as docker's `units.BytesSize`
/// (`docker stats`, `docker info`: `1.5MiB`, `64MiB`, `15.55GiB`).
pub(crate) fn format_bytes(bytes: u64) -> String {
    custom_size(bytes, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB"], 4)
}

/// `bytes` in the largest of `units` (each `base` times the last) under which it is at least
/// one, with `precision` significant digits and no trailing zeros, as Go's `%.{precision}g`
/// (docker's `units.CustomSize`); whole bytes as they are.
pub(crate) fn custom_size(bytes: u64, base: f64, units: &[&str], precision: usize) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes}{}", units[0]);
    }
    let int_digits = (value.trunc() as u64).to_string().len();
    let text = format!("{:.*}", precision.saturating_sub(int_digits), value);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", units[unit])
}

/// Time since `nanos` (since the Unix epoch), saturating at zero.
pub(crate) fn since(nanos: u64) -> Duration {
    let now = engine::state::now_nanos();
    Duration::from_nanos(now.saturating_sub(nanos))
}

/// RFC 3339 of a nanosecond timestamp (0 = the epoch, as Docker prints "never").
pub(crate) fn rfc3339(nanos: u64) -> String {
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
            ("10 m", 10 << 20),
            ("1.5k", 1536),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).unwrap(), want, "{text}");
        }
        for bad in ["", "x", "12q", "-5", ".5m", "1.", "1.2.3", " 1", "1bi"] {
            let err = parse_size(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("invalid size: '{bad}' (expected")),
                "{err}"
            );
        }
        assert!(
            parse_size("99999999999999999999g")
                .unwrap_err()
                .to_string()
                .contains("larger than")
        );
        assert_eq!(parse_swap("-1").unwrap(), -1);
        assert!(parse_swap("-2").is_err());
    }

    #[test]
    fn cpus() {
        let cases = [
            ("1", 1_000_000_000),
            ("1.5", 1_500_000_000),
            ("0.01", 10_000_000),
            ("1e9", 1_000_000_000_000_000_000),
            ("2.5e-1", 250_000_000),
            ("0.000000001", 1),
            ("-1", -1_000_000_000),
            ("0", 0),
        ];
        for (text, want) in cases {
            assert_eq!(parse_cpus(text).unwrap(), want, "{text}");
        }
        assert_eq!(
            parse_cpus("0.0000000001").unwrap_err().to_string(),
            "value is too precise"
        );
        for bad in ["", "x", "1.2.3", "e5", "1e", "--1"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
        assert!(
            parse_cpus("1e19")
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
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
        assert_eq!(format_bytes(1536), "1.5KiB");
        assert_eq!(format_bytes(64 << 20), "64MiB");
        assert_eq!(format_bytes(16_700_000_000), "15.55GiB");
    }
}
