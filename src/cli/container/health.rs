//! `container run`'s restart and healthcheck flags, as docker's.

use std::time::Duration;

use agent::proto::Healthcheck;
use anyhow::bail;
use clap::Args;

/// The restart and healthcheck flags of `run`.
#[derive(Debug, Default, Args)]
pub(crate) struct PolicyArgs {
    /// Restart policy to apply when a container exits (no, always, on-failure[:N],
    /// unless-stopped).
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Command to run to check health (run with /bin/sh -c).
    #[arg(long = "health-cmd", value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// Time between running the check (e.g. 30s, 1m).
    #[arg(long = "health-interval", value_name = "DURATION", value_parser = parse_duration)]
    pub health_interval: Option<Duration>,
    /// Maximum time to allow one check to run.
    #[arg(long = "health-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub health_timeout: Option<Duration>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long = "health-retries")]
    pub health_retries: Option<u32>,
    /// Start period for the container to initialize before counting retries towards unstable.
    #[arg(long = "health-start-period", value_name = "DURATION", value_parser = parse_duration)]
    pub health_start_period: Option<Duration>,
    /// Disable any container-specified healthcheck.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
}

/// A duration such as `30s`, `1m30s` or `500ms`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?}: {e}"))
}

fn nanos(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl PolicyArgs {
    /// The healthcheck these flags ask for (`None`: none given).
    pub(crate) fn healthcheck(&self) -> anyhow::Result<Option<Healthcheck>> {
        let tuned = self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some();
        if self.no_healthcheck {
            if self.health_cmd.is_some() || tuned {
                bail!("--no-healthcheck conflicts with --health-* options");
            }
            return Ok(Some(Healthcheck {
                test: vec!["NONE".into()],
                ..Healthcheck::default()
            }));
        }
        let Some(cmd) = &self.health_cmd else {
            if tuned {
                bail!("--health-* options need --health-cmd (no image provides a healthcheck)");
            }
            return Ok(None);
        };
        Ok(Some(Healthcheck {
            test: vec!["CMD-SHELL".into(), cmd.clone()],
            interval: nanos(self.health_interval),
            timeout: nanos(self.health_timeout),
            retries: self.health_retries.unwrap_or(0),
            start_period: nanos(self.health_start_period),
            // The engine's default (5s); `run` has no --health-start-interval yet.
            start_interval: 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        policy: PolicyArgs,
    }

    fn parse(words: &[&str]) -> PolicyArgs {
        Wrap::try_parse_from(std::iter::once("run").chain(words.iter().copied()))
            .unwrap()
            .policy
    }

    #[test]
    fn healthcheck_flags() {
        let p = parse(&[
            "--health-cmd",
            "test -f /ok",
            "--health-interval",
            "1s",
            "--health-timeout",
            "500ms",
            "--health-retries",
            "2",
            "--health-start-period",
            "1m",
        ]);
        assert_eq!(
            p.healthcheck().unwrap(),
            Some(Healthcheck {
                test: vec!["CMD-SHELL".into(), "test -f /ok".into()],
                interval: 1_000_000_000,
                timeout: 500_000_000,
                retries: 2,
                start_period: 60_000_000_000,
                start_interval: 0,
            })
        );
        assert_eq!(parse(&[]).healthcheck().unwrap(), None);
        assert_eq!(parse(&[]).restart, "no");
        assert_eq!(
            parse(&["--no-healthcheck"])
                .healthcheck()
                .unwrap()
                .unwrap()
                .test,
            vec!["NONE".to_string()]
        );
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                vec!["--no-healthcheck", "--health-cmd", "true"],
                "--no-healthcheck conflicts with --health-* options",
            ),
            (
                vec!["--health-retries", "2"],
                "--health-* options need --health-cmd (no image provides a healthcheck)",
            ),
        ];
        for (words, want) in cases {
            assert_eq!(parse(&words).healthcheck().unwrap_err().to_string(), want);
        }
        assert!(
            Wrap::try_parse_from(["run", "--health-interval", "soon"]).is_err(),
            "a bad duration is refused"
        );
    }
}
