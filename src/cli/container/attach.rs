//! `bosun container attach`: the CLI's stdin, stdout and stderr joined to a running
//! container's (one started with `-i` and/or `-t`); Ctrl-P Ctrl-Q detaches from a terminal and
//! leaves the container running; otherwise the command ends with the container, with its exit
//! code. Also the attached half of `run -i/-t`.

use std::process::ExitCode;

use anyhow::Context;

use clap::Args;
use cluster::agent::AgentClient;
use cluster::agent::attach_client::{AttachClient, size};
use cluster::agent::proto::AttachRequest;

use super::attach_io::{self, Ended, Options, terminal_size};
use super::connect::connect_with;
use super::run::RunArgs;

/// Arguments of `attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Container name or id.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Runs `attach`. `host` is the agent's address as given (`-H`).
pub async fn run(
    client: &mut AgentClient,
    args: AttachArgs,
    host: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let inspected = client.inspect(&args.container).await?;
    let summary = inspected.summary.unwrap_or_default();
    if summary.state != "running" {
        anyhow::bail!("you cannot attach to a stopped container, start it first");
    }
    let spec: serde_json::Value = serde_json::from_str(&inspected.spec_json).unwrap_or_default();
    let tty = spec.get("tty").and_then(serde_json::Value::as_bool) == Some(true);
    let mut sessions = connect_with(host, AttachClient::connect).await?;
    let request = AttachRequest {
        container: summary.id.clone(),
        close_stdin_on_detach: false,
        size: terminal_size()
            .filter(|_| tty)
            .map(|(rows, cols)| size(rows, cols)),
    };
    let (input, output) = sessions.attach(request).await?;
    let options = Options {
        tty,
        stdin: !args.no_stdin,
        close_on_eof: false,
    };
    match attach_io::drive(input, output, options).await? {
        Ended::Detached => {
            println!();
            Ok(ExitCode::SUCCESS)
        }
        Ended::Output | Ended::Exit(_) => {
            let code = client.wait(&summary.id).await?.exit_code;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
    }
}

/// A foreground run with stdin and/or a terminal: attached before the start, so that no
/// output is missed; the container's stdin closes when the CLI's input ends or the CLI goes
/// away.
pub(super) async fn run_attached(
    client: &mut AgentClient,
    args: &RunArgs,
    id: &str,
    host: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let tty = args.extra.tty;
    let session = async {
        let mut sessions = connect_with(host, AttachClient::connect).await?;
        let request = AttachRequest {
            container: id.to_string(),
            close_stdin_on_detach: args.extra.interactive,
            size: terminal_size()
                .filter(|_| tty)
                .map(|(rows, cols)| size(rows, cols)),
        };
        let opened = sessions.attach(request).await?;
        client.start(id).await?;
        anyhow::Ok(opened)
    };
    let (input, output) = match session.await {
        Ok(s) => s,
        Err(err) => {
            if args.rm {
                let _ = client.remove_with_volumes(id, true, true).await;
            }
            return Ok(super::run::fail(&err));
        }
    };
    let options = Options {
        tty,
        stdin: args.extra.interactive,
        close_on_eof: true,
    };
    // With a terminal, Ctrl-C reaches the container as a keystroke; without, as a signal.
    let ended = if tty {
        attach_io::drive(input, output, options).await
    } else {
        tokio::select! {
            ended = attach_io::drive(input, output, options) => ended,
            signal = super::run::forward_signals(client.clone(), id) => signal.map(|()| Ended::Output),
        }
    };
    if ended.as_ref().is_ok_and(|e| *e == Ended::Detached) {
        println!();
        return Ok(ExitCode::SUCCESS);
    }
    let waited = client.wait(id).await;
    if args.rm {
        client
            .remove_with_volumes(id, true, true)
            .await
            .with_context(|| format!("cannot remove container {id}"))?;
    }
    ended?;
    let code = waited?.exit_code;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        attach: AttachArgs,
    }

    #[test]
    fn flags() {
        let args = Wrap::try_parse_from(["attach", "--no-stdin", "web"])
            .unwrap()
            .attach;
        assert!(args.no_stdin);
        assert_eq!(args.container, "web");
        assert!(Wrap::try_parse_from(["attach"]).is_err());
    }
}
