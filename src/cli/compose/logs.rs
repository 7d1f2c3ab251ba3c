//! `bosun logs` and the log display of attached `up`: every container's lines with a colored
//! `<container> | ` prefix. Following (`-f`) keeps watching the project: a container that
//! restarts or appears (scaling up) is picked up within half a second.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent::proto;
use agent::proto::agent_client::AgentClient;
use anyhow::Context;
use clap::Args;
use orchestrator::compose::labels;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use super::session::Session;
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs of each container ("all" for all).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (RFC 3339) or a relative time (42m).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (RFC 3339) or a relative time (42m).
    #[arg(long)]
    pub until: Option<String>,
    /// Do not print the prefix.
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Produce monochrome output.
    #[arg(long)]
    pub no_color: bool,
    /// Only the container with this number, of the one service named.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub index: Option<u32>,
    /// Services (all when none).
    pub services: Vec<String>,
}

/// How lines are shown.
#[derive(Debug, Clone, Default)]
pub(super) struct Style {
    /// Prefix lines with the container name.
    pub prefix: bool,
    /// Prefix lines with their time.
    pub timestamps: bool,
    /// Color the prefixes.
    pub color: bool,
}

/// Runs `bosun logs`.
pub(super) fn run(project: &ProjectArgs, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(&args.services)?;
    if args.index.is_some() && args.services.len() != 1 {
        anyhow::bail!("--index needs exactly one service");
    }
    let tail = match args.tail.as_str() {
        "all" | "-1" => -1,
        n => n
            .parse::<i64>()
            .with_context(|| format!("invalid --tail value {n:?}"))?,
    };
    let style = Style {
        prefix: !args.no_log_prefix,
        timestamps: args.timestamps,
        color: !args.no_color && std::io::stdout().is_terminal(),
    };
    let since = args.since.as_deref().map(parse_time).transpose()?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    let request = proto::LogsRequest {
        follow: args.follow,
        tail,
        stdout: true,
        stderr: true,
        since,
        until,
        ..Default::default()
    };
    let follower = Follower::new(style).only_number(args.index);
    let mut containers = session.containers(&args.services, true, false)?;
    containers.retain(|c| follower.keeps(c));
    if let (Some(index), true) = (args.index, containers.is_empty()) {
        anyhow::bail!(
            "service {:?} has no container number {index}",
            args.services[0]
        );
    }
    follower.width_for(&containers);
    if !args.follow {
        session.agent.block_on(async {
            for c in &containers {
                let client = session.backend().client().containers.clone();
                follower.stream(client, c, request.clone(), 0).await;
            }
        });
        return Ok(ExitCode::SUCCESS);
    }
    session
        .agent
        .block_on(follower.follow(&session, &args.services, request, None));
    Ok(ExitCode::SUCCESS)
}

/// A time given as RFC 3339 or as a duration before now → nanoseconds since the epoch.
pub(super) fn parse_time(text: &str) -> anyhow::Result<u64> {
    let time = match humantime::parse_duration(text) {
        Ok(ago) => SystemTime::now()
            .checked_sub(ago)
            .context("time out of range")?,
        Err(_) => humantime::parse_rfc3339_weak(text).with_context(|| {
            format!("invalid time {text:?}: use RFC 3339 or a duration like 10m")
        })?,
    };
    Ok(nanos(time))
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Prints the lines of several containers, each with its prefix, one whole line at a time.
#[derive(Clone)]
pub(super) struct Follower {
    style: Style,
    number: Option<u32>,
    width: Arc<Mutex<usize>>,
    colors: Arc<Mutex<HashMap<String, &'static str>>>,
}

impl Follower {
    /// A follower printing in `style`.
    pub(super) fn new(style: Style) -> Self {
        Self {
            style,
            number: None,
            width: Arc::new(Mutex::new(0)),
            colors: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Keeps to the containers numbered `number` (every container when `None`).
    pub(super) fn only_number(mut self, number: Option<u32>) -> Self {
        self.number = number;
        self
    }

    /// Whether `container` is one this follower shows.
    pub(super) fn keeps(&self, container: &proto::ContainerSummary) -> bool {
        self.number
            .is_none_or(|n| container.labels.get(labels::CONTAINER_NUMBER) == Some(&n.to_string()))
    }

    /// Widens the prefix column for these containers.
    pub(super) fn width_for(&self, containers: &[proto::ContainerSummary]) {
        if let Ok(mut width) = self.width.lock() {
            for c in containers {
                *width = (*width).max(c.name.len());
            }
        }
    }

    fn prefix(&self, container: &proto::ContainerSummary) -> String {
        if !self.style.prefix {
            return String::new();
        }
        let width = self.width.lock().map(|w| *w).unwrap_or(0);
        let name = format!("{:<width$} | ", container.name);
        if !self.style.color {
            return name;
        }
        let service = container
            .labels
            .get(labels::SERVICE)
            .cloned()
            .unwrap_or_default();
        let color = self.colors.lock().map_or("36", |mut colors| {
            let next = COLORS[colors.len() % COLORS.len()];
            *colors.entry(service).or_insert(next)
        });
        format!("\x1b[{color}m{name}\x1b[0m")
    }

    /// Prints one container's entries for `request` (its container field is set here);
    /// returns the time of the last entry printed (nanoseconds, or `after` when none).
    pub(super) async fn stream(
        &self,
        mut client: AgentClient<Channel>,
        container: &proto::ContainerSummary,
        mut request: proto::LogsRequest,
        after: u64,
    ) -> u64 {
        request.container = container.id.clone();
        let prefix = self.prefix(container);
        let mut last = after;
        let Ok(response) = client.logs(request).await else {
            return last;
        };
        let mut stream = response.into_inner();
        while let Ok(Some(entry)) = stream.message().await {
            let time = humantime::parse_rfc3339_weak(&entry.time)
                .map(nanos)
                .unwrap_or(0);
            if time != 0 && time <= after {
                continue;
            }
            last = last.max(time);
            let mut line = prefix.clone();
            if self.style.timestamps {
                line.push_str(&entry.time);
                line.push(' ');
            }
            line.push_str(&String::from_utf8_lossy(&entry.line));
            if !line.ends_with('\n') {
                line.push('\n');
            }
            let mut out = std::io::stdout().lock();
            // A closed stdout (a pipe whose reader left) ends the display, nothing else.
            if out
                .write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return last;
            }
        }
        last
    }

    /// Follows the named services' containers (all when empty) until `until` resolves, or,
    /// when `until` is `None`, forever (Ctrl-C ends the process).
    pub(super) async fn follow(
        &self,
        session: &Session,
        services: &[String],
        request: proto::LogsRequest,
        until: Option<tokio::sync::watch::Receiver<bool>>,
    ) {
        let mut tasks: HashMap<String, JoinHandle<u64>> = HashMap::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut first = true;
        loop {
            if let Some(until) = &until
                && *until.borrow()
            {
                break;
            }
            let mut containers = session
                .list_containers(services, true, false)
                .await
                .unwrap_or_default();
            containers.retain(|c| self.keeps(c));
            self.width_for(&containers);
            for c in containers {
                let finished = tasks.get(&c.id).is_none_or(JoinHandle::is_finished);
                let live = c.is_alive() || first;
                if !finished || (!live && seen.contains_key(&c.id)) {
                    continue;
                }
                if let Some(task) = tasks.remove(&c.id)
                    && let Ok(last) = task.await
                {
                    seen.insert(c.id.clone(), last);
                }
                let after = seen.get(&c.id).copied().unwrap_or(0);
                seen.entry(c.id.clone()).or_insert(0);
                let mut request = request.clone();
                if after > 0 {
                    request.tail = -1;
                    request.since = Some(after);
                }
                let this = self.clone();
                let container = c.clone();
                let client = session.backend().client().containers.clone();
                tasks.insert(
                    c.id.clone(),
                    tokio::spawn(
                        async move { this.stream(client, &container, request, after).await },
                    ),
                );
            }
            first = false;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for (_, task) in tasks {
            task.abort();
        }
    }
}
