//! What every command that talks to the node agent shares (`container`, `image`, `volume`,
//! `network` and the compose commands): the `-H` option, parsing the words after the command
//! word on a runtime of its own, and finding the agent: `-H`/`BOSUN_HOST`, or the default socket
//! of the run root, starting an agent there in the background when none answers.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use agent::client::{ClientError, parse_host};
use agent::launch;
use anyhow::Context;
use clap::{Args, Parser};

use crate::cli::agent::default_config;

/// How long the CLI waits for an agent it started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The `-H` option of the agent commands (flattened into each command's parser).
#[derive(Debug, Args)]
pub(crate) struct HostArg {
    /// Agent socket to talk to (default: <run-root>/bosun.sock, started when not running).
    #[arg(
        short = 'H',
        long = "host",
        env = "BOSUN_HOST",
        global = true,
        value_name = "unix:///PATH"
    )]
    pub host: Option<String>,
}

/// Parses `words` (what follows the command word) as the command `name` with `C`, then runs
/// `dispatch` on a current-thread runtime. Help and usage errors are printed and end the command.
pub(crate) fn run_words<C, F>(
    name: &str,
    words: Vec<OsString>,
    dispatch: F,
) -> anyhow::Result<ExitCode>
where
    C: Parser,
    F: AsyncFnOnce(C) -> anyhow::Result<ExitCode>,
{
    let words = std::iter::once(OsString::from(name)).chain(words);
    let cli = match C::try_parse_from(words) {
        Ok(cli) => cli,
        Err(err) => return Ok(crate::cli::exit_for_clap_error(err)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(cli))
}

/// Connects with `connect` to the agent at `host` (or the default socket), starting the agent
/// when `host` is the local default socket and nothing listens there.
pub(crate) async fn connect_with<T, F>(host: Option<&str>, connect: F) -> anyhow::Result<T>
where
    F: AsyncFn(&Path) -> Result<T, ClientError>,
{
    let config = default_config();
    let socket = match host {
        Some(h) => parse_host(h)?,
        None => config.socket(),
    };
    crate::cli::agent_lost::remember(&socket);
    match connect(&socket).await {
        Ok(client) => Ok(client),
        Err(err) if err.no_agent() && socket == config.socket() => {
            let exe = std::env::current_exe().context("cannot find the bosun executable")?;
            launch::spawn_background(&exe, &config).context("cannot start the bosun agent")?;
            launch::wait_ready(&socket, START_TIMEOUT)
                .await
                .with_context(|| {
                    format!(
                        "the bosun agent did not come up (see {})",
                        config.log_file().display()
                    )
                })?;
            Ok(connect(&socket).await?)
        }
        Err(err) => Err(err.into()),
    }
}
