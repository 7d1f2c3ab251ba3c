//! `--resolve-image` (the default of `service create` and `stack deploy`): the service
//! records its image pinned to a manifest digest (`name:tag@sha256:…`, as Docker does), so
//! every node runs the same image. A reference that names its registry (`host[:port]/…`, as
//! `127.0.0.1:5000/app:1` or `registry.example.com/app`) is asked of that registry, so a tag
//! moved there is picked up; when the registry cannot be reached the digest this node's agent
//! holds is used, with a warning, as Docker does. A reference without a registry part (a
//! Docker Hub name) is pinned to the digest this node's agent holds; a node that no registry
//! gives it to fetches it from a manager that has it. The agent is asked, never started:
//! without it (or without the image) the reference is kept as typed and nodes pull it from its
//! registry.

use std::path::PathBuf;

use agent::client::parse_host;
use agent::registry::Settings;
use engine::image::ImageRef;

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

/// Whether `image` names its registry: a first path part with a dot or a port, or
/// `localhost` (Docker's rule), as opposed to a Docker Hub name.
fn names_registry(image: &str) -> bool {
    match image.split_once('/') {
        Some((first, _)) => first.contains(['.', ':']) || first == "localhost",
        None => false,
    }
}

/// The digest `image`'s registry gives it now, with this user's stored credentials.
async fn registry_digest(image: &str) -> Result<String, String> {
    let reference = ImageRef::parse(image).map_err(|e| e.to_string())?;
    let auth = super::auth::stored(image)
        .map_err(|e| e.to_string())?
        .map(|a| agent::proto::RegistryAuth {
            username: a.username,
            password: a.password,
            identity_token: a.identity_token,
        });
    agent::registry::manifest_digest(&Settings::from_env(), &reference, auth.as_ref())
        .await
        .map_err(|e| e.to_string())
}

/// The digest to pin `image` to: its registry's when the reference names one (a warning and
/// this node's when that registry cannot be asked), else this node's; `None` when neither
/// gives one.
pub(crate) async fn digest(image: &str) -> Option<String> {
    if names_registry(image) {
        match registry_digest(image).await {
            Ok(digest) => return Some(digest),
            Err(error) => eprintln!(
                "warning: image {image} could not be accessed on its registry to record its digest ({error}); each node will access {image} independently, possibly running different versions of the image"
            ),
        }
    }
    local_digest(image).await
}

/// `image`, pinned to the manifest digest this node holds it under when it does.
pub(crate) async fn resolve(image: &str) -> String {
    if image.contains('@') {
        return image.to_owned();
    }
    match digest(image).await {
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

    #[test]
    fn a_reference_names_its_registry_as_docker_reads_it() {
        for named in [
            "127.0.0.1:5000/app:1",
            "registry.example.com/team/app",
            "localhost/app",
            "docker.io/library/redis",
        ] {
            assert!(names_registry(named), "{named}");
        }
        for hub in ["redis", "redis:7", "library/redis", "team/app:1"] {
            assert!(!names_registry(hub), "{hub}");
        }
    }
}
