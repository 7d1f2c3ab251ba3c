//! `stack deploy`: load the files, map them to the stack's networks and services, print the
//! warnings, compare with what the cluster has, then create the missing networks, remove
//! services (with `--prune`), create services in `depends_on` order (each once the services it
//! depends on meet their conditions) and update the changed ones, remove the networks no
//! longer used (with `--prune`); and unless `--detach`, wait for the created and updated
//! services to converge.

use std::collections::BTreeMap;

use anyhow::Context as _;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::proto;
use orchestrator::stack::{self, Change, Existing, ExistingNetwork, StackNetwork};

use super::{DeployArgs, dependencies};
use crate::cli::project::ProjectArgs;
use crate::cli::service::{auth, resolve, wait};

/// The stored credentials for `image`'s registry when `--with-registry-auth` asks for them.
fn credentials(args: &DeployArgs, image: &str) -> anyhow::Result<Option<proto::RegistryAuth>> {
    if args.with_registry_auth {
        auth::for_image(image)
    } else {
        Ok(None)
    }
}

/// The managers' request for a stack network.
fn network_request(network: &StackNetwork) -> proto::CreateNetworkRequest {
    proto::CreateNetworkRequest {
        name: network.name.clone(),
        driver: "overlay".to_owned(),
        subnet: network.subnet.clone().unwrap_or_default(),
        gateway: network.gateway.clone().unwrap_or_default(),
        attachable: network.attachable,
        internal: network.internal,
        labels: network
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        ..proto::CreateNetworkRequest::default()
    }
}

/// Deploys `args.stack` from the files `project` selects.
pub(super) async fn run(
    client: &ServicesClient,
    project: &ProjectArgs,
    args: &DeployArgs,
) -> anyhow::Result<()> {
    let loaded = project.load(&[], true)?;
    loaded.check_env_files(&[]).map_err(anyhow::Error::msg)?;
    let (mut desired, warnings) = stack::services(&loaded.project, &args.stack)?;
    let (networks, network_warnings) = stack::networks(&loaded.project, &args.stack)?;
    let order = stack::start_order(&loaded.project, &args.stack)?;
    for warning in warnings.iter().chain(&network_warnings) {
        eprintln!("warning: {warning}");
    }
    let existing_networks: Vec<ExistingNetwork> = client
        .networks()
        .await?
        .into_iter()
        .map(|n| ExistingNetwork {
            id: n.record.meta.id,
            name: n.record.name,
            labels: n.record.meta.labels,
        })
        .collect();
    let network_changes =
        stack::network_changes(&args.stack, networks, &existing_networks, args.prune);
    for network in &network_changes.create {
        println!("Creating network {}", network.name);
        client.create_network(network_request(network)).await?;
    }
    super::secrets::deploy(client, &loaded, &args.stack, &mut desired).await?;
    let existing: Vec<Existing> = client
        .list()
        .await?
        .into_iter()
        .map(|info| Existing {
            id: info.record.meta.id.clone(),
            name: info.record.service.name.clone(),
            spec: info.record.service.spec,
        })
        .collect();
    let mode: stack::ResolveImage = args.resolve_image.parse().map_err(anyhow::Error::msg)?;
    let mut digests = BTreeMap::new();
    for image in stack::to_resolve(&args.stack, &desired, &existing, mode) {
        if let Some(digest) = resolve::digest(&image).await {
            digests.insert(image, digest);
        }
    }
    stack::pin(&args.stack, &mut desired, &existing, mode, &digests);
    let mut changes = stack::diff(&args.stack, desired, &existing, args.prune);
    // Services are created dependencies first.
    changes.sort_by_key(|c| order.iter().position(|s| s.service == c.name()));
    let mut to_wait = Vec::new();
    for change in changes
        .iter()
        .filter(|c| matches!(c, Change::Remove { .. }))
    {
        if let Change::Remove { id, name } = change {
            println!("Removing service {name}");
            client.remove(id).await?;
        }
    }
    for change in &changes {
        match change {
            Change::Create(service) => {
                let start = order.iter().find(|s| s.service == service.name);
                for dependency in start.map(|s| s.dependencies.as_slice()).unwrap_or_default() {
                    dependencies::wait(client, &service.name, dependency).await?;
                }
                println!("Creating service {}", service.name);
                let request = proto::CreateServiceRequest {
                    name: service.name.clone(),
                    spec_json: serde_json::to_vec(&service.spec)
                        .context("cannot encode the service spec")?,
                    registry_auth: credentials(args, &service.spec.image)?,
                    ..proto::CreateServiceRequest::default()
                };
                client.create(request).await?;
                to_wait.push(service.name.clone());
            }
            Change::Update { id, service } => {
                println!("Updating service {} (id: {id})", service.name);
                let request = proto::UpdateServiceRequest {
                    service: id.clone(),
                    spec_json: serde_json::to_vec(&service.spec)
                        .context("cannot encode the service spec")?,
                    registry_auth: credentials(args, &service.spec.image)?,
                    ..proto::UpdateServiceRequest::default()
                };
                client.update(request).await?;
                to_wait.push(service.name.clone());
            }
            // Unchanged, the service still takes the credentials (they may have changed).
            Change::Unchanged(service) if args.with_registry_auth => {
                if let Some(auth) = credentials(args, &service.spec.image)? {
                    let request = proto::UpdateServiceRequest {
                        service: service.name.clone(),
                        registry_auth: Some(auth),
                        ..proto::UpdateServiceRequest::default()
                    };
                    client.update(request).await?;
                }
            }
            Change::Unchanged(_) | Change::Remove { .. } => {}
        }
    }
    for (id, name) in &network_changes.remove {
        println!("Removing network {name}");
        client.remove_network(id).await?;
    }
    if args.prune {
        super::secrets::remove_unused(client, &args.stack).await?;
    }
    if !args.detach {
        for name in &to_wait {
            wait::converge(client, name).await?;
        }
    }
    Ok(())
}
