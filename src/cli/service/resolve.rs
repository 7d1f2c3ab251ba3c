//! `service create --resolve-image` (the default): when this node's agent holds the image,
//! the service records it pinned to its manifest digest (`name:tag@sha256:…`, as Docker
//! does), so every node runs the same image, and a node that no registry gives it to fetches
//! it from a manager that has it. The agent is asked, never started: without it (or without
//! the image) the reference is kept as typed and nodes pull it from its registry.

use std::path::PathBuf;

use agent::client::parse_host;

use crate::cli::agent::default_config;

/// The agent socket of this node: `BOSUN_HOST`, else the run root's.
fn socket() -> Option<PathBuf> {
    match std::env::var("BOSUN_HOST") {
        Ok(host) if !host.is_empty() => parse_host(&host).ok(),
        _ => Some(default_config().socket()),
    }
}

/// The manifest digest of `image` as this node's agent holds it, if it does.
async fn local_digest(image: &str) -> Option<String> {
    let mut images = api::images_client::images(&socket()?).await.ok()?;
    let reply = images
        .inspect(api::agent::ImageRef {
            image: image.to_owned(),
        })
        .await
        .ok()?;
    manifest_digest(&reply.into_inner().json)
}

/// The manifest digest in an image inspect document.
fn manifest_digest(json: &str) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_str(json).ok()?;
    let digest = doc.get("Manifest")?.get("Digest")?.as_str()?;
    digest.starts_with("sha256:").then(|| digest.to_owned())
}

/// `image` pinned to `digest`; a reference that already names a digest is kept.
fn pin(image: &str, digest: &str) -> String {
    if image.contains('@') {
        image.to_owned()
    } else {
        format!("{image}@{digest}")
    }
}

/// The manifest digest this node's agent holds `image` under, if it does.
pub(crate) async fn digest(image: &str) -> Option<String> {
    local_digest(image).await
}

/// `image`, pinned to the manifest digest this node holds it under when it does.
pub(crate) async fn resolve(image: &str) -> String {
    if image.contains('@') {
        return image.to_owned();
    }
    match local_digest(image).await {
        Some(digest) => pin(image, &digest),
        None => image.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_image_is_pinned_to_its_manifest_digest() {
        let d = format!("sha256:{}", "b".repeat(64));
        let doc = serde_json::json!({"Id": "x", "Manifest": {"Digest": d, "MediaType": "m"}});
        assert_eq!(manifest_digest(&doc.to_string()), Some(d.clone()));
        assert_eq!(manifest_digest(r#"{"Id": "x"}"#), None);
        assert_eq!(manifest_digest("not json"), None);
        assert_eq!(pin("app:1", &d), format!("app:1@{d}"));
        let pinned = format!("app@{d}");
        assert_eq!(pin(&pinned, &format!("sha256:{}", "c".repeat(64))), pinned);
    }
}
