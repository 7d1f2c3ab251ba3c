//! The compose commands (`bosun up`, `down`, `ps`, `logs`, …): a compose project converged on
//! the local agent through the orchestrator's planner and executor.
//!
//! Every command loads the project with the top-level project options (a command that acts on
//! the existing containers — `ps`, `logs`, `stop`, `down`, … — rebuilds it from their labels
//! when no compose file is found and `-p` or `COMPOSE_PROJECT_NAME` names it), connects to the
//! agent (starting it in the background when the default socket has none) and acts through
//! [`AgentBackend`]; the executor's threads block on the runtime's handle, so the command's own
//! logic runs on the main thread, outside the runtime.

mod attach;
mod build;
mod connect;
mod down;
mod events;
mod exec;
mod files;
mod lock;
mod logs;
mod ops;
mod progress;
mod ps;
mod run;
mod session;
mod up;
mod usage;
mod wait;

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::project::ProjectArgs;

/// Options every compose command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Globals {
    /// Most actions run at once (-1 or 0 for no limit).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true, value_name = "N")]
    pub parallel: i64,
    /// Print the plan with the reason of every action and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How progress is shown.
    #[arg(long, default_value = "auto", value_parser = ["auto", "tty", "plain", "quiet", "json"])]
    pub progress: String,
}

/// The compose commands, at the top level of the command line.
#[derive(Debug, Subcommand)]
pub(crate) enum ComposeCommand {
    /// Create and start the project's containers.
    Up(Box<up::UpArgs>),
    /// Stop and remove the project's containers and networks.
    Down(down::DownArgs),
    /// Create the project's containers without starting them.
    Create(Box<up::CreateArgs>),
    /// List the project's containers.
    Ps(ps::PsArgs),
    /// List running compose projects.
    Ls(ps::LsArgs),
    /// Show the output of the project's containers.
    Logs(logs::LogsArgs),
    /// Run a command in a running service container.
    Exec(exec::ExecArgs),
    /// Run a one-off command on a service.
    Run(Box<run::RunArgs>),
    /// Start the project's stopped containers.
    Start(ops::ServicesArgs),
    /// Stop the project's containers.
    Stop(ops::StopArgs),
    /// Restart the project's containers.
    Restart(ops::RestartArgs),
    /// Send a signal to the project's containers.
    Kill(ops::KillArgs),
    /// Remove the project's stopped containers.
    Rm(ops::RmArgs),
    /// Pause the project's containers.
    Pause(ops::ServicesArgs),
    /// Unpause the project's containers.
    Unpause(ops::ServicesArgs),
    /// Show the processes of the project's containers.
    Top(ps::TopArgs),
    /// Print the host address of a published port.
    Port(ps::PortArgs),
    /// List the images the project's containers use.
    Images(ps::ImagesArgs),
    /// Receive real time events from the project's containers.
    Events(events::EventsArgs),
    /// Block until the project's containers stop, then print their exit codes.
    Wait(wait::WaitArgs),
    /// Pull the project's images.
    Pull(ops::PullArgs),
    /// Push the project's images.
    Push(ops::PullArgs),
    /// Scale services.
    Scale(ops::ScaleArgs),
    /// Build the images of the project's services that have `build:`.
    Build(build::BuildArgs),
    /// Copy files/folders between a service container and the local filesystem.
    Cp(files::CpArgs),
    /// Export a service container's filesystem as a tar archive.
    Export(files::ExportArgs),
    /// Create a new image from a service container's changes.
    Commit(files::CommitArgs),
    /// Attach local standard input, output, and error streams to a service's running container.
    Attach(usage::AttachArgs),
    /// Display a live stream of the project's containers' resource usage.
    Stats(usage::StatsArgs),
    /// List the project's volumes.
    Volumes(usage::VolumesArgs),
}

/// Runs a compose command.
pub(super) fn run(project: &ProjectArgs, command: ComposeCommand) -> anyhow::Result<ExitCode> {
    match command {
        ComposeCommand::Up(args) => up::up(project, *args),
        ComposeCommand::Down(args) => down::run(project, args),
        ComposeCommand::Create(args) => up::create(project, *args),
        ComposeCommand::Ps(args) => ps::ps(project, args),
        ComposeCommand::Ls(args) => ps::ls(args),
        ComposeCommand::Logs(args) => logs::run(project, args),
        ComposeCommand::Exec(args) => exec::run(project, args),
        ComposeCommand::Run(args) => run::run(project, *args),
        ComposeCommand::Start(args) => ops::start(project, args),
        ComposeCommand::Stop(args) => ops::stop(project, args),
        ComposeCommand::Restart(args) => ops::restart(project, args),
        ComposeCommand::Kill(args) => ops::kill(project, args),
        ComposeCommand::Rm(args) => ops::rm(project, args),
        ComposeCommand::Pause(args) => ops::pause(project, args, true),
        ComposeCommand::Unpause(args) => ops::pause(project, args, false),
        ComposeCommand::Top(args) => ps::top(project, args),
        ComposeCommand::Port(args) => ps::port(project, args),
        ComposeCommand::Images(args) => ps::images(project, args),
        ComposeCommand::Events(args) => events::run(project, args),
        ComposeCommand::Wait(args) => wait::run(project, args),
        ComposeCommand::Pull(args) => ops::pull(project, args, true),
        ComposeCommand::Push(args) => ops::pull(project, args, false),
        ComposeCommand::Scale(args) => ops::scale(project, args),
        ComposeCommand::Build(args) => build::run(project, args),
        ComposeCommand::Cp(args) => files::cp(project, args),
        ComposeCommand::Export(args) => files::export(project, args),
        ComposeCommand::Commit(args) => files::commit(project, args),
        ComposeCommand::Attach(args) => usage::attach(project, args),
        ComposeCommand::Stats(args) => usage::stats(project, args),
        ComposeCommand::Volumes(args) => usage::volumes(project, args),
    }
}

impl Globals {
    /// These options with the ones given before the command (`bosun --dry-run up`) merged
    /// in: a flag given in either place counts; a value given after the command wins.
    pub(crate) fn merged(&self, top: &ProjectArgs) -> Self {
        let defaults = quiet();
        Self {
            parallel: match top.parallel {
                Some(n) if self.parallel == defaults.parallel => n,
                _ => self.parallel,
            },
            dry_run: self.dry_run || top.dry_run,
            progress: match &top.progress {
                Some(p) if self.progress == "auto" => p.clone(),
                _ => self.progress.clone(),
            },
        }
    }
}

/// The globals of a command that shows no progress of its own.
pub(super) fn quiet() -> Globals {
    Globals {
        parallel: -1,
        dry_run: false,
        progress: "quiet".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use crate::cli::{Command, parse};

    use super::*;

    fn command(words: &[&str]) -> ComposeCommand {
        let args = std::iter::once("bosun")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect();
        match parse(args).expect("parses").command {
            Command::Compose(command) => command,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn compose_commands_parse_like_docker_compose() {
        let ComposeCommand::Up(up) = command(&["up", "-d", "--scale", "web=2", "--dry-run", "web"])
        else {
            panic!("not up")
        };
        assert!(up.detach && up.create.globals.dry_run);
        assert_eq!(up.create.scale, ["web=2"]);
        assert_eq!(up.create.services, ["web"]);
        let ComposeCommand::Run(run) =
            command(&["run", "--rm", "-p", "8080:80", "web", "sh", "-c", "ls -l"])
        else {
            panic!("not run")
        };
        assert!(run.rm);
        assert_eq!(run.publish, ["8080:80"]);
        assert_eq!(run.command, ["sh", "-c", "ls -l"]);
        let ComposeCommand::Down(down) = command(&["down", "-v", "--rmi", "all", "-t", "3"]) else {
            panic!("not down")
        };
        assert!(down.volumes);
        assert_eq!((down.rmi.as_deref(), down.timeout), (Some("all"), Some(3)));
        let ComposeCommand::Exec(exec) = command(&["exec", "-T", "db", "redis-cli", "-n", "1"])
        else {
            panic!("not exec")
        };
        assert_eq!(exec.command, ["redis-cli", "-n", "1"]);
        assert!(matches!(
            command(&["build", "--no-cache", "--build-arg", "A=1", "-q", "web"]),
            ComposeCommand::Build(b) if b.no_cache && b.quiet && b.services == ["web"]
        ));
        let ComposeCommand::Up(up) = command(&["up", "--build", "-d"]) else {
            panic!("not up")
        };
        assert!(up.create.build && !up.create.no_build);
        assert!(matches!(command(&["ps", "-aq"]), ComposeCommand::Ps(p) if p.all && p.quiet));
        assert!(
            matches!(command(&["logs", "-f", "--tail", "5"]), ComposeCommand::Logs(l) if l.follow && l.tail == "5")
        );
    }

    #[test]
    fn project_options_come_before_the_command() {
        let args = ["bosun", "-p", "demo", "-f", "x.yaml", "ps"]
            .iter()
            .map(OsString::from)
            .collect();
        let cli = parse(args).expect("parses");
        assert_eq!(cli.project.project_name.as_deref(), Some("demo"));
        assert!(matches!(
            cli.command,
            Command::Compose(ComposeCommand::Ps(_))
        ));
    }
}
