//! The `run`/`create` flags for mounts, networking and process options, and their parsing
//! into the API's messages (docker's syntax).

use std::collections::HashMap;

use agent::proto::{ContainerConfig, Mount, NetworkAttachment, PortBinding, Ulimit};
use anyhow::{Context, bail};
use clap::Args;

use super::units::parse_size;

/// Mount, network and process flags of `run` and `create`.
#[derive(Debug, Args, Default)]
pub(crate) struct ExtraArgs {
    /// Bind mount a host path or mount a volume: /host:/path[:ro] or NAME:/path[:ro].
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount: type=bind|volume|tmpfs,source=…,target=…[,readonly]….
    #[arg(long = "mount", value_name = "SPEC")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs directory: /path[:size=64m,mode=1777].
    #[arg(long = "tmpfs", value_name = "PATH[:OPTS]")]
    pub tmpfs: Vec<String>,
    /// Publish a container's port(s) to the host: [ip:][host_port:]container_port[/proto].
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Connect the container to a network (bridge, host, none, container:X or a name).
    #[arg(long = "network", visible_alias = "net")]
    pub network: Option<String>,
    /// Add a network-scoped alias for the container.
    #[arg(long = "network-alias")]
    pub network_aliases: Vec<String>,
    /// IPv4 address on the network.
    #[arg(long = "ip")]
    pub ip: Option<String>,
    /// Container MAC address.
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Set custom DNS servers.
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option")]
    pub dns_options: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_hosts: Vec<String>,
    /// Set metadata on the container (KEY=VALUE).
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long, allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Ulimit options (name=soft[:hard]).
    #[arg(long = "ulimit")]
    pub ulimits: Vec<String>,
    /// Sysctl options (key=value).
    #[arg(long = "sysctl")]
    pub sysctls: Vec<String>,
    /// Add additional groups to join.
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Security options: no-new-privileges[:true|false], seccomp=unconfined or
    /// seccomp=PROFILE.json (Docker's profile format).
    #[arg(long = "security-opt")]
    pub security_opts: Vec<String>,
    /// Size of /dev/shm (e.g. 64m).
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Container NIS domain name.
    #[arg(long = "domainname")]
    pub domainname: Option<String>,
    /// Pull image before running: missing, always or never.
    #[arg(long = "pull", default_value = "missing", value_parser = ["missing", "always", "never"])]
    pub pull: String,
}

impl ExtraArgs {
    /// Adds these flags to `config`.
    pub(crate) fn apply(&self, config: &mut ContainerConfig) -> anyhow::Result<()> {
        for v in &self.volumes {
            config.mounts.push(parse_volume(v)?);
        }
        for m in &self.mounts {
            config.mounts.push(parse_mount(m)?);
        }
        for t in &self.tmpfs {
            config.mounts.push(parse_tmpfs(t)?);
        }
        for p in &self.publish {
            config.ports.extend(parse_publish(p)?);
        }
        config.publish_all = self.publish_all;
        let mode = self.network.clone().unwrap_or_default();
        let special = matches!(mode.as_str(), "host" | "none") || mode.starts_with("container:");
        if special
            && (!self.network_aliases.is_empty() || self.ip.is_some() || self.mac_address.is_some())
        {
            bail!("--network-alias, --ip and --mac-address need a bridge network, not {mode}");
        }
        if !special {
            let network = if mode.is_empty() || mode == "default" {
                "bridge".to_string()
            } else {
                mode.clone()
            };
            if !self.network_aliases.is_empty() || self.ip.is_some() || self.mac_address.is_some() {
                config.networks.push(NetworkAttachment {
                    network,
                    aliases: self.network_aliases.clone(),
                    ipv4_address: self.ip.clone().unwrap_or_default(),
                    mac_address: self.mac_address.clone().unwrap_or_default(),
                    ..Default::default()
                });
            }
        }
        config.network_mode = mode;
        config.dns = self.dns.clone();
        config.dns_search = self.dns_search.clone();
        config.dns_options = self.dns_options.clone();
        config.extra_hosts = self.add_hosts.clone();
        config.labels = parse_pairs(&self.labels, "label", true)?;
        if let Some(e) = &self.entrypoint {
            config.has_entrypoint = true;
            config.entrypoint = if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            };
        }
        config.tty = self.tty;
        config.stdin_open = self.interactive;
        config.ulimits = self
            .ulimits
            .iter()
            .map(|u| parse_ulimit(u))
            .collect::<anyhow::Result<_>>()?;
        config.sysctls = parse_pairs(&self.sysctls, "sysctl", false)?;
        config.group_add = self.group_add.clone();
        agent::security_opt::apply(&self.security_opts, config)?;
        // parse_size never returns a negative size.
        config.shm_size = u64::try_from(super::run::flag(
            self.shm_size.as_deref(),
            "--shm-size",
            parse_size,
        )?)
        .unwrap_or(0);
        config.cpuset_cpus = self.cpuset_cpus.clone().unwrap_or_default();
        config.domainname = self.domainname.clone().unwrap_or_default();
        config.pull_policy = self.pull.clone();
        Ok(())
    }
}

fn parse_pairs(
    items: &[String],
    what: &str,
    bare_ok: bool,
) -> anyhow::Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            None if bare_ok && !item.is_empty() => {
                out.insert(item.clone(), String::new());
            }
            _ => bail!("invalid {what} {item:?}: use KEY=VALUE"),
        }
    }
    Ok(out)
}

/// `-v`: `/host:/path[:opts]` is a bind, `NAME:/path[:opts]` a volume, `/path` an anonymous
/// volume; opts are `ro`, `rw`, `nocopy` (comma separated).
pub(super) fn parse_volume(spec: &str) -> anyhow::Result<Mount> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => bail!("invalid volume {spec:?}: use SRC:/container/path[:ro]"),
    };
    if !target.starts_with('/') {
        bail!("invalid volume {spec:?}: the container path must be absolute");
    }
    refuse_root(target, "volume", spec)?;
    let mut mount = Mount {
        r#type: if source.starts_with('/') {
            "bind"
        } else {
            "volume"
        }
        .into(),
        source: source.into(),
        target: target.into(),
        // Docker's -v creates a missing host directory.
        create_host_path: source.starts_with('/'),
        ..Default::default()
    };
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => mount.read_only = true,
            "rw" => mount.read_only = false,
            "nocopy" => mount.no_copy = true,
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" => {
                mount.propagation = opt.into()
            }
            "z" | "Z" => {}
            other => bail!("invalid volume {spec:?}: unknown option {other:?}"),
        }
    }
    Ok(mount)
}

/// Refuses a mount over the container's root, as Docker does.
fn refuse_root(target: &str, what: &str, spec: &str) -> anyhow::Result<()> {
    if engine::spec::is_root_target(std::path::Path::new(target)) {
        bail!("invalid {what} {spec:?}: destination can't be '/'");
    }
    Ok(())
}

/// `--mount type=…,source=…,target=…,readonly,volume-nocopy,volume-subpath=…,
/// bind-propagation=…,bind-create-host-path,tmpfs-size=…,tmpfs-mode=…`.
pub(super) fn parse_mount(spec: &str) -> anyhow::Result<Mount> {
    let mut mount = Mount {
        r#type: "volume".into(),
        ..Default::default()
    };
    for field in spec.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        let flag = || matches!(value, "" | "true" | "1");
        match key {
            "type" => mount.r#type = value.into(),
            "source" | "src" => mount.source = value.into(),
            "target" | "destination" | "dst" => mount.target = value.into(),
            "readonly" | "ro" => mount.read_only = flag(),
            "volume-nocopy" => mount.no_copy = flag(),
            "volume-subpath" => mount.subpath = value.into(),
            "bind-propagation" => mount.propagation = value.into(),
            "bind-create-host-path" => mount.create_host_path = flag(),
            "tmpfs-size" => mount.tmpfs_size = u64::try_from(parse_size(value)?).unwrap_or(0),
            "tmpfs-mode" => {
                mount.tmpfs_mode = u32::from_str_radix(value, 8)
                    .with_context(|| format!("invalid tmpfs-mode {value:?} in --mount {spec:?}"))?
            }
            other => bail!("invalid --mount {spec:?}: unknown field {other:?}"),
        }
    }
    if !matches!(mount.r#type.as_str(), "bind" | "volume" | "tmpfs") {
        bail!("invalid --mount {spec:?}: type must be bind, volume or tmpfs");
    }
    if mount.target.is_empty() {
        bail!("invalid --mount {spec:?}: target is required");
    }
    refuse_root(&mount.target, "--mount", spec)?;
    Ok(mount)
}

/// `--tmpfs /path[:size=64m,mode=1777]`.
pub(super) fn parse_tmpfs(spec: &str) -> anyhow::Result<Mount> {
    let (target, opts) = spec.split_once(':').unwrap_or((spec, ""));
    refuse_root(target, "--tmpfs", spec)?;
    let mut mount = Mount {
        r#type: "tmpfs".into(),
        target: target.into(),
        ..Default::default()
    };
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt.split_once('=') {
            Some(("size", v)) => mount.tmpfs_size = u64::try_from(parse_size(v)?).unwrap_or(0),
            Some(("mode", v)) => {
                mount.tmpfs_mode = u32::from_str_radix(v, 8)
                    .with_context(|| format!("invalid tmpfs mode {v:?}"))?
            }
            None if opt == "ro" => mount.read_only = true,
            None if opt == "rw" => {}
            _ => bail!("invalid --tmpfs {spec:?}: unknown option {opt:?}"),
        }
    }
    Ok(mount)
}

/// `-p [ip:][host_port[-end]:]container_port[-end][/tcp|udp]`, IPv6 addresses in brackets
/// (`[::1]:8080:80`), read as the engine reads port specifications.
pub(super) fn parse_publish(spec: &str) -> anyhow::Result<Vec<PortBinding>> {
    let spec: engine::network::PortSpec = spec.parse()?;
    Ok(vec![agent::port_binding(&spec)])
}

/// `--ulimit name=soft[:hard]`.
pub(super) fn parse_ulimit(spec: &str) -> anyhow::Result<Ulimit> {
    let bad = || format!("invalid --ulimit {spec:?}: use name=soft[:hard]");
    let (name, values) = spec.split_once('=').with_context(bad)?;
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    Ok(Ulimit {
        name: name.into(),
        soft: soft.parse().with_context(bad)?,
        hard: hard.parse().with_context(bad)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_table() {
        let cases = [
            ("/h:/c", "bind", "/h", "/c", false),
            ("/h:/c:ro", "bind", "/h", "/c", true),
            ("data:/c", "volume", "data", "/c", false),
            ("data:/c:ro,nocopy", "volume", "data", "/c", true),
            ("/c", "volume", "", "/c", false),
        ];
        for (spec, kind, source, target, ro) in cases {
            let m = parse_volume(spec).unwrap();
            assert_eq!(
                (
                    m.r#type.as_str(),
                    m.source.as_str(),
                    m.target.as_str(),
                    m.read_only
                ),
                (kind, source, target, ro),
                "{spec}"
            );
        }
        assert!(parse_volume("data:/c:ro,nocopy").unwrap().no_copy);
        assert!(parse_volume("data:rel").is_err());
        assert!(parse_volume("a:/b:zz").is_err());
    }

    #[test]
    fn the_root_is_no_mount_destination() {
        let err = parse_volume("/srv/data:/").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid volume \"/srv/data:/\": destination can't be '/'"
        );
        assert!(parse_volume("/srv/data://").is_err());
        assert!(parse_mount("type=bind,source=/srv,target=/a/..").is_err());
        assert!(parse_tmpfs("/").is_err());
        assert!(parse_volume("/srv/data:/data").is_ok());
    }

    #[test]
    fn mounts_and_tmpfs() {
        let m = parse_mount("type=volume,source=v,target=/d,readonly,volume-subpath=s").unwrap();
        assert_eq!(
            (
                m.r#type.as_str(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only,
                m.subpath.as_str()
            ),
            ("volume", "v", "/d", true, "s")
        );
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700").unwrap();
        assert_eq!((m.tmpfs_size, m.tmpfs_mode), (1 << 20, 0o700));
        assert!(parse_mount("type=nfs,target=/x").is_err());
        assert!(parse_mount("type=bind,source=/x").is_err());
        let t = parse_tmpfs("/run:size=2m,mode=755").unwrap();
        assert_eq!(
            (t.target.as_str(), t.tmpfs_size, t.tmpfs_mode),
            ("/run", 2 << 20, 0o755)
        );
    }

    /// host ip, host port, host port end, container port, container port end, protocol.
    type Binding<'a> = (&'a str, u32, u32, u32, u32, &'a str);

    #[test]
    fn publish_table() {
        let cases: [(&str, Binding); 5] = [
            ("80", ("", 0, 0, 80, 0, "tcp")),
            ("8080:80", ("", 8080, 0, 80, 0, "tcp")),
            (
                "127.0.0.1:8080:80/udp",
                ("127.0.0.1", 8080, 0, 80, 0, "udp"),
            ),
            ("127.0.0.1::80", ("127.0.0.1", 0, 0, 80, 0, "tcp")),
            ("9000-9001:80-81", ("", 9000, 9001, 80, 81, "tcp")),
        ];
        for (spec, want) in cases {
            let p = &parse_publish(spec).unwrap()[0];
            assert_eq!(
                (
                    p.host_ip.as_str(),
                    p.host_port,
                    p.host_port_end,
                    p.container_port,
                    p.container_port_end,
                    p.protocol.as_str()
                ),
                want,
                "{spec}"
            );
        }
        assert!(parse_publish("80/sctp").is_err());
        assert!(parse_publish("x:80").is_err());
    }

    #[test]
    fn network_flags_make_an_attachment() {
        let args = ExtraArgs {
            network: Some("app".into()),
            network_aliases: vec!["db".into()],
            ip: Some("10.9.0.5".into()),
            labels: vec!["a=1".into(), "flag".into()],
            ulimits: vec!["nofile=10:20".into()],
            security_opts: vec!["no-new-privileges".into()],
            entrypoint: Some("/bin/sh".into()),
            pull: "missing".into(),
            ..Default::default()
        };
        let mut c = ContainerConfig::default();
        args.apply(&mut c).unwrap();
        assert_eq!(c.network_mode, "app");
        assert_eq!(c.networks[0].network, "app");
        assert_eq!(c.networks[0].aliases, ["db"]);
        assert_eq!(c.networks[0].ipv4_address, "10.9.0.5");
        assert_eq!(c.labels["a"], "1");
        assert_eq!(c.labels["flag"], "");
        assert_eq!((c.ulimits[0].soft, c.ulimits[0].hard), (10, 20));
        assert!(c.no_new_privileges && c.has_entrypoint);
        assert_eq!(c.entrypoint, ["/bin/sh"]);
        let host = ExtraArgs {
            network: Some("host".into()),
            ip: Some("10.0.0.1".into()),
            ..Default::default()
        };
        assert!(host.apply(&mut ContainerConfig::default()).is_err());
    }
}
