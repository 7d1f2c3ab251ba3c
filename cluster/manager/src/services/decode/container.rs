//! `--mount` and `--publish` values, decoded into the swarm's [`Mount`] and
//! [`PublishedPort`].

use orchestrator::swarm::{Mount, MountKind, Protocol, PublishMode, PublishedPort};

use super::{SpecError, bytes, invalid};

fn options(flag: &'static str, text: &str) -> Result<Vec<(String, String)>, SpecError> {
    text.split(',')
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            if key.is_empty() {
                Err(invalid(
                    flag,
                    text,
                    "expected comma-separated KEY=VALUE options",
                ))
            } else {
                Ok((key.trim().to_ascii_lowercase(), value.trim().to_owned()))
            }
        })
        .collect()
}

fn flag_value(flag: &'static str, text: &str, value: &str) -> Result<bool, SpecError> {
    match value {
        "" | "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err(invalid(
            flag,
            text,
            format!("{value:?} is not true or false"),
        )),
    }
}

/// A `--mount` value.
pub fn mount(text: &str) -> Result<Mount, SpecError> {
    const FLAG: &str = "--mount";
    let mut kind = "volume".to_owned();
    let (mut source, mut target, mut read_only) = (None, None, false);
    let (mut driver, mut no_copy, mut size, mut mode) = (None, false, None, None);
    for (key, value) in options(FLAG, text)? {
        match key.as_str() {
            "type" => kind = value,
            "source" | "src" => source = Some(value),
            "target" | "destination" | "dst" => target = Some(value),
            "readonly" | "ro" => read_only = flag_value(FLAG, text, &value)?,
            "volume-driver" => driver = Some(value),
            "volume-nocopy" => no_copy = flag_value(FLAG, text, &value)?,
            "tmpfs-size" => size = Some(bytes(FLAG, &value)?),
            "tmpfs-mode" => {
                mode = Some(
                    u32::from_str_radix(&value, 8)
                        .map_err(|_| invalid(FLAG, text, "tmpfs-mode is octal, such as 1777"))?,
                )
            }
            other => return Err(invalid(FLAG, text, format!("unknown option {other:?}"))),
        }
    }
    let target = target
        .filter(|t| t.starts_with('/'))
        .ok_or_else(|| invalid(FLAG, text, "target=/absolute/path is required"))?;
    let kind = match kind.as_str() {
        "bind" => MountKind::Bind {
            source: source
                .filter(|s| s.starts_with('/'))
                .ok_or_else(|| invalid(FLAG, text, "a bind mount needs source=/absolute/path"))?,
        },
        "volume" => MountKind::Volume {
            source: source.filter(|s| !s.is_empty()),
            driver,
            no_copy,
        },
        "tmpfs" => MountKind::Tmpfs {
            size_bytes: size,
            mode,
        },
        other => {
            return Err(invalid(
                FLAG,
                text,
                format!("unknown type {other:?}: expected bind, volume or tmpfs"),
            ));
        }
    };
    Ok(Mount {
        target,
        read_only,
        kind,
    })
}

fn port(text: &str, value: &str) -> Result<u16, SpecError> {
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| invalid("--publish", text, format!("{value:?} is not a port")))
}

fn protocol(text: &str, value: &str) -> Result<Protocol, SpecError> {
    match value {
        "" | "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "sctp" => Ok(Protocol::Sctp),
        other => Err(invalid(
            "--publish",
            text,
            format!("unknown protocol {other:?}"),
        )),
    }
}

/// A `--publish` value: `mode=host,target=80,published=8080,protocol=udp` or `8080:80/udp`.
pub fn publish(text: &str) -> Result<PublishedPort, SpecError> {
    const FLAG: &str = "--publish";
    if !text.contains('=') {
        let (ports, proto) = text.split_once('/').unwrap_or((text, ""));
        let (published, target) = match ports.split_once(':') {
            Some((published, target)) => (Some(port(text, published)?), port(text, target)?),
            None => (None, port(text, ports)?),
        };
        return Ok(PublishedPort {
            target,
            published,
            protocol: protocol(text, proto)?,
            mode: PublishMode::Ingress,
            name: None,
        });
    }
    let (mut target, mut published, mut name) = (None, None, None);
    let (mut proto, mut mode) = (Protocol::Tcp, PublishMode::Ingress);
    for (key, value) in options(FLAG, text)? {
        match key.as_str() {
            "target" => target = Some(port(text, &value)?),
            "published" => published = Some(port(text, &value)?),
            "protocol" => proto = protocol(text, &value)?,
            "name" => name = Some(port_name(text, &value)?),
            "mode" => {
                mode = match value.as_str() {
                    "host" => PublishMode::Host,
                    "ingress" => PublishMode::Ingress,
                    other => {
                        return Err(invalid(
                            FLAG,
                            text,
                            format!("unknown mode {other:?}: expected host or ingress"),
                        ));
                    }
                }
            }
            other => return Err(invalid(FLAG, text, format!("unknown option {other:?}"))),
        }
    }
    Ok(PublishedPort {
        target: target.ok_or_else(|| invalid(FLAG, text, "target=PORT is required"))?,
        published,
        protocol: proto,
        mode,
        name,
    })
}

/// A port's name: a DNS label (letters, digits and `-`, at most 63, not starting or ending
/// with `-`), since it names the port in SRV records.
fn port_name(text: &str, value: &str) -> Result<String, SpecError> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && !value.starts_with('-')
        && !value.ends_with('-')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "--publish",
            text,
            format!("invalid port name {value:?}: letters, digits and '-', at most 63"),
        ))
    }
}
