//! The image calls that hand an image from node to node blob by blob: the manifest of a stored
//! image and the blobs stored images use go out (nothing else does); blobs come in verified
//! against their digests, and the image is registered once every blob it names is stored.
//! A cluster node uses them to fetch an image no registry holds from a node that has it.

use std::io::Write;

use engine::image::{Digest, ImageError, ImageRef, ImageStore};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::images::on_store;
use super::images_filter::image_status;
use super::images_stream::{ChunkReader, ChunkWriter};
use super::proto;

/// The manifest with `digest` of a stored image.
pub(crate) async fn manifest(
    store: ImageStore,
    digest_text: &str,
) -> Result<proto::ManifestData, Status> {
    let wanted = digest_text.parse::<Digest>().map_err(image_status)?;
    let (data, media_type) = on_store(store, move |store| {
        let image = store.by_manifest(&wanted)?;
        store.manifest(&image)
    })
    .await?;
    Ok(proto::ManifestData { data, media_type })
}

/// Streams blob `digest` if a stored image uses it.
pub(crate) async fn read_blob(
    store: ImageStore,
    digest_text: &str,
) -> Result<ReceiverStream<Result<proto::DataChunk, Status>>, Status> {
    let wanted = digest_text.parse::<Digest>().map_err(image_status)?;
    let check = wanted.clone();
    let served = on_store(store.clone(), move |store| store.serves_blob(&check)).await?;
    if !served {
        return Err(Status::not_found(format!(
            "blob {wanted}: no image of this node uses it"
        )));
    }
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter::new(tx.clone());
        let copied = store.blobs().open_blob(&wanted).and_then(|mut file| {
            std::io::copy(&mut file, &mut out)
                .and_then(|_| out.flush())
                .map_err(|source| ImageError::Io {
                    op: "read blob",
                    path: store.blobs().path(&wanted),
                    source,
                })
        });
        if let Err(err) = copied {
            let _ = tx.blocking_send(Err(image_status(err)));
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// The blobs `manifest` names that the store lacks.
pub(crate) async fn missing_blobs(
    store: ImageStore,
    manifest: proto::ManifestData,
) -> Result<proto::BlobList, Status> {
    let missing = on_store(store, move |store| store.missing_blobs(&manifest.data)).await?;
    Ok(proto::BlobList {
        digests: missing.iter().map(ToString::to_string).collect(),
    })
}

/// Stores the blob streamed in, verified against the digest its first message names.
pub(crate) async fn put_blob(
    store: ImageStore,
    mut incoming: Streaming<proto::BlobChunk>,
) -> Result<(), Status> {
    let Some(first) = incoming.message().await? else {
        return Err(Status::invalid_argument("no blob was sent"));
    };
    let expected = first.digest.parse::<Digest>().map_err(image_status)?;
    let (chunks, rx) = mpsc::channel(8);
    let writer = tokio::task::spawn_blocking(move || {
        let mut reader = ChunkReader::new(rx);
        store.blobs().put_reader(&mut reader, Some(&expected))
    });
    let mut next = Some(first.data);
    while let Some(data) = next.take() {
        if chunks.send(Ok(data)).await.is_err() {
            break;
        }
        match incoming.message().await {
            Ok(Some(chunk)) => next = Some(chunk.data),
            Ok(None) => {}
            Err(status) => {
                let _ = chunks.send(Err(status)).await;
            }
        }
    }
    drop(chunks);
    writer
        .await
        .map_err(|e| Status::internal(format!("blob writer failed: {e}")))?
        .map_err(image_status)?;
    Ok(())
}

/// Registers the image of a manifest under a reference that names its digest; its id.
pub(crate) async fn add_manifest(
    store: ImageStore,
    request: proto::AddManifestRequest,
) -> Result<proto::ImageRef, Status> {
    let reference = ImageRef::parse(&request.reference).map_err(image_status)?;
    let manifest = request
        .manifest
        .ok_or_else(|| Status::invalid_argument("no manifest was sent"))?;
    let record = on_store(store, move |store| {
        store.add_pinned(&reference, &manifest.data, &manifest.media_type)
    })
    .await?;
    Ok(proto::ImageRef {
        image: record.id.to_string(),
    })
}
