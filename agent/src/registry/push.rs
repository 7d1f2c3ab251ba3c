//! `image push`: the layer blobs as stored (compressed or not), the config, then the manifest
//! under the reference's tag. Blobs the registry already has are not sent again.

use engine::image::{Digest, ImageRef, ImageStore};
use http::HeaderValue;
use oci_client::RegistryOperation;
use oci_client::secrets::RegistryAuth;
use tokio::sync::mpsc;

use super::{RegistryError, Result, Settings, oci_reference, progress, proto};

/// Pushes the image `image` names to its registry; returns the manifest digest.
pub async fn push(
    store: &ImageStore,
    settings: &Settings,
    image: &ImageRef,
    auth: &RegistryAuth,
    events: &mpsc::Sender<proto::ImageProgress>,
) -> Result<Digest> {
    let image = if image.tag().is_none() && image.digest().is_none() {
        image.with_tag("latest")
    } else {
        image.clone()
    };
    let (s, name) = (store.clone(), image.to_string());
    let (record, manifest, media_type) = tokio::task::spawn_blocking(move || {
        let record = s.resolve(&name)?;
        let (manifest, media_type) = s.manifest(&record)?;
        Ok::<_, engine::image::ImageError>((record, manifest, media_type))
    })
    .await
    .map_err(|e| RegistryError::Internal(format!("read image {image}: {e}")))??;
    let client = settings.client(image.registry());
    let reference = oci_reference(&image)?;
    client
        .auth(&reference, auth, RegistryOperation::Push)
        .await
        .map_err(RegistryError::registry(format!(
            "log in to {} for push",
            image.registry()
        )))?;
    let _ = events
        .send(progress(
            &image.familiar(),
            &format!("The push refers to repository [{}]", image.name()),
            0,
            0,
        ))
        .await;
    let mut blobs: Vec<Digest> = record.layers.iter().map(|l| l.blob.clone()).collect();
    blobs.push(record.id.clone());
    for blob in blobs {
        let is_layer = blob != record.id;
        let id = blob.short().to_string();
        let digest = blob.to_string();
        let exists = client
            .blob_exists(&reference, &digest)
            .await
            .map_err(RegistryError::registry(format!("check blob {digest}")))?;
        if exists {
            if is_layer {
                let _ = events
                    .send(progress(&id, "Layer already exists", 0, 0))
                    .await;
            }
            continue;
        }
        let path = store.blobs().path(&blob);
        let data = tokio::fs::read(&path).await.map_err(|source| {
            RegistryError::Store(engine::image::ImageError::Io {
                op: "read blob",
                path: path.clone(),
                source,
            })
        })?;
        let size = data.len() as u64;
        if is_layer {
            let _ = events.send(progress(&id, "Pushing", 0, size)).await;
        }
        client
            .push_blob(&reference, data, &digest)
            .await
            .map_err(RegistryError::registry(format!("push blob {digest}")))?;
        if is_layer {
            let _ = events.send(progress(&id, "Pushed", size, size)).await;
        }
    }
    let content_type = HeaderValue::from_str(&media_type)
        .map_err(|e| RegistryError::Invalid(format!("manifest media type {media_type:?}: {e}")))?;
    let size = manifest.len();
    client
        .push_manifest_raw(&reference, manifest, content_type)
        .await
        .map_err(RegistryError::registry(format!(
            "push manifest of {}",
            image.familiar()
        )))?;
    let tag = image.tag().unwrap_or("latest");
    let _ = events
        .send(progress(
            &image.familiar(),
            &format!("{tag}: digest: {} size: {size}", record.manifest),
            0,
            0,
        ))
        .await;
    Ok(record.manifest)
}
