//! `bosun system info` (and `bosun info`): docker's `info` fields from the agent (version,
//! data root, cgroup layout, containers, images) and the host (kernel, OS, CPUs, memory).

use std::process::ExitCode;

use agent::AgentClient;
use agent::images_client;
use agent::proto::{self, ContainerState, ContainerSummary, VersionResponse};
use clap::Args;
use serde_json::{Value, json};

use crate::cli::container::connect::connect_with;
use crate::cli::container::units::format_bytes;
use crate::cli::format::{self, Format};
use crate::cli::image::status_error;

/// Arguments of `info`.
#[derive(Debug, Args)]
pub(super) struct InfoArgs {
    /// Format output: `json` or a Go template such as '{{.ServerVersion}}' (fields as docker's:
    /// Containers, ContainersRunning, ContainersPaused, ContainersStopped, Images, Driver,
    /// CgroupDriver, CgroupVersion, KernelVersion, OperatingSystem, OSType, Architecture, NCPU,
    /// MemTotal, Name, ServerVersion, DockerRootDir).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// What the host says about itself (read where the CLI runs: the agent's socket is local).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct HostFacts {
    kernel: String,
    os: String,
    cpus: usize,
    memory: u64,
    name: String,
}

impl HostFacts {
    fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Self {
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            os: os_name(&read("/etc/os-release")),
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            memory: mem_total(&read("/proc/meminfo")),
            name: read("/proc/sys/kernel/hostname").trim().to_string(),
        }
    }
}

/// `PRETTY_NAME` of an os-release file (`Linux` when it has none).
fn os_name(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "Linux".to_string())
}

/// `MemTotal` of /proc/meminfo in bytes (0 when missing).
fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Docker's `info` object.
fn document(
    version: &VersionResponse,
    containers: &[ContainerSummary],
    images: usize,
    host: &HostFacts,
) -> Value {
    let count = |state: ContainerState| containers.iter().filter(|c| c.state() == state).count();
    let running = count(ContainerState::Running);
    let paused = count(ContainerState::Paused);
    json!({
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": containers.len() - running - paused,
        "Images": images,
        "Driver": "overlay",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": if version.cgroup_layout == "v2" { "2" } else { "1" },
        "KernelVersion": host.kernel,
        "OperatingSystem": host.os,
        "OSType": std::env::consts::OS,
        "Architecture": std::env::consts::ARCH,
        "NCPU": host.cpus,
        "MemTotal": host.memory,
        "Name": host.name,
        "ServerVersion": version.version,
        "DockerRootDir": version.data_root,
        "RunRoot": version.run_root,
        "APIVersion": version.api_version,
    })
}

/// The text `docker info` prints, from [`document`].
fn text(doc: &Value) -> String {
    let f = |key: &str| match &doc[key] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let lines = [
        "Client:".to_string(),
        format!(" Version:    {}", env!("CARGO_PKG_VERSION")),
        String::new(),
        "Server:".to_string(),
        format!(" Containers: {}", f("Containers")),
        format!("  Running: {}", f("ContainersRunning")),
        format!("  Paused: {}", f("ContainersPaused")),
        format!("  Stopped: {}", f("ContainersStopped")),
        format!(" Images: {}", f("Images")),
        format!(" Server Version: {}", f("ServerVersion")),
        format!(" Storage Driver: {}", f("Driver")),
        format!(" Cgroup Driver: {}", f("CgroupDriver")),
        format!(" Cgroup Version: {}", f("CgroupVersion")),
        format!(" Kernel Version: {}", f("KernelVersion")),
        format!(" Operating System: {}", f("OperatingSystem")),
        format!(" OSType: {}", f("OSType")),
        format!(" Architecture: {}", f("Architecture")),
        format!(" CPUs: {}", f("NCPU")),
        format!(
            " Total Memory: {}",
            format_bytes(doc["MemTotal"].as_u64().unwrap_or(0))
        ),
        format!(" Name: {}", f("Name")),
        format!(" Root Dir: {}", f("DockerRootDir")),
        format!(" Run Dir: {}", f("RunRoot")),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Runs `info`.
pub(super) async fn run(host: Option<&str>, args: InfoArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse_inspect(args.format.as_deref())?;
    let mut agent = connect_with(host, AgentClient::connect).await?;
    let version = agent.version().await?;
    let containers = agent.list(true, Vec::new()).await?;
    let mut images = connect_with(host, images_client::images).await?;
    let image_count = images
        .list(proto::ImageListRequest {
            all: true,
            filters: Vec::new(),
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .images
        .len();
    let doc = document(&version, &containers, image_count, &HostFacts::read());
    if format.is_default() {
        format::print(&text(&doc))?;
    } else {
        format::print(&format.objects(&[doc])?)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_files_parse() {
        assert_eq!(
            os_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(os_name(""), "Linux");
        assert_eq!(
            mem_total("MemTotal:        8000000 kB\nMemFree: 1 kB\n"),
            8_192_000_000
        );
        assert_eq!(mem_total("nothing"), 0);
    }

    #[test]
    fn counts_containers_by_state() {
        let state = |s: ContainerState| ContainerSummary {
            state: s as i32,
            ..Default::default()
        };
        let containers = [
            state(ContainerState::Running),
            state(ContainerState::Paused),
            state(ContainerState::Exited),
            state(ContainerState::Created),
        ];
        let version = VersionResponse {
            version: "1.2.3".into(),
            data_root: "/d".into(),
            cgroup_layout: "v2".into(),
            ..Default::default()
        };
        let host = HostFacts {
            cpus: 4,
            memory: 2048,
            ..Default::default()
        };
        let doc = document(&version, &containers, 7, &host);
        assert_eq!(doc["Containers"], 4);
        assert_eq!(doc["ContainersRunning"], 1);
        assert_eq!(doc["ContainersPaused"], 1);
        assert_eq!(doc["ContainersStopped"], 2);
        assert_eq!(doc["Images"], 7);
        assert_eq!(doc["CgroupVersion"], "2");
        let text = text(&doc);
        assert!(text.contains("\n Containers: 4\n  Running: 1\n  Paused: 1\n  Stopped: 2\n Images: 7\n Server Version: 1.2.3\n"), "{text}");
        assert!(text.contains(" CPUs: 4\n Total Memory: 2KiB\n"), "{text}");
    }
}
