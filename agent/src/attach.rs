//! Interactive sessions on the node: `Attach` to a container's attach socket (held by its
//! shim, so that its stdin outlives the agent), and the session machinery it shares with
//! `ExecAttach` ([`super::attach_exec`]). The caller's messages become stdin, end of stdin and
//! resizes; the output streams back. A caller that detaches (its detach keys) leaves the
//! process running with its stdin open, and its output stream ends. Blocking I/O runs on
//! threads of its own, never on a runtime worker.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use engine::logs::LogQuery;
use engine::shim::attach::{Frame, FrameReader};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::AgentError;
use super::logs::LogOptions;
use super::node::{Node, blocking};
use super::proto::{self, AttachInput, ExecOutput, attach_input, exec_output::Item};
use super::request::AttachOptions;

/// Output chunks buffered between the container and the caller.
pub(super) const OUTPUT_BUFFER: usize = 64;

/// Input chunks buffered between the caller and the container.
pub(super) const INPUT_BUFFER: usize = 16;

/// The output stream of an interactive session.
pub(crate) type OutputStream = ReceiverStream<Result<ExecOutput, Status>>;

/// What the caller sent after the first message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Input {
    Data(Vec<u8>),
    Close,
    Resize(u16, u16),
    Detach,
}

/// How the caller's side of a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The caller ended its input, and the output has ended.
    Done,
    /// The caller went away without a word.
    Gone,
    /// The caller detached.
    Detached,
}

fn input(message: AttachInput) -> Option<Input> {
    match message.item? {
        attach_input::Item::Stdin(data) => Some(Input::Data(data)),
        attach_input::Item::CloseStdin(true) => Some(Input::Close),
        attach_input::Item::Detach(true) => Some(Input::Detach),
        attach_input::Item::Resize(size) => {
            let (rows, cols) = cells(&size);
            Some(Input::Resize(rows, cols))
        }
        _ => None,
    }
}

/// A terminal size as the kernel takes it (saturating at `u16::MAX`).
pub(super) fn cells(size: &proto::TerminalSize) -> (u16, u16) {
    let clamp = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
    (clamp(size.rows), clamp(size.cols))
}

/// The first message of a session, or an error naming what was expected.
pub(crate) async fn first(
    inbound: &mut Streaming<AttachInput>,
) -> Result<attach_input::Item, Status> {
    inbound
        .message()
        .await?
        .and_then(|m| m.item)
        .ok_or_else(|| Status::invalid_argument("attach: the first message must open the session"))
}

/// Forwards the caller's input to `deliver` until the caller ends its input (then once
/// `output_done` fires), goes away, detaches (the detach is delivered too) or `output_done`
/// fires.
pub(super) async fn relay_input(
    mut inbound: Streaming<AttachInput>,
    deliver: mpsc::Sender<Input>,
    mut output_done: oneshot::Receiver<()>,
) -> Outcome {
    loop {
        tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(m)) => {
                    let Some(i) = input(m) else { continue };
                    let detach = i == Input::Detach;
                    if deliver.send(i).await.is_err() {
                        return Outcome::Gone;
                    }
                    if detach {
                        return Outcome::Detached;
                    }
                }
                // A clean end of the caller's messages: the session lasts until the output ends.
                Ok(None) => {
                    let _ = output_done.await;
                    return Outcome::Done;
                }
                Err(_) => return Outcome::Gone,
            },
            _ = &mut output_done => return Outcome::Done,
        }
    }
}

/// The output stream of a session: `rx` until it ends or the caller detaches (`detached`
/// fires; dropped unfired, it never ends the stream).
pub(super) fn until_detached(
    mut rx: mpsc::Receiver<Result<ExecOutput, Status>>,
    detached: oneshot::Receiver<()>,
) -> OutputStream {
    let (tx, out) = mpsc::channel(OUTPUT_BUFFER);
    tokio::spawn(async move {
        let detached = async move {
            if detached.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::pin!(detached);
        loop {
            let item = tokio::select! {
                item = rx.recv() => item,
                () = &mut detached => return,
            };
            let Some(item) = item else { return };
            if tx.send(item).await.is_err() {
                return;
            }
        }
    });
    ReceiverStream::new(out)
}

impl Node {
    /// Attaches to `container`: the caller's input goes to its stdin through its shim, its
    /// output streams back until it ends.
    pub(crate) async fn attach(
        &self,
        container: &str,
        options: AttachOptions,
        inbound: Streaming<AttachInput>,
    ) -> Result<OutputStream, AgentError> {
        let id = self.resolve(container)?;
        let runtime = self.runtime().clone();
        let i = id.clone();
        let attached = blocking(move || match runtime.attach(&i) {
            Ok(sock) => Ok(Some(sock)),
            // A container whose shim has no attach socket: its output from now on, through
            // its log files.
            Err(_)
                if !runtime.has_attach_socket(&i)
                    && runtime.state(&i).is_ok_and(|r| r.state.is_alive()) =>
            {
                Ok(None)
            }
            Err(err) => Err(err.into()),
        });
        let Some(sock) = attached.await? else {
            return Ok(self.follow_output(id));
        };
        let io = |e: std::io::Error| AgentError::Internal(format!("attach: {e}"));
        let mut opening = Vec::new();
        if options.close_stdin_on_detach {
            Frame::CloseStdinOnDetach.encode_into(&mut opening);
        }
        if let Some((rows, cols)) = options.size {
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
        let (detached_tx, detached_rx) = oneshot::channel();
        tokio::spawn(async move {
            match relay_input(inbound, input_tx, done_rx).await {
                // The caller is gone: closing the connection ends the reader, and the shim
                // closes the container's stdin if the session asked for it.
                Outcome::Gone => {
                    let _ = control.shutdown(std::net::Shutdown::Both);
                }
                // The writer closes the connection once the detach is written.
                Outcome::Detached => {
                    let _ = detached_tx.send(());
                }
                Outcome::Done => {}
            }
        });
        Ok(until_detached(rx, detached_rx))
    }

    /// The output of container `id` from now on, read from its log files until it exits.
    fn follow_output(&self, id: String) -> OutputStream {
        let options = LogOptions {
            follow: true,
            query: LogQuery {
                tail: Some(0),
                ..LogQuery::default()
            },
        };
        let mut entries = super::logs::stream_from(self.runtime().clone(), id, options);
        let (tx, rx) = mpsc::channel(OUTPUT_BUFFER);
        tokio::spawn(async move {
            while let Some(entry) = entries.next().await {
                let item = entry.map(|e| ExecOutput {
                    item: Some(match e.stream.as_str() {
                        "stderr" => Item::Stderr(e.line),
                        _ => Item::Stdout(e.line),
                    }),
                });
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        ReceiverStream::new(rx)
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
            Input::Detach => Frame::Detach,
        };
        if sock.write_all(&frame.encode()).is_err() {
            return;
        }
    }
    // The input has ended (the caller detached, went away or ended a finished session):
    // the shim drops this caller.
    let _ = sock.shutdown(std::net::Shutdown::Both);
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
            (msg(attach_input::Item::Detach(true)), Some(Input::Detach)),
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
