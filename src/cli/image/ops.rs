//! `bosun image import|inspect|rm|tag|prune`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use agent::proto::{self, images_client::ImagesClient};
use anyhow::Context;
use clap::Args;
use serde_json::Value;
use tonic::transport::Channel;

use super::{human_size, status_error};
use crate::cli::format::{self, Format};

/// Arguments of `import`.
#[derive(Debug, Args)]
pub(super) struct ImportArgs {
    /// A tar file (plain, gzip or zstd) or a directory on this host.
    pub source: String,
    /// The name to give the image: NAME[:TAG].
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, LABEL, ...).
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Commit message for the imported image.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
}

/// Runs `image import`.
pub(super) async fn import(
    client: &mut ImagesClient<Channel>,
    args: ImportArgs,
) -> anyhow::Result<ExitCode> {
    if args.source == "-" {
        anyhow::bail!("import from standard input is not supported: give a file or directory");
    }
    let path = std::fs::canonicalize(Path::new(&args.source))
        .with_context(|| format!("import source {}", args.source))?;
    let id = client
        .import(proto::ImportRequest {
            path: path.display().to_string(),
            reference: args.reference.unwrap_or_default(),
            changes: args.changes,
            message: args.message.unwrap_or_default(),
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .image;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub(super) struct InspectArgs {
    /// The images (reference, id or id prefix).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Format output: `json` (one object per line) or a Go template such as '{{.Id}}'
    /// (default: the indented JSON array).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// Runs `image inspect`: a JSON array, one object per image found; exit 1 if one is missing.
pub(super) async fn inspect(
    client: &mut ImagesClient<Channel>,
    args: InspectArgs,
) -> anyhow::Result<ExitCode> {
    let format = Format::parse_inspect(args.format.as_deref())?;
    let mut docs = Vec::new();
    let mut failed = false;
    for image in args.images {
        match client.inspect(proto::ImageRef { image }).await {
            Ok(r) => docs.push(serde_json::from_str::<Value>(&r.into_inner().json)?),
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

/// Arguments of `rm`.
#[derive(Debug, Args)]
pub(super) struct RmArgs {
    /// The images (reference, id or id prefix).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Force removal of the image (even if containers use it).
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Runs `image rm`.
pub(super) async fn rm(
    client: &mut ImagesClient<Channel>,
    args: RmArgs,
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for image in args.images {
        match client
            .remove(proto::ImageRemoveRequest {
                image,
                force: args.force,
            })
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                for name in r.untagged {
                    println!("Untagged: {name}");
                }
                for id in r.deleted {
                    println!("Deleted: {id}");
                }
            }
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

/// Arguments of `tag`.
#[derive(Debug, Args)]
pub(super) struct TagArgs {
    /// SOURCE_IMAGE[:TAG] or id.
    pub source: String,
    /// TARGET_IMAGE[:TAG].
    pub target: String,
}

/// Runs `image tag`.
pub(super) async fn tag(
    client: &mut ImagesClient<Channel>,
    args: TagArgs,
) -> anyhow::Result<ExitCode> {
    client
        .tag(proto::TagRequest {
            source: args.source,
            target: args.target,
        })
        .await
        .map_err(status_error)?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub(super) struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Asks `question` on the terminal; `true` for y/yes.
pub(crate) fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}

/// Runs `image prune`.
pub(super) async fn prune(
    client: &mut ImagesClient<Channel>,
    args: PruneArgs,
) -> anyhow::Result<ExitCode> {
    if !args.force {
        let what = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        if !confirm(&format!(
            "WARNING! This will remove {what}.\nAre you sure you want to continue?"
        ))? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let report = client
        .prune(proto::ImagePruneRequest { all: args.all })
        .await
        .map_err(status_error)?
        .into_inner();
    if !report.deleted.is_empty() {
        println!("Deleted Images:");
        for id in &report.deleted {
            println!("deleted: {id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(report.space_reclaimed)
    );
    Ok(ExitCode::SUCCESS)
}
