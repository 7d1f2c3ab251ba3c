//! `bosun cp`, `bosun export` and `bosun commit`: the container commands of the same names on
//! a service's containers. `cp` into a service reaches every replica unless `--index` picks
//! one; out of a service, and for `export` and `commit`, the replica is `--index` (the first
//! by default).

use std::path::PathBuf;
use std::process::ExitCode;

use agent::proto;
use clap::Args;
use orchestrator::compose::labels;

use super::session::Session;
use crate::cli::container::changes::{self, CommitArgs as ContainerCommit};
use crate::cli::container::cp::{self, Side};
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun cp`.
#[derive(Debug, Args)]
pub(crate) struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Index of the container if the service has multiple replicas (copying into the service
    /// reaches all of them by default).
    #[arg(long)]
    pub index: Option<u32>,
    /// SERVICE:SRC_PATH or a host path.
    #[arg(value_name = "SRC")]
    pub source: String,
    /// SERVICE:DEST_PATH or a host path.
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// Arguments of `bosun export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Write to a file, instead of STDOUT.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The service.
    pub service: String,
}

/// Arguments of `bosun commit`.
#[derive(Debug, Args)]
pub(crate) struct CommitArgs {
    #[command(flatten)]
    pub options: changes::CommitOptions,
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// The service.
    pub service: String,
    /// REPOSITORY[:TAG] to name the image.
    pub reference: Option<String>,
}

/// The service's containers (stopped ones too), only replica `index` when given, in replica
/// order; an error naming the service when there is none.
fn replicas(
    session: &Session,
    service: &str,
    index: Option<u32>,
) -> anyhow::Result<Vec<proto::ContainerSummary>> {
    session.check_services(&[service.to_string()])?;
    let mut found: Vec<_> = session
        .containers(&[service.to_string()], true, false)?
        .into_iter()
        .filter(|c| {
            index.is_none_or(|n| c.labels.get(labels::CONTAINER_NUMBER) == Some(&n.to_string()))
        })
        .collect();
    found.sort_by_key(|c| {
        c.labels
            .get(labels::CONTAINER_NUMBER)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    if found.is_empty() {
        match index {
            Some(n) => anyhow::bail!("service {service} has no container #{n}"),
            None => anyhow::bail!("no container found for service \"{service}\""),
        }
    }
    Ok(found)
}

/// Runs `bosun cp`.
pub(super) fn cp(project: &ProjectArgs, args: CpArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    let mut client = session.backend().client().changes();
    match (Side::parse(&args.source), Side::parse(&args.dest)) {
        (Side::Host(src), Side::Container(service, path)) => {
            for c in replicas(&session, &service, args.index)? {
                session.agent.block_on(cp::to_container(
                    &mut client,
                    &src,
                    &c.id,
                    &path,
                    args.archive,
                    args.follow_link,
                ))?;
            }
        }
        (Side::Container(service, path), Side::Host(dest)) => {
            let first = replicas(&session, &service, Some(args.index.unwrap_or(1)))?;
            session.agent.block_on(cp::from_container(
                &mut client,
                &first[0].id,
                &path,
                &dest,
                args.archive,
                args.follow_link,
            ))?;
        }
        (Side::Host(_), Side::Host(_)) => {
            anyhow::bail!("one of the paths must be SERVICE:PATH")
        }
        (Side::Container(..), Side::Container(..)) => {
            anyhow::bail!("copying between services is not supported")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun export`.
pub(super) fn export(project: &ProjectArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    let container = replicas(&session, &args.service, Some(args.index))?.remove(0);
    let mut client = session.backend().client().changes();
    session.agent.block_on(changes::export(
        &mut client,
        &container.id,
        args.output.as_ref(),
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `bosun commit`: prints the new image's id.
pub(super) fn commit(project: &ProjectArgs, args: CommitArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    let container = replicas(&session, &args.service, Some(args.index))?.remove(0);
    let mut client = session.backend().client().changes();
    let request = ContainerCommit {
        options: args.options,
        container: container.id,
        reference: args.reference,
    };
    let id = session
        .agent
        .block_on(changes::commit(&mut client, &request))?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}
