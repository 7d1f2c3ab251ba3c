//! `stack deploy`: load the files, map them to the stack's services, print the warnings,
//! compare with what the cluster has, then remove (with `--prune`), create and update; and
//! unless `--detach`, wait for the created and updated services to converge.

use anyhow::Context as _;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::proto;
use orchestrator::stack::{self, Change, Existing};

use super::DeployArgs;
use crate::cli::project::ProjectArgs;
use crate::cli::service::{auth, wait};

/// The stored credentials for `image`'s registry when `--with-registry-auth` asks for them.
fn credentials(args: &DeployArgs, image: &str) -> anyhow::Result<Option<proto::RegistryAuth>> {
    if args.with_registry_auth {
        auth::for_image(image)
    } else {
        Ok(None)
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
    let (desired, warnings) = stack::services(&loaded.project, &args.stack)?;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
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
    let changes = stack::diff(&args.stack, desired, &existing, args.prune);
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
    if !args.detach {
        for name in &to_wait {
            wait::converge(client, name).await?;
        }
    }
    Ok(())
}
