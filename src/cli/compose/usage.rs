//! `bosun stats`, `bosun attach` and `bosun volumes`: the container commands of the same
//! names over the project's containers and volumes.

use std::process::ExitCode;

use agent::AgentClient;
use agent::proto;
use clap::{ArgAction, Args};
use orchestrator::compose::labels;

use super::connect::socket;
use super::session::Session;
use crate::cli::container::attach::{self, AttachArgs as ContainerAttach};
use crate::cli::container::stats::{self, Format};
use crate::cli::container::table;
use crate::cli::format::{self, header};
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    pub no_stream: bool,
    /// 'table' (default), 'json' (one object a line, with docker's field names), or a Go
    /// template as `bosun container stats --format` takes.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// The service (all when none).
    pub service: Option<String>,
}

/// Arguments of `bosun attach`.
#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// Override the key sequence for detaching from a container.
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long = "sig-proxy", value_name = "BOOL", action = ArgAction::Set,
          default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          require_equals = true)]
    pub sig_proxy: bool,
    /// The service.
    pub service: String,
}

/// Arguments of `bosun volumes`.
#[derive(Debug, Args)]
pub(crate) struct VolumesArgs {
    /// Only display volume names.
    #[arg(short, long)]
    pub quiet: bool,
    /// 'table' (default), 'json' (one object a line) or a Go template.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Only the volumes these services mount (all of the project's when none).
    pub services: Vec<String>,
}

/// An agent client on the socket the compose commands use.
async fn agent_client() -> anyhow::Result<AgentClient> {
    Ok(AgentClient::connect(&socket()?).await?)
}

/// Runs `bosun stats`.
pub(super) fn stats(project: &ProjectArgs, args: StatsArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    let services: Vec<String> = args.service.iter().cloned().collect();
    session.check_services(&services)?;
    let format = Format::parse(&args.format)?;
    let targets: Vec<(String, String)> = session
        .containers(&services, false, false)?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    session.agent.block_on(async {
        let mut client = agent_client().await?;
        stats::show(&mut client, &targets, args.no_stream, &format).await
    })
}

/// Runs `bosun attach`.
pub(super) fn attach(project: &ProjectArgs, args: AttachArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(std::slice::from_ref(&args.service))?;
    let container = session
        .containers(std::slice::from_ref(&args.service), false, false)?
        .into_iter()
        .find(|c| c.labels.get(labels::CONTAINER_NUMBER) == Some(&args.index.to_string()))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "service {} is not running container #{}",
                args.service,
                args.index
            )
        })?;
    let request = ContainerAttach {
        no_stdin: args.no_stdin,
        detach_keys: args.detach_keys,
        sig_proxy: args.sig_proxy,
        container: container.id,
    };
    let host = std::env::var("BOSUN_HOST").ok().filter(|h| !h.is_empty());
    session.agent.block_on(async {
        let mut client = agent_client().await?;
        attach::run(&mut client, request, host.as_deref()).await
    })
}

/// Runs `bosun volumes`: the project's volumes (those the named services mount).
pub(super) fn volumes(project: &ProjectArgs, args: VolumesArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(&args.services)?;
    let format = Format::parse(&args.format)?;
    let mut client = session.backend().client().volumes.clone();
    let request = proto::VolumeListRequest {
        size: false,
        filters: vec![format!("label={}={}", labels::PROJECT, session.name())],
    };
    let listed = session
        .agent
        .block_on(client.list(request))?
        .into_inner()
        .volumes;
    let wanted: Option<Vec<String>> = if args.services.is_empty() {
        None
    } else {
        Some(
            session
                .containers(&args.services, true, false)?
                .into_iter()
                .map(|c| c.name)
                .collect(),
        )
    };
    let mut volumes: Vec<proto::Volume> = listed
        .into_iter()
        .filter(|v| {
            wanted
                .as_ref()
                .is_none_or(|names| v.used_by.iter().any(|u| names.contains(u)))
        })
        .collect();
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    if args.quiet {
        for v in &volumes {
            println!("{}", v.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<serde_json::Value> = volumes
        .iter()
        .map(|v| {
            serde_json::json!({
                "Driver": v.driver,
                "Name": v.name,
                "Mountpoint": v.mountpoint,
                "Labels": v.labels,
            })
        })
        .collect();
    match format.rows(&rows, header::VOLUME)? {
        Some(text) => format::print(&text)?,
        None => {
            let rows: Vec<Vec<String>> = volumes
                .iter()
                .map(|v| vec![v.driver.clone(), v.name.clone()])
                .collect();
            format::print(&table::render(&["DRIVER", "VOLUME NAME"], &rows))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
