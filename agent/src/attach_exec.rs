//! `ExecAttach`: an exec with its stdin and/or a terminal wired to the caller's session (see
//! [`super::attach`] for the session itself). A terminal whose caller goes away is hung up;
//! one whose caller detaches keeps running, its output read and dropped.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use engine::ExecSpec;
use engine::shim::attach::set_window_size;
use tokio::sync::{mpsc, oneshot};
use tonic::{Status, Streaming};

use super::AgentError;
use super::attach::{
    INPUT_BUFFER, Input, OUTPUT_BUFFER, Outcome, OutputStream, relay_input, until_detached,
};
use super::node::{Node, blocking};
use super::proto::{AttachInput, ExecOutput, exec_output::Item};

impl Node {
    /// Starts the exec `spec` in `container` with its stdin and/or terminal wired to the session;
    /// the output streams back, then the exit code.
    pub async fn exec_attach(
        &self,
        container: &str,
        spec: ExecSpec,
        inbound: Streaming<AttachInput>,
    ) -> Result<OutputStream, AgentError> {
        let id = self.resolve(container)?;
        let stdin = spec.stdin;
        let runtime = self.runtime().clone();
        let mut process = blocking(move || Ok(runtime.exec_spawn(&id, &spec)?)).await?;
        let killer = process.killer().ok();
        let (tx, rx) = mpsc::channel(OUTPUT_BUFFER);
        let mut pumps = Vec::new();
        let mut sink: Option<Box<dyn Write + Send>> = process
            .stdin
            .take()
            .map(|p| Box::new(p) as Box<dyn Write + Send>);
        let mut resize: Option<OwnedFd> = None;
        if let Some(master) = process.tty.take() {
            let dup = |fd: &OwnedFd| fd.try_clone().map(std::fs::File::from);
            let io = |e: std::io::Error| AgentError::Internal(format!("exec: terminal: {e}"));
            if stdin {
                sink = Some(Box::new(dup(&master).map_err(io)?));
            }
            let out = dup(&master).map_err(io)?;
            resize = Some(master);
            let tx = tx.clone();
            // The terminal is read to its end even once nobody listens (a detached process
            // must not block on a full terminal).
            pumps.push(std::thread::spawn(move || {
                pump(out, &tx, Item::Stdout, true)
            }));
        }
        for (pipe, wrap) in [
            (
                process
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
                Item::Stdout as fn(Vec<u8>) -> Item,
            ),
            (
                process
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
                Item::Stderr,
            ),
        ] {
            if let Some(pipe) = pipe {
                let tx = tx.clone();
                pumps.push(std::thread::spawn(move || pump(pipe, &tx, wrap, false)));
            }
        }
        let (input_tx, input_rx) = mpsc::channel(INPUT_BUFFER);
        let tty = resize.is_some();
        std::thread::spawn(move || write_process(sink, resize, tty, input_rx));
        let (done_tx, done_rx) = oneshot::channel();
        let (detached_tx, detached_rx) = oneshot::channel();
        tokio::spawn(async move {
            match relay_input(inbound, input_tx, done_rx).await {
                // A terminal whose caller went away is hung up: its process is killed.
                Outcome::Gone if tty => {
                    if let Some(killer) = &killer {
                        let _ = killer.kill();
                    }
                }
                Outcome::Detached => {
                    let _ = detached_tx.send(());
                }
                Outcome::Gone | Outcome::Done => {}
            }
        });
        tokio::task::spawn_blocking(move || {
            for pump in pumps {
                let _ = pump.join();
            }
            let last = super::exec::exit_output(&mut process);
            let _ = done_tx.send(());
            let _ = tx.blocking_send(last);
        });
        Ok(until_detached(rx, detached_rx))
    }
}

/// Writes the caller's input to an exec's stdin pipe or terminal and applies resizes; the
/// end of input closes the pipe, or types the end-of-file character on a terminal.
fn write_process(
    mut sink: Option<Box<dyn Write + Send>>,
    terminal: Option<OwnedFd>,
    tty: bool,
    mut input: mpsc::Receiver<Input>,
) {
    while let Some(i) = input.blocking_recv() {
        match i {
            Input::Data(data) => {
                if let Some(s) = sink.as_mut()
                    && s.write_all(&data).is_err()
                {
                    sink = None;
                }
            }
            Input::Close if tty => {
                if let Some(s) = sink.as_mut() {
                    let _ = s.write_all(&[4]);
                }
            }
            Input::Close => sink = None,
            Input::Resize(rows, cols) => {
                if let Some(fd) = &terminal {
                    let _ = set_window_size(fd.as_fd(), rows, cols);
                }
            }
            // The process keeps its terminal; nothing more comes.
            Input::Detach => return,
        }
    }
}

/// Sends everything read from `pipe` as `wrap`ped chunks until end of file (or, on a
/// terminal, EIO once the process and its children closed it) or a gone caller; with
/// `drain`, a gone caller's share is read and dropped until the end.
fn pump(
    mut pipe: impl Read,
    tx: &mpsc::Sender<Result<ExecOutput, Status>>,
    wrap: fn(Vec<u8>) -> Item,
    drain: bool,
) {
    let mut buf = vec![0u8; 8192];
    let mut listened = true;
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
            Ok(n) if listened => {
                let item = ExecOutput {
                    item: Some(wrap(buf[..n].to_vec())),
                };
                if tx.blocking_send(Ok(item)).is_err() {
                    if !drain {
                        return;
                    }
                    listened = false;
                }
            }
            Ok(_) => {}
        }
    }
}
