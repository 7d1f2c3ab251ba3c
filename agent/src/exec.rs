//! Exec, top and restart on the node: each engine call on the blocking pool, exec's output
//! streamed as it is written.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use engine::runtime::ProcessInfo;
use engine::{ExecSpec, RuntimeError};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::node::{Node, blocking};
use super::proto::exec_output::Item;
use super::{AgentError, proto::ExecOutput};

/// Output chunks buffered between the exec's pipes and the client.
const EXEC_BUFFER: usize = 64;

/// Sends everything read from `pipe` as `wrap`ped chunks until end of file or a gone client.
fn pump(
    mut pipe: impl Read,
    tx: mpsc::Sender<Result<ExecOutput, Status>>,
    wrap: fn(Vec<u8>) -> Item,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return,
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

impl Node {
    /// Starts `req` in its container; the stream carries the output, then the exit code.
    pub async fn exec(
        &self,
        container: &str,
        spec: ExecSpec,
    ) -> Result<ReceiverStream<Result<ExecOutput, Status>>, AgentError> {
        let id = self.resolve(container)?;
        let runtime = self.runtime().clone();
        let mut process = blocking(move || Ok(runtime.exec_spawn(&id, &spec)?)).await?;
        let (tx, rx) = mpsc::channel(EXEC_BUFFER);
        let pumps: Vec<_> = [
            process.stdout.take().map(|p| {
                (
                    Box::new(p) as Box<dyn Read + Send>,
                    Item::Stdout as fn(_) -> _,
                )
            }),
            process.stderr.take().map(|p| {
                (
                    Box::new(p) as Box<dyn Read + Send>,
                    Item::Stderr as fn(_) -> _,
                )
            }),
        ]
        .into_iter()
        .flatten()
        .map(|(pipe, wrap)| {
            let tx = tx.clone();
            std::thread::spawn(move || pump(pipe, tx, wrap))
        })
        .collect();
        tokio::task::spawn_blocking(move || {
            for pump in pumps {
                let _ = pump.join();
            }
            let _ = tx.blocking_send(exit_output(&mut process));
        });
        Ok(ReceiverStream::new(rx))
    }

    /// The container's processes, with `ps -ef`'s columns.
    pub async fn top(&self, reference: &str) -> Result<Vec<ProcessInfo>, AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime().clone();
        blocking(move || Ok(runtime.top(&id)?)).await
    }

    /// Stops the container if it runs, then starts it again under supervision.
    pub async fn restart(
        self: &Arc<Self>,
        reference: &str,
        timeout: Option<Duration>,
    ) -> Result<(), AgentError> {
        let id = self.resolve(reference)?;
        let runtime = self.runtime().clone();
        let i = id.clone();
        blocking(move || match runtime.restart(&i, timeout) {
            Err(engine::Error::Runtime(RuntimeError::NotFound(_))) => {
                Err(AgentError::NotFound(i.clone()))
            }
            other => Ok(other?),
        })
        .await?;
        self.supervise(id.clone());
        tracing::info!(container = %id, "restarted");
        Ok(())
    }
}

/// Waits for an exec'd process and gives its exit code as the stream's last item.
// The item type of the output stream, as tonic streams it.
#[allow(clippy::result_large_err)]
pub(super) fn exit_output(
    process: &mut engine::runtime::ExecProcess,
) -> Result<ExecOutput, Status> {
    match process.wait() {
        Ok(code) => Ok(ExecOutput {
            item: Some(Item::ExitCode(code)),
        }),
        Err(err) => Err(Status::internal(format!("exec: wait: {err}"))),
    }
}
