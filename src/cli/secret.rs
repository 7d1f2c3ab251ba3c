//! `bosun secret …` and `bosun config create|ls|inspect|rm`: the cluster's secrets and
//! configs (as `docker secret` and `docker config`), through this node's manager. A secret's
//! payload is never printed; a config's is, base64-encoded in `inspect` (`Spec.Data`, as
//! Docker).

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use base64::Engine as _;
use clap::{Args, Subcommand};
use cluster_manager::Manager;
use cluster_manager::services::client::BlobInfo;
use cluster_manager::services::proto;
use orchestrator::swarm::FileKind;
use serde_json::json;

use super::cluster::{DataRootArg, runtime};
use super::container::table;
use super::service::ps::ago;

/// Arguments of `bosun secret`.
#[derive(Debug, Args)]
pub(crate) struct SecretArgs {
    #[command(flatten)]
    root: DataRootArg,
    #[command(subcommand)]
    command: BlobCommand,
}

/// The subcommands of `bosun secret` and of `bosun config` over the cluster's configs.
#[derive(Debug, Subcommand)]
pub(crate) enum BlobCommand {
    /// Create one from a file, or from standard input with `-`.
    Create {
        /// A label (KEY=VALUE or KEY; repeat for more).
        #[arg(short = 'l', long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// Its name.
        name: String,
        /// The file that holds the payload, or `-` for standard input.
        file: String,
    },
    /// List them.
    #[command(alias = "list")]
    Ls {
        /// Print ids only.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Output format: table or json (one object per line).
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// Show them as json (never a secret's payload).
    Inspect {
        /// Names, ids or id prefixes.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove them (refused while a service uses one).
    #[command(alias = "remove")]
    Rm {
        /// Names, ids or id prefixes.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// Runs `bosun secret`.
pub(super) fn run(args: SecretArgs) -> anyhow::Result<ExitCode> {
    run_kind(FileKind::Secret, &args.root.data_root, args.command)
}

fn wire_kind(kind: FileKind) -> proto::BlobKind {
    match kind {
        FileKind::Secret => proto::BlobKind::Secret,
        FileKind::Config => proto::BlobKind::Config,
    }
}

/// Reads the payload from `file`, or from standard input for `-`.
fn payload(file: &str) -> anyhow::Result<Vec<u8>> {
    if file == "-" {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .context("cannot read standard input")?;
        return Ok(data);
    }
    std::fs::read(file).with_context(|| format!("cannot read {file}"))
}

fn rfc3339(millis: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    humantime::format_rfc3339_nanos(time).to_string()
}

/// Docker's inspect form: a secret's without its payload, a config's with it in base64.
pub(crate) fn inspect_json(kind: FileKind, info: &BlobInfo) -> serde_json::Value {
    let meta = &info.record.meta;
    let mut spec = json!({
        "Name": info.record.name,
        "Labels": meta.labels,
    });
    if kind == FileKind::Config {
        spec["Data"] = json!(base64::engine::general_purpose::STANDARD.encode(&info.record.data));
    }
    json!({
        "ID": meta.id,
        "Version": { "Index": meta.version },
        "CreatedAt": rfc3339(meta.created_at_ms),
        "UpdatedAt": rfc3339(meta.updated_at_ms),
        "Spec": spec,
    })
}

fn print_list(list: &[BlobInfo], quiet: bool, format: &str) {
    if quiet {
        for info in list {
            println!("{}", info.record.meta.id);
        }
        return;
    }
    if format == "json" {
        for info in list {
            let meta = &info.record.meta;
            let labels: Vec<String> = meta
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let line = json!({
                "ID": meta.id,
                "Name": info.record.name,
                "CreatedAt": ago(meta.created_at_ms),
                "UpdatedAt": ago(meta.updated_at_ms),
                "Labels": labels.join(","),
            });
            println!("{line}");
        }
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|info| {
            let meta = &info.record.meta;
            vec![
                meta.id.clone(),
                info.record.name.clone(),
                ago(meta.created_at_ms),
                ago(meta.updated_at_ms),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["ID", "NAME", "CREATED", "UPDATED"], &rows)
    );
}

/// Runs one subcommand over the secrets or the configs of the cluster of `data_root`.
pub(super) fn run_kind(
    kind: FileKind,
    data_root: &Path,
    command: BlobCommand,
) -> anyhow::Result<ExitCode> {
    let manager = Manager::open(data_root)?;
    let rt = runtime()?;
    let _context = rt.enter();
    let client = manager.services_client()?;
    let wire = wire_kind(kind);
    match command {
        BlobCommand::Create { labels, name, file } => {
            let data = payload(&file)?;
            let info = rt.block_on(client.create_blob(proto::CreateBlobRequest {
                kind: wire as i32,
                name,
                data,
                labels,
            }))?;
            println!("{}", info.record.meta.id);
        }
        BlobCommand::Ls { quiet, format } => {
            let list = rt.block_on(client.blobs(wire))?;
            print_list(&list, quiet, &format);
        }
        BlobCommand::Inspect { names } => {
            let mut shown = Vec::new();
            for name in &names {
                let info = rt.block_on(client.blob(wire, name))?;
                shown.push(inspect_json(kind, &info));
            }
            println!("{}", serde_json::to_string_pretty(&shown)?);
        }
        BlobCommand::Rm { names } => {
            let mut failed = false;
            for name in &names {
                match rt.block_on(client.remove_blob(wire, name)) {
                    Ok(()) => println!("{name}"),
                    Err(err) => {
                        super::report_item(&err);
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster_state::{Blob, Meta};

    fn info(data: &[u8]) -> BlobInfo {
        BlobInfo {
            record: Blob {
                meta: Meta {
                    id: "abc".into(),
                    version: 7,
                    created_at_ms: 0,
                    updated_at_ms: 1000,
                    labels: [("env".to_owned(), "prod".to_owned())].into(),
                },
                name: "db".into(),
                data: data.to_vec(),
            },
            services: Vec::new(),
        }
    }

    #[test]
    fn inspect_shows_a_config_s_data_in_base64_and_never_a_secret_s() {
        let config = inspect_json(FileKind::Config, &info(b"port=1"));
        assert_eq!(config["Spec"]["Data"], "cG9ydD0x");
        assert_eq!(config["Spec"]["Labels"]["env"], "prod");
        assert_eq!(config["Version"]["Index"], 7);
        assert_eq!(config["UpdatedAt"], "1970-01-01T00:00:01.000000000Z");
        let secret = inspect_json(FileKind::Secret, &info(b"hunter2"));
        assert!(secret["Spec"].get("Data").is_none());
        assert!(!secret.to_string().contains("hunter2"));
    }

    #[test]
    fn create_takes_labels_a_name_and_a_file_or_stdin() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(subcommand)]
            command: BlobCommand,
        }
        let cli = Cli::try_parse_from(["secret", "create", "-l", "a=b", "db", "-"]).unwrap();
        let BlobCommand::Create { labels, name, file } = cli.command else {
            panic!("not a create: {cli:?}");
        };
        assert_eq!(
            (labels, name, file),
            (vec!["a=b".to_owned()], "db".to_owned(), "-".to_owned())
        );
        assert!(Cli::try_parse_from(["secret", "create", "db"]).is_err());
    }
}
