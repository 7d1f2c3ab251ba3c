//! `_ping`, `version` and `info`: what the docker CLI asks first, to negotiate the API version
//! (it uses the lower of its own and the `API-Version` announced here).

use http::{HeaderValue, StatusCode};
use hyper::body::Incoming;
use serde::Serialize;

use super::context::Context;
use super::reply::{Reply, json, plain};
use super::{API_VERSION, MIN_API_VERSION};

/// `GET|HEAD /_ping`: `OK` with the version headers.
pub(crate) fn ping(request: &hyper::Request<Incoming>) -> Reply {
    let body = if request.method() == http::Method::HEAD {
        ""
    } else {
        "OK"
    };
    let mut response = plain(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert("API-Version", HeaderValue::from_static(API_VERSION));
    headers.insert("OSType", HeaderValue::from_static("linux"));
    headers.insert("Docker-Experimental", HeaderValue::from_static("false"));
    headers.insert("Builder-Version", HeaderValue::from_static("1"));
    headers.insert(
        "Cache-Control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    Ok(response)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Component {
    name: String,
    version: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Version {
    platform: Platform,
    components: Vec<Component>,
    version: String,
    #[serde(rename = "ApiVersion")]
    api_version: &'static str,
    #[serde(rename = "MinAPIVersion")]
    min_api_version: &'static str,
    git_commit: String,
    go_version: String,
    os: &'static str,
    arch: &'static str,
    kernel_version: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Platform {
    name: String,
}

/// Docker's name for this machine's architecture.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `GET /version`.
pub(crate) async fn version(context: &Context) -> Reply {
    let agent = context
        .containers()
        .version(api::agent::VersionRequest {})
        .await?
        .into_inner();
    json(&Version {
        platform: Platform {
            name: "Bosun".into(),
        },
        components: vec![Component {
            name: "Engine".into(),
            version: agent.version.clone(),
        }],
        version: agent.version,
        api_version: API_VERSION,
        min_api_version: MIN_API_VERSION,
        git_commit: String::new(),
        go_version: String::new(),
        os: "linux",
        arch: arch(),
        kernel_version: kernel_version(),
    })
}

/// `GET /info`: counts from the agent's lists, and the host's facts.
pub(crate) async fn info(context: &Context) -> Reply {
    let agent = context
        .containers()
        .version(api::agent::VersionRequest {})
        .await?
        .into_inner();
    let containers = context
        .containers()
        .list(api::agent::ListRequest {
            all: true,
            filters: Vec::new(),
            size: false,
        })
        .await?
        .into_inner()
        .containers;
    let images = context
        .images()
        .list(api::agent::ImageListRequest::default())
        .await?
        .into_inner()
        .images;
    use api::agent::ContainerState as S;
    let count = |state: S| containers.iter().filter(|c| c.state() == state).count();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let ncpu = std::thread::available_parallelism().map_or(1, usize::from);
    let body = serde_json::json!({
        "ID": "",
        "Containers": containers.len(),
        "ContainersRunning": count(S::Running),
        "ContainersPaused": count(S::Paused),
        "ContainersStopped": count(S::Exited) + count(S::Created),
        "Images": images.len(),
        "Driver": "overlay2",
        "DockerRootDir": agent.data_root,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": if agent.cgroup_layout.contains("v1") { "1" } else { "2" },
        "KernelVersion": kernel_version(),
        "OperatingSystem": "Bosun",
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": ncpu,
        "MemTotal": mem_total(),
        "Name": hostname,
        "ServerVersion": agent.version,
        "Labels": [],
        "Swarm": { "LocalNodeState": "inactive", "ControlAvailable": false },
        "Runtimes": { "bosun": { "path": "bosun" } },
        "DefaultRuntime": "bosun",
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Warnings": [],
    });
    json(&body)
}

/// The host's memory in bytes (`MemTotal` of `/proc/meminfo`; 0 when unreadable).
pub(crate) fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kb| kb * 1024)
}
