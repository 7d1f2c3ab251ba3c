//! `bosun container exec` (output streamed, the command's exit code returned; `-i` forwards
//! stdin, `-t` gives the command a terminal) and `bosun container top`.

use std::io::Write;
use std::process::ExitCode;

use agent::AgentClient;
use agent::attach_client::{AttachClient, size};
use agent::proto::ExecRequest;
use agent::proto::exec_output::Item;
use anyhow::Context;
use clap::Args;

use super::attach_io::{self, Ended, Options, check_tty, terminal_size};
use super::connect::connect_with;
use super::detach_keys::DetachKeys;
use super::table;

/// Arguments of `exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Set environment variables (KEY=VALUE).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Keep STDIN open and forward it to the command.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Override the key sequence for detaching from the command (e.g. ctrl-p,ctrl-q).
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Container name or id.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The command and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// Arguments of `top`.
#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// Container name or id.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// The exit status for a process exit code (out-of-range codes as 255).
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

/// Runs `exec`: streams stdout and stderr, exits with the command's code. `host` is the
/// agent's address as given (`-H`), for the interactive session of `-i`/`-t`.
pub(crate) async fn exec(
    client: &mut AgentClient,
    args: ExecArgs,
    host: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let detach_keys = DetachKeys::from_flag(args.detach_keys.as_deref())?;
    check_tty(args.interactive, args.tty)?;
    let request = ExecRequest {
        container: args.container,
        args: args.command,
        env: args.env,
        user: args.user.unwrap_or_default(),
        working_dir: args.workdir.unwrap_or_default(),
        tty: args.tty,
        stdin: args.interactive,
        size: terminal_size()
            .filter(|_| args.tty)
            .map(|(rows, cols)| size(rows, cols)),
    };
    if args.tty || args.interactive {
        let mut sessions = connect_with(host, AttachClient::connect).await?;
        let code = interactive(&mut sessions, request, detach_keys).await?;
        return Ok(exit_code(code));
    }
    let mut stream = client.exec(request).await?;
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    while let Some(item) = stream.next().await? {
        match item {
            Item::Stdout(bytes) => {
                stdout.write_all(&bytes).context("write to stdout")?;
                stdout.flush().context("write to stdout")?;
            }
            Item::Stderr(bytes) => {
                stderr.write_all(&bytes).context("write to stderr")?;
            }
            Item::ExitCode(code) => return Ok(exit_code(code)),
        }
    }
    anyhow::bail!("the exec ended without an exit code")
}

/// Runs an exec with its stdin and/or terminal wired to the CLI's; returns its exit code (0
/// when the user detached with `detach_keys`).
pub(crate) async fn interactive(
    sessions: &mut AttachClient,
    request: ExecRequest,
    detach_keys: DetachKeys,
) -> anyhow::Result<i32> {
    let options = Options {
        tty: request.tty,
        detach_keys,
        stdin: request.stdin,
        close_on_eof: true,
    };
    let (input, output) = sessions.exec(request).await?;
    match attach_io::drive(input, output, options).await? {
        Ended::Exit(code) => Ok(code),
        Ended::Detached => Ok(0),
        Ended::Output => anyhow::bail!("the exec ended without an exit code"),
    }
}

/// Runs `top`: the container's processes as a table.
pub(crate) async fn top(client: &mut AgentClient, args: TopArgs) -> anyhow::Result<ExitCode> {
    let top = client.top(&args.container).await?;
    let headers: Vec<&str> = top.titles.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = top.processes.into_iter().map(|p| p.values).collect();
    print!("{}", table::render(&headers, &rows));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        exec: ExecArgs,
    }

    #[test]
    fn flags_stop_at_the_command() {
        let args = Wrap::try_parse_from([
            "exec", "-e", "A=1", "-u", "nobody", "-w", "/tmp", "web", "ls", "-l", "-e",
        ])
        .unwrap()
        .exec;
        assert_eq!(args.env, ["A=1"]);
        assert_eq!(args.user.as_deref(), Some("nobody"));
        assert_eq!(args.workdir.as_deref(), Some("/tmp"));
        assert_eq!(args.container, "web");
        assert_eq!(args.command, ["ls", "-l", "-e"]);
        assert!(!args.interactive && !args.tty && args.detach_keys.is_none());
        let args = Wrap::try_parse_from(["exec", "-it", "web", "sh"])
            .unwrap()
            .exec;
        assert!(args.interactive && args.tty);
        assert_eq!(
            (args.container.as_str(), args.command.as_slice()),
            ("web", &["sh".to_string()][..])
        );
        assert!(Wrap::try_parse_from(["exec", "web"]).is_err());
        assert_eq!(exit_code(3), ExitCode::from(3));
        assert_eq!(exit_code(-1), ExitCode::from(255));
    }
}
