//! `bosun config`: the project in canonical form, or parts of it; and with a subcommand
//! (`create`, `ls`, `inspect`, `rm`), the cluster's configs (see [`super::secret`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use compose_spec::render;

use super::project::ProjectArgs;

/// Arguments of `bosun config`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct ConfigArgs {
    /// The cluster's configs (as `docker config`) instead of the project's.
    #[command(subcommand)]
    pub cluster: Option<ClusterConfig>,
    /// The node whose manager the cluster's configs are asked of.
    #[command(flatten)]
    pub(super) root: super::cluster::DataRootArg,
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
    /// Do not interpolate environment variables (when a value only fits once interpolated,
    /// the files merged as written are printed).
    #[arg(long)]
    pub no_interpolate: bool,
    /// Don't check model consistency (undefined references, a service without an image…);
    /// the output may not be a valid compose file.
    #[arg(long)]
    pub no_consistency: bool,
    /// Print the variables the files use, with their defaults.
    #[arg(long)]
    pub variables: bool,
    /// Write the output to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only these services (and what they depend on).
    pub service_names: Vec<String>,
}

/// `bosun config create|ls|inspect|rm`: the cluster's configs.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ClusterConfig {
    /// The cluster config commands.
    #[command(flatten)]
    Blob(super::secret::BlobCommand),
}

/// Loads the project and prints what was asked for; or acts on the cluster's configs.
pub(super) fn run(project: &ProjectArgs, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    if let Some(ClusterConfig::Blob(command)) = args.cluster {
        let kind = orchestrator::swarm::FileKind::Config;
        return super::secret::run_kind(kind, &args.root.data_root, command);
    }
    let args = &args;
    let loaded = if args.variables {
        None
    } else {
        let loaded = if args.no_consistency {
            project.load_unchecked(&args.service_names, !args.no_interpolate)
        } else {
            project.load(&args.service_names, !args.no_interpolate)
        };
        match loaded {
            Ok(loaded) => Some(loaded),
            // Without interpolation, values such as `"${PORT:-8080}:80"` may not fit the
            // model: the merged files are shown as written instead.
            Err(_) if args.no_interpolate && !listing(args) => None,
            Err(err) => return Err(err),
        }
    };
    let Some(loaded) = loaded else {
        let document = project.load_document()?;
        let text = if args.variables {
            variables_table(&document, &args.format)?
        } else if args.format == "json" {
            format!("{}\n", serde_json::to_string_pretty(&document)?)
        } else {
            render::document_to_yaml(&document)?
        };
        if !args.quiet {
            write_out(args, &text)?;
        }
        return Ok(ExitCode::SUCCESS);
    };
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
    write_out(args, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Whether a list (services, hashes, …) rather than the whole model was asked for.
fn listing(args: &ConfigArgs) -> bool {
    args.services
        || args.volumes
        || args.networks
        || args.images
        || args.profiles
        || args.hash.is_some()
}

fn write_out(args: &ConfigArgs, text: &str) -> anyhow::Result<()> {
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("cannot write to stdout")?,
    }
    Ok(())
}

/// `config --variables`: Compose's table (NAME, REQUIRED, DEFAULT VALUE, ALTERNATE VALUE), or
/// one JSON object by name with `--format json`.
fn variables_table(document: &serde_json::Value, format: &str) -> anyhow::Result<String> {
    let variables = compose_spec::variables(document);
    if format == "json" {
        let map: serde_json::Map<String, serde_json::Value> = variables
            .values()
            .map(|v| {
                (
                    v.name.clone(),
                    serde_json::json!({
                        "Name": v.name,
                        "DefaultValue": v.default.clone().unwrap_or_default(),
                        "PresenceValue": v.alternate.clone().unwrap_or_default(),
                        "Required": v.required,
                    }),
                )
            })
            .collect();
        return Ok(format!("{}\n", serde_json::to_string_pretty(&map)?));
    }
    let rows: Vec<[String; 4]> = variables
        .values()
        .map(|v| {
            [
                v.name.clone(),
                v.required.to_string(),
                v.default.clone().unwrap_or_default(),
                v.alternate.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("   ").trim_end());
        out.push('\n');
    }
    Ok(out)
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
