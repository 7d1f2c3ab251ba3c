//! Naming the agent when it goes away in the middle of a command: tonic only says
//! "transport error", so the CLI remembers which socket it talks to and says that the agent
//! there is not running or not reachable, and where a background agent logs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use agent::client::{ClientError, background_log, is_transport_failure};

/// The agent socket this command talks to (one per command).
static SOCKET: OnceLock<PathBuf> = OnceLock::new();

/// Records the socket this command connected to.
pub(super) fn remember(socket: &Path) {
    let _ = SOCKET.set(socket.to_path_buf());
}

/// The words for `cause` when it is a lost connection to the agent; `None` for anything else.
pub(super) fn describe(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    let status = match cause.downcast_ref::<ClientError>() {
        Some(ClientError::Status(status)) => status.as_ref(),
        _ => cause.downcast_ref::<tonic::Status>()?,
    };
    if !is_transport_failure(status) {
        return None;
    }
    let socket = SOCKET.get()?;
    Some(format!(
        "the bosun agent at {} is not running or not reachable ({}); an agent started in the \
         background logs to {}",
        socket.display(),
        status.message(),
        background_log(socket).display()
    ))
}

/// The one-line text of `cause`: the lost agent named as [`describe`] does, a status the agent
/// returned by its message alone, anything else as it displays.
pub(super) fn text(cause: &(dyn std::error::Error + 'static)) -> String {
    if let Some(lost) = describe(cause) {
        return lost;
    }
    match cause.downcast_ref::<tonic::Status>() {
        Some(status) => status.message().to_string(),
        None => cause.to_string(),
    }
}
