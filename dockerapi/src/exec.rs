//! `exec` instances: created on a running container, started once (over a hijacked connection,
//! or detached), inspected for their exit code. The agent runs the process (`Exec`, or
//! `ExecAttach` with stdin or a terminal); this module keeps Docker's exec ids and states,
//! which the agent has no notion of, in memory.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use api::agent::{self as proto, AttachInput, ContainerState, attach_input};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::containers::{inspect as container, read_json};
use super::context::Context;
use super::filters::Query;
use super::hijack::{self, Sink};
use super::reply::{ApiError, Reply, created, json, no_content, streamed};

/// Where an exec is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecState {
    Created,
    Running,
    Exited(i32),
}

/// One exec instance.
#[derive(Debug, Clone)]
pub(crate) struct ExecRecord {
    container: String,
    config: ExecConfig,
    state: ExecState,
    /// The session's input while it runs with stdin or a terminal (for resizes).
    input: Option<mpsc::Sender<AttachInput>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ExecConfig {
    #[serde(deserialize_with = "crate::containers::nullable")]
    attach_stdin: bool,
    #[serde(deserialize_with = "crate::containers::nullable")]
    attach_stdout: bool,
    #[serde(deserialize_with = "crate::containers::nullable")]
    attach_stderr: bool,
    #[serde(deserialize_with = "crate::containers::nullable")]
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    user: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    working_dir: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    privileged: bool,
    console_size: Option<Vec<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartConfig {
    #[serde(deserialize_with = "crate::containers::nullable")]
    detach: bool,
    #[serde(deserialize_with = "crate::containers::nullable")]
    tty: bool,
    console_size: Option<Vec<u32>>,
}

/// A new exec id: 64 hex digits.
fn new_id() -> String {
    (0..4)
        .map(|i| {
            let mut h = RandomState::new().build_hasher();
            h.write_u32(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

fn no_such_exec(id: &str) -> ApiError {
    ApiError::not_found(format!("No such exec instance: {id}"))
}

/// `POST /containers/{id}/exec`.
pub(crate) async fn create(
    context: &Context,
    container_ref: &str,
    request: hyper::Request<Incoming>,
) -> Reply {
    let config: ExecConfig = read_json(request).await?;
    if config.cmd.as_ref().is_none_or(Vec::is_empty) {
        return Err(ApiError::bad_request("no exec command specified"));
    }
    let record = container::fetch(context, container_ref).await?;
    let summary = record.summary.unwrap_or_default();
    if summary.state() != ContainerState::Running {
        return Err(ApiError::new(
            http::StatusCode::CONFLICT,
            format!("container {} is not running", summary.id),
        ));
    }
    let id = new_id();
    let exec = ExecRecord {
        container: summary.id,
        config,
        state: ExecState::Created,
        input: None,
    };
    lock(context).insert(id.clone(), exec);
    created(&json!({ "Id": id }))
}

fn lock(
    context: &Context,
) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, ExecRecord>> {
    context
        .execs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn set_state(context: &Context, id: &str, state: ExecState) {
    if let Some(record) = lock(context).get_mut(id) {
        record.state = state;
        if matches!(state, ExecState::Exited(_)) {
            record.input = None;
        }
    }
}

fn terminal_size(size: Option<&Vec<u32>>) -> Option<proto::TerminalSize> {
    match size.map(Vec::as_slice) {
        Some([rows, cols]) if *rows > 0 && *cols > 0 => Some(proto::TerminalSize {
            rows: *rows,
            cols: *cols,
        }),
        _ => None,
    }
}

/// `POST /exec/{id}/start`.
pub(crate) async fn start(
    context: &std::sync::Arc<Context>,
    id: &str,
    mut request: hyper::Request<Incoming>,
) -> Reply {
    let upgrade = hijack::on_upgrade(&mut request);
    let start: StartConfig = read_json(request).await?;
    let record = {
        let mut execs = lock(context);
        let record = execs.get_mut(id).ok_or_else(|| no_such_exec(id))?;
        if record.state != ExecState::Created {
            return Err(ApiError::new(
                http::StatusCode::CONFLICT,
                format!("exec {id} has already been started"),
            ));
        }
        record.state = ExecState::Running;
        record.clone()
    };
    let config = &record.config;
    let tty = config.tty || start.tty;
    let exec = proto::ExecRequest {
        container: record.container.clone(),
        args: config.cmd.clone().unwrap_or_default(),
        env: config.env.clone().unwrap_or_default(),
        user: config.user.clone(),
        working_dir: config.working_dir.clone(),
        tty,
        stdin: config.attach_stdin && !start.detach,
        size: terminal_size(start.console_size.as_ref().or(config.console_size.as_ref())),
    };
    let interactive = exec.tty || exec.stdin;
    let (input, output) = if interactive {
        let (tx, rx) = mpsc::channel(16);
        let first = attach_input::Item::Exec(exec);
        let _ = tx.send(AttachInput { item: Some(first) }).await;
        match context
            .containers()
            .exec_attach(ReceiverStream::new(rx))
            .await
        {
            Ok(out) => (Some(tx), out.into_inner()),
            Err(status) => {
                set_state(context, id, ExecState::Created);
                return Err(status.into());
            }
        }
    } else {
        match context.containers().exec(exec).await {
            Ok(out) => (None, out.into_inner()),
            Err(status) => {
                set_state(context, id, ExecState::Created);
                return Err(status.into());
            }
        }
    };
    if let Some(record) = lock(context).get_mut(id) {
        record.input = input.clone();
    }
    let context = context.clone();
    let id = id.to_string();
    let stdin = record.config.attach_stdin;
    if start.detach {
        let task_context = context.clone();
        task_context.spawn(async move {
            let code = hijack::pump_output(output, &mut Sink::Discard, tty).await;
            set_state(&context, &id, ExecState::Exited(code.unwrap_or(-1)));
        });
        return no_content().map(|mut r| {
            *r.status_mut() = http::StatusCode::OK;
            r
        });
    }
    match upgrade {
        Some(upgrade) => {
            let task_context = context.clone();
            task_context.spawn(async move {
                let Some((reader, writer)) = hijack::split(upgrade).await else {
                    return;
                };
                let mut sink = Sink::Conn(writer);
                let code = hijack::session(reader, input, stdin, output, &mut sink, tty).await;
                set_state(&context, &id, ExecState::Exited(code.unwrap_or(-1)));
                sink.close().await;
            });
            Ok(hijack::switching(tty))
        }
        None => {
            let (response, chunks) = streamed(super::containers::logs::content_type(tty));
            let task_context = context.clone();
            task_context.spawn(async move {
                let mut sink = Sink::Body(chunks);
                let code = hijack::pump_output(output, &mut sink, tty).await;
                set_state(&context, &id, ExecState::Exited(code.unwrap_or(-1)));
            });
            Ok(response)
        }
    }
}

/// `GET /exec/{id}/json`.
pub(crate) fn inspect(context: &Context, id: &str) -> Reply {
    let record = lock(context)
        .get(id)
        .cloned()
        .ok_or_else(|| no_such_exec(id))?;
    let args = record.config.cmd.clone().unwrap_or_default();
    let (running, exit_code) = match record.state {
        ExecState::Created => (false, serde_json::Value::Null),
        ExecState::Running => (true, serde_json::Value::Null),
        ExecState::Exited(code) => (false, json!(code)),
    };
    json(&json!({
        "ID": id,
        "Running": running,
        "ExitCode": exit_code,
        "ProcessConfig": {
            "privileged": record.config.privileged,
            "user": record.config.user,
            "tty": record.config.tty,
            "entrypoint": args.first().cloned().unwrap_or_default(),
            "arguments": args.iter().skip(1).collect::<Vec<_>>(),
        },
        "OpenStdin": record.config.attach_stdin,
        "OpenStderr": record.config.attach_stderr,
        "OpenStdout": record.config.attach_stdout,
        "CanRemove": false,
        "ContainerID": record.container,
        "DetachKeys": "",
        "Pid": 0,
    }))
}

/// `POST /exec/{id}/resize?h=&w=`: the running session's terminal gets the new size.
pub(crate) async fn resize(
    context: &Context,
    id: &str,
    request: &hyper::Request<Incoming>,
) -> Reply {
    let query = Query::of(request.uri());
    let rows = query.number("h")?.unwrap_or(0);
    let cols = query.number("w")?.unwrap_or(0);
    let input = {
        let execs = lock(context);
        let record = execs.get(id).ok_or_else(|| no_such_exec(id))?;
        record.input.clone()
    };
    if let Some(input) = input {
        let size = proto::TerminalSize {
            rows: u32::try_from(rows).unwrap_or(0),
            cols: u32::try_from(cols).unwrap_or(0),
        };
        let item = attach_input::Item::Resize(size);
        let _ = input.send(AttachInput { item: Some(item) }).await;
    }
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn console_sizes() {
        assert_eq!(
            terminal_size(Some(&vec![24, 80])).map(|s| (s.rows, s.cols)),
            Some((24, 80))
        );
        assert!(terminal_size(Some(&vec![0, 0])).is_none());
        assert!(terminal_size(None).is_none());
    }
}
