//! `bosun volume …`: the node's volumes through the agent, as `docker volume …`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::process::ExitCode;

use agent::images_client;
use agent::proto::{self, volumes_client::VolumesClient};
use clap::{Args, Parser, Subcommand};
use tonic::transport::Channel;

use super::container::connect::{HostArg, connect_with, run_words};
use super::container::table;
use super::image::{human_size, status_error};
use crate::cli::format::{self, Format, header};

/// `bosun volume`: the raw words, parsed by [`VolumeCli`].
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct VolumeArgs {
    /// The volume command and its options (see `bosun volume --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Manage volumes.
#[derive(Debug, Parser)]
#[command(name = "bosun volume", disable_help_subcommand = true)]
struct VolumeCli {
    #[command(flatten)]
    agent: HostArg,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes.
    Inspect(InspectArgs),
    /// Remove one or more volumes.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused volumes (anonymous ones; with -a every unused volume).
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The name (random when omitted).
    name: Option<String>,
    /// Volume driver (only `local`).
    #[arg(short = 'd', long, default_value = "local")]
    driver: String,
    /// Set metadata for a volume (key=value).
    #[arg(long = "label", value_name = "LABEL")]
    labels: Vec<String>,
    /// Set driver specific options (key=value).
    #[arg(short = 'o', long = "opt", value_name = "OPTION")]
    options: Vec<String>,
}

#[derive(Debug, Args)]
struct LsArgs {
    /// Only display volume names.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Filter output (name=, label=key[=value], dangling=true|false).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// Format output: `table` (default), `json` (one object per line), `table TEMPLATE`, or a
    /// Go template (fields: Name, Driver, Mountpoint, Labels, Options, CreatedAt, Scope).
    #[arg(long, default_value = "table")]
    format: String,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The volumes.
    #[arg(required = true)]
    names: Vec<String>,
    /// Format output: `json` (one object per line) or a Go template such as '{{.Mountpoint}}'
    /// (default: the indented JSON array).
    #[arg(short = 'f', long)]
    format: Option<String>,
}

#[derive(Debug, Args)]
struct RmArgs {
    /// The volumes.
    #[arg(required = true)]
    names: Vec<String>,
    /// Remove even when stopped containers still refer to it.
    #[arg(short = 'f', long)]
    force: bool,
}

#[derive(Debug, Args)]
struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
    /// Only prune volumes with this label (label=key[=value]).
    #[arg(long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
}

/// Runs `bosun volume …`.
pub(super) fn run(args: VolumeArgs) -> anyhow::Result<ExitCode> {
    run_words("bosun volume", args.args, dispatch)
}

fn key_values(items: &[String], what: &str) -> anyhow::Result<HashMap<String, String>> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            None if !item.is_empty() => Ok((item.clone(), String::new())),
            _ => anyhow::bail!("invalid {what} {item:?}: use key=value"),
        })
        .collect()
}

fn to_json(v: &proto::Volume) -> serde_json::Value {
    serde_json::json!({
        "Name": v.name,
        "Driver": v.driver,
        "Mountpoint": v.mountpoint,
        "Labels": v.labels,
        "Options": v.options,
        "CreatedAt": v.created_at,
        "Scope": "local",
        "Anonymous": v.anonymous,
        "UsedBy": v.used_by,
    })
}

async fn dispatch(cli: VolumeCli) -> anyhow::Result<ExitCode> {
    let mut client = connect_with(cli.agent.host.as_deref(), images_client::volumes).await?;
    match cli.command {
        Sub::Create(args) => create(&mut client, args).await,
        Sub::Ls(args) => ls(&mut client, args).await,
        Sub::Inspect(args) => inspect(&mut client, args).await,
        Sub::Rm(args) => rm(&mut client, args).await,
        Sub::Prune(args) => prune(&mut client, args).await,
    }
}

async fn create(client: &mut VolumesClient<Channel>, args: CreateArgs) -> anyhow::Result<ExitCode> {
    let volume = client
        .create(proto::VolumeCreateRequest {
            name: args.name.unwrap_or_default(),
            driver: args.driver,
            labels: key_values(&args.labels, "label")?,
            options: key_values(&args.options, "option")?,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    println!("{}", volume.name);
    Ok(ExitCode::SUCCESS)
}

async fn ls(client: &mut VolumesClient<Channel>, args: LsArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&args.format)?;
    let volumes = client
        .list(proto::VolumeListRequest {
            size: false,
            filters: args.filters,
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .volumes;
    if args.quiet {
        let names: String = volumes.iter().map(|v| format!("{}\n", v.name)).collect();
        format::print(&names)?;
    } else {
        let objects: Vec<serde_json::Value> = volumes.iter().map(to_json).collect();
        if let Some(text) = format.rows(&objects, header::VOLUME)? {
            format::print(&text)?;
        } else {
            let rows: Vec<Vec<String>> = volumes
                .iter()
                .map(|v| vec![v.driver.clone(), v.name.clone()])
                .collect();
            format::print(&table::render(&["DRIVER", "VOLUME NAME"], &rows))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn inspect(
    client: &mut VolumesClient<Channel>,
    args: InspectArgs,
) -> anyhow::Result<ExitCode> {
    let format = Format::parse_inspect(args.format.as_deref())?;
    let mut docs = Vec::new();
    let mut failed = false;
    for name in args.names {
        match client.inspect(proto::VolumeRef { name }).await {
            Ok(v) => docs.push(to_json(&v.into_inner())),
            Err(status) => {
                crate::cli::report_item(&status);
                failed = true;
            }
        }
    }
    format::print(&format.objects(&docs)?)?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn rm(client: &mut VolumesClient<Channel>, args: RmArgs) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for name in args.names {
        let request = proto::VolumeRemoveRequest {
            name: name.clone(),
            force: args.force,
        };
        match client.remove(request).await {
            Ok(_) => println!("{name}"),
            Err(status) => {
                crate::cli::report_item(&status);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn prune(client: &mut VolumesClient<Channel>, args: PruneArgs) -> anyhow::Result<ExitCode> {
    if !args.force {
        let what = if args.all {
            "all volumes"
        } else {
            "all anonymous volumes"
        };
        let question = format!(
            "WARNING! This will remove {what} not used by at least one container.\nAre you sure you want to continue?"
        );
        if !super::image::confirm(&question)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let report = client
        .prune(proto::VolumePruneRequest {
            all: args.all,
            filters: args.filters,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    if !report.deleted.is_empty() {
        println!("Deleted Volumes:");
        report.deleted.iter().for_each(|n| println!("{n}"));
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(report.space_reclaimed)
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        VolumeCli::command().debug_assert();
    }

    #[test]
    fn key_values_table() {
        let kv = key_values(&["a=b".into(), "c".into(), "d=e=f".into()], "label").unwrap();
        assert_eq!(kv.get("a").map(String::as_str), Some("b"));
        assert_eq!(kv.get("c").map(String::as_str), Some(""));
        assert_eq!(kv.get("d").map(String::as_str), Some("e=f"));
        assert!(key_values(&["=x".into()], "label").is_err());
    }
}
