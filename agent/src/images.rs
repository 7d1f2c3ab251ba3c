//! The `Images` service: the node's image store over the API. Store calls run on the blocking
//! pool; archives stream in (`Load`) and out (`Save`) in chunks; pulls and pushes report
//! progress per layer and end with a message that has `done` set; builds stream their steps
//! ([`super::build`]).

use std::sync::Arc;
use std::time::SystemTime;

use engine::image::{Digest, ImageError, ImageRef, ImageStore, ImportOptions, ImportSource};
use serde_json::{Value, json};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::images_filter::{
    Filter, created_instant, image_status, labels_match, parse_filters, reference_matches,
};
use super::node::Node;
use super::proto::{self, images_server::Images};
use super::registry::Settings;
use super::{images_blobs, images_stream};

type Reply<T> = Result<Response<T>, Status>;

/// The image API over one node.
#[derive(Debug, Clone)]
pub(crate) struct ImagesService {
    node: Arc<Node>,
    registries: Settings,
}

impl ImagesService {
    /// The service over `node`, reaching registries as `registries` allows.
    pub(crate) fn new(node: Arc<Node>, registries: Settings) -> Self {
        Self { node, registries }
    }

    fn store(&self) -> ImageStore {
        self.node.images().clone()
    }
}

/// Runs an image store call on the blocking pool.
pub(crate) async fn on_store<T, F>(store: ImageStore, f: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce(&ImageStore) -> Result<T, ImageError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| Status::internal(format!("image store task failed: {e}")))?
        .map_err(image_status)
}

/// Whether a container of `node` was made from image `id`.
fn in_use(node: &Node, id: &Digest) -> bool {
    !node.containers_using_image(&id.to_string()).is_empty()
}

/// An image's inspect document in Docker's shape.
fn inspect_json(store: &ImageStore, text: &str, containers: usize) -> Result<Value, ImageError> {
    let inspect = store.inspect(text)?;
    let record = store.resolve(text)?;
    Ok(json!({
        "Id": inspect.summary.id.to_string(),
        "RepoTags": inspect.summary.repo_tags,
        "RepoDigests": inspect.summary.repo_digests,
        "Created": inspect.summary.created,
        "Size": inspect.summary.size,
        "Architecture": inspect.architecture,
        "Os": inspect.os,
        "Author": inspect.author.unwrap_or_default(),
        "Config": inspect.config,
        "RootFS": {
            "Type": "layers",
            "Layers": inspect.diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
        "Manifest": {
            "Digest": record.manifest.to_string(),
            "MediaType": record.manifest_media_type,
        },
        "Metadata": {"Added": record.added},
        "Containers": containers,
    }))
}

#[tonic::async_trait]
impl Images for ImagesService {
    async fn list(
        &self,
        request: Request<proto::ImageListRequest>,
    ) -> Reply<proto::ImageListResponse> {
        let req = request.into_inner();
        let filters = parse_filters(
            &req.filters,
            &["reference", "dangling", "label", "before", "since"],
        )?;
        let node = self.node.clone();
        let images = on_store(self.store(), move |store| {
            let mut out = Vec::new();
            // The creation time of the image a `before=` or `since=` filter names.
            let anchor = |reference: &str| -> Result<Option<SystemTime>, ImageError> {
                let id = store.resolve(reference)?.id;
                Ok(store
                    .list()?
                    .into_iter()
                    .find(|i| i.id == id)
                    .and_then(|i| created_instant(i.created.as_deref())))
            };
            let mut bounds = Vec::new();
            for filter in &filters {
                match filter {
                    Filter::Before(r) => bounds.push((true, anchor(r)?)),
                    Filter::Since(r) => bounds.push((false, anchor(r)?)),
                    _ => {}
                }
            }
            for image in store.list()? {
                let created = created_instant(image.created.as_deref());
                let in_bounds = bounds
                    .iter()
                    .all(|(before, anchor)| match (created, anchor) {
                        (Some(c), Some(a)) if *before => c < *a,
                        (Some(c), Some(a)) => c > *a,
                        _ => false,
                    });
                if !in_bounds {
                    continue;
                }
                let dangling = image.repo_tags.is_empty();
                let mut keep = req.all || !dangling || filters.contains(&Filter::Dangling(true));
                for filter in &filters {
                    keep &= match filter {
                        Filter::Reference(p) => reference_matches(p, &image.repo_tags),
                        Filter::Dangling(d) => *d == dangling,
                        Filter::Label(k, v) => {
                            let record = store.resolve(&image.id.to_string())?;
                            let labels = store
                                .config(&record)?
                                .config()
                                .as_ref()
                                .and_then(|c| c.labels().clone())
                                .unwrap_or_default();
                            let labels = labels.into_iter().collect();
                            labels_match(&labels, k, v.as_deref())
                        }
                        Filter::Name(_) | Filter::Before(_) | Filter::Since(_) => true,
                    };
                }
                if !keep {
                    continue;
                }
                let containers = node.containers_using_image(&image.id.to_string()).len();
                out.push(proto::ImageSummary {
                    id: image.id.to_string(),
                    repo_tags: image.repo_tags,
                    repo_digests: image.repo_digests,
                    created: image.created.unwrap_or_default(),
                    size: image.size,
                    containers: u32::try_from(containers).unwrap_or(u32::MAX),
                });
            }
            Ok(out)
        })
        .await?;
        Ok(Response::new(proto::ImageListResponse { images }))
    }

    async fn inspect(&self, request: Request<proto::ImageRef>) -> Reply<proto::JsonResponse> {
        let text = request.into_inner().image;
        let node = self.node.clone();
        let doc = on_store(self.store(), move |store| {
            let id = store.resolve(&text)?.id;
            inspect_json(
                store,
                &text,
                node.containers_using_image(&id.to_string()).len(),
            )
        })
        .await?;
        Ok(Response::new(proto::JsonResponse {
            json: doc.to_string(),
        }))
    }

    async fn history(&self, request: Request<proto::ImageRef>) -> Reply<proto::JsonResponse> {
        let text = request.into_inner().image;
        let rows = on_store(self.store(), move |store| store.history(&text)).await?;
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|h| {
                json!({
                    "Id": h.id.map_or_else(|| "<missing>".to_string(), |d| d.to_string()),
                    "Created": h.created,
                    "CreatedBy": h.created_by,
                    "Size": h.size,
                    "Comment": h.comment,
                    "EmptyLayer": h.empty_layer,
                })
            })
            .collect();
        Ok(Response::new(proto::JsonResponse {
            json: Value::Array(rows).to_string(),
        }))
    }

    async fn tag(&self, request: Request<proto::TagRequest>) -> Reply<proto::Empty> {
        let req = request.into_inner();
        on_store(self.store(), move |store| {
            store.tag(&req.source, &req.target)
        })
        .await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn remove(
        &self,
        request: Request<proto::ImageRemoveRequest>,
    ) -> Reply<proto::ImageRemoveResponse> {
        let req = request.into_inner();
        let node = self.node.clone();
        let removed = on_store(self.store(), move |store| {
            store.remove(&req.image, req.force, &|id| in_use(&node, id))
        })
        .await?;
        let mut out = proto::ImageRemoveResponse::default();
        for r in removed {
            match r {
                engine::image::Removed::Untagged(name) => out.untagged.push(name),
                engine::image::Removed::Deleted(id) => out.deleted.push(id.to_string()),
            }
        }
        Ok(Response::new(out))
    }

    async fn prune(
        &self,
        request: Request<proto::ImagePruneRequest>,
    ) -> Reply<proto::ImagePruneResponse> {
        let all = request.into_inner().all;
        let node = self.node.clone();
        let report = on_store(self.store(), move |store| {
            store.prune(all, &|id| in_use(&node, id))
        })
        .await?;
        Ok(Response::new(proto::ImagePruneResponse {
            deleted: report.deleted.iter().map(ToString::to_string).collect(),
            space_reclaimed: report.space_reclaimed,
        }))
    }

    async fn import(&self, request: Request<proto::ImportRequest>) -> Reply<proto::ImageRef> {
        let req = request.into_inner();
        let options = ImportOptions {
            reference: Some(req.reference).filter(|r| !r.is_empty()),
            changes: req.changes,
            message: Some(req.message).filter(|m| !m.is_empty()),
        };
        let path = std::path::PathBuf::from(req.path);
        let record = on_store(self.store(), move |store| {
            if path.is_dir() {
                store.import(ImportSource::Dir(&path), &options)
            } else {
                let mut file = std::fs::File::open(&path).map_err(|source| ImageError::Io {
                    op: "open",
                    path: path.clone(),
                    source,
                })?;
                store.import(ImportSource::Tar(&mut file), &options)
            }
        })
        .await?;
        tracing::info!(image = %record.id, "imported");
        Ok(Response::new(proto::ImageRef {
            image: record.id.to_string(),
        }))
    }

    type LoadStream = ReceiverStream<Result<proto::ImageProgress, Status>>;

    async fn load(&self, request: Request<Streaming<proto::DataChunk>>) -> Reply<Self::LoadStream> {
        Ok(Response::new(images_stream::load(
            self.store(),
            request.into_inner(),
        )))
    }

    type SaveStream = ReceiverStream<Result<proto::DataChunk, Status>>;

    async fn save(&self, request: Request<proto::SaveRequest>) -> Reply<Self::SaveStream> {
        let images = request.into_inner().images;
        if images.is_empty() {
            return Err(Status::invalid_argument("save: no image given"));
        }
        // Resolve first, so that an unknown image is an error status, not a broken stream.
        let names = images.clone();
        on_store(self.store(), move |store| {
            names.iter().try_for_each(|n| store.resolve(n).map(|_| ()))
        })
        .await?;
        Ok(Response::new(images_stream::save(self.store(), images)))
    }

    type PullStream = ReceiverStream<Result<proto::ImageProgress, Status>>;

    async fn pull(&self, request: Request<proto::PullRequest>) -> Reply<Self::PullStream> {
        let req = request.into_inner();
        let image = ImageRef::parse(&req.reference).map_err(image_status)?;
        let platform = if req.platform.is_empty() {
            None
        } else {
            Some(
                req.platform
                    .parse()
                    .map_err(|e: super::registry::RegistryError| {
                        Status::invalid_argument(e.to_string())
                    })?,
            )
        };
        Ok(Response::new(images_stream::pull(
            self.store(),
            self.registries.clone(),
            image,
            platform,
            req.auth,
        )))
    }

    type BuildStream = ReceiverStream<super::build::Progress>;

    async fn build(&self, request: Request<proto::BuildRequest>) -> Reply<Self::BuildStream> {
        let caller = super::peer::caller(&request).ok_or_else(|| {
            Status::permission_denied("build refused: the caller's credentials are unavailable")
        })?;
        let (options, auths) = super::build::decode(request.into_inner(), &caller)?;
        Ok(Response::new(super::build::run(
            self.node.clone(),
            self.registries.clone(),
            options,
            auths,
        )))
    }

    type PushStream = ReceiverStream<Result<proto::ImageProgress, Status>>;

    async fn push(&self, request: Request<proto::PushRequest>) -> Reply<Self::PushStream> {
        let req = request.into_inner();
        let image = ImageRef::parse(&req.reference).map_err(image_status)?;
        let text = image.to_string();
        on_store(self.store(), move |store| store.resolve(&text).map(|_| ())).await?;
        Ok(Response::new(images_stream::push(
            self.store(),
            self.registries.clone(),
            image,
            req.auth,
        )))
    }

    async fn manifest(&self, request: Request<proto::BlobRef>) -> Reply<proto::ManifestData> {
        let digest = request.into_inner().digest;
        Ok(Response::new(
            images_blobs::manifest(self.store(), &digest).await?,
        ))
    }

    type ReadBlobStream = ReceiverStream<Result<proto::DataChunk, Status>>;

    async fn read_blob(&self, request: Request<proto::BlobRef>) -> Reply<Self::ReadBlobStream> {
        let digest = request.into_inner().digest;
        Ok(Response::new(
            images_blobs::read_blob(self.store(), &digest).await?,
        ))
    }

    async fn missing_blobs(&self, request: Request<proto::ManifestData>) -> Reply<proto::BlobList> {
        Ok(Response::new(
            images_blobs::missing_blobs(self.store(), request.into_inner()).await?,
        ))
    }

    async fn put_blob(&self, request: Request<Streaming<proto::BlobChunk>>) -> Reply<proto::Empty> {
        images_blobs::put_blob(self.store(), request.into_inner()).await?;
        Ok(Response::new(proto::Empty {}))
    }

    async fn add_manifest(
        &self,
        request: Request<proto::AddManifestRequest>,
    ) -> Reply<proto::ImageRef> {
        Ok(Response::new(
            images_blobs::add_manifest(self.store(), request.into_inner()).await?,
        ))
    }
}

/// A `Status` for progress streams from a registry error.
pub(crate) fn registry_status(err: super::registry::RegistryError) -> Status {
    use super::registry::RegistryError as E;
    match err {
        E::Store(e) => image_status(e),
        E::Invalid(m) => Status::invalid_argument(m),
        E::Registry { .. } => Status::unavailable(err.to_string()),
        E::Internal(m) => Status::internal(m),
    }
}
