//! Finding the agent: `-H`, or the default socket of the run root, starting an agent there in
//! the background when none answers.

use std::time::Duration;

use anyhow::Context;
use cluster::agent::client::parse_host;
use cluster::agent::{AgentClient, launch};

use crate::cli::agent::default_config;

/// How long the CLI waits for an agent it started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Connects to the agent at `host` (or the default socket), starting it when it is the local
/// default socket and nothing listens.
pub async fn connect(host: Option<&str>) -> anyhow::Result<AgentClient> {
    let config = default_config();
    let socket = match host {
        Some(h) => parse_host(h)?,
        None => config.socket(),
    };
    match AgentClient::connect(&socket).await {
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
                })
        }
        Err(err) => Err(err.into()),
    }
}
