//! `bosun service logs`: the merged logs of a service's tasks (or of one task) from every
//! node, each line prefixed as `docker service logs` does (`<service>.<slot>.<task>@<node>`),
//! stdout lines to stdout and stderr lines to stderr.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use cluster_manager::Manager;
use cluster_manager::logs::proto::{LogLine, SubscribeLogsRequest};

use super::ps::short;
use crate::cli::container::logs::{parse_tail, parse_time};
use crate::cli::pipe;

/// How often a follow checks that its reader is still there while no line comes.
const READER_CHECK: Duration = Duration::from_secs(1);

/// Arguments of `service logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Follow log output: new lines, and tasks that start later.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of each task's log ("all" or a number).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Show logs since a timestamp (RFC 3339) or relative time (e.g. 42m).
    #[arg(long)]
    since: Option<String>,
    /// Do not include task ids in the prefix.
    #[arg(long)]
    no_task_ids: bool,
    /// Do not truncate ids in the prefix.
    #[arg(long)]
    no_trunc: bool,
    /// Print the lines as they are, without the prefix.
    #[arg(long)]
    raw: bool,
    /// Service (name, id or id prefix) or task (id or id prefix).
    #[arg(value_name = "SERVICE|TASK")]
    target: String,
}

/// How each line is shown.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    timestamps: bool,
    no_task_ids: bool,
    no_trunc: bool,
    raw: bool,
}

/// The task's part of the prefix, as docker prints it: `<service>.<slot>.<task id>@<node>`,
/// the node's id in place of the slot for a global task.
fn prefix(line: &LogLine, shape: Shape) -> String {
    let service = if line.service_name.is_empty() {
        short(&line.service_id, shape.no_trunc)
    } else {
        line.service_name.clone()
    };
    let place = if line.slot == 0 {
        short(&line.node_id, shape.no_trunc)
    } else {
        line.slot.to_string()
    };
    let mut name = format!("{service}.{place}");
    if !shape.no_task_ids {
        name.push('.');
        name.push_str(&short(&line.task_id, shape.no_trunc));
    }
    format!("{name}@{}", line.node_name)
}

/// Writes one line as `shape` asks.
fn render(out: &mut impl Write, line: &LogLine, shape: Shape) -> std::io::Result<()> {
    if !shape.raw {
        write!(out, "{}    | ", prefix(line, shape))?;
    }
    if shape.timestamps {
        write!(out, "{} ", line.time)?;
    }
    out.write_all(&line.line)?;
    if !line.line.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Runs `service logs` against this node's manager.
pub(crate) async fn run(manager: &Manager, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let request = SubscribeLogsRequest {
        target: args.target.clone(),
        follow: args.follow,
        tail: parse_tail(&args.tail)?,
        since: args.since.as_deref().map(parse_time).transpose()?,
    };
    let shape = Shape {
        timestamps: args.timestamps,
        no_task_ids: args.no_task_ids,
        no_trunc: args.no_trunc,
        raw: args.raw,
    };
    let mut stream = manager.logs_client()?.subscribe(request).await?;
    let mut failed = false;
    let mut check = tokio::time::interval(READER_CHECK);
    loop {
        let message = tokio::select! {
            message = stream.next() => message?,
            _ = check.tick() => {
                // A follow with a quiet service would otherwise never notice that its
                // reader went away.
                pipe::exit_if_stdout_closed();
                continue;
            }
        };
        let Some(message) = message else { break };
        for line in &message.lines {
            let written = if line.stream == "stderr" {
                render(&mut std::io::stderr().lock(), line, shape)
            } else {
                render(&mut std::io::stdout().lock(), line, shape)
            };
            // A closed pipe (`| head`) ends the output, not with an error.
            if written.is_err() {
                pipe::exit_if_stdout_closed();
                return Ok(ExitCode::SUCCESS);
            }
        }
        for error in &message.errors {
            failed = true;
            eprintln!("error from node {}: {}", error.node_name, error.message);
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(slot: u64, text: &str) -> LogLine {
        LogLine {
            task_id: "k3v9x2q8w7e6r5t4y3u2i1o0".into(),
            service_id: "s0123456789abcdef".into(),
            service_name: "web".into(),
            slot,
            node_id: "n0123456789abcdef".into(),
            node_name: "worker-1".into(),
            stream: "stdout".into(),
            time: "2026-01-02T03:04:05.000000006Z".into(),
            line: text.as_bytes().to_vec(),
        }
    }

    fn shown(line: &LogLine, shape: Shape) -> String {
        let mut out = Vec::new();
        render(&mut out, line, shape).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_carry_docker_s_prefix() {
        assert_eq!(
            shown(&line(2, "hello\n"), Shape::default()),
            "web.2.k3v9x2q8w7e6@worker-1    | hello\n"
        );
        let no_ids = Shape {
            no_task_ids: true,
            ..Shape::default()
        };
        assert_eq!(
            shown(&line(2, "hello\n"), no_ids),
            "web.2@worker-1    | hello\n"
        );
        let full = Shape {
            no_trunc: true,
            ..Shape::default()
        };
        assert_eq!(
            shown(&line(2, "hello\n"), full),
            "web.2.k3v9x2q8w7e6r5t4y3u2i1o0@worker-1    | hello\n"
        );
    }

    #[test]
    fn global_tasks_show_their_node_in_place_of_the_slot() {
        assert_eq!(
            shown(&line(0, "hi\n"), Shape::default()),
            "web.n0123456789a.k3v9x2q8w7e6@worker-1    | hi\n"
        );
    }

    #[test]
    fn raw_timestamps_and_unfinished_lines() {
        let raw = Shape {
            raw: true,
            timestamps: true,
            ..Shape::default()
        };
        assert_eq!(
            shown(&line(1, "partial"), raw),
            "2026-01-02T03:04:05.000000006Z partial\n"
        );
        let stamped = Shape {
            timestamps: true,
            ..Shape::default()
        };
        assert_eq!(
            shown(&line(1, "x\n"), stamped),
            "web.1.k3v9x2q8w7e6@worker-1    | 2026-01-02T03:04:05.000000006Z x\n"
        );
    }
}
