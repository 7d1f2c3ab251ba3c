//! The client side of the agent's interactive sessions (`Attach`, `ExecAttach`): the caller
//! gets a [`SessionInput`] to send stdin, end of stdin and resizes, and a [`SessionOutput`]
//! to read the output (and, for an exec, the exit code).

use std::path::Path;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::agent::{self as proto, AttachInput, agent_client, attach_input::Item};
use crate::client::{ClientError, channel};

/// Input messages buffered towards the agent.
const INPUT_BUFFER: usize = 16;

/// A connection to one agent for interactive sessions.
#[derive(Debug, Clone)]
pub struct AttachClient {
    inner: agent_client::AgentClient<Channel>,
}

/// Where the caller's input goes; dropping it ends the input without closing the process's
/// stdin (use [`SessionInput::close_stdin`] for that).
#[derive(Debug, Clone)]
pub struct SessionInput(mpsc::Sender<AttachInput>);

/// The output of a session.
#[derive(Debug)]
pub struct SessionOutput(tonic::Streaming<proto::ExecOutput>);

impl SessionInput {
    async fn send(&self, item: Item) -> Result<(), ClientError> {
        self.0
            .send(AttachInput { item: Some(item) })
            .await
            .map_err(|_| tonic::Status::cancelled("the session has ended").into())
    }

    /// Sends bytes to the process's stdin.
    pub async fn stdin(&self, data: Vec<u8>) -> Result<(), ClientError> {
        self.send(Item::Stdin(data)).await
    }

    /// Ends the process's input (its stdin pipe closes; a terminal gets end of file).
    pub async fn close_stdin(&self) -> Result<(), ClientError> {
        self.send(Item::CloseStdin(true)).await
    }

    /// Detaches: the process keeps running with its stdin open, and the output ends.
    pub async fn detach(&self) -> Result<(), ClientError> {
        self.send(Item::Detach(true)).await
    }

    /// Tells the process's terminal its new size.
    pub async fn resize(&self, rows: u16, cols: u16) -> Result<(), ClientError> {
        self.send(Item::Resize(size(rows, cols))).await
    }
}

impl SessionOutput {
    /// The next piece of output (or an exec's exit code), `None` at the end.
    pub async fn next(&mut self) -> Result<Option<proto::exec_output::Item>, ClientError> {
        Ok(self.0.message().await?.and_then(|m| m.item))
    }
}

/// A terminal size message.
pub fn size(rows: u16, cols: u16) -> proto::TerminalSize {
    proto::TerminalSize {
        rows: rows.into(),
        cols: cols.into(),
    }
}

impl AttachClient {
    /// Connects to the agent listening on `socket`.
    pub async fn connect(socket: &Path) -> Result<Self, ClientError> {
        Ok(Self::new(agent_client::AgentClient::new(
            channel(socket).await?,
        )))
    }

    /// Sessions over an existing gRPC client of the agent.
    pub fn new(inner: agent_client::AgentClient<Channel>) -> Self {
        Self { inner }
    }

    async fn open(
        &mut self,
        first: Item,
        exec: bool,
    ) -> Result<(SessionInput, SessionOutput), ClientError> {
        let (tx, rx) = mpsc::channel(INPUT_BUFFER);
        let input = SessionInput(tx);
        input.send(first).await?;
        let stream = ReceiverStream::new(rx);
        let output = if exec {
            self.inner.exec_attach(stream).await?
        } else {
            self.inner.attach(stream).await?
        };
        Ok((input, SessionOutput(output.into_inner())))
    }

    /// Attaches to a created or running container with a terminal or an open stdin.
    pub async fn attach(
        &mut self,
        request: proto::AttachRequest,
    ) -> Result<(SessionInput, SessionOutput), ClientError> {
        self.open(Item::Attach(request), false).await
    }

    /// Runs a process in a running container with its stdin and/or a terminal.
    pub async fn exec(
        &mut self,
        request: proto::ExecRequest,
    ) -> Result<(SessionInput, SessionOutput), ClientError> {
        self.open(Item::Exec(request), true).await
    }
}
