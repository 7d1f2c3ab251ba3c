//! Interactive sessions on the node: `Attach` to a container's attach socket (held by its
//! shim, so that its stdin outlives the agent) and `ExecAttach`, an exec with stdin and/or a
//! terminal. The caller's messages become stdin, end of stdin and resizes; the output streams
//! back. Blocking I/O runs on threads of its own, never on a runtime worker.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use engine::shim::attach::{Frame, FrameReader, set_window_size};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::AgentError;
use super::node::{Node, blocking};
use super::proto::{self, AttachInput, ExecOutput, attach_input, exec_output::Item};

/// Output chunks buffered between the container and the caller.
const OUTPUT_BUFFER: usize = 64;

/// Input chunks buffered between the caller and the container.
const INPUT_BUFFER: usize = 16;

/// The output stream of an interactive session.
pub type OutputStream = ReceiverStream<Result<ExecOutput, Status>>;

/// What the caller sent after the first message.
#[derive(Debug, PartialEq, Eq)]
enum Input {
    Data(Vec<u8>),
    Close,
    Resize(u16, u16),
}

fn input(message: AttachInput) -> Option<Input> {
    match message.item? {
        attach_input::Item::Stdin(data) => Some(Input::Data(data)),
        attach_input::Item::CloseStdin(true) => Some(Input::Close),
        attach_input::Item::Resize(size) => {
            let (rows, cols) = cells(&size);
            Some(Input::Resize(rows, cols))
        }
        _ => None,
    }
}

/// A terminal size as the kernel takes it (saturating at `u16::MAX`).
fn cells(size: &proto::TerminalSize) -> (u16, u16) {
    let clamp = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
    (clamp(size.rows), clamp(size.cols))
}

/// The first message of a session, or an error naming what was expected.
pub async fn first(inbound: &mut Streaming<AttachInput>) -> Result<attach_input::Item, Status> {
    inbound
        .message()
        .await?
        .and_then(|m| m.item)
        .ok_or_else(|| Status::invalid_argument("attach: the first message must open the session"))
}

/// Forwards the caller's input to `deliver` until the caller ends its input (`Ok(true)` once
/// `output_done` fires), goes away or `output_done` fires (`Ok(false)`).
async fn relay_input(
    mut inbound: Streaming<AttachInput>,
    deliver: mpsc::Sender<Input>,
    mut output_done: oneshot::Receiver<()>,
) -> bool {
    loop {
        tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(m)) => {
                    if let Some(i) = input(m)
                        && deliver.send(i).await.is_err()
                    {
                        return false;
                    }
                }
                // A clean end of the caller's messages: the session lasts until the output ends.
                Ok(None) => {
                    let _ = output_done.await;
                    return true;
                }
                Err(_) => return false,
            },
            _ = &mut output_done => return true,
        }
    }
}

impl Node {
    /// Attaches to the container of `request`: the caller's input goes to its stdin through
    /// its shim, its output streams back until it ends.
    pub async fn attach(
        &self,
        request: proto::AttachRequest,
        inbound: Streaming<AttachInput>,
    ) -> Result<OutputStream, AgentError> {
        let id = self.resolve(&request.container)?;
        let runtime = self.runtime().clone();
        let sock = blocking(move || Ok(runtime.attach(&id)?)).await?;
        let io = |e: std::io::Error| AgentError::Internal(format!("attach: {e}"));
        let mut opening = Vec::new();
        if request.close_stdin_on_detach {
            Frame::CloseStdinOnDetach.encode_into(&mut opening);
        }
        if let Some(size) = &request.size {
            let (rows, cols) = cells(size);
            Frame::Resize { rows, cols }.encode_into(&mut opening);
        }
        (&sock).write_all(&opening).map_err(io)?;
        let reader = sock.try_clone().map_err(io)?;
        let control = sock.try_clone().map_err(io)?;
        let (tx, rx) = mpsc::channel(OUTPUT_BUFFER);
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::spawn(move || {
            read_frames(reader, &tx);
            let _ = done_tx.send(());
        });
        let (input_tx, input_rx) = mpsc::channel(INPUT_BUFFER);
        std::thread::spawn(move || write_frames(sock, input_rx));
        tokio::spawn(async move {
            if !relay_input(inbound, input_tx, done_rx).await {
                // The caller is gone: closing the connection ends the reader, and the shim
                // closes the container's stdin if the session asked for it.
                let _ = control.shutdown(std::net::Shutdown::Both);
            }
        });
        Ok(ReceiverStream::new(rx))
    }

    /// Starts the exec of `request` with its stdin and/or terminal wired to the session;
    /// the output streams back, then the exit code.
    pub async fn exec_attach(
        &self,
        request: proto::ExecRequest,
        inbound: Streaming<AttachInput>,
    ) -> Result<OutputStream, AgentError> {
        let id = self.resolve(&request.container)?;
        let mut spec = super::exec::exec_spec(&request)?;
        spec.stdin = request.stdin;
        spec.tty = request.tty;
        spec.size = request.size.as_ref().map(cells);
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
            if request.stdin {
                sink = Some(Box::new(dup(&master).map_err(io)?));
            }
            let out = dup(&master).map_err(io)?;
            resize = Some(master);
            let tx = tx.clone();
            pumps.push(std::thread::spawn(move || pump(out, &tx, Item::Stdout)));
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
                pumps.push(std::thread::spawn(move || pump(pipe, &tx, wrap)));
            }
        }
        let (input_tx, input_rx) = mpsc::channel(INPUT_BUFFER);
        let tty = resize.is_some();
        std::thread::spawn(move || write_process(sink, resize, tty, input_rx));
        let (done_tx, done_rx) = oneshot::channel();
        tokio::spawn(async move {
            // A terminal whose caller went away is hung up: its process is killed.
            if !relay_input(inbound, input_tx, done_rx).await
                && tty
                && let Some(killer) = &killer
            {
                let _ = killer.kill();
            }
        });
        tokio::task::spawn_blocking(move || {
            for pump in pumps {
                let _ = pump.join();
            }
            let last = match process.wait() {
                Ok(code) => Ok(ExecOutput {
                    item: Some(Item::ExitCode(code)),
                }),
                Err(err) => Err(Status::internal(format!("exec: wait: {err}"))),
            };
            let _ = done_tx.send(());
            let _ = tx.blocking_send(last);
        });
        Ok(ReceiverStream::new(rx))
    }
}

/// Sends the output frames of the shim's socket until it closes or the caller is gone.
fn read_frames(mut sock: UnixStream, tx: &mpsc::Sender<Result<ExecOutput, Status>>) {
    let mut frames = FrameReader::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match sock.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        frames.feed(&buf[..n]);
        loop {
            let item = match frames.next_frame() {
                Ok(Some(Frame::Stdout(data))) => Item::Stdout(data),
                Ok(Some(Frame::Stderr(data))) => Item::Stderr(data),
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(err) => {
                    let _ = tx.blocking_send(Err(Status::internal(err.to_string())));
                    return;
                }
            };
            if tx
                .blocking_send(Ok(ExecOutput { item: Some(item) }))
                .is_err()
            {
                return;
            }
        }
    }
}

/// Writes the caller's input to the shim's socket as frames.
fn write_frames(mut sock: UnixStream, mut input: mpsc::Receiver<Input>) {
    while let Some(i) = input.blocking_recv() {
        let frame = match i {
            Input::Data(data) => Frame::Stdin(data),
            Input::Close => Frame::CloseStdin,
            Input::Resize(rows, cols) => Frame::Resize { rows, cols },
        };
        if sock.write_all(&frame.encode()).is_err() {
            return;
        }
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
        }
    }
}

/// Sends everything read from `pipe` as `wrap`ped chunks until end of file (or, on a
/// terminal, EIO once the process and its children closed it) or a gone caller.
fn pump(
    mut pipe: impl Read,
    tx: &mpsc::Sender<Result<ExecOutput, Status>>,
    wrap: fn(Vec<u8>) -> Item,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
            Ok(n) => {
                let item = ExecOutput {
                    item: Some(wrap(buf[..n].to_vec())),
                };
                if tx.blocking_send(Ok(item)).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_messages_become_input() {
        let msg = |item| AttachInput { item: Some(item) };
        let cases = [
            (
                msg(attach_input::Item::Stdin(b"hi".to_vec())),
                Some(Input::Data(b"hi".to_vec())),
            ),
            (
                msg(attach_input::Item::CloseStdin(true)),
                Some(Input::Close),
            ),
            (msg(attach_input::Item::CloseStdin(false)), None),
            (
                msg(attach_input::Item::Resize(proto::TerminalSize {
                    rows: 50,
                    cols: 1 << 20,
                })),
                Some(Input::Resize(50, u16::MAX)),
            ),
            (
                msg(attach_input::Item::Attach(proto::AttachRequest::default())),
                None,
            ),
            (AttachInput { item: None }, None),
        ];
        for (message, want) in cases {
            assert_eq!(input(message.clone()), want, "{message:?}");
        }
    }
}
