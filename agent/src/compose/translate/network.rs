//! Networks, network mode and published ports of a planned container.

use compose_spec::model::{Protocol, ServicePort};
use orchestrator::compose::{ContainerSpec, labels};

use super::{TranslateError, service_aliases};
use crate::proto;

/// Sets `network_mode`, `networks` and `ports`.
pub(super) fn apply(
    spec: &ContainerSpec,
    config: &mut proto::ContainerConfig,
) -> Result<(), TranslateError> {
    let service = &spec.definition;
    if let Some(mode) = &service.network_mode {
        config.network_mode = match mode.strip_prefix("service:") {
            Some(other) => format!(
                "container:{}",
                labels::container_name(&spec.project, other, 1)
            ),
            None => mode.clone(),
        };
    }
    let base = service_aliases(spec);
    for (key, attachment) in &service.networks {
        let Some(engine_name) = spec.networks.get(key) else {
            return Err(TranslateError::new(
                &spec.service,
                format!("network {key} is not defined in the project"),
            ));
        };
        let mut aliases = base.clone();
        let mut wire = proto::NetworkAttachment {
            network: engine_name.clone(),
            ..Default::default()
        };
        if let Some(attachment) = attachment {
            aliases.extend(attachment.aliases.iter().cloned());
            wire.ipv4_address = attachment.ipv4_address.clone().unwrap_or_default();
            wire.ipv6_address = attachment.ipv6_address.clone().unwrap_or_default();
            wire.mac_address = attachment.mac_address.clone().unwrap_or_default();
            wire.interface_name = attachment.interface_name.clone().unwrap_or_default();
        }
        if wire.mac_address.is_empty()
            && let Some(mac) = &service.mac_address
        {
            wire.mac_address = mac.clone();
        }
        wire.aliases = aliases;
        config.networks.push(wire);
    }
    if config.network_mode.is_empty()
        && let Some(first) = config.networks.first()
    {
        config.network_mode = first.network.clone();
    }
    config.ports = service
        .ports
        .iter()
        .map(|p| port(&spec.service, p))
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// One published port; `published` may be empty (a random port), a port or a range.
fn port(service: &str, port: &ServicePort) -> Result<proto::PortBinding, TranslateError> {
    let bad = || {
        TranslateError::new(
            service,
            format!(
                "invalid published port {:?}",
                port.published.as_deref().unwrap_or("")
            ),
        )
    };
    let (host_port, host_port_end) = match port.published.as_deref() {
        None | Some("") => (0, 0),
        Some(text) => match text.split_once('-') {
            Some((start, end)) => (
                start.parse().map_err(|_| bad())?,
                end.parse().map_err(|_| bad())?,
            ),
            None => (text.parse().map_err(|_| bad())?, 0),
        },
    };
    let protocol = match port.protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => {
            return Err(TranslateError::new(service, "sctp ports are not supported"));
        }
    };
    // The loader gives each container port its own entry; a published range left on one is
    // the host ports it may take one of (Compose's `"6005-6015:80"`: each replica of a scaled
    // service gets a free port of the range).
    Ok(proto::PortBinding {
        host_ip: port.host_ip.clone().unwrap_or_default(),
        host_port,
        host_port_end,
        container_port: u32::from(port.target),
        container_port_end: 0,
        protocol: protocol.to_string(),
    })
}
