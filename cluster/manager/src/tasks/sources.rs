//! The nodes a fetch asks for an image, over the cluster's mutual TLS: a manager (this
//! node's own first when it is one, then those it knows) lists the ready managers, which
//! serve their agents' images ([`crate::blobs`]); the list is ordered by
//! [`fetch_order`]. When no manager answers, the known managers are asked directly.

use std::path::PathBuf;
use std::time::Duration;

use api::blobs::blobs_client::BlobsClient;
use api::blobs::{BlobRequest, ManifestRequest, SourcesRequest};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::pki::NodeIdentity;
use crate::state::{LocalState, cluster_dir};
use crate::tasks::fetch::{ByteStream, Source, SourceNode, Sources, fetch_order};
use crate::tls;

/// Time allowed for a list of sources or a manifest.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// The sources of the node at a data root (its local state and identity read at each fetch,
/// so a renewed certificate or a new manager list is used at once).
#[derive(Debug, Clone)]
pub(crate) struct ClusterSources {
    data_root: PathBuf,
}

impl ClusterSources {
    /// The sources of the node at `data_root`.
    pub(crate) fn new(data_root: PathBuf) -> Self {
        Self { data_root }
    }
}

/// A manager serving its agent's images.
struct ManagerSource {
    name: String,
    client: BlobsClient<Channel>,
}

#[tonic::async_trait]
impl Source for ManagerSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn manifest(&self, digest: &str) -> Result<(Vec<u8>, String), String> {
        let mut request = tonic::Request::new(ManifestRequest {
            digest: digest.to_owned(),
        });
        request.set_timeout(ASK_TIMEOUT);
        let reply = self
            .client
            .clone()
            .manifest(request)
            .await
            .map_err(|s| s.message().to_owned())?
            .into_inner();
        Ok((reply.data, reply.media_type))
    }

    async fn blob(&self, digest: &str) -> Result<ByteStream, String> {
        let stream = self
            .client
            .clone()
            .blob(BlobRequest {
                digest: digest.to_owned(),
            })
            .await
            .map_err(|s| s.message().to_owned())?
            .into_inner()
            .map(|chunk| chunk.map(|c| c.data).map_err(|s| s.message().to_owned()));
        Ok(Box::pin(stream))
    }
}

#[tonic::async_trait]
impl Sources for ClusterSources {
    async fn sources(&self) -> Vec<Box<dyn Source>> {
        let loaded = LocalState::load(&self.data_root).and_then(|state| {
            let identity = NodeIdentity::load(&cluster_dir(&self.data_root))?;
            Ok((state, tls::client_config(&identity)?))
        });
        let (state, config) = match loaded {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::warn!(cause = %err, "cannot fetch images from other nodes");
                return Vec::new();
            }
        };
        let mut managers = Vec::new();
        if state.raft_id.is_some() {
            managers.push(state.advertise_addr.clone());
        }
        for addr in state.peers.values() {
            if !managers.contains(addr) {
                managers.push(addr.clone());
            }
        }
        let mut listed = None;
        for addr in &managers {
            let Ok(channel) = tls::channel(addr, config.clone(), true) else {
                continue;
            };
            let mut request = tonic::Request::new(SourcesRequest {});
            request.set_timeout(ASK_TIMEOUT);
            match BlobsClient::new(channel).sources(request).await {
                Ok(reply) => {
                    listed = Some(reply.into_inner().sources);
                    break;
                }
                Err(status) => {
                    tracing::debug!(manager = %addr, cause = %status.message(), "no list of image sources");
                }
            }
        }
        let listed: Vec<SourceNode> = match listed {
            Some(sources) => sources
                .into_iter()
                .map(|s| SourceNode {
                    node_id: s.node_id,
                    hostname: s.hostname,
                    addr: s.addr,
                })
                .collect(),
            None => managers
                .iter()
                .map(|addr| SourceNode {
                    node_id: String::new(),
                    hostname: String::new(),
                    addr: addr.clone(),
                })
                .collect(),
        };
        fetch_order(listed, &state.node_id, &state.advertise_addr)
            .into_iter()
            .filter_map(|node| {
                let channel = tls::channel(&node.addr, config.clone(), true).ok()?;
                let name = if node.hostname.is_empty() {
                    node.addr
                } else {
                    format!("{} ({})", node.hostname, node.addr)
                };
                Some(Box::new(ManagerSource {
                    name,
                    client: BlobsClient::new(channel),
                }) as Box<dyn Source>)
            })
            .collect()
    }
}
