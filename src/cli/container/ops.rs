//! The commands that act on a list of containers: start, stop, restart, kill, rm, pause,
//! unpause, wait.
//! Each target is tried in turn; failures are reported one line each and make the exit code 1.
//! `start -a` joins the CLI to the one container it starts instead (see [`super::attach`]).

use std::future::Future;
use std::process::ExitCode;

use agent::{AgentClient, ClientError};
use clap::Args;

use super::attach::{Session, attached, terminal_and_stdin};
use super::attach_io::check_tty;
use super::detach_keys::DetachKeys;
use super::units::parse_signal;

/// Containers to act on.
#[derive(Debug, Args)]
pub(super) struct Targets {
    /// Container names or ids.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Arguments of `start`.
#[derive(Debug, Args)]
pub(super) struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach the container's STDIN.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container (e.g. ctrl-p,ctrl-q).
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Container names or ids.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Arguments of `stop`.
#[derive(Debug, Args)]
pub(super) struct StopArgs {
    /// Seconds to wait before killing the container (default: its stop timeout).
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    pub time: Option<u64>,
    /// Container names or ids.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Arguments of `kill`.
#[derive(Debug, Args)]
pub(super) struct KillArgs {
    /// Signal to send (name or number).
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    pub signal: String,
    /// Container names or ids.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Arguments of `rm`.
#[derive(Debug, Args)]
pub(super) struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Container names or ids.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Applies `op` to each container, printing `ok(container, result)` on success.
async fn each<T, F, Fut>(
    client: &mut AgentClient,
    containers: &[String],
    mut op: F,
    ok: impl Fn(&str, T),
) -> anyhow::Result<ExitCode>
where
    F: FnMut(AgentClient, String) -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let mut failed = false;
    for container in containers {
        match op(client.clone(), container.clone()).await {
            Ok(value) => ok(container, value),
            Err(err) => {
                crate::cli::report_item(&err);
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn echo<T>(container: &str, _: T) {
    println!("{container}");
}

/// `bosun container stop`.
pub(super) async fn stop(client: &mut AgentClient, args: StopArgs) -> anyhow::Result<ExitCode> {
    let time = args.time;
    each(
        client,
        &args.containers,
        |mut c, id| async move { c.stop(&id, time).await },
        echo,
    )
    .await
}

/// `bosun container restart`.
pub(super) async fn restart(client: &mut AgentClient, args: StopArgs) -> anyhow::Result<ExitCode> {
    let time = args.time;
    each(
        client,
        &args.containers,
        |mut c, id| async move { c.restart(&id, time).await },
        echo,
    )
    .await
}

/// `bosun container kill`.
pub(super) async fn kill(client: &mut AgentClient, args: KillArgs) -> anyhow::Result<ExitCode> {
    let signal = parse_signal(&args.signal)?;
    each(
        client,
        &args.containers,
        |mut c, id| async move { c.kill(&id, signal).await },
        echo,
    )
    .await
}

/// `bosun container rm`.
pub(super) async fn rm(client: &mut AgentClient, args: RmArgs) -> anyhow::Result<ExitCode> {
    let (force, volumes) = (args.force, args.volumes);
    each(
        client,
        &args.containers,
        |mut c, id| async move { c.remove_with_volumes(&id, force, volumes).await },
        echo,
    )
    .await
}

/// `bosun container start`. `host` is the agent's address as given (`-H`), for `-a`/`-i`.
pub(super) async fn start(
    client: &mut AgentClient,
    args: StartArgs,
    host: Option<&str>,
) -> anyhow::Result<ExitCode> {
    if args.attach || args.interactive {
        return start_attached(client, args, host).await;
    }
    each(
        client,
        &args.containers,
        |mut c, id| async move { c.start(&id).await },
        echo,
    )
    .await
}

/// `start -a [-i]`: attached before the start (stdin too with `-i`), then as `attach` until
/// the container exits, with its exit code.
async fn start_attached(
    client: &mut AgentClient,
    args: StartArgs,
    host: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let [container] = args.containers.as_slice() else {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    };
    let detach_keys = DetachKeys::from_flag(args.detach_keys.as_deref())?;
    let inspected = client.inspect(container).await?;
    let summary = inspected.summary.unwrap_or_default();
    // A running container is only attached to, as docker does.
    let start = summary.state() != agent::proto::ContainerState::Running;
    let (tty, open_stdin) = terminal_and_stdin(&inspected.spec_json);
    let stdin = args.interactive && open_stdin;
    check_tty(stdin, tty)?;
    let session = Session {
        id: summary.id,
        tty,
        stdin,
        close_stdin: stdin,
        sig_proxy: true,
        detach_keys,
        start,
        rm: false,
    };
    attached(client, host, &session).await
}

/// `bosun container pause`.
pub(super) async fn pause(client: &mut AgentClient, args: Targets) -> anyhow::Result<ExitCode> {
    each(
        client,
        &args.containers,
        |mut c, id| async move { c.pause(&id).await },
        echo,
    )
    .await
}

/// `bosun container unpause`.
pub(super) async fn unpause(client: &mut AgentClient, args: Targets) -> anyhow::Result<ExitCode> {
    each(
        client,
        &args.containers,
        |mut c, id| async move { c.unpause(&id).await },
        echo,
    )
    .await
}

/// `bosun container wait`: prints each exit code.
pub(super) async fn wait(client: &mut AgentClient, args: Targets) -> anyhow::Result<ExitCode> {
    each(
        client,
        &args.containers,
        |mut c, id| async move { c.wait(&id).await },
        |_, w| println!("{}", w.exit_code),
    )
    .await
}
