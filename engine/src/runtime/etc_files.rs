//! The per-container /etc/hosts, /etc/hostname and /etc/resolv.conf: generated in the
//! container's directory and bind-mounted over the rootfs's files, as Docker does.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::spec::{ContainerSpec, DnsConfig, HostEntry, Mount, MountKind};

/// Name servers used when neither the spec nor the host (after dropping loopback servers,
/// which do not answer inside the container's network namespace) give any (Docker's).
pub(super) const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// The host's resolver configuration.
pub(super) const HOST_RESOLV_CONF: &str = "/etc/resolv.conf";

testing_pub! {
    /// /etc/hosts: the loopback and IPv6 standard entries, then the extra hosts.
    fn hosts(extra: &[HostEntry]) -> String {
        let mut out = String::from(
            "127.0.0.1\tlocalhost\n\
             ::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\n\
             ff00::0\tip6-mcastprefix\n\
             ff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n",
        );
        for h in extra {
            out.push_str(&format!("{}\t{}\n", h.ip, h.name));
        }
        out
    }
}

fn is_loopback(server: &str) -> bool {
    // Scoped IPv6 addresses carry a `%zone`.
    let addr = server.split('%').next().unwrap_or(server);
    addr.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

testing_pub! {
    /// /etc/resolv.conf from the host's file and the spec: the spec's servers, search domains and
    /// options replace the host's where given; loopback servers of the host are dropped.
    fn resolv_conf(host: &str, dns: &DnsConfig) -> String {
        let mut servers = Vec::new();
        let mut search = Vec::new();
        let mut options = Vec::new();
        for line in host.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => servers.extend(words.next().map(str::to_string)),
                Some("search") | Some("domain") => search = words.map(str::to_string).collect(),
                Some("options") => options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        servers.retain(|s| !is_loopback(s));
        if !dns.servers.is_empty() {
            servers = dns.servers.clone();
        }
        if servers.is_empty() {
            servers = FALLBACK_NAMESERVERS.iter().map(|s| s.to_string()).collect();
        }
        if !dns.search.is_empty() {
            search = dns.search.clone();
        }
        if !dns.options.is_empty() {
            options = dns.options.clone();
        }
        let mut out = String::new();
        if !search.is_empty() {
            out.push_str(&format!("search {}\n", search.join(" ")));
        }
        for s in servers {
            out.push_str(&format!("nameserver {s}\n"));
        }
        if !options.is_empty() {
            out.push_str(&format!("options {}\n", options.join(" ")));
        }
        out
    }
}

/// The container's host name: the spec's, or the first 12 characters of the id.
pub(super) fn hostname(id: &str, spec: &ContainerSpec) -> String {
    spec.hostname
        .clone()
        .unwrap_or_else(|| id.chars().take(12).collect())
}

/// Whose network view the files follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shared {
    /// The container's own namespace: generated files (addresses added at start).
    Own,
    /// The host's namespace: the host's hosts file and resolvers (loopback ones work there).
    Host,
    /// Another container's namespace: that container's files (its directory).
    Container(PathBuf),
}

/// Writes the three files into `dir` and returns the bind mounts that put them in place.
pub(super) fn write(
    dir: &Path,
    id: &str,
    spec: &ContainerSpec,
    shared: &Shared,
) -> crate::Result<Vec<Mount>> {
    let host_resolv = std::fs::read_to_string(HOST_RESOLV_CONF).unwrap_or_default();
    let (hosts_text, resolv_text) = match shared {
        Shared::Own => (
            hosts(&spec.extra_hosts),
            resolv_conf(&host_resolv, &spec.dns),
        ),
        Shared::Host => {
            let mut text = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            for h in &spec.extra_hosts {
                text.push_str(&format!("{}\t{}\n", h.ip, h.name));
            }
            let resolv = if spec.dns == DnsConfig::default() {
                host_resolv.clone()
            } else {
                resolv_conf(&host_resolv, &spec.dns)
            };
            (text, resolv)
        }
        Shared::Container(other) => (
            std::fs::read_to_string(other.join("hosts"))
                .unwrap_or_else(|_| hosts(&spec.extra_hosts)),
            std::fs::read_to_string(other.join("resolv.conf"))
                .unwrap_or_else(|_| resolv_conf(&host_resolv, &spec.dns)),
        ),
    };
    let files = [
        ("hosts", hosts_text),
        ("hostname", format!("{}\n", hostname(id, spec))),
        ("resolv.conf", resolv_text),
    ];
    let mut mounts = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        // Derived from the spec and written again before every start: no flush needed.
        crate::atomic::write_with(
            &path,
            content.as_bytes(),
            crate::atomic::Durability::Volatile,
        )?;
        mounts.push(Mount {
            kind: MountKind::Bind { source: path },
            target: Path::new("/etc").join(name),
            read_only: false,
        });
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists_extra_entries_after_the_standard_ones() {
        let text = hosts(&[HostEntry {
            name: "db".into(),
            ip: "10.0.0.7".into(),
        }]);
        assert!(text.starts_with("127.0.0.1\tlocalhost\n::1\t"), "{text}");
        assert!(
            text.ends_with("ff02::2\tip6-allrouters\n10.0.0.7\tdb\n"),
            "{text}"
        );
    }

    #[test]
    fn resolv_conf_table() {
        let host = "# comment\nnameserver 127.0.0.53\nnameserver 10.1.1.1\n\
                    nameserver ::1\nsearch corp.example\noptions edns0 trust-ad\n";
        let dns = |servers: &[&str], search: &[&str], options: &[&str]| DnsConfig {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            search: search.iter().map(|s| s.to_string()).collect(),
            options: options.iter().map(|s| s.to_string()).collect(),
        };
        let cases = [
            (
                host,
                dns(&[], &[], &[]),
                "search corp.example\nnameserver 10.1.1.1\noptions edns0 trust-ad\n",
            ),
            (
                host,
                dns(&["9.9.9.9"], &["a.test", "b.test"], &["ndots:2"]),
                "search a.test b.test\nnameserver 9.9.9.9\noptions ndots:2\n",
            ),
            (
                "nameserver 127.0.0.53\n",
                dns(&[], &[], &[]),
                "nameserver 8.8.8.8\nnameserver 8.8.4.4\n",
            ),
            (
                "",
                dns(&[], &["x.test"], &[]),
                "search x.test\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n",
            ),
        ];
        for (host, dns, want) in cases {
            assert_eq!(resolv_conf(host, &dns), want, "{host:?} {dns:?}");
        }
    }
}
