//! `bosun container run`: create, start, and either print the id (`-d`) or stream the output
//! and exit with the container's exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use cluster::agent::AgentClient;
use cluster::agent::proto::{ContainerConfig, CreateRequest, LogsRequest, Mount};

use super::health::PolicyArgs;
use super::units::{parse_signal, parse_size, parse_swap};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass the current value).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Bind mount a host path: /host/path:/container/path[:ro].
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]")]
    pub volumes: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Memory limit (e.g. 512m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Add Linux capabilities.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only.
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Container host name.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Signal to stop the container.
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<u64>,
    /// Restart policy and healthcheck.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Root filesystem directory to run (required until images are supported).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// Reads an env file: `KEY=VALUE` lines, `KEY` alone takes the current value, `#` comments.
fn read_env_file(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read env file {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(env_entry)
        .collect())
}

/// `KEY=VALUE` as is; `KEY` from the current environment (dropped when unset).
fn env_entry(entry: &str) -> Option<String> {
    if entry.contains('=') {
        Some(entry.to_string())
    } else {
        std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
    }
}

fn parse_volume(spec: &str) -> anyhow::Result<Mount> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [s, t] => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => bail!("invalid volume {spec:?}: use /host/path:/container/path[:ro]"),
    };
    if !source.starts_with('/') {
        bail!(
            "invalid volume {spec:?}: named volumes are not supported yet, use an absolute host path"
        );
    }
    let read_only = match mode {
        "" | "rw" => false,
        "ro" => true,
        other => bail!("invalid volume {spec:?}: unknown mode {other:?} (use ro or rw)"),
    };
    Ok(Mount {
        r#type: "bind".into(),
        source: source.into(),
        target: target.into(),
        read_only,
        ..Default::default()
    })
}

/// The create request for these arguments.
pub fn request(args: &RunArgs) -> anyhow::Result<CreateRequest> {
    let Some(rootfs) = &args.rootfs else {
        bail!("an image cannot be run yet: pass --rootfs DIR and the command to run");
    };
    if args.command.is_empty() {
        bail!("a command is required with --rootfs (e.g. --rootfs DIR sh -c 'echo hi')");
    }
    if args.rm && !matches!(args.policy.restart.as_str(), "" | "no") {
        bail!("conflicting options: cannot specify both --restart and --rm");
    }
    let rootfs = std::path::absolute(rootfs)
        .with_context(|| format!("invalid rootfs {}", rootfs.display()))?;
    let mut env = Vec::new();
    for file in &args.env_file {
        env.extend(read_env_file(file)?);
    }
    env.extend(args.env.iter().filter_map(|e| env_entry(e)));
    let config = ContainerConfig {
        rootfs: rootfs.display().to_string(),
        args: args.command.clone(),
        env,
        working_dir: args.workdir.clone().unwrap_or_default(),
        user: args.user.clone().unwrap_or_default(),
        hostname: args.hostname.clone().unwrap_or_default(),
        mounts: args
            .volumes
            .iter()
            .map(|v| parse_volume(v))
            .collect::<anyhow::Result<_>>()?,
        memory: args
            .memory
            .as_deref()
            .map(parse_size)
            .transpose()?
            .unwrap_or(0),
        memory_swap: args
            .memory_swap
            .as_deref()
            .map(parse_swap)
            .transpose()?
            .unwrap_or(0),
        nano_cpus: match args.cpus {
            Some(c) if c.is_finite() && c > 0.0 => (c * 1e9) as i64,
            Some(c) => bail!("invalid --cpus {c}: must be a positive number"),
            None => 0,
        },
        cpu_shares: args.cpu_shares.unwrap_or(0),
        pids_limit: args.pids_limit.filter(|&n| n > 0).unwrap_or(0),
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        privileged: args.privileged,
        read_only: args.read_only,
        stop_signal: args
            .stop_signal
            .as_deref()
            .map(parse_signal)
            .transpose()?
            .unwrap_or(0),
        stop_timeout: args.stop_timeout,
        init: args.init,
        restart: args.policy.restart.clone(),
        healthcheck: args.policy.healthcheck()?,
        ..Default::default()
    };
    Ok(CreateRequest {
        name: args.name.clone().unwrap_or_default(),
        config: Some(config),
        // A foreground run removes the container itself, after its output and exit code are in.
        auto_remove: args.rm && args.detach,
    })
}

/// Runs `run`. Failures before the container runs exit with 125, as docker does.
pub async fn run(client: &mut AgentClient, args: RunArgs) -> anyhow::Result<ExitCode> {
    let request = match request(&args) {
        Ok(r) => r,
        Err(err) => return Ok(fail(&err)),
    };
    let created = match client.create(request).await {
        Ok(c) => c,
        Err(err) => return Ok(fail(&err.into())),
    };
    let id = created.id;
    if args.detach {
        if let Err(err) = client.start(&id).await {
            return Ok(fail(&err.into()));
        }
        println!("{id}");
        return Ok(ExitCode::SUCCESS);
    }
    let logs = LogsRequest {
        container: id.clone(),
        follow: true,
        tail: -1,
        stdout: true,
        stderr: true,
        since: None,
        until: None,
    };
    let stream = client.logs(logs).await?;
    if let Err(err) = client.start(&id).await {
        if args.rm {
            let _ = client.remove(&id, true).await;
        }
        return Ok(fail(&err.into()));
    }
    let printed = tokio::select! {
        printed = super::logs::print(stream, false) => printed,
        signal = forward_signals(client.clone(), &id) => signal,
    };
    let waited = client.wait(&id).await;
    if args.rm {
        client
            .remove(&id, true)
            .await
            .with_context(|| format!("cannot remove container {id}"))?;
    }
    printed?;
    let code = waited?.exit_code;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Sends SIGINT and SIGTERM received by the CLI to the container (docker's sig-proxy); never
/// returns unless the handlers cannot be installed.
async fn forward_signals(mut client: AgentClient, id: &str) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    loop {
        let number = tokio::select! {
            _ = int.recv() => libc_signal::SIGINT,
            _ = term.recv() => libc_signal::SIGTERM,
        };
        if let Err(err) = client.kill(id, number).await {
            eprintln!("error: cannot forward the signal: {err}");
        }
    }
}

mod libc_signal {
    pub const SIGINT: i32 = nix::sys::signal::Signal::SIGINT as i32;
    pub const SIGTERM: i32 = nix::sys::signal::Signal::SIGTERM as i32;
}

fn fail(err: &anyhow::Error) -> ExitCode {
    crate::cli::report(err);
    ExitCode::from(125)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(words: &[&str]) -> RunArgs {
        Wrap::try_parse_from(std::iter::once("run").chain(words.iter().copied()))
            .unwrap()
            .run
    }

    #[test]
    fn flags_become_the_request() {
        let args = parse(&[
            "--name",
            "web",
            "-e",
            "A=1",
            "-v",
            "/src:/dst:ro",
            "-w",
            "/w",
            "-u",
            "alice",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "--cap-drop",
            "ALL",
            "--read-only",
            "--hostname",
            "box",
            "--stop-signal",
            "INT",
            "--stop-timeout",
            "2",
            "--init",
            "--rootfs",
            "/r",
            "sh",
            "-c",
            "true",
        ]);
        let r = request(&args).unwrap();
        let c = r.config.unwrap();
        assert_eq!(r.name, "web");
        assert!(!r.auto_remove);
        assert_eq!(c.args, ["sh", "-c", "true"]);
        assert_eq!(c.env, ["A=1"]);
        assert_eq!(
            (c.mounts[0].source.as_str(), c.mounts[0].read_only),
            ("/src", true)
        );
        assert_eq!(c.memory, 64 << 20);
        assert_eq!(c.memory_swap, -1);
        assert_eq!(c.nano_cpus, 500_000_000);
        assert_eq!(c.pids_limit, 20);
        assert_eq!(c.stop_signal, 2);
        assert_eq!(c.stop_timeout, Some(2));
        assert!(c.read_only && c.init);
    }

    #[test]
    fn refusals_name_the_problem() {
        let cases: [(&[&str], &str); 4] = [
            (
                &["busybox", "true"],
                "an image cannot be run yet: pass --rootfs DIR and the command to run",
            ),
            (
                &["--rootfs", "/r"],
                "a command is required with --rootfs (e.g. --rootfs DIR sh -c 'echo hi')",
            ),
            (
                &["-v", "data:/d", "--rootfs", "/r", "true"],
                "invalid volume \"data:/d\": named volumes are not supported yet, use an absolute host path",
            ),
            (
                &["-m", "lots", "--rootfs", "/r", "true"],
                "invalid size \"lots\": expected e.g. 512m or 1g",
            ),
        ];
        for (words, want) in cases {
            assert_eq!(
                request(&parse(words)).unwrap_err().to_string(),
                want,
                "{words:?}"
            );
        }
    }

    #[test]
    fn env_file_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        std::fs::write(
            &path,
            "# comment\nA=1\n\n  B=two words\nBOSUN_TEST_SURELY_UNSET_VAR\n",
        )
        .unwrap();
        assert_eq!(read_env_file(&path).unwrap(), ["A=1", "B=two words"]);
    }
}
