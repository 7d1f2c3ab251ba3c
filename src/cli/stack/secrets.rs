//! A stack's secrets and configs at deploy and removal: the payloads read from their files,
//! the versions [`orchestrator::stack::secrets::plan`] asks for created before the services
//! that use them, and the services given their references; `stack rm` removes them after
//! the services.

use std::collections::BTreeMap;

use anyhow::Context as _;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::proto::{self, BlobKind};
use compose_spec::loader::Loaded;
use orchestrator::stack::secrets::{self, ExistingBlob, Payload};
use orchestrator::stack::{StackService, stack_of};
use orchestrator::swarm::FileKind;

const KINDS: [(FileKind, BlobKind); 2] = [
    (FileKind::Secret, BlobKind::Secret),
    (FileKind::Config, BlobKind::Config),
];

/// Creates the secrets and configs of `stack` that `desired` uses and the cluster lacks, and
/// sets the services' references to them.
pub(super) async fn deploy(
    client: &ServicesClient,
    loaded: &Loaded,
    stack: &str,
    desired: &mut [StackService],
) -> anyhow::Result<()> {
    let wanted = secrets::wanted(&loaded.project, &loaded.environment)?;
    if wanted.is_empty() {
        return Ok(());
    }
    let mut data = BTreeMap::new();
    for w in &wanted {
        let bytes = match &w.payload {
            None => continue,
            Some(Payload::Bytes(bytes)) => bytes.clone(),
            Some(Payload::Path(path)) => std::fs::read(path)
                .with_context(|| format!("{} {}: cannot read {path}", w.kind.as_str(), w.key))?,
        };
        data.insert((w.kind, w.key.clone()), bytes);
    }
    let mut existing = Vec::new();
    for (kind, wire) in KINDS {
        for info in client.blobs(wire).await? {
            existing.push(ExistingBlob {
                kind,
                name: info.record.name,
                labels: info.record.meta.labels,
            });
        }
    }
    let plan = secrets::plan(stack, &wanted, &data, &existing);
    for blob in plan.create {
        println!("Creating {} {}", blob.kind.as_str(), blob.name);
        let wire = KINDS.iter().find(|(k, _)| *k == blob.kind).map(|(_, w)| *w);
        client
            .create_blob(proto::CreateBlobRequest {
                kind: wire.unwrap_or(BlobKind::Unspecified) as i32,
                name: blob.name,
                data: blob.data,
                labels: blob
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            })
            .await?;
    }
    secrets::attach(&loaded.project, &plan.names, desired)?;
    Ok(())
}

/// Removes the secrets and configs labelled with `stack` that no service uses any more
/// (after `stack rm` removed its services, or versions a redeploy left behind).
pub(super) async fn remove_unused(client: &ServicesClient, stack: &str) -> anyhow::Result<()> {
    for (kind, wire) in KINDS {
        for info in client.blobs(wire).await? {
            if stack_of(&info.record.meta.labels) != Some(stack) || !info.services.is_empty() {
                continue;
            }
            println!("Removing {} {}", kind.as_str(), info.record.name);
            client.remove_blob(wire, &info.record.meta.id).await?;
        }
    }
    Ok(())
}
