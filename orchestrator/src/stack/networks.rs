//! A stack's networks: every top-level network its services join becomes a cluster overlay
//! named `<stack>_<key>` (or the `name:` the file gives), labelled with the stack's
//! namespace; an external network is joined by its name and never created or removed. Each
//! service joins its networks with its aliases and, as with Docker, its short compose name, so
//! `web` resolves inside the stack as `<stack>_web` does.

use std::collections::{BTreeMap, BTreeSet};

use compose_spec::model::{Network, Project, Service, ServiceNetwork};

use super::NAMESPACE_LABEL;
use super::error::StackError;
use super::warnings::{Subject, Support, Warning, Warnings};
use crate::swarm::NetworkAttachmentConfig;

/// The driver of every network a stack creates.
const OVERLAY: &str = "overlay";

/// An overlay the stack wants in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackNetwork {
    /// The compose file's key (`back`).
    pub key: String,
    /// The cluster network's name (`<stack>_back`).
    pub name: String,
    /// The subnet the file asks for (the managers allocate one otherwise).
    pub subnet: Option<String>,
    /// The gateway the file asks for.
    pub gateway: Option<String>,
    /// Standalone containers may join.
    pub attachable: bool,
    /// No way out of the network.
    pub internal: bool,
    /// The file's labels and the stack's namespace.
    pub labels: BTreeMap<String, String>,
}

/// A cluster network as the managers list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingNetwork {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

/// What `stack deploy` does to the stack's networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkChanges {
    /// Networks to create before the services.
    pub create: Vec<StackNetwork>,
    /// Networks of the stack the file no longer uses, to remove after the services (with
    /// prune): (id, name).
    pub remove: Vec<(String, String)>,
}

/// The cluster name of the file's network `key`.
fn cluster_name(stack: &str, key: &str, network: &Network) -> String {
    network
        .name
        .clone()
        .unwrap_or_else(|| super::service_name(stack, key))
}

/// The overlays stack `stack` creates for `project`: the non-external networks at least one
/// service joins, by key, with one warning per network key the cluster does not honour.
pub fn networks(
    project: &Project,
    stack: &str,
) -> Result<(Vec<StackNetwork>, Vec<Warning>), StackError> {
    let used: BTreeSet<&String> = project
        .services
        .values()
        .flat_map(|s| s.networks.keys())
        .collect();
    let mut warnings = Warnings::default();
    let mut out = Vec::new();
    for (key, network) in &project.networks {
        if !used.contains(key) || network.external {
            continue;
        }
        let mut note = |what: &str, hint: Option<&'static str>| {
            warnings.add(Subject::Networks, what, Support::NotYet, hint, key);
        };
        if network.driver.as_deref().is_some_and(|d| d != OVERLAY) {
            note("driver", Some("stack networks are overlays"));
        }
        if !network.driver_opts.is_empty() {
            note("driver_opts", None);
        }
        if network.enable_ipv6 == Some(true) {
            note("enable_ipv6", Some("cluster overlays are IPv4 only"));
        }
        let pools = network
            .ipam
            .as_ref()
            .map(|i| i.config.as_slice())
            .unwrap_or_default();
        if pools.len() > 1 {
            note("ipam.config beyond the first pool", None);
        }
        if pools.first().is_some_and(|p| p.ip_range.is_some()) {
            note("ipam.config.ip_range", None);
        }
        if pools.first().is_some_and(|p| !p.aux_addresses.is_empty()) {
            note("ipam.config.aux_addresses", None);
        }
        let mut labels = network.labels.clone();
        labels.insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
        out.push(StackNetwork {
            key: key.clone(),
            name: cluster_name(stack, key, network),
            subnet: pools.first().and_then(|p| p.subnet.clone()),
            gateway: pools.first().and_then(|p| p.gateway.clone()),
            attachable: network.attachable,
            internal: network.internal,
            labels,
        });
    }
    Ok((out, warnings.into_vec()))
}

/// The networks service `name` joins, sorted by cluster name: each with the aliases the file
/// gives and the service's short name; attachment options a cluster does not honour are
/// warned about.
pub(super) fn attachments(
    project: &Project,
    stack: &str,
    name: &str,
    service: &Service,
    warnings: &mut Warnings,
) -> Result<Vec<NetworkAttachmentConfig>, StackError> {
    let mut out = Vec::new();
    for (key, attachment) in &service.networks {
        let network = project
            .networks
            .get(key)
            .ok_or_else(|| StackError::UnknownNetwork {
                service: name.to_owned(),
                network: key.clone(),
            })?;
        let attachment = attachment.clone().unwrap_or_default();
        attachment_warnings(name, &attachment, warnings);
        let mut aliases = vec![name.to_owned()];
        for alias in attachment.aliases {
            if !aliases.contains(&alias) {
                aliases.push(alias);
            }
        }
        out.push(NetworkAttachmentConfig {
            target: cluster_name(stack, key, network),
            aliases,
        });
    }
    out.sort();
    Ok(out)
}

fn attachment_warnings(name: &str, given: &ServiceNetwork, warnings: &mut Warnings) {
    let set = [
        ("networks.ipv4_address", given.ipv4_address.is_some()),
        ("networks.ipv6_address", given.ipv6_address.is_some()),
        ("networks.link_local_ips", !given.link_local_ips.is_empty()),
        ("networks.mac_address", given.mac_address.is_some()),
        ("networks.interface_name", given.interface_name.is_some()),
        ("networks.driver_opts", !given.driver_opts.is_empty()),
        ("networks.priority", given.priority.is_some()),
    ];
    for (key, _) in set.iter().filter(|(_, used)| *used) {
        warnings.not_yet(*key, None, name);
    }
}

/// What turns the stack's networks in the cluster into `desired`: the ones missing are
/// created (a network of that name that exists already, the stack's or not, is joined as it
/// is, as Docker does); with `prune`, the stack's networks no longer wanted are removed.
pub fn network_changes(
    stack: &str,
    desired: Vec<StackNetwork>,
    existing: &[ExistingNetwork],
    prune: bool,
) -> NetworkChanges {
    let wanted: BTreeSet<String> = desired.iter().map(|n| n.name.clone()).collect();
    let create = desired
        .into_iter()
        .filter(|n| !existing.iter().any(|e| e.name == n.name))
        .collect();
    let remove = if prune {
        existing
            .iter()
            .filter(|e| super::stack_of(&e.labels) == Some(stack) && !wanted.contains(&e.name))
            .map(|e| (e.id.clone(), e.name.clone()))
            .collect()
    } else {
        Vec::new()
    };
    NetworkChanges { create, remove }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::tests::project;

    #[test]
    fn used_networks_become_labelled_overlays_and_externals_are_joined_only() {
        let p = project(
            "app",
            r#"
services:
  web: {image: nginx, networks: {front: {aliases: [www]}, back: null}}
  db: {image: postgres, networks: [back, shared]}
  lone: {image: busybox}
networks:
  front: {attachable: true, labels: {tier: edge}}
  back:
    internal: true
    ipam: {config: [{subnet: 10.99.0.0/24, gateway: 10.99.0.254}]}
  shared: {external: true, name: corp}
  unused: {}
"#,
        );
        let (nets, warnings) = networks(&p, "app").unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let names: Vec<&str> = nets.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["app_back", "app_default", "app_front"]);
        let back = &nets[0];
        assert!(back.internal && !back.attachable);
        assert_eq!(back.subnet.as_deref(), Some("10.99.0.0/24"));
        assert_eq!(back.gateway.as_deref(), Some("10.99.0.254"));
        let front = &nets[2];
        assert!(front.attachable);
        assert_eq!(front.labels["tier"], "edge");
        assert_eq!(front.labels[NAMESPACE_LABEL], "app");

        let mut w = Warnings::default();
        let web = attachments(&p, "app", "web", &p.services["web"], &mut w).unwrap();
        assert_eq!(
            web,
            [
                NetworkAttachmentConfig {
                    target: "app_back".into(),
                    aliases: vec!["web".into()],
                },
                NetworkAttachmentConfig {
                    target: "app_front".into(),
                    aliases: vec!["web".into(), "www".into()],
                },
            ]
        );
        let db = attachments(&p, "app", "db", &p.services["db"], &mut w).unwrap();
        let targets: Vec<&str> = db.iter().map(|a| a.target.as_str()).collect();
        assert_eq!(targets, ["app_back", "corp"]);
        let lone = attachments(&p, "app", "lone", &p.services["lone"], &mut w).unwrap();
        assert_eq!(lone[0].target, "app_default");
        assert!(w.into_vec().is_empty());
    }

    #[test]
    fn options_an_overlay_cannot_take_are_warned_about_by_network() {
        let p = project(
            "app",
            r#"
services:
  web:
    image: nginx
    networks: {front: {ipv4_address: 10.1.0.9}, back: null}
networks:
  front: {driver: bridge, driver_opts: {mtu: "1400"}}
  back: {enable_ipv6: true}
"#,
        );
        let (_, warnings) = networks(&p, "app").unwrap();
        let lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "driver is not supported by stack deploy yet and is ignored; stack networks are overlays (networks: front)",
                "driver_opts is not supported by stack deploy yet and is ignored (networks: front)",
                "enable_ipv6 is not supported by stack deploy yet and is ignored; cluster overlays are IPv4 only (networks: back)",
            ]
        );
        let mut w = Warnings::default();
        attachments(&p, "app", "web", &p.services["web"], &mut w).unwrap();
        assert_eq!(
            w.into_vec()[0].to_string(),
            "networks.ipv4_address is not supported by stack deploy yet and is ignored (services: web)"
        );
    }

    fn existing(id: &str, name: &str, stack: Option<&str>) -> ExistingNetwork {
        let mut labels = BTreeMap::new();
        if let Some(stack) = stack {
            labels.insert(NAMESPACE_LABEL.to_owned(), stack.to_owned());
        }
        ExistingNetwork {
            id: id.into(),
            name: name.into(),
            labels,
        }
    }

    #[test]
    fn missing_networks_are_created_and_only_the_stacks_unused_ones_pruned() {
        let p = project(
            "app",
            "services: {web: {image: nginx, networks: [front, back]}}\nnetworks: {front: {}, back: {}}",
        );
        let (desired, _) = networks(&p, "app").unwrap();
        let cluster = [
            existing("1", "app_front", Some("app")),
            existing("2", "app_old", Some("app")),
            existing("3", "other_old", Some("other")),
            existing("4", "loose", None),
        ];
        let changes = network_changes("app", desired.clone(), &cluster, false);
        let created: Vec<&str> = changes.create.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(created, ["app_back"]);
        assert!(changes.remove.is_empty());
        let changes = network_changes("app", desired, &cluster, true);
        assert_eq!(changes.remove, [("2".to_owned(), "app_old".to_owned())]);
    }
}
