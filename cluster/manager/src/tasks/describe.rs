//! What a node says of itself when it opens its session: platform (Docker's names) and the
//! CPUs and memory available to tasks.

use crate::dispatcher::proto::SessionRequest;
use orchestrator::swarm::NANO_CPUS_PER_CPU;

/// The architecture under Docker's name (`amd64`, `arm64`), from Rust's.
pub fn arch_name(rust: &str) -> &str {
    match rust {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Total memory from `/proc/meminfo` text (`MemTotal: N kB`), in bytes.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// This node's description.
pub fn this_node() -> SessionRequest {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text))
        .unwrap_or(0);
    SessionRequest {
        os: std::env::consts::OS.to_owned(),
        arch: arch_name(std::env::consts::ARCH).to_owned(),
        nano_cpus: cpus * NANO_CPUS_PER_CPU,
        memory_bytes: memory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_and_memory_read_as_docker_says_them() {
        assert_eq!(arch_name("x86_64"), "amd64");
        assert_eq!(arch_name("aarch64"), "arm64");
        assert_eq!(
            mem_total("MemFree: 1 kB\nMemTotal:  2048 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(mem_total("nothing"), None);
        let me = this_node();
        assert_eq!(me.os, "linux");
        assert!(me.nano_cpus >= NANO_CPUS_PER_CPU && me.memory_bytes > 0);
    }
}
