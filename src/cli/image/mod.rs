//! `bosun image …`: the node's image store through the agent, as `docker image …`.
//!
//! The words after `image` are parsed here (as for `bosun container`), so that docker's short
//! flags (`ls -q`, `rm -f`, `load -i`) do not collide with the global project options.

pub(super) mod build;
pub(super) mod build_progress;
mod ls;
mod ops;
mod progress;
mod transfer;

use std::ffi::OsString;
use std::process::ExitCode;

use agent::images_client;
use clap::{Args, Parser, Subcommand};

use super::container::connect::{HostArg, connect_with, run_words};

pub(super) use ops::confirm;

/// `bosun image`: the raw words, parsed by [`ImageCli`].
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub(crate) struct ImageArgs {
    /// The image command and its options (see `bosun image --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Manage images.
#[derive(Debug, Parser)]
#[command(name = "bosun image", disable_help_subcommand = true)]
struct ImageCli {
    #[command(flatten)]
    agent: HostArg,

    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Import the contents from a tarball or directory to create a filesystem image.
    Import(ops::ImportArgs),
    /// Load images from a tar archive (docker save, OCI layout) or STDIN.
    Load(transfer::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(transfer::SaveArgs),
    /// Download an image from a registry.
    Pull(transfer::PullArgs),
    /// Upload an image to a registry.
    Push(transfer::PushArgs),
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ls::LsArgs),
    /// Display detailed information on one or more images.
    Inspect(ops::InspectArgs),
    /// Remove one or more images.
    #[command(visible_alias = "remove")]
    Rm(ops::RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(ops::TagArgs),
    /// Remove unused images.
    Prune(ops::PruneArgs),
    /// Show the history of an image.
    History(ls::HistoryArgs),
}

/// Runs `bosun image …`.
pub(super) fn run(args: ImageArgs) -> anyhow::Result<ExitCode> {
    run_words("bosun image", args.args, dispatch)
}

async fn dispatch(cli: ImageCli) -> anyhow::Result<ExitCode> {
    let mut client = connect_with(cli.agent.host.as_deref(), images_client::images).await?;
    match cli.command {
        Sub::Build(args) => build::build(&mut client, args).await,
        Sub::Import(args) => ops::import(&mut client, args).await,
        Sub::Load(args) => transfer::load(&mut client, args).await,
        Sub::Save(args) => transfer::save(&mut client, args).await,
        Sub::Pull(args) => transfer::pull(&mut client, args).await,
        Sub::Push(args) => transfer::push(&mut client, args).await,
        Sub::Ls(args) => ls::ls(&mut client, args).await,
        Sub::Inspect(args) => ops::inspect(&mut client, args).await,
        Sub::Rm(args) => ops::rm(&mut client, args).await,
        Sub::Tag(args) => ops::tag(&mut client, args).await,
        Sub::Prune(args) => ops::prune(&mut client, args).await,
        Sub::History(args) => ls::history(&mut client, args).await,
    }
}

/// The message of an agent error, without the transport's decoration.
pub(super) fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{}", status.message())
}

/// `1.5MB`, `23kB`, `512B`, as the docker CLI prints sizes (decimal units).
pub(super) fn human_size(bytes: u64) -> String {
    human_size_with_precision(bytes, 4)
}

/// [`human_size`] with `precision` significant digits, as Go's `%.{precision}g` (`docker
/// stats` prints its I/O with 3: `1.23MB`).
pub(crate) fn human_size_with_precision(bytes: u64, precision: usize) -> String {
    crate::cli::container::units::custom_size(
        bytes,
        1000.0,
        &["B", "kB", "MB", "GB", "TB"],
        precision,
    )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        ImageCli::command().debug_assert();
    }

    #[test]
    fn docker_style_flags_parse() {
        let parse = |words: &[&str]| {
            ImageCli::try_parse_from(std::iter::once("bosun image").chain(words.iter().copied()))
        };
        assert!(
            matches!(parse(&["ls", "-q", "-a"]).unwrap().command, Sub::Ls(a) if a.quiet && a.all)
        );
        assert!(matches!(parse(&["rm", "-f", "x"]).unwrap().command, Sub::Rm(a) if a.force));
        assert!(
            matches!(parse(&["load", "-i", "f.tar"]).unwrap().command, Sub::Load(a) if a.input.is_some())
        );
        assert!(matches!(
            parse(&["import", "-c", "CMD [\"sh\"]", "r.tar", "app:1"]).unwrap().command,
            Sub::Import(a) if a.changes.len() == 1 && a.reference.as_deref() == Some("app:1")
        ));
        assert!(parse(&["tag", "only-one"]).is_err());
        assert!(matches!(
            parse(&["build", "-t", "a:1", "-t", "b", "-f", "-", "--build-arg", "X=1", "-q", "."])
                .unwrap()
                .command,
            Sub::Build(b) if b.tags == ["a:1", "b"] && b.file.as_deref() == Some("-") && b.quiet
        ));
    }

    #[test]
    fn human_size_table() {
        for (bytes, text) in [
            (0, "0B"),
            (999, "999B"),
            (1000, "1kB"),
            (1_500_000, "1.5MB"),
            (4_261_000, "4.261MB"),
            (123_456_789, "123.5MB"),
        ] {
            assert_eq!(human_size(bytes), text, "{bytes}");
        }
    }
}
