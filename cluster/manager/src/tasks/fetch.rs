//! Images without a registry: when a task's image is pinned to its manifest digest
//! (`name:tag@sha256:…`, as `service create` records it) and no registry gives it, the node
//! fetches it from another node that holds it. Each source is asked for the manifest (checked
//! against the pinned digest here), then the local agent says which blobs it lacks, and each
//! is streamed from the source into the agent, which stores it only if its content has its
//! digest. A source that fails any step (does not have the image, sends other bytes) is
//! skipped for the next; the image is registered once every blob is in.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};
use tokio_stream::Stream;

use crate::tasks::engine::EngineError;

/// The bytes of a blob as they arrive, or why they stopped.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, String>> + Send>>;

/// An image reference that names its manifest digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// The whole reference, as the task's spec gives it.
    pub reference: String,
    /// The manifest digest (`sha256:<64 hex>`).
    pub digest: String,
}

impl Pinned {
    /// `image` if it ends in `@sha256:<64 lowercase hex>`.
    pub fn parse(image: &str) -> Option<Pinned> {
        let (_, digest) = image.rsplit_once('@')?;
        let hex = digest.strip_prefix("sha256:")?;
        let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| Pinned {
            reference: image.to_owned(),
            digest: digest.to_owned(),
        })
    }
}

/// The SHA-256 digest of `data` as `sha256:<hex>`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A node that may hold an image.
#[tonic::async_trait]
pub trait Source: Send + Sync {
    /// The node's name in messages.
    fn name(&self) -> String;
    /// The manifest with `digest`: its bytes and media type.
    async fn manifest(&self, digest: &str) -> Result<(Vec<u8>, String), String>;
    /// The bytes of blob `digest`.
    async fn blob(&self, digest: &str) -> Result<ByteStream, String>;
}

/// Where the sources come from: the nodes to ask, in order.
#[tonic::async_trait]
pub trait Sources: Send + Sync {
    /// The sources to ask now.
    async fn sources(&self) -> Vec<Box<dyn Source>>;
}

/// The local agent's side of a fetch.
#[tonic::async_trait]
pub trait Receiver: Send + Sync {
    /// The blobs `manifest` names that the agent lacks.
    async fn missing_blobs(
        &self,
        manifest: &[u8],
        media_type: &str,
    ) -> Result<Vec<String>, EngineError>;
    /// Stores blob `digest` from `data`; refused unless the content has that digest.
    async fn put_blob(&self, digest: &str, data: ByteStream) -> Result<(), EngineError>;
    /// Registers the image of `manifest` under the pinned `reference`.
    async fn add_manifest(
        &self,
        reference: &str,
        manifest: Vec<u8>,
        media_type: String,
    ) -> Result<(), EngineError>;
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No source gave the image.
    #[error("image {image} not found on any registry or node (asked: {}){}", .asked.join(", "), failures(.failed))]
    NotFound {
        /// The pinned reference.
        image: String,
        /// The nodes asked, in order.
        asked: Vec<String>,
        /// The sources that had the image but failed to hand it over, with why.
        failed: Vec<(String, String)>,
    },
    /// The local agent failed (it is away, or refused for its own reasons).
    #[error(transparent)]
    Local(EngineError),
}

fn failures(failed: &[(String, String)]) -> String {
    failed
        .iter()
        .map(|(name, why)| format!("; {name}: {why}"))
        .collect()
}

/// How one source failed.
enum Failure {
    /// It does not have the image.
    Absent,
    /// It had it but handed over something else, or broke off.
    Bad(String),
    /// The local agent failed: asking other sources would not help.
    Local(EngineError),
}

/// `data`, ending early when it breaks off; the break's error is left in `broken`.
fn noting_breaks(data: ByteStream, broken: Arc<Mutex<Option<String>>>) -> ByteStream {
    use tokio_stream::StreamExt;
    Box::pin(data.map_while(move |item| match item {
        Ok(bytes) => Some(Ok(bytes)),
        Err(why) => {
            *broken
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why);
            None
        }
    }))
}

/// Stores blob `digest` from `data` into `local`; a broken stream is the source's fault.
async fn put_from(
    local: &(impl Receiver + ?Sized),
    digest: &str,
    data: ByteStream,
) -> Result<(), Failure> {
    let broken: Arc<Mutex<Option<String>>> = Arc::default();
    let stored = local
        .put_blob(digest, noting_breaks(data, broken.clone()))
        .await;
    let broken = broken
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    match (stored, broken) {
        (Ok(()), _) => Ok(()),
        (Err(EngineError::Unreachable(e)), _) => Err(Failure::Local(EngineError::Unreachable(e))),
        (Err(_), Some(why)) => Err(Failure::Bad(format!("blob {digest}: {why}"))),
        (Err(err), None) => Err(Failure::Bad(format!("blob {digest}: {err}"))),
    }
}

async fn from_source(
    local: &(impl Receiver + ?Sized),
    source: &dyn Source,
    image: &Pinned,
) -> Result<(), Failure> {
    let (manifest, media_type) = source
        .manifest(&image.digest)
        .await
        .map_err(|_| Failure::Absent)?;
    let actual = sha256(&manifest);
    if actual != image.digest {
        return Err(Failure::Bad(format!("manifest has digest {actual}")));
    }
    let missing = local
        .missing_blobs(&manifest, &media_type)
        .await
        .map_err(|err| match err {
            EngineError::Unreachable(_) => Failure::Local(err),
            other => Failure::Bad(format!("manifest: {other}")),
        })?;
    for digest in missing {
        let data = source
            .blob(&digest)
            .await
            .map_err(|why| Failure::Bad(format!("blob {digest}: {why}")))?;
        put_from(local, &digest, data).await?;
    }
    local
        .add_manifest(&image.reference, manifest, media_type)
        .await
        .map_err(|err| match err {
            EngineError::Unreachable(_) => Failure::Local(err),
            other => Failure::Bad(other.to_string()),
        })
}

/// Fetches `image` into `local` from the first of `sources` that hands it over whole; the
/// name of that source.
pub async fn fetch(
    local: &(impl Receiver + ?Sized),
    sources: &[Box<dyn Source>],
    image: &Pinned,
) -> Result<String, FetchError> {
    let (mut asked, mut failed) = (Vec::new(), Vec::new());
    for source in sources {
        let name = source.name();
        asked.push(name.clone());
        match from_source(local, source.as_ref(), image).await {
            Ok(()) => return Ok(name),
            Err(Failure::Absent) => {}
            Err(Failure::Bad(why)) => {
                tracing::warn!(image = %image.reference, node = %name, %why, "skipping a node that failed to hand over an image");
                failed.push((name, why));
            }
            Err(Failure::Local(err)) => return Err(FetchError::Local(err)),
        }
    }
    Err(FetchError::NotFound {
        image: image.reference.clone(),
        asked,
        failed,
    })
}

/// A node that serves blobs, as the managers list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceNode {
    /// Its node id.
    pub node_id: String,
    /// Its host name (what messages name it by).
    pub hostname: String,
    /// Its API address.
    pub addr: String,
}

/// The nodes a fetch asks, in order: the listed ones but this node itself, each address
/// once, in the order given (the store's).
pub fn fetch_order(listed: Vec<SourceNode>, own_node_id: &str, own_addr: &str) -> Vec<SourceNode> {
    let mut order: Vec<SourceNode> = Vec::new();
    for node in listed {
        if node.node_id == own_node_id || node.addr == own_addr {
            continue;
        }
        if !order.iter().any(|n| n.addr == node.addr) {
            order.push(node);
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::tasks::fake::FakeEngine;

    /// A source serving fixed manifests and blobs.
    struct FakeSource {
        name: &'static str,
        manifests: BTreeMap<String, Vec<u8>>,
        blobs: BTreeMap<String, Vec<u8>>,
    }

    #[tonic::async_trait]
    impl Source for FakeSource {
        fn name(&self) -> String {
            self.name.to_owned()
        }

        async fn manifest(&self, digest: &str) -> Result<(Vec<u8>, String), String> {
            self.manifests
                .get(digest)
                .map(|m| {
                    (
                        m.clone(),
                        "application/vnd.oci.image.manifest.v1+json".into(),
                    )
                })
                .ok_or_else(|| format!("manifest {digest} not found"))
        }

        async fn blob(&self, digest: &str) -> Result<ByteStream, String> {
            let data = self
                .blobs
                .get(digest)
                .cloned()
                .ok_or_else(|| format!("blob {digest} not found"))?;
            let halves: Vec<Result<Vec<u8>, String>> = data
                .chunks(data.len().div_ceil(2).max(1))
                .map(|c| Ok(c.to_vec()))
                .collect();
            Ok(Box::pin(tokio_stream::iter(halves)))
        }
    }

    /// An image: its manifest, its blobs, and the reference pinned to the manifest.
    fn image() -> (Vec<u8>, BTreeMap<String, Vec<u8>>, Pinned) {
        let config = br#"{"os":"linux"}"#.to_vec();
        let layer = b"layer bytes".to_vec();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"digest": sha256(&config), "size": config.len()},
            "layers": [{"digest": sha256(&layer), "size": layer.len()}],
        })
        .to_string()
        .into_bytes();
        let pinned = Pinned::parse(&format!("app:1@{}", sha256(&manifest))).unwrap();
        let blobs = [(sha256(&config), config), (sha256(&layer), layer)].into();
        (manifest, blobs, pinned)
    }

    fn source(
        name: &'static str,
        manifest: &[u8],
        blobs: BTreeMap<String, Vec<u8>>,
        digest: &str,
    ) -> Box<dyn Source> {
        Box::new(FakeSource {
            name,
            manifests: [(digest.to_owned(), manifest.to_vec())].into(),
            blobs,
        })
    }

    #[tokio::test]
    async fn a_node_serving_tampered_bytes_is_skipped_for_one_that_has_the_image() {
        let (manifest, blobs, pinned) = image();
        let mut tampered = blobs.clone();
        for data in tampered.values_mut() {
            data.push(b'!');
        }
        let mut bad_manifest = manifest.clone();
        bad_manifest.push(b' ');
        let sources = vec![
            Box::new(FakeSource {
                name: "empty",
                manifests: BTreeMap::new(),
                blobs: BTreeMap::new(),
            }) as Box<dyn Source>,
            source("liar", &bad_manifest, blobs.clone(), &pinned.digest),
            source("tamperer", &manifest, tampered, &pinned.digest),
            source("good", &manifest, blobs.clone(), &pinned.digest),
        ];
        let local = FakeEngine::default();
        let from = fetch(&local, &sources, &pinned).await.unwrap();
        assert_eq!(from, "good");
        let state = local.lock();
        assert_eq!(state.blobs, blobs, "only verified blobs are stored");
        assert_eq!(state.images, vec![pinned.reference.clone()]);
    }

    #[tokio::test]
    async fn no_node_with_the_image_names_the_nodes_asked() {
        let (manifest, blobs, pinned) = image();
        let mut tampered = blobs.clone();
        tampered.values_mut().for_each(|d| d[0] ^= 1);
        let sources = vec![
            Box::new(FakeSource {
                name: "n1",
                manifests: BTreeMap::new(),
                blobs: BTreeMap::new(),
            }) as Box<dyn Source>,
            source("n2", &manifest, tampered, &pinned.digest),
        ];
        let local = FakeEngine::default();
        let err = fetch(&local, &sources, &pinned).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "image {} not found on any registry or node (asked: n1, n2); n2: blob sha256:",
                pinned.reference
            )),
            "{text}"
        );
        let state = local.lock();
        assert!(
            state.blobs.is_empty() && state.images.is_empty(),
            "nothing stored"
        );
    }

    #[tokio::test]
    async fn blobs_the_node_has_are_not_fetched_again() {
        let (manifest, blobs, pinned) = image();
        let local = FakeEngine::default();
        let (config, data) = blobs.iter().next().unwrap();
        local.lock().blobs.insert(config.clone(), data.clone());
        // This source has only the blob the node lacks.
        let partial: BTreeMap<String, Vec<u8>> = blobs
            .iter()
            .filter(|(d, _)| *d != config)
            .map(|(d, b)| (d.clone(), b.clone()))
            .collect();
        let sources = vec![source("partial", &manifest, partial, &pinned.digest)];
        assert_eq!(fetch(&local, &sources, &pinned).await.unwrap(), "partial");
        assert_eq!(local.lock().blobs, blobs);
    }

    #[test]
    fn pinned_references_table() {
        let d = format!("sha256:{}", "a".repeat(64));
        for (image, pinned) in [
            (format!("app:1@{d}"), true),
            (format!("localhost:5000/app@{d}"), true),
            ("app:1".to_owned(), false),
            (format!("app@sha256:{}", "A".repeat(64)), false),
            ("app@sha256:abc".to_owned(), false),
            (format!("app@sha512:{}", "a".repeat(64)), false),
        ] {
            let parsed = Pinned::parse(&image);
            assert_eq!(parsed.is_some(), pinned, "{image}");
            if let Some(p) = parsed {
                assert_eq!((p.reference, p.digest), (image.clone(), d.clone()));
            }
        }
    }

    #[test]
    fn fetch_order_leaves_out_this_node_and_repeated_addresses() {
        let node = |id: &str, addr: &str| SourceNode {
            node_id: id.into(),
            hostname: format!("h-{id}"),
            addr: addr.into(),
        };
        let order = fetch_order(
            vec![
                node("m1", "10.0.0.1:4242"),
                node("me", "10.0.0.2:4242"),
                node("m3", "10.0.0.3:4242"),
                node("m4", "10.0.0.1:4242"),
                node("m5", "10.0.0.5:4242"),
            ],
            "me",
            "10.0.0.9:4242",
        );
        let ids: Vec<&str> = order.iter().map(|n| n.node_id.as_str()).collect();
        assert_eq!(ids, ["m1", "m3", "m5"]);
        let by_addr = fetch_order(vec![node("x", "10.0.0.9:4242")], "me", "10.0.0.9:4242");
        assert!(by_addr.is_empty(), "this node under another id");
    }
}
