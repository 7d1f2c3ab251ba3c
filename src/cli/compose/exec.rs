//! `bosun exec`: a command in a running service container, its output streamed, its exit code
//! returned. As docker compose: stdin is forwarded (`-i` is the default) and the command gets a
//! terminal when the CLI's stdin is one, unless `-T`.

use std::io::Write;
use std::process::ExitCode;

use agent::attach_client::{AttachClient, size};
use agent::proto;
use agent::proto::exec_output::Item;
use clap::Args;
use orchestrator::compose::labels;

use super::session::Session;
use crate::cli::container::attach_io::{stdin_is_terminal, terminal_size};
use crate::cli::container::detach_keys::DetachKeys;
use crate::cli::container::exec::interactive;
use crate::cli::project::ProjectArgs;

/// Arguments of `bosun exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables.
    #[arg(short, long, value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Run the command as this user.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Path to the workdir directory for this command.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Index of the container if the service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Disable pseudo-TTY allocation (by default, a TTY is allocated when stdin is one).
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open (the default; accepted for compatibility).
    #[arg(short, long)]
    pub interactive: bool,
    /// The service.
    pub service: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs `bosun exec` (by project name, from the containers' labels, when there is no compose
/// file).
pub(super) fn run(project: &ProjectArgs, args: ExecArgs) -> anyhow::Result<ExitCode> {
    let session = Session::open_existing(project)?;
    session.check_services(std::slice::from_ref(&args.service))?;
    let containers = session.containers(std::slice::from_ref(&args.service), false, true)?;
    let is_oneoff = |c: &&proto::ContainerSummary| {
        c.labels
            .get(labels::ONEOFF)
            .is_some_and(|v| v == labels::TRUE)
    };
    // The service container of that index; as Compose, a running one-off container of the
    // service (`run -d`) when the service has none running.
    let (oneoffs, services): (Vec<_>, Vec<_>) = containers.iter().partition(is_oneoff);
    let container = if services.is_empty() {
        oneoffs.first().copied()
    } else {
        services
            .into_iter()
            .find(|c| c.labels.get(labels::CONTAINER_NUMBER) == Some(&args.index.to_string()))
    };
    let container = container.ok_or_else(|| {
        anyhow::anyhow!(
            "service {} is not running container #{}",
            args.service,
            args.index
        )
    })?;
    let request = proto::ExecRequest {
        container: container.id.clone(),
        args: args.command.clone(),
        env: session.resolve_env(&args.env),
        user: args.user.clone().unwrap_or_default(),
        working_dir: args.workdir.clone().unwrap_or_default(),
        ..Default::default()
    };
    let code = if args.detach {
        exec(&session, request, true)?
    } else {
        let tty = !args.no_tty && stdin_is_terminal();
        let request = proto::ExecRequest {
            tty,
            stdin: true,
            size: terminal_size()
                .filter(|_| tty)
                .map(|(rows, cols)| size(rows, cols)),
            ..request
        };
        let mut sessions = AttachClient::new(session.backend().client().containers.clone());
        session
            .agent
            .block_on(interactive(&mut sessions, request, DetachKeys::default()))?
    };
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}

/// Runs an exec, streaming its output unless `detach`; returns its exit code.
pub(super) fn exec(
    session: &Session,
    request: proto::ExecRequest,
    detach: bool,
) -> anyhow::Result<i32> {
    let mut client = session.backend().client().containers.clone();
    session.agent.block_on(async move {
        let mut stream = client.exec(request).await?.into_inner();
        if detach {
            return Ok(0);
        }
        while let Some(output) = stream.message().await? {
            match output.item {
                Some(Item::Stdout(bytes)) => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&bytes)?;
                    out.flush()?;
                }
                Some(Item::Stderr(bytes)) => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(&bytes)?;
                    err.flush()?;
                }
                Some(Item::ExitCode(code)) => return Ok(code),
                None => {}
            }
        }
        anyhow::bail!("the exec ended without an exit code")
    })
}
