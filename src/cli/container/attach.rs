//! `bosun container attach`: the CLI joined to a running container. Its output streams live
//! from now on; with an open stdin (`-i`), the CLI's stdin goes to the container's; with a
//! terminal, the detach keys (Ctrl-P Ctrl-Q unless `--detach-keys`) leave it running.
//! Otherwise the command ends with the container, with its exit code. Signals the CLI
//! receives go to the container (`--sig-proxy`). Also the attached half of `run` with `-i`
//! or `-t` and of `start -a`.

use std::process::ExitCode;

use anyhow::Context;

use agent::AgentClient;
use agent::attach_client::{AttachClient, size};
use agent::proto::{AttachRequest, ContainerState};
use clap::{ArgAction, Args};

use super::attach_io::{self, Ended, Options, check_tty, terminal_size};
use super::attach_signals::SignalProxy;
use super::connect::connect_with;
use super::detach_keys::DetachKeys;
use super::run::RunArgs;

/// Arguments of `attach`.
#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container (e.g. ctrl-p,ctrl-q, ctrl-a,x).
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Proxy all received signals to the process (--sig-proxy=false to leave it alone).
    #[arg(long = "sig-proxy", value_name = "BOOL", action = ArgAction::Set,
          default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          require_equals = true)]
    pub sig_proxy: bool,
    /// Container name or id.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// How the CLI joins a container.
#[derive(Debug, Clone)]
pub(super) struct Session {
    /// The container's id.
    pub id: String,
    /// The container has a terminal.
    pub tty: bool,
    /// Forward the CLI's stdin.
    pub stdin: bool,
    /// The container's stdin closes when the CLI's input ends or the CLI goes away (a
    /// session that started the container: `run -i`, `start -a -i`).
    pub close_stdin: bool,
    /// Send the signals the CLI receives to the container.
    pub sig_proxy: bool,
    /// The keys that detach from a terminal.
    pub detach_keys: DetachKeys,
    /// Start the (created) container once attached, so that no output is missed.
    pub start: bool,
    /// Remove the container once it has exited (a foreground `run --rm`).
    pub rm: bool,
}

/// Runs `attach`. `host` is the agent's address as given (`-H`).
pub(crate) async fn run(
    client: &mut AgentClient,
    args: AttachArgs,
    host: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let detach_keys = DetachKeys::from_flag(args.detach_keys.as_deref())?;
    let inspected = client.inspect(&args.container).await?;
    let summary = inspected.summary.unwrap_or_default();
    match summary.state() {
        ContainerState::Running => {}
        ContainerState::Paused => {
            anyhow::bail!("you cannot attach to a paused container, unpause it first")
        }
        _ => anyhow::bail!("you cannot attach to a stopped container, start it first"),
    }
    let (tty, open_stdin) = terminal_and_stdin(&inspected.spec_json);
    let stdin = !args.no_stdin && open_stdin;
    check_tty(stdin, tty)?;
    let session = Session {
        id: summary.id,
        tty,
        stdin,
        close_stdin: false,
        sig_proxy: args.sig_proxy,
        detach_keys,
        start: false,
        rm: false,
    };
    attached(client, host, &session).await
}

/// Whether the container of `spec_json` has a terminal and an open stdin.
pub(super) fn terminal_and_stdin(spec_json: &str) -> (bool, bool) {
    let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
    let flag = |key: &str| spec.get(key).and_then(serde_json::Value::as_bool) == Some(true);
    (flag("tty"), flag("stdin"))
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
    let session = Session {
        id: id.to_string(),
        tty: args.extra.tty,
        stdin: args.extra.interactive,
        close_stdin: args.extra.interactive,
        sig_proxy: args.sig_proxy,
        detach_keys: DetachKeys::from_flag(args.detach_keys.as_deref())?,
        start: true,
        rm: args.rm,
    };
    attached(client, host, &session).await
}

/// Joins the CLI to the container of `session` (starting it if asked) until the container's
/// output ends, then returns its exit code; or until the user detaches (success, the
/// container keeps running).
pub(super) async fn attached(
    client: &mut AgentClient,
    host: Option<&str>,
    session: &Session,
) -> anyhow::Result<ExitCode> {
    let id = session.id.as_str();
    let proxy = session
        .sig_proxy
        .then(|| SignalProxy::install(session.tty))
        .transpose()?;
    let opening = async {
        let mut sessions = connect_with(host, AttachClient::connect).await?;
        let request = AttachRequest {
            container: id.to_string(),
            close_stdin_on_detach: session.close_stdin,
            size: terminal_size()
                .filter(|_| session.tty)
                .map(|(rows, cols)| size(rows, cols)),
        };
        let opened = sessions.attach(request).await?;
        if session.start {
            client.start(id).await?;
        }
        anyhow::Ok(opened)
    };
    let (input, output) = match opening.await {
        Ok(s) => s,
        Err(err) if session.start => {
            if session.rm {
                let _ = client.remove_with_volumes(id, true, true).await;
            }
            return Ok(super::run::fail(&err));
        }
        Err(err) => return Err(err),
    };
    let options = Options {
        tty: session.tty,
        detach_keys: session.detach_keys.clone(),
        stdin: session.stdin,
        close_on_eof: session.close_stdin,
    };
    let ended = match proxy {
        Some(proxy) => tokio::select! {
            ended = attach_io::drive(input, output, options) => ended,
            () = proxy.forward(client.clone(), id) => Ok(Ended::Output),
        },
        None => attach_io::drive(input, output, options).await,
    };
    if ended.as_ref().is_ok_and(|e| *e == Ended::Detached) {
        println!();
        return Ok(ExitCode::SUCCESS);
    }
    let waited = client.wait(id).await;
    if session.rm {
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
        assert!(args.no_stdin && args.sig_proxy);
        assert_eq!(args.container, "web");
        assert_eq!(args.detach_keys, None);
        assert!(Wrap::try_parse_from(["attach"]).is_err());
        let args = Wrap::try_parse_from([
            "attach",
            "--sig-proxy=false",
            "--detach-keys",
            "ctrl-a,x",
            "web",
        ])
        .unwrap()
        .attach;
        assert!(!args.sig_proxy);
        assert_eq!(args.detach_keys.as_deref(), Some("ctrl-a,x"));
        let args = Wrap::try_parse_from(["attach", "--sig-proxy", "web"])
            .unwrap()
            .attach;
        assert!(args.sig_proxy);
    }

    #[test]
    fn terminal_and_stdin_from_the_spec() {
        let cases = [
            (r#"{"tty":true,"stdin":true}"#, (true, true)),
            (r#"{"tty":false,"stdin":true}"#, (false, true)),
            ("{}", (false, false)),
            ("not json", (false, false)),
        ];
        for (spec, want) in cases {
            assert_eq!(terminal_and_stdin(spec), want, "{spec}");
        }
    }
}
