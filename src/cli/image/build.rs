//! `bosun image build`: a Dockerfile built by the agent on this host. The context travels as
//! its path (the agent reads it with the caller's permissions checked); a Dockerfile from
//! stdin (`-f -`) travels as text.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use agent::proto::{self, build_progress::Event, images_client::ImagesClient};
use anyhow::Context;
use clap::Args;
use tonic::transport::Channel;

use super::build_progress::{Mode, Renderer};
use super::status_error;

/// Arguments of `build`.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// The build context: a directory on this host.
    pub context: String,
    /// Name and optionally a tag (NAME[:TAG]); repeat for several.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile); `-` reads it from stdin.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<String>,
    /// A build-time variable (KEY=VALUE, or KEY to take its value from the environment).
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub build_args: Vec<String>,
    /// The stage to build (default: the last).
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use the cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Pull the base images again even when present.
    #[arg(long)]
    pub pull: bool,
    /// The network RUN steps use unless they say otherwise.
    #[arg(long, default_value = "default", value_parser = ["default", "none", "host"])]
    pub network: String,
    /// A label of the image (KEY=VALUE).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Print only the image id.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// How progress is shown.
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "tty", "quiet"])]
    pub progress: String,
}

/// `KEY=VALUE` words as a map; a bare `KEY` takes the value of the environment variable when
/// `from_env` (and is left out when unset, as Docker does).
pub(crate) fn key_values(
    words: &[String],
    flag: &str,
    from_env: bool,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for word in words {
        match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                out.insert(key.to_string(), value.to_string());
            }
            None if from_env && !word.is_empty() => {
                if let Ok(value) = std::env::var(word) {
                    out.insert(word.clone(), value);
                }
            }
            _ => anyhow::bail!("invalid {flag} value {word:?}: use KEY=VALUE"),
        }
    }
    Ok(out)
}

/// Runs `image build`.
pub(crate) async fn build(
    client: &mut ImagesClient<Channel>,
    args: BuildArgs,
) -> anyhow::Result<ExitCode> {
    if args.context == "-" {
        anyhow::bail!("a build context from stdin is not supported: give a directory");
    }
    let context = std::fs::canonicalize(Path::new(&args.context))
        .with_context(|| format!("build context {}", args.context))?;
    let (dockerfile, dockerfile_text) = match args.file.as_deref() {
        Some("-") => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!("-f - reads the Dockerfile from stdin, but stdin is a terminal");
            }
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("read the Dockerfile from stdin")?;
            (String::new(), text)
        }
        // `-f` is relative to the working directory, as Docker's.
        Some(file) => (
            std::fs::canonicalize(file)
                .with_context(|| format!("Dockerfile {file}"))?
                .display()
                .to_string(),
            String::new(),
        ),
        None => (String::new(), String::new()),
    };
    let request = proto::BuildRequest {
        context: context.display().to_string(),
        dockerfile,
        dockerfile_text,
        tags: args.tags,
        build_args: key_values(&args.build_args, "--build-arg", true)?
            .into_iter()
            .collect(),
        target: args.target.unwrap_or_default(),
        labels: key_values(&args.labels, "--label", false)?
            .into_iter()
            .collect(),
        no_cache: args.no_cache,
        pull: args.pull,
        network: args.network,
        secrets: Default::default(),
        // Every stored login, for the base images' pulls, as `docker build` sends them.
        registry_auths: agent::registry::auth::all_stored()?.into_iter().collect(),
    };
    let stream = client
        .build(request)
        .await
        .map_err(status_error)?
        .into_inner();
    let mut renderer = Renderer::stderr(Mode::from_flag(&args.progress, args.quiet), "");
    let written = follow(stream, &mut renderer).await?;
    if args.quiet {
        println!("{}", written.id);
    } else {
        eprintln!(
            "built {} ({} steps cached, {} run){}",
            written.id,
            written.cached_steps,
            written.executed_steps,
            if written.tags.is_empty() {
                String::new()
            } else {
                format!(", tagged {}", written.tags.join(", "))
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Renders a build stream; returns the written image, or the failure as one line.
pub(crate) async fn follow<W: std::io::Write>(
    mut stream: tonic::Streaming<proto::BuildProgress>,
    renderer: &mut Renderer<W>,
) -> anyhow::Result<proto::BuildWritten> {
    loop {
        let Some(progress) = stream.message().await.map_err(status_error)? else {
            anyhow::bail!("the agent ended the build before it finished");
        };
        renderer.event(&progress);
        match progress.event {
            Some(Event::Written(written)) => return Ok(written),
            Some(Event::Failed(failure)) => {
                renderer.failed(&failure);
                anyhow::bail!("{}", failure.message);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_parse_and_refuse_empty_keys() {
        let words = ["A=1".to_string(), "B=x=y".to_string(), "C=".to_string()];
        let parsed = key_values(&words, "--label", false).expect("parses");
        assert_eq!(parsed["A"], "1");
        assert_eq!(parsed["B"], "x=y");
        assert_eq!(parsed["C"], "");
        let err = key_values(&["=v".to_string()], "--build-arg", true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --build-arg value \"=v\": use KEY=VALUE"
        );
        assert!(key_values(&["BARE".to_string()], "--label", false).is_err());
    }
}
