//! `bosun container export|diff|commit|update`: a container's root as a tar, its changes to
//! its image, those changes as a new image, and new limits or restart policy. The agent does
//! the work (`ContainerChanges`); these parse and print.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use agent::proto::{self, container_changes_client::ContainerChangesClient};
use anyhow::Context;
use clap::Args;
use tonic::transport::Channel;

use super::units::{parse_cpus, parse_size, parse_swap};

/// The container commands over the `ContainerChanges` service.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ChangesCommand {
    /// Copy files/folders between a container and the local filesystem.
    Cp(super::cp::CpArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(DiffArgs),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
    /// Update configuration (limits, restart policy) of one or more containers.
    Update(UpdateArgs),
}

/// Runs one of the [`ChangesCommand`]s.
pub(super) async fn run(
    client: &mut ContainerChangesClient<Channel>,
    command: ChangesCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        ChangesCommand::Cp(args) => super::cp::run(client, args).await,
        ChangesCommand::Export(args) => run_export(client, args).await,
        ChangesCommand::Diff(args) => run_diff(client, args).await,
        ChangesCommand::Commit(args) => run_commit(client, args).await,
        ChangesCommand::Update(args) => run_update(client, args).await,
    }
}

/// Arguments of `container export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The container.
    pub container: String,
}

/// Arguments of `container diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The container.
    pub container: String,
}

/// What a commit records, shared by `container commit` and compose `commit`.
#[derive(Debug, Clone, Args)]
pub(crate) struct CommitOptions {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long, value_name = "INSTRUCTION")]
    pub change: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit (`--pause=false` to keep it running).
    #[arg(
        short,
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub pause: bool,
}

/// Arguments of `container commit`.
#[derive(Debug, Args)]
pub(crate) struct CommitArgs {
    #[command(flatten)]
    pub options: CommitOptions,
    /// The container.
    pub container: String,
    /// REPOSITORY[:TAG] to name the image.
    pub reference: Option<String>,
}

/// Arguments of `container update`.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory limit.
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    pub restart: Option<String>,
    /// The containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Streams the tar of a container's root to `output` (stdout when none).
pub(crate) async fn export(
    client: &mut ContainerChangesClient<Channel>,
    container: &str,
    output: Option<&PathBuf>,
) -> anyhow::Result<()> {
    if output.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let request = proto::ContainerRef {
        container: container.to_string(),
    };
    let mut stream = client.export(request).await?.into_inner();
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    while let Some(chunk) = stream.message().await? {
        out.write_all(&chunk.data)?;
    }
    out.flush()?;
    Ok(())
}

/// Commits a container; returns the new image's id.
pub(crate) async fn commit(
    client: &mut ContainerChangesClient<Channel>,
    args: &CommitArgs,
) -> anyhow::Result<String> {
    let request = proto::CommitRequest {
        container: args.container.clone(),
        reference: args.reference.clone().unwrap_or_default(),
        message: args.options.message.clone().unwrap_or_default(),
        author: args.options.author.clone().unwrap_or_default(),
        changes: args.options.change.clone(),
        pause: args.options.pause,
    };
    Ok(client.commit(request).await?.into_inner().id)
}

/// Runs `container export`.
async fn run_export(
    client: &mut ContainerChangesClient<Channel>,
    args: ExportArgs,
) -> anyhow::Result<ExitCode> {
    export(client, &args.container, args.output.as_ref()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `container diff`: one `C|A|D path` line per change.
async fn run_diff(
    client: &mut ContainerChangesClient<Channel>,
    args: DiffArgs,
) -> anyhow::Result<ExitCode> {
    let request = proto::ContainerRef {
        container: args.container,
    };
    let changes = client.diff(request).await?.into_inner().changes;
    let mut out = std::io::stdout().lock();
    for change in changes {
        let letter = match proto::ChangeKind::from_i32(change.kind) {
            Some(proto::ChangeKind::Changed) => 'C',
            Some(proto::ChangeKind::Added) => 'A',
            Some(proto::ChangeKind::Deleted) => 'D',
            None => '?',
        };
        writeln!(out, "{letter} {}", change.path)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `container commit`: prints the new image's id.
async fn run_commit(
    client: &mut ContainerChangesClient<Channel>,
    args: CommitArgs,
) -> anyhow::Result<ExitCode> {
    println!("{}", commit(client, &args).await?);
    Ok(ExitCode::SUCCESS)
}

/// Runs `container update`: prints each container updated, as docker does.
async fn run_update(
    client: &mut ContainerChangesClient<Channel>,
    args: UpdateArgs,
) -> anyhow::Result<ExitCode> {
    let cpus = args
        .cpus
        .as_deref()
        .map(parse_cpus)
        .transpose()?
        .map(|nano| nano as f64 / 1e9);
    let memory = args.memory.as_deref().map(parse_size).transpose()?;
    let memory_swap = args.memory_swap.as_deref().map(parse_swap).transpose()?;
    let mut failed = false;
    for container in &args.containers {
        let request = proto::UpdateRequest {
            container: container.clone(),
            memory,
            memory_swap,
            cpu_shares: args.cpu_shares,
            cpus,
            cpuset_cpus: args.cpuset_cpus.clone(),
            pids_limit: args.pids_limit,
            restart: args.restart.clone().unwrap_or_default(),
        };
        match client.update(request).await {
            Ok(_) => println!("{container}"),
            Err(status) => {
                eprintln!("Error: {container}: {}", status.message());
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
