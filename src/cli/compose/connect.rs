//! Finding the agent for the compose commands: `BOSUN_HOST`, or the default socket of the run
//! root, starting an agent there in the background when none answers.

use std::path::PathBuf;

use agent::client::parse_host;
use agent::compose::ComposeClient;

use crate::cli::agent::default_config;
use crate::cli::container::connect::connect_with;

fn host() -> Option<String> {
    std::env::var("BOSUN_HOST").ok().filter(|h| !h.is_empty())
}

/// Connects to the agent, starting it when it is the local default socket and nothing listens.
pub(super) async fn connect() -> anyhow::Result<ComposeClient> {
    connect_with(host().as_deref(), ComposeClient::connect).await
}

/// The socket of the agent [`connect`] talks to.
pub(super) fn socket() -> anyhow::Result<PathBuf> {
    Ok(match host() {
        Some(host) => parse_host(&host)?,
        None => default_config().socket(),
    })
}
