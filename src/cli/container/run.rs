//! `bosun container run`: create, start, and either print the id (`-d`) or stream the output
//! and exit with the container's exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agent::AgentClient;
use agent::proto::{ContainerConfig, CreateRequest, LogsRequest};
use anyhow::{Context, bail};
use clap::{ArgAction, Args};

use super::attach_io::check_tty;
use super::attach_signals::SignalProxy;
use super::detach_keys::DetachKeys;
use super::flags::ExtraArgs;
use super::health::PolicyArgs;
use super::units::{parse_cpus, parse_signal, parse_size, parse_swap};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
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
    #[arg(short = 'm', long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (e.g. 1.5).
    #[arg(long, allow_hyphen_values = true)]
    pub cpus: Option<String>,
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
    /// Override the key sequence for detaching a container (e.g. ctrl-p,ctrl-q, ctrl-a,x).
    #[arg(long = "detach-keys", value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process (--sig-proxy=false to leave it alone).
    #[arg(long = "sig-proxy", value_name = "BOOL", action = ArgAction::Set,
          default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          require_equals = true)]
    pub sig_proxy: bool,
    /// Restart policy and healthcheck.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Mounts, networking and process options.
    #[command(flatten)]
    pub extra: ExtraArgs,
    /// Root filesystem directory to run instead of an image (then every positional word is
    /// the command).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,
    /// The image, then the command and its arguments (IMAGE [COMMAND [ARG...]]).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE [CMD]"
    )]
    pub command: Vec<String>,
}

/// Reads an env file: `KEY=VALUE` lines, `KEY` alone takes the current value, `#` comments.
pub(crate) fn read_env_file(path: &Path) -> anyhow::Result<Vec<String>> {
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
pub(crate) fn env_entry(entry: &str) -> Option<String> {
    if entry.contains('=') {
        Some(entry.to_string())
    } else {
        std::env::var(entry).ok().map(|v| format!("{entry}={v}"))
    }
}

/// The create request for these arguments.
pub(crate) fn request(args: &RunArgs) -> anyhow::Result<CreateRequest> {
    if args.rootfs.is_some() && args.command.is_empty() {
        bail!("a command is required with --rootfs (e.g. --rootfs DIR sh -c 'echo hi')");
    }
    if args.rootfs.is_none() && args.command.is_empty() {
        bail!(
            "an image is required: bosun container run IMAGE [COMMAND...] (or --rootfs DIR CMD...)"
        );
    }
    if args.rm && !matches!(args.policy.restart.as_str(), "" | "no") {
        bail!("conflicting options: cannot specify both --restart and --rm");
    }
    let rootfs = args
        .rootfs
        .as_ref()
        .map(|r| std::path::absolute(r).with_context(|| format!("invalid rootfs {}", r.display())))
        .transpose()?;
    let mut env = Vec::new();
    for file in &args.env_file {
        env.extend(read_env_file(file)?);
    }
    env.extend(args.env.iter().filter_map(|e| env_entry(e)));
    let (image, cmd) = match &rootfs {
        Some(_) => (String::new(), Vec::new()),
        None => (args.command[0].clone(), args.command[1..].to_vec()),
    };
    let mut config = ContainerConfig {
        rootfs: rootfs.map(|r| r.display().to_string()).unwrap_or_default(),
        args: if image.is_empty() {
            args.command.clone()
        } else {
            Vec::new()
        },
        has_cmd: !cmd.is_empty(),
        cmd,
        image,
        env,
        working_dir: args.workdir.clone().unwrap_or_default(),
        user: args.user.clone().unwrap_or_default(),
        hostname: args.hostname.clone().unwrap_or_default(),
        memory: flag(args.memory.as_deref(), "-m, --memory", parse_size)?,
        memory_swap: flag(args.memory_swap.as_deref(), "--memory-swap", parse_swap)?,
        nano_cpus: flag(args.cpus.as_deref(), "--cpus", parse_cpus)?,
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
    args.extra.apply(&mut config)?;
    // Docker's bounds, before anything is created (the agent checks them again).
    agent::check_resources(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(CreateRequest {
        name: args.name.clone().unwrap_or_default(),
        config: Some(config),
        // A foreground run removes the container itself, after its output and exit code are in.
        auto_remove: args.rm && args.detach,
    })
}

/// Parses an optional flag value with `parse`; 0 (unset on the wire) when absent. A bad value
/// is worded as the docker CLI words it.
pub(super) fn flag(
    value: Option<&str>,
    name: &str,
    parse: impl Fn(&str) -> anyhow::Result<i64>,
) -> anyhow::Result<i64> {
    match value {
        None => Ok(0),
        Some(text) => parse(text)
            .map_err(|e| anyhow::anyhow!("invalid argument \"{text}\" for \"{name}\" flag: {e}")),
    }
}

/// Runs `run`. Failures before the container runs exit with 125, as docker does. `host` is
/// the agent's address as given (`-H`), for the interactive session of `-i`/`-t`;
/// `data_root` holds the node's cluster state (a cluster overlay is joined through it).
pub(crate) async fn run(
    client: &mut AgentClient,
    args: RunArgs,
    host: Option<&str>,
    data_root: &Path,
) -> anyhow::Result<ExitCode> {
    if let Err(err) = DetachKeys::from_flag(args.detach_keys.as_deref()) {
        return Ok(fail(&err));
    }
    // As docker: a refused terminal exits with 1, not 125.
    if !args.detach
        && let Err(err) = check_tty(args.extra.interactive, args.extra.tty)
    {
        crate::cli::report(&err);
        return Ok(ExitCode::FAILURE);
    }
    let mut request = match request(&args) {
        Ok(r) => r,
        Err(err) => return Ok(fail(&err)),
    };
    if let Err(err) = super::cluster_net::join(data_root, host, &mut request).await {
        return Ok(fail(&err));
    }
    let created = match client.create(request).await {
        Ok(c) => c,
        Err(err) => return Ok(fail(&err.into())),
    };
    warn(&created.warnings);
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
    if args.extra.interactive || args.extra.tty {
        return super::attach::run_attached(client, &args, &id, host).await;
    }
    let proxy = args
        .sig_proxy
        .then(|| SignalProxy::install(false))
        .transpose()?;
    let stream = client.logs(logs).await?;
    if let Err(err) = client.start(&id).await {
        if args.rm {
            let _ = client.remove_with_volumes(&id, true, true).await;
        }
        return Ok(fail(&err.into()));
    }
    let printed = match proxy {
        Some(proxy) => tokio::select! {
            printed = super::logs::print(stream, false) => printed,
            () = proxy.forward(client.clone(), &id) => Ok(()),
        },
        None => super::logs::print(stream, false).await,
    };
    let waited = client.wait(&id).await;
    if args.rm {
        client
            .remove_with_volumes(&id, true, true)
            .await
            .with_context(|| format!("cannot remove container {id}"))?;
    }
    printed?;
    let code = waited?.exit_code;
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// Runs `create`: prints the new container's id.
pub(crate) async fn create(
    client: &mut AgentClient,
    args: RunArgs,
    host: Option<&str>,
    data_root: &Path,
) -> anyhow::Result<ExitCode> {
    let mut request = match request(&args) {
        Ok(r) => r,
        Err(err) => return Ok(fail(&err)),
    };
    request.auto_remove = args.rm;
    if let Err(err) = super::cluster_net::join(data_root, host, &mut request).await {
        return Ok(fail(&err));
    }
    match client.create(request).await {
        Ok(c) => {
            warn(&c.warnings);
            println!("{}", c.id);
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => Ok(fail(&err.into())),
    }
}

/// Prints the agent's warnings about a new container on stderr, as docker does.
fn warn(warnings: &[String]) {
    for warning in warnings {
        eprintln!("WARNING: {warning}");
    }
}

/// Reports a failure before the container runs; exits with 125, as docker does.
pub(super) fn fail(err: &anyhow::Error) -> ExitCode {
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
                &[],
                "an image is required: bosun container run IMAGE [COMMAND...] (or --rootfs DIR CMD...)",
            ),
            (
                &["--rootfs", "/r"],
                "a command is required with --rootfs (e.g. --rootfs DIR sh -c 'echo hi')",
            ),
            (
                &["-v", "data:rel", "--rootfs", "/r", "true"],
                "invalid volume \"data:rel\": the container path must be absolute",
            ),
            (
                &["-m", "lots", "--rootfs", "/r", "true"],
                "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots' \
                 (expected a number with an optional unit b, k, m, g, t or p, e.g. 512m)",
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
    fn an_image_and_its_command() {
        let r = request(&parse(&[
            "-p",
            "8080:80",
            "--entrypoint",
            "",
            "busybox",
            "echo",
            "hi",
        ]))
        .unwrap();
        let c = r.config.unwrap();
        assert_eq!(c.image, "busybox");
        assert!(c.rootfs.is_empty() && c.args.is_empty());
        assert_eq!(c.cmd, ["echo", "hi"]);
        assert!(c.has_cmd && c.has_entrypoint && c.entrypoint.is_empty());
        assert_eq!(
            (c.ports[0].host_port, c.ports[0].container_port),
            (8080, 80)
        );
        let c = request(&parse(&["busybox"])).unwrap().config.unwrap();
        assert!(!c.has_cmd && !c.has_entrypoint && c.cmd.is_empty());
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
