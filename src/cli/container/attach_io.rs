//! The terminal side of an interactive session (`run -i/-t`, `exec -i/-t`, `attach`, and the
//! compose `exec`/`run`): the CLI's stdin goes to the process (end of file closes its stdin),
//! the output comes back, and with a terminal the CLI's own terminal is raw while the session
//! lasts (restored however it ends) and its size follows window changes (SIGWINCH).

use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;

use agent::attach_client::{SessionInput, SessionOutput};
use agent::proto::exec_output::Item;
use anyhow::Context;
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use tokio::sync::{mpsc, oneshot};

use super::detach_keys::DetachKeys;

/// How a session is driven.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The process has a terminal: raw mode, resizes, detach keys.
    pub tty: bool,
    /// The keys that detach from a session with a terminal.
    pub detach_keys: DetachKeys,
    /// Forward the CLI's stdin.
    pub stdin: bool,
    /// The end of the CLI's stdin closes the process's (not for `attach`, as docker: a
    /// detached container's stdin stays open for the next caller).
    pub close_on_eof: bool,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The output ended (the container's output closed).
    Output,
    /// The exec's process exited with this code.
    Exit(i32),
    /// The user typed the detach keys.
    Detached,
}

/// A chunk of the CLI's stdin.
#[derive(Debug, PartialEq, Eq)]
enum Chunk {
    Data(Vec<u8>),
    Eof,
    Detach,
}

/// The CLI's terminal in raw mode until dropped.
struct RawMode(Termios);

impl RawMode {
    /// Raw mode on stdin when it is a terminal.
    fn enable() -> Option<Self> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(Self(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}

/// The CLI's terminal size (rows, columns), from stdout or else stdin.
pub(crate) fn terminal_size() -> Option<(u16, u16)> {
    engine::shim::attach::window_size(std::io::stdout().as_fd())
        .or_else(|| engine::shim::attach::window_size(std::io::stdin().as_fd()))
        .filter(|(rows, cols)| *rows > 0 && *cols > 0)
}

/// Whether a session should get a terminal by default (compose: when stdin is one).
pub(crate) fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// Refuses a session with stdin and a terminal when the CLI's stdin is not a terminal, as
/// docker does.
pub(crate) fn check_tty(stdin: bool, tty: bool) -> anyhow::Result<()> {
    if stdin && tty && !stdin_is_terminal() {
        anyhow::bail!("the input device is not a TTY");
    }
    Ok(())
}

/// Reads the CLI's stdin on a thread of its own (a blocking read must not hold the runtime);
/// with `detach_keys`, their sequence ends the input with [`Chunk::Detach`].
fn read_stdin(detach_keys: Option<DetachKeys>) -> mpsc::Receiver<Chunk> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 32 * 1024];
        let mut matcher = detach_keys.map(|k| k.matcher());
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let (data, detach) = match matcher.as_mut() {
                Some(m) => m.feed(&buf[..n]),
                None => (buf[..n].to_vec(), false),
            };
            if !data.is_empty() && tx.blocking_send(Chunk::Data(data)).is_err() {
                return;
            }
            if detach {
                let _ = tx.blocking_send(Chunk::Detach);
                return;
            }
        }
        let _ = tx.blocking_send(Chunk::Eof);
    });
    rx
}

/// Forwards the CLI's stdin to the session until its end (then closes the process's stdin)
/// or the detach keys (then reports them).
async fn forward_stdin(
    input: SessionInput,
    mut chunks: mpsc::Receiver<Chunk>,
    close_on_eof: bool,
    detached: oneshot::Sender<()>,
) {
    while let Some(chunk) = chunks.recv().await {
        match chunk {
            Chunk::Data(data) => {
                if input.stdin(data).await.is_err() {
                    return;
                }
            }
            Chunk::Eof => {
                if close_on_eof {
                    let _ = input.close_stdin().await;
                }
                return;
            }
            Chunk::Detach => {
                let _ = detached.send(());
                return;
            }
        }
    }
}

/// How long a detach waits for the agent to end the output (an agent from before detaching
/// existed ignores the message).
const DETACH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Tells the agent that the user detached (so that the process keeps running and keeps its
/// stdin), then waits for the output to end, which says the agent has it.
async fn detach(input: &SessionInput, output: &mut SessionOutput) {
    if input.detach().await.is_err() {
        return;
    }
    let drained = async { while let Ok(Some(_)) = output.next().await {} };
    let _ = tokio::time::timeout(DETACH_WAIT, drained).await;
}

/// Drives a session until its output ends, the exec exits or the user detaches.
pub(crate) async fn drive(
    input: SessionInput,
    mut output: SessionOutput,
    options: Options,
) -> anyhow::Result<Ended> {
    use tokio::signal::unix::{SignalKind, signal};
    let _raw = if options.tty && options.stdin {
        RawMode::enable()
    } else {
        None
    };
    let (detach_tx, mut detached) = oneshot::channel();
    // Without stdin the sender stays here, so that `detached` never fires.
    let _unused = if options.stdin {
        let chunks = read_stdin(options.tty.then(|| options.detach_keys.clone()));
        tokio::spawn(forward_stdin(
            input.clone(),
            chunks,
            options.close_on_eof,
            detach_tx,
        ));
        None
    } else {
        Some(detach_tx)
    };
    let mut winch = if options.tty {
        Some(signal(SignalKind::window_change()).context("watch the terminal size")?)
    } else {
        None
    };
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut input_done = false;
    loop {
        tokio::select! {
            item = output.next() => match item? {
                Some(Item::Stdout(bytes)) => {
                    stdout.write_all(&bytes).context("write to stdout")?;
                    stdout.flush().context("write to stdout")?;
                }
                Some(Item::Stderr(bytes)) => {
                    stderr.write_all(&bytes).context("write to stderr")?;
                }
                Some(Item::ExitCode(code)) => return Ok(Ended::Exit(code)),
                None => return Ok(Ended::Output),
            },
            Some(()) = async { winch.as_mut()?.recv().await } => {
                if let Some((rows, cols)) = terminal_size() {
                    let _ = input.resize(rows, cols).await;
                }
            }
            typed = &mut detached, if !input_done => match typed {
                Ok(()) => {
                    detach(&input, &mut output).await;
                    return Ok(Ended::Detached);
                }
                // The input has ended: only the output is left.
                Err(_) => input_done = true,
            },
        }
    }
}
