//! `bosun container events`: the node's events (containers, networks, volumes, images), as
//! `docker events` prints them, followed until Ctrl-C unless `--until` is given.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use agent::AgentClient;
use agent::proto::Event;
use anyhow::bail;
use clap::Args;

use super::units::rfc3339;
use crate::cli::format::{self, Format};

/// Arguments of `events`.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Show events created since this time (RFC 3339, Unix seconds, or a duration ago: 10m).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<u64>,
    /// Stream events until this time, then exit (same forms as --since).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<u64>,
    /// Filter output: type=container|network|volume|image, event=ACTION, container=,
    /// network=, volume=, image= (a name or the start of an id); repeat to combine.
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE", value_parser = parse_filter)]
    pub filter: Vec<String>,
    /// Output format: `text` (default), `json` (one object per line), or a Go template such as
    /// '{{.Action}} {{.Actor.ID}}' (fields as docker's: status, id, Type, Action, Actor, scope,
    /// time, timeNano).
    #[arg(long, default_value = "text")]
    pub format: String,
}

/// A time as nanoseconds since the Unix epoch: RFC 3339, Unix seconds (fractions allowed),
/// or a duration before `now`.
fn parse_time_at(text: &str, now: SystemTime) -> Result<u64, String> {
    let nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    };
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Ok((secs * 1e9) as u64);
    }
    if let Ok(ago) = humantime::parse_duration(text) {
        return Ok(nanos(now.checked_sub(ago).unwrap_or(UNIX_EPOCH)));
    }
    humantime::parse_rfc3339_weak(text)
        .map(nanos)
        .map_err(|_| format!("invalid time {text:?}: use RFC 3339, Unix seconds or a duration"))
}

fn parse_time(text: &str) -> Result<u64, String> {
    parse_time_at(text, SystemTime::now())
}

/// The filter keys `events` knows (Docker's, less those of swarm objects and plugins).
const FILTER_KEYS: [&str; 8] = [
    "type",
    "event",
    "container",
    "network",
    "volume",
    "image",
    "label",
    "scope",
];

fn parse_filter(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((key, _)) if FILTER_KEYS.contains(&key) => Ok(text.to_owned()),
        Some((key, _)) => Err(format!(
            "invalid filter {key:?}: expected one of {}",
            FILTER_KEYS.join(", ")
        )),
        None => Err(format!("bad format of filter {text:?}: expected KEY=VALUE")),
    }
}

/// Docker's text line for one event.
fn text_line(e: &Event) -> String {
    let mut line = format!(
        "{} {} {} {}",
        rfc3339(e.time),
        e.docker_type(),
        e.action,
        e.id
    );
    if !e.attributes.is_empty() {
        let mut attrs: Vec<String> = e
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        attrs.sort();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

/// Docker's JSON object for one event (`status`, `id` and `from` for container events only,
/// as Docker).
fn json_line(e: &Event) -> serde_json::Value {
    let mut line = serde_json::json!({
        "Type": e.docker_type(),
        "Action": e.action,
        "Actor": { "ID": e.id, "Attributes": e.attributes },
        "scope": "local",
        "time": e.time / 1_000_000_000,
        "timeNano": e.time,
    });
    if e.docker_type() == "container" {
        line["status"] = serde_json::json!(e.action);
        line["id"] = serde_json::json!(e.id);
        line["from"] = serde_json::json!(e.attributes.get("image").cloned().unwrap_or_default());
    }
    line
}

/// Runs `events`: prints events until the stream ends (with `--until`) or Ctrl-C.
pub(crate) async fn run(client: &mut AgentClient, args: EventsArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format.as_str() {
        "text" => Format::Default,
        other => Format::parse(other)?,
    };
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        bail!("--since must not be after --until");
    }
    let mut stream = client.events(args.since, args.until).await?;
    let print = async {
        while let Some(event) = stream.next().await? {
            if !event.passes_docker_filters(&args.filter) {
                continue;
            }
            let text = match format.rows(&[json_line(&event)], &[])? {
                Some(text) => text,
                None => format!("{}\n", text_line(&event)),
            };
            format::print(&text)?;
        }
        anyhow::Ok(())
    };
    tokio::select! {
        printed = print => printed?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let cases = [
            ("10", Ok(10_000_000_000)),
            ("1.5", Ok(1_500_000_000)),
            ("10m", Ok(400_000_000_000)),
            ("1970-01-01T00:00:02Z", Ok(2_000_000_000)),
            (
                "yesterday-ish",
                Err(
                    "invalid time \"yesterday-ish\": use RFC 3339, Unix seconds or a duration"
                        .to_string(),
                ),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_time_at(text, now), want, "{text}");
        }
    }

    #[test]
    fn lines() {
        let e = Event {
            time: 1_500_000_000,
            id: "abc".into(),
            action: "die".into(),
            attributes: [("exitCode".to_string(), "3".to_string())].into(),
            r#type: String::new(),
        };
        assert!(
            text_line(&e).ends_with(" container die abc (exitCode=3)"),
            "{}",
            text_line(&e)
        );
        let j = json_line(&e);
        assert_eq!(j["Action"], "die");
        assert_eq!(j["time"], 1);
        assert_eq!(j["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!(
            (&j["Type"], &j["status"]),
            (&"container".into(), &"die".into())
        );
        let n = Event {
            id: "9f".into(),
            action: "connect".into(),
            attributes: [("container".to_string(), "abc".to_string())].into(),
            r#type: "network".into(),
            ..e
        };
        assert!(text_line(&n).ends_with(" network connect 9f (container=abc)"));
        let j = json_line(&n);
        assert_eq!(j["Type"], "network");
        assert!(j.get("status").is_none());
    }

    #[test]
    fn filters_are_checked_on_the_command_line() {
        assert_eq!(parse_filter("type=volume"), Ok("type=volume".to_owned()));
        assert!(
            parse_filter("colour=red")
                .unwrap_err()
                .contains("expected one of type")
        );
        assert!(parse_filter("type").unwrap_err().contains("KEY=VALUE"));
    }
}
