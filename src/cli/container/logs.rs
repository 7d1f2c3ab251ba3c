//! `bosun container logs`, and printing a log stream (shared with a foreground `run`).

use std::io::Write;
use std::process::ExitCode;

use agent::AgentClient;
use agent::client::LogStream;
use agent::proto::LogsRequest;
use anyhow::bail;
use clap::Args;

/// Arguments of `logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" or a number).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (RFC 3339) or relative time (e.g. 42m).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (RFC 3339) or relative time (e.g. 42m).
    #[arg(long)]
    pub until: Option<String>,
    /// Container name or id.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// A `--since`/`--until` value as nanoseconds since the Unix epoch: an RFC 3339 time, or a
/// duration (`10m`, `1h30m`) before now.
pub(crate) fn parse_time(text: &str) -> anyhow::Result<u64> {
    let at = match humantime::parse_rfc3339_weak(text) {
        Ok(t) => t,
        Err(_) => {
            let ago = humantime::parse_duration(text).map_err(|_| {
                anyhow::anyhow!("invalid time {text:?}: use RFC 3339 or a duration such as 10m")
            })?;
            std::time::SystemTime::now() - ago
        }
    };
    let nanos = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Ok(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// A `--tail` value: a count of lines, or -1 for "all".
pub(crate) fn parse_tail(tail: &str) -> anyhow::Result<i64> {
    if tail == "all" {
        return Ok(-1);
    }
    match tail.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => bail!("invalid --tail {tail:?}: use a number or \"all\""),
    }
}

/// Prints a log stream to stdout and stderr by stream until it ends.
pub(crate) async fn print(mut stream: LogStream, timestamps: bool) -> anyhow::Result<()> {
    while let Some(entry) = stream.next().await? {
        let result = if entry.stream == "stderr" {
            write_entry(
                &mut std::io::stderr().lock(),
                &entry.time,
                &entry.line,
                timestamps,
            )
        } else {
            write_entry(
                &mut std::io::stdout().lock(),
                &entry.time,
                &entry.line,
                timestamps,
            )
        };
        // A closed pipe (e.g. `| head`) ends the output, not with an error.
        if result.is_err() {
            return Ok(());
        }
    }
    Ok(())
}

fn write_entry(
    out: &mut impl Write,
    time: &str,
    line: &[u8],
    timestamps: bool,
) -> std::io::Result<()> {
    if timestamps {
        write!(out, "{time} ")?;
    }
    out.write_all(line)?;
    out.flush()
}

/// Runs `logs`.
pub(crate) async fn run(client: &mut AgentClient, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let request = LogsRequest {
        container: args.container.clone(),
        follow: args.follow,
        tail: parse_tail(&args.tail)?,
        stdout: true,
        stderr: true,
        since: args.since.as_deref().map(parse_time).transpose()?,
        until: args.until.as_deref().map(parse_time).transpose()?,
    };
    let stream = client.logs(request).await?;
    print(stream, args.timestamps).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_values() {
        assert_eq!(parse_tail("all").unwrap(), -1);
        assert_eq!(parse_tail("5").unwrap(), 5);
        assert!(parse_tail("-2").is_err());
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1_000_000_000);
        let ago = engine::state::now_nanos() - parse_time("10m").unwrap();
        assert!((599_000_000_000..=601_000_000_000).contains(&ago), "{ago}");
        assert!(parse_time("yesterday-ish").is_err());
        let mut out = Vec::new();
        write_entry(&mut out, "T", b"hi\n", true).unwrap();
        assert_eq!(out, b"T hi\n");
    }
}
