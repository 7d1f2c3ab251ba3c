//! Streaming a container's logs to a client: the selected entries so far, then, when
//! following, new entries as they are written until the container has exited.
//!
//! The engine's [`engine::logs::LogStream`] is synchronous; it is driven on the blocking pool in
//! short slices, so a client that goes away releases it within one slice.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::Runtime;
use engine::logs::{LogQuery, LogStream};
use engine::shim::LogEntry;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::node::{Node, blocking};
use super::proto;

/// How long one blocking slice of a follow waits for new entries.
const SLICE: Duration = Duration::from_millis(250);

/// At most this many entries are handed over per slice.
const BATCH: usize = 256;

/// Which entries a log request wants.
#[derive(Debug, Clone)]
pub(crate) struct LogOptions {
    /// Keep streaming until the container exits.
    pub follow: bool,
    /// The engine's selection (streams, times, tail).
    pub query: LogQuery,
}

fn to_proto(entry: LogEntry) -> proto::LogEntry {
    proto::LogEntry {
        stream: entry.stream,
        time: entry.time,
        line: entry.log.into_bytes(),
    }
}

/// Streams the logs of container `id` as `options` ask; the stream ends when the log is drained
/// (and, when following, the container has exited) or the receiver goes away.
pub(crate) fn stream(
    node: Arc<Node>,
    id: String,
    options: LogOptions,
) -> ReceiverStream<Result<proto::LogEntry, Status>> {
    stream_from(node.runtime().clone(), id, options)
}

/// As [`stream`], from the engine's `runtime` directly.
pub(crate) fn stream_from(
    runtime: Runtime,
    id: String,
    options: LogOptions,
) -> ReceiverStream<Result<proto::LogEntry, Status>> {
    let (tx, rx) = mpsc::channel(BATCH);
    tokio::spawn(async move {
        if let Err(status) = pump(runtime, &id, options, &tx).await {
            let _ = tx.send(Err(status)).await;
        }
    });
    ReceiverStream::new(rx)
}

async fn send_all(
    tx: &mpsc::Sender<Result<proto::LogEntry, Status>>,
    entries: Vec<LogEntry>,
) -> bool {
    for entry in entries {
        if tx.send(Ok(to_proto(entry))).await.is_err() {
            return false;
        }
    }
    true
}

async fn pump(
    runtime: Runtime,
    id: &str,
    options: LogOptions,
    tx: &mpsc::Sender<Result<proto::LogEntry, Status>>,
) -> Result<(), Status> {
    let id = id.to_string();
    if !options.follow {
        let entries = blocking(move || Ok(runtime.logs_query(&id, &options.query)?)).await?;
        send_all(tx, entries).await;
        return Ok(());
    }
    let mut stream = blocking(move || Ok(runtime.follow_logs(&id, options.query)?)).await?;
    loop {
        let (back, entries, done) = blocking(move || {
            let (entries, done) = next_slice(&mut stream)?;
            Ok((stream, entries, done))
        })
        .await?;
        stream = back;
        if !send_all(tx, entries).await || done || tx.is_closed() {
            return Ok(());
        }
    }
}

/// Up to [`BATCH`] entries: those available at once, else the first ones written within about
/// one [`SLICE`] (handed over as soon as they come); `true` when the stream has ended.
fn next_slice(stream: &mut LogStream) -> Result<(Vec<LogEntry>, bool), super::AgentError> {
    let deadline = Instant::now() + SLICE;
    let mut out = Vec::new();
    while out.len() < BATCH {
        // Once something is in hand, only what is already there joins it: a line is not
        // held back waiting for more.
        let left = if out.is_empty() {
            deadline.saturating_duration_since(Instant::now())
        } else {
            Duration::ZERO
        };
        match stream.next_timeout(left) {
            Ok(Some(entry)) => out.push(entry),
            Ok(None) => return Ok((out, stream.is_done())),
            Err(source) => {
                return Err(super::AgentError::Internal(format!(
                    "follow logs: {source}"
                )));
            }
        }
    }
    Ok((out, false))
}
