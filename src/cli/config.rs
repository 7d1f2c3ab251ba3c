//! `bosun config`: the project in canonical form, or parts of it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use compose_spec::render;

use super::project::ProjectArgs;

/// Arguments of `bosun config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Output format.
    #[arg(long, default_value = "yaml", value_parser = ["yaml", "json"])]
    pub format: String,
    /// Only validate the configuration, print nothing.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line.
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line.
    #[arg(long)]
    pub networks: bool,
    /// Print the image names, one per line.
    #[arg(long)]
    pub images: bool,
    /// Print the profile names, one per line.
    #[arg(long)]
    pub profiles: bool,
    /// Print the config hash of these services ('*' for all, or a comma-separated list).
    #[arg(long, value_name = "SERVICES")]
    pub hash: Option<String>,
    /// Do not interpolate environment variables.
    #[arg(long)]
    pub no_interpolate: bool,
    /// Write the output to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only these services (and what they depend on).
    pub service_names: Vec<String>,
}

/// Loads the project and prints what was asked for.
pub fn run(project: &ProjectArgs, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let loaded = project.load(&args.service_names, !args.no_interpolate)?;
    if args.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let project = &loaded.project;
    let text = if args.services {
        lines(project.services.keys())
    } else if args.volumes {
        lines(project.volumes.keys())
    } else if args.networks {
        lines(project.networks.keys())
    } else if args.images {
        lines(render::images(project))
    } else if args.profiles {
        lines(loaded.all_profiles.iter())
    } else if let Some(selection) = &args.hash {
        let selected: Vec<String> = match selection.trim() {
            "*" => Vec::new(),
            names => names.split(',').map(|s| s.trim().to_string()).collect(),
        };
        loaded
            .check_env_files(&selected)
            .map_err(|message| anyhow::anyhow!(message))?;
        let mut out = String::new();
        for (name, hash) in render::hashes(project, selection)? {
            out.push_str(&format!("{name} {hash}\n"));
        }
        out
    } else if let Err(message) = loaded.check_env_files(&[]) {
        anyhow::bail!(message)
    } else if args.format == "json" {
        render::to_json(project, loaded.dollars)?
    } else {
        render::to_yaml(project, loaded.dollars)?
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("cannot write to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

fn lines<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    items
        .into_iter()
        .map(|s| format!("{}\n", s.as_ref()))
        .collect()
}
