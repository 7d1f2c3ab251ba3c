//! Signal proxying (`--sig-proxy`, on by default): while the CLI is attached to a container
//! (`run` without `-d`, `attach`, `start -a`), the signals it receives are sent to the
//! container, as docker does. With a terminal, Ctrl-C travels through the terminal as a
//! keystroke, so SIGINT is left alone.

use nix::sys::signal::Signal;
use tokio::signal::unix::{SignalKind, signal};

use agent::AgentClient;

/// The signals proxied to the container (those a user sends to a foreground command; never
/// the ones the CLI needs for itself, such as SIGWINCH, SIGCHLD or SIGPIPE).
const PROXIED: [Signal; 8] = [
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGVTALRM,
];

/// The signals proxied for a session with (`tty`) or without a terminal.
fn proxied(tty: bool) -> impl Iterator<Item = Signal> {
    PROXIED
        .into_iter()
        .filter(move |s| !(tty && *s == Signal::SIGINT))
}

/// The CLI's handlers for the proxied signals: installed before the session opens, so that
/// no signal the user sends once output shows is lost to its default action.
pub(super) struct SignalProxy {
    streams: Vec<(Signal, tokio::signal::unix::Signal)>,
}

impl SignalProxy {
    /// Installs the handlers for a session with (`tty`) or without a terminal.
    pub(super) fn install(tty: bool) -> anyhow::Result<Self> {
        let streams = proxied(tty)
            .map(|sig| Ok((sig, signal(SignalKind::from_raw(sig as i32))?)))
            .collect::<std::io::Result<_>>()?;
        Ok(Self { streams })
    }

    /// Sends the signals the CLI receives to container `id`; never returns.
    pub(super) async fn forward(self, mut client: AgentClient, id: &str) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Signal>(16);
        let mut watchers = tokio::task::JoinSet::new();
        for (sig, mut stream) in self.streams {
            let tx = tx.clone();
            watchers.spawn(async move {
                while stream.recv().await.is_some() {
                    if tx.send(sig).await.is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        while let Some(sig) = rx.recv().await {
            if let Err(err) = client.kill(id, sig as i32).await {
                eprintln!("error: cannot forward {sig} to container {id}: {err}");
            }
        }
        // Every watcher ended (they do not while the runtime runs): nothing more to forward.
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_keeps_sigint() {
        assert!(proxied(false).any(|s| s == Signal::SIGINT));
        assert!(!proxied(true).any(|s| s == Signal::SIGINT));
        assert!(proxied(true).any(|s| s == Signal::SIGTERM));
        assert!(!proxied(false).any(|s| s == Signal::SIGWINCH || s == Signal::SIGCHLD));
    }
}
