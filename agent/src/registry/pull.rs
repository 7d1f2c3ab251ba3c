//! `image pull`: manifest (through an index to this platform), config and layers, each
//! verified against its digest, then the image registered in the store. A pull that fails
//! leaves nothing behind: the blobs it stored are swept again.

use std::io::Write;

use bytes::Bytes;

use engine::image::{Digest, ImageError, ImageRef, ImageStore, ManifestParts};
use oci_client::secrets::RegistryAuth;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;

use super::platform::{Platform, is_index, select_manifest};
use super::{
    MANIFEST_TYPES, RegistryError, Result, Settings, oci_reference, progress, proto, verify,
};

/// Progress is reported at most once per this many bytes of a layer.
const PROGRESS_STEP: u64 = 512 << 10;

/// Pulls `image` for `platform` (this node's when `None`) into `store`, reporting progress on
/// `events`; returns the image id.
pub async fn pull(
    store: &ImageStore,
    settings: &Settings,
    image: &ImageRef,
    platform: Option<Platform>,
    auth: &RegistryAuth,
    events: &mpsc::Sender<proto::ImageProgress>,
) -> Result<Digest> {
    let result = pull_inner(store, settings, image, platform, auth, events).await;
    if result.is_err() {
        let store = store.clone();
        // Best effort: a failed sweep leaves unreferenced blobs for the next prune.
        let _ = tokio::task::spawn_blocking(move || store.discard_unused()).await;
    }
    result
}

async fn pull_inner(
    store: &ImageStore,
    settings: &Settings,
    image: &ImageRef,
    platform: Option<Platform>,
    auth: &RegistryAuth,
    events: &mpsc::Sender<proto::ImageProgress>,
) -> Result<Digest> {
    let platform = platform.unwrap_or_else(Platform::current);
    let client = settings.client(image.registry());
    let reference = oci_reference(image)?;
    let (mut manifest, mut digest) = fetch_manifest(&client, &reference, auth, image).await?;
    let mut document: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| bad_json(format!("manifest of {image}"), e))?;
    if is_index(&document) {
        let chosen = select_manifest(&document, &platform)?;
        let by_digest = reference.clone_with_digest(chosen.to_string());
        let (m, _) = client
            .pull_manifest_raw(&by_digest, auth, &MANIFEST_TYPES)
            .await
            .map_err(RegistryError::registry(format!("pull manifest {chosen}")))?;
        verify(&format!("manifest {chosen}"), &m, &chosen)?;
        manifest = m.to_vec();
        digest = chosen;
        document = serde_json::from_slice(&manifest)
            .map_err(|e| bad_json(format!("manifest {digest}"), e))?;
    }
    if is_index(&document) {
        return Err(RegistryError::Invalid(format!(
            "manifest {digest} of {image} is a nested index"
        )));
    }
    let media_type = document
        .get("mediaType")
        .and_then(serde_json::Value::as_str)
        .unwrap_or(MANIFEST_TYPES[0])
        .to_string();
    let parts = ManifestParts::parse(&manifest)?;
    send(
        events,
        progress(&image.familiar(), "Pulling from registry", 0, 0),
    )
    .await;
    fetch_blob(
        store,
        &client,
        &reference,
        &parts.config,
        parts.config_size,
        None,
    )
    .await?;
    for (blob, _, size) in &parts.layers {
        let id = blob.short().to_string();
        if store.blobs().contains(blob) {
            send(events, progress(&id, "Already exists", *size, *size)).await;
            continue;
        }
        send(events, progress(&id, "Pulling fs layer", 0, *size)).await;
        fetch_blob(store, &client, &reference, blob, *size, Some((events, &id))).await?;
        send(events, progress(&id, "Download complete", *size, *size)).await;
    }
    for (blob, _, size) in &parts.layers {
        send(events, progress(blob.short(), "Extracting", 0, *size)).await;
    }
    let (s, name, m) = (store.clone(), image.clone(), manifest.clone());
    let record = tokio::task::spawn_blocking(move || s.add_pulled(&name, &m, &media_type))
        .await
        .map_err(|e| RegistryError::Internal(format!("register {image}: {e}")))??;
    for (blob, _, size) in &parts.layers {
        send(
            events,
            progress(blob.short(), "Pull complete", *size, *size),
        )
        .await;
    }
    send(
        events,
        progress(&image.familiar(), &format!("Digest: {digest}"), 0, 0),
    )
    .await;
    Ok(record.id)
}

/// Fetches the manifest `reference` names and checks it against the digest of the reference
/// (when it has one) and the one the registry announced.
async fn fetch_manifest(
    client: &oci_client::Client,
    reference: &oci_client::Reference,
    auth: &RegistryAuth,
    image: &ImageRef,
) -> Result<(Vec<u8>, Digest)> {
    let (manifest, announced) = client
        .pull_manifest_raw(reference, auth, &MANIFEST_TYPES)
        .await
        .map_err(RegistryError::registry(format!(
            "pull {}",
            image.familiar()
        )))?;
    let actual = Digest::of(&manifest);
    if let Some(expected) = image.digest() {
        verify(
            &format!("manifest of {}", image.familiar()),
            &manifest,
            expected,
        )?;
    }
    if let Ok(announced) = announced.parse::<Digest>() {
        verify(
            &format!("manifest of {}", image.familiar()),
            &manifest,
            &announced,
        )?;
    }
    Ok((manifest.to_vec(), actual))
}

/// Streams one blob into the store, verified against `digest` as it is committed.
async fn fetch_blob(
    store: &ImageStore,
    client: &oci_client::Client,
    reference: &oci_client::Reference,
    digest: &Digest,
    size: u64,
    report: Option<(&mpsc::Sender<proto::ImageProgress>, &str)>,
) -> Result<()> {
    if store.blobs().contains(digest) {
        return Ok(());
    }
    let digest_text = digest.to_string();
    let mut stream = client
        .pull_blob_stream(reference, digest_text.as_str())
        .await
        .map_err(RegistryError::registry(format!("pull blob {digest}")))?;
    let total = stream.content_length.unwrap_or(size);
    // The blob store is synchronous: a blocking task writes what the download yields and
    // commits the blob only if its digest is the expected one.
    let (tx, mut rx) = mpsc::channel::<Bytes>(16);
    let blobs = store.blobs().clone();
    let expected = digest.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<(), ImageError> {
        let mut writer = blobs.writer()?;
        while let Some(chunk) = rx.blocking_recv() {
            writer.write_all(&chunk).map_err(|source| ImageError::Io {
                op: "write blob",
                path: expected.to_string().into(),
                source,
            })?;
        }
        writer.commit(Some(&expected)).map(|_| ())
    });
    let mut current = 0u64;
    let mut reported = 0u64;
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                current += chunk.len() as u64;
                if tx.send(chunk).await.is_err() {
                    break;
                }
                if let Some((events, id)) = report
                    && current - reported >= PROGRESS_STEP
                {
                    reported = current;
                    send(events, progress(id, "Downloading", current, total)).await;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| RegistryError::Internal(format!("write blob {digest}: {e}")))?;
    // The store's verdict decides: a blob whose digest matches is what the manifest names,
    // whatever the transfer said; one that does not is rejected with the digests involved.
    match (written, failure) {
        (Ok(()), _) => Ok(()),
        (
            Err(ImageError::DigestMismatch {
                expected, actual, ..
            }),
            None,
        ) => Err(ImageError::DigestMismatch {
            what: format!("blob {digest}"),
            expected,
            actual,
        }
        .into()),
        (Err(ImageError::DigestMismatch { .. }), Some(e)) => Err(RegistryError::Invalid(format!(
            "blob {digest} rejected: {e}"
        ))),
        (Err(other), _) => Err(other.into()),
    }
}

fn bad_json(what: String, err: serde_json::Error) -> ImageError {
    ImageError::BadJson {
        what,
        reason: err.to_string(),
    }
}

async fn send(events: &mpsc::Sender<proto::ImageProgress>, line: proto::ImageProgress) {
    // The client may have gone; the pull still completes.
    let _ = events.send(line).await;
}
