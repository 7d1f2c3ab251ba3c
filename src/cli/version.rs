//! `bosun version`.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `bosun version`.
#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Output format: `pretty` or `json`.
    #[arg(long, default_value = "pretty", value_parser = ["pretty", "json"])]
    pub format: String,
    /// Print only the version number.
    #[arg(long)]
    pub short: bool,
}

/// Prints the version.
pub(super) fn run(args: &VersionArgs) -> anyhow::Result<ExitCode> {
    let version = env!("CARGO_PKG_VERSION");
    if args.short {
        println!("{version}");
    } else if args.format == "json" {
        let info = serde_json::json!({
            "version": version,
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
        });
        println!("{info}");
    } else {
        println!(
            "Bosun version {version} ({}/{})",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
    }
    Ok(ExitCode::SUCCESS)
}
