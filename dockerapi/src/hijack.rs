//! Hijacked connections: `attach` and `exec start` answer `101 UPGRADED` to a request with
//! `Upgrade: tcp`, and the connection then carries the process's stdin one way and its output
//! (multiplexed without a terminal) the other. The client half-closes its side at the end of
//! its input; the server closes the connection when the output ends.

use api::agent::{AttachInput, ExecOutput, attach_input, exec_output};
use http::{HeaderValue, StatusCode, header};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::containers::logs::content_type;
use super::mux::{self, Stream};
use super::reply::{Body, Chunks, empty};

/// Whether the client asked to hijack the connection.
pub(crate) fn wants_upgrade(request: &hyper::Request<hyper::body::Incoming>) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"))
}

/// The pending upgrade of a request that asked for one.
pub(crate) fn on_upgrade(request: &mut hyper::Request<hyper::body::Incoming>) -> Option<OnUpgrade> {
    wants_upgrade(request).then(|| hyper::upgrade::on(request))
}

/// The `101 UPGRADED` answer.
pub(crate) fn switching(tty: bool) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(tty)),
    );
    response
}

/// Where a session's output goes: the hijacked connection, or a streamed response body.
pub(crate) enum Sink {
    /// The connection's write half.
    Conn(tokio::io::WriteHalf<TokioIo<Upgraded>>),
    /// A response body.
    Body(Chunks),
    /// Nowhere: a detached exec's output.
    Discard,
}

impl Sink {
    async fn write(&mut self, bytes: Vec<u8>) -> bool {
        match self {
            Sink::Conn(w) => w.write_all(&bytes).await.is_ok() && w.flush().await.is_ok(),
            Sink::Body(chunks) => chunks.send(bytes).await,
            Sink::Discard => true,
        }
    }

    /// Ends the output: the connection's write side is shut down.
    pub(crate) async fn close(self) {
        if let Sink::Conn(mut w) = self {
            let _ = w.shutdown().await;
        }
    }
}

/// Copies the client's input into the session: stdin bytes, then (when `close_stdin`) the
/// end of stdin at the client's half-close.
pub(crate) async fn pump_input(
    mut reader: tokio::io::ReadHalf<TokioIo<Upgraded>>,
    input: mpsc::Sender<AttachInput>,
    close_stdin: bool,
) {
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let item = attach_input::Item::Stdin(buffer[..n].to_vec());
                if input.send(AttachInput { item: Some(item) }).await.is_err() {
                    return;
                }
            }
        }
    }
    if close_stdin {
        let item = attach_input::Item::CloseStdin(true);
        let _ = input.send(AttachInput { item: Some(item) }).await;
    }
}

/// Copies the session's output to `sink` until it ends; returns the exit code when the
/// session sent one (an exec's). The caller closes the sink, after recording the code (a
/// client asks for it as soon as its stream ends).
pub(crate) async fn pump_output(
    mut output: tonic::Streaming<ExecOutput>,
    sink: &mut Sink,
    tty: bool,
) -> Option<i32> {
    let mut code = None;
    while let Ok(Some(message)) = output.message().await {
        let bytes = match message.item {
            Some(exec_output::Item::Stdout(data)) => mux::encode(tty, Stream::Stdout, &data),
            Some(exec_output::Item::Stderr(data)) => mux::encode(tty, Stream::Stderr, &data),
            Some(exec_output::Item::ExitCode(c)) => {
                code = Some(c);
                continue;
            }
            None => continue,
        };
        if !sink.write(bytes).await {
            break;
        }
    }
    code
}

/// One session over a hijacked connection: the client's input goes to `input` (or is read
/// and dropped without one) while the output is copied to `sink`; returns when the output
/// ends, with the exit code when the session sent one.
pub(crate) async fn session(
    mut reader: tokio::io::ReadHalf<TokioIo<Upgraded>>,
    input: Option<mpsc::Sender<AttachInput>>,
    close_stdin: bool,
    output: tonic::Streaming<ExecOutput>,
    sink: &mut Sink,
    tty: bool,
) -> Option<i32> {
    let input = async move {
        match input {
            Some(input) => pump_input(reader, input, close_stdin).await,
            None => {
                let _ = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await;
            }
        }
        // The session lasts as long as its output, whatever the input does.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        code = pump_output(output, sink, tty) => code,
        () = input => None,
    }
}

/// The connection of a completed upgrade, split.
pub(crate) async fn split(
    upgrade: OnUpgrade,
) -> Option<(
    tokio::io::ReadHalf<TokioIo<Upgraded>>,
    tokio::io::WriteHalf<TokioIo<Upgraded>>,
)> {
    match upgrade.await {
        Ok(upgraded) => Some(tokio::io::split(TokioIo::new(upgraded))),
        Err(err) => {
            tracing::debug!(cause = %err, "docker API: upgrade failed");
            None
        }
    }
}
