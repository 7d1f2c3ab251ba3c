//! The `Volumes` service: the node's named and anonymous volumes over the API. A volume a
//! container mounts is not removed (with `force`, only when none of those containers runs);
//! nothing else here deletes data.

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::volume::{Volume, VolumeError, VolumeStore};
use tonic::{Request, Response, Status};

use super::images_filter::{Filter, labels_match, parse_filters, volume_status};
use super::node::Node;
use super::proto::{self, volumes_server::Volumes};

type Reply<T> = Result<Response<T>, Status>;

/// The volume API over one node.
#[derive(Debug, Clone)]
pub(crate) struct VolumesService {
    node: Arc<Node>,
}

impl VolumesService {
    /// The service over `node`.
    pub(crate) fn new(node: Arc<Node>) -> Self {
        Self { node }
    }

    async fn on_store<T, F>(&self, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&VolumeStore, &Node) -> Result<T, VolumeError> + Send + 'static,
    {
        let node = self.node.clone();
        tokio::task::spawn_blocking(move || f(node.volumes(), &node))
            .await
            .map_err(|e| Status::internal(format!("volume store task failed: {e}")))?
            .map_err(volume_status)
    }

    /// Container id → (name, running) of every container, for `used_by` and removal checks.
    async fn containers(&self) -> Result<BTreeMap<String, (String, bool)>, Status> {
        Ok(self
            .node
            .list(true, &super::filter::Filters::default())
            .await?
            .into_iter()
            .map(|c| {
                let alive = c.runs();
                (c.id, (c.name, alive))
            })
            .collect())
    }
}

fn message(volume: Volume, used_by: Vec<String>) -> proto::Volume {
    proto::Volume {
        name: volume.name,
        driver: volume.driver,
        mountpoint: volume.mountpoint.display().to_string(),
        labels: volume.labels.into_iter().collect(),
        options: volume.options.into_iter().collect(),
        created_at: volume.created_at,
        anonymous: volume.anonymous,
        used_by,
        // Measured only when a list asks for sizes.
        size: 0,
    }
}

fn used_by(node: &Node, name: &str, containers: &BTreeMap<String, (String, bool)>) -> Vec<String> {
    node.containers_using_volume(name)
        .into_iter()
        .map(|id| containers.get(&id).map_or(id, |(n, _)| n.clone()))
        .collect()
}

#[tonic::async_trait]
impl Volumes for VolumesService {
    async fn create(&self, request: Request<proto::VolumeCreateRequest>) -> Reply<proto::Volume> {
        let req = request.into_inner();
        if !req.driver.is_empty() && req.driver != "local" {
            return Err(Status::invalid_argument(format!(
                "volume driver {:?} is not supported: use local",
                req.driver
            )));
        }
        let volume = self
            .on_store(move |store, _| {
                let name = Some(req.name.as_str()).filter(|n| !n.is_empty());
                store.create(
                    name,
                    req.labels.into_iter().collect(),
                    req.options.into_iter().collect(),
                )
            })
            .await?;
        tracing::info!(volume = %volume.name, "volume created");
        Ok(Response::new(message(volume, Vec::new())))
    }

    async fn list(
        &self,
        request: Request<proto::VolumeListRequest>,
    ) -> Reply<proto::VolumeListResponse> {
        let request = request.into_inner();
        let measure = request.size;
        let filters = parse_filters(&request.filters, &["name", "label", "dangling"])?;
        let containers = self.containers().await?;
        let volumes = self
            .on_store(move |store, node| {
                let mut out = Vec::new();
                for volume in store.list()? {
                    let users = used_by(node, &volume.name, &containers);
                    let keep = filters.iter().all(|f| match f {
                        Filter::Name(n) => volume.name.contains(n.as_str()),
                        Filter::Label(k, v) => labels_match(&volume.labels, k, v.as_deref()),
                        Filter::Dangling(d) => *d == users.is_empty(),
                        Filter::Reference(_) | Filter::Before(_) | Filter::Since(_) => true,
                    });
                    if keep {
                        let size = if measure {
                            crate::disk::dir_size(&volume.mountpoint)
                        } else {
                            0
                        };
                        out.push(proto::Volume {
                            size,
                            ..message(volume, users)
                        });
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(Response::new(proto::VolumeListResponse { volumes }))
    }

    async fn inspect(&self, request: Request<proto::VolumeRef>) -> Reply<proto::Volume> {
        let name = request.into_inner().name;
        let containers = self.containers().await?;
        let volume = self
            .on_store(move |store, node| {
                let volume = store.inspect(&name)?;
                let users = used_by(node, &volume.name, &containers);
                Ok(message(volume, users))
            })
            .await?;
        Ok(Response::new(volume))
    }

    async fn remove(&self, request: Request<proto::VolumeRemoveRequest>) -> Reply<proto::Empty> {
        let req = request.into_inner();
        let containers = self.containers().await?;
        let name = req.name.clone();
        self.on_store(move |store, node| {
            store.inspect(&name)?;
            let users = node.containers_using_volume(&name);
            let running: Vec<String> = users
                .iter()
                .filter(|id| containers.get(*id).is_some_and(|(_, live)| *live))
                .map(|id| containers.get(id).map_or(id.clone(), |(n, _)| n.clone()))
                .collect();
            let blocked = if req.force {
                !running.is_empty()
            } else {
                !users.is_empty()
            };
            if blocked {
                let names = if req.force {
                    running
                } else {
                    used_by(node, &name, &containers)
                };
                return Err(VolumeError::InUse(format!(
                    "{name} (used by {})",
                    names.join(", ")
                )));
            }
            store.remove(&name, &|_| false)
        })
        .await?;
        tracing::info!(volume = %req.name, "volume removed");
        Ok(Response::new(proto::Empty {}))
    }

    async fn prune(
        &self,
        request: Request<proto::VolumePruneRequest>,
    ) -> Reply<proto::ImagePruneResponse> {
        let req = request.into_inner();
        let filters = parse_filters(&req.filters, &["label"])?;
        let report = self
            .on_store(move |store, node| {
                store.prune(
                    req.all,
                    &|name| !node.containers_using_volume(name).is_empty(),
                    &|volume| {
                        !filters.iter().all(|f| match f {
                            Filter::Label(k, v) => labels_match(&volume.labels, k, v.as_deref()),
                            _ => true,
                        })
                    },
                )
            })
            .await?;
        Ok(Response::new(proto::ImagePruneResponse {
            deleted: report.deleted,
            space_reclaimed: report.space_reclaimed,
        }))
    }
}
