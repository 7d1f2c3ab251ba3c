//! Finding the agent for the compose commands: `BOSUN_HOST`, or the default socket of the run
//! root, starting an agent there in the background when none answers.

use cluster::compose::ComposeClient;

use crate::cli::container::connect::connect_with;

/// Connects to the agent, starting it when it is the local default socket and nothing listens.
pub async fn connect() -> anyhow::Result<ComposeClient> {
    let host = std::env::var("BOSUN_HOST").ok().filter(|h| !h.is_empty());
    connect_with(host.as_deref(), ComposeClient::connect).await
}
