//! A client of the manager API, for the CLI, the tests and other nodes.

use tonic::Request;
use tonic::transport::Channel;

use super::proto::manager_client::ManagerClient as RawClient;
use super::proto::{self, Empty};
use super::{ManagerError, error_chain, tls};
use crate::pki::{JoinToken, NodeIdentity, new_key_and_csr};
use cluster_state::Batch;

/// A connection to one manager, authenticated with a node certificate.
#[derive(Debug, Clone)]
pub struct ManagerClient {
    inner: RawClient<Channel>,
    addr: String,
}

/// What a successful join hands back: the node's new identity and its place in the cluster.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The node's id.
    pub node_id: String,
    /// `manager` or `worker`.
    pub role: String,
    /// Raft id (managers only).
    pub raft_id: Option<u64>,
    /// The key, certificate and CA to store.
    pub identity: NodeIdentity,
    /// Addresses of the managers by raft id at join time.
    pub managers: std::collections::BTreeMap<u64, String>,
    /// The key that seals secrets at rest (managers only).
    pub seal_key: Option<Vec<u8>>,
}

/// What a promotion hands back to the worker that takes the manager role.
#[derive(Debug, Clone)]
pub struct Promoted {
    /// The node's raft id (never used before in this cluster).
    pub raft_id: u64,
    /// The manager certificate and key to store.
    pub identity: NodeIdentity,
    /// Addresses of the managers by raft id.
    pub managers: std::collections::BTreeMap<u64, String>,
    /// The key that seals secrets at rest.
    pub seal_key: Option<Vec<u8>>,
}

/// Converts a gRPC failure into a one-line error naming the manager.
pub(crate) fn remote(addr: &str, status: tonic::Status) -> ManagerError {
    use std::error::Error as _;
    match status.source() {
        Some(source) if status.code() == tonic::Code::Unavailable => ManagerError::Unreachable {
            addr: addr.to_owned(),
            message: error_chain(source),
        },
        None if api::Reason::of(&status) == Some(api::Reason::Removed) => {
            ManagerError::Removed(status.message().to_owned())
        }
        _ if api::Reason::of(&status) == Some(api::Reason::NoQuorum) => {
            ManagerError::NoQuorum(status.message().to_owned())
        }
        _ => ManagerError::Remote(status.message().to_owned()),
    }
}

impl ManagerClient {
    /// A client of the manager at `addr` (`host:port`); connects on first use.
    pub fn new(addr: &str, identity: &NodeIdentity) -> Result<Self, ManagerError> {
        let channel = tls::channel(addr, tls::client_config(identity)?, true)?;
        Ok(ManagerClient {
            inner: RawClient::new(channel)
                .max_encoding_message_size(tls::MAX_MESSAGE)
                .max_decoding_message_size(tls::MAX_MESSAGE),
            addr: addr.to_owned(),
        })
    }

    /// Joins the cluster of the manager at `addr` with `token`: the manager is trusted only if
    /// its CA has the token's digest; returns the new identity (key generated here).
    pub async fn join(
        addr: &str,
        token: &str,
        hostname: &str,
        advertise_addr: &str,
    ) -> Result<Joined, ManagerError> {
        let parsed: JoinToken = token.parse()?;
        let channel = tls::channel(addr, tls::join_config(&parsed.ca_digest)?, false)?;
        let (key_pem, csr_pem) = new_key_and_csr()?;
        let request = proto::JoinRequest {
            token: token.trim().to_owned(),
            csr_pem,
            hostname: hostname.to_owned(),
            advertise_addr: advertise_addr.to_owned(),
        };
        let response = RawClient::new(channel)
            .join(request)
            .await
            .map_err(|s| remote(addr, s))?
            .into_inner();
        Ok(Joined {
            node_id: response.node_id,
            role: response.role,
            raft_id: (response.raft_id != 0).then_some(response.raft_id),
            managers: response.managers.into_iter().collect(),
            seal_key: (!response.seal_key.is_empty()).then_some(response.seal_key),
            identity: NodeIdentity {
                ca_pem: response.ca_pem,
                cert_pem: response.cert_pem,
                key_pem,
            },
        })
    }

    /// The manager's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Proposes a batch; returns the index it applied at.
    pub async fn write(&self, batch: &Batch) -> Result<u64, ManagerError> {
        let batch = batch.encode().map_err(|e| ManagerError::Decode {
            what: "batch".into(),
            message: e.to_string(),
        })?;
        let response = self
            .inner
            .clone()
            .write(proto::WriteRequest { batch })
            .await
            .map_err(|s| remote(&self.addr, s))?;
        Ok(response.into_inner().index)
    }

    /// A linearizable read (`all`, `kind:<kind>`, `key:<kind>/<id>`, `hash`): the data and
    /// the applied index it reflects.
    pub async fn read(&self, query: &str) -> Result<(Vec<u8>, u64), ManagerError> {
        let response = self
            .inner
            .clone()
            .read(proto::ReadRequest {
                query: query.to_owned(),
            })
            .await
            .map_err(|s| remote(&self.addr, s))?
            .into_inner();
        Ok((response.data, response.applied))
    }

    /// The cluster status as the leader (or, without one, this manager) sees it.
    pub async fn status(&self) -> Result<proto::StatusResponse, ManagerError> {
        let mut request = Request::new(Empty {});
        request.set_timeout(std::time::Duration::from_secs(10));
        Ok(self
            .inner
            .clone()
            .status(request)
            .await
            .map_err(|s| remote(&self.addr, s))?
            .into_inner())
    }

    /// Changes a node's role (`worker` demotes a manager).
    pub async fn change_role(&self, node: &str, role: &str) -> Result<(), ManagerError> {
        self.inner
            .clone()
            .change_role(proto::ChangeRoleRequest {
                node: node.to_owned(),
                role: role.to_owned(),
            })
            .await
            .map_err(|s| remote(&self.addr, s))?;
        Ok(())
    }

    /// Removes a node (a manager only with `force`).
    pub async fn remove_node(&self, node: &str, force: bool) -> Result<(), ManagerError> {
        self.inner
            .clone()
            .remove_node(proto::RemoveNodeRequest {
                node: node.to_owned(),
                force,
            })
            .await
            .map_err(|s| remote(&self.addr, s))?;
        Ok(())
    }

    /// The join token of `role` (`worker` or `manager`), rotated first with `rotate`.
    pub async fn join_token(&self, role: &str, rotate: bool) -> Result<String, ManagerError> {
        Ok(self
            .inner
            .clone()
            .join_token(proto::JoinTokenRequest {
                role: role.to_owned(),
                rotate,
            })
            .await
            .map_err(|s| remote(&self.addr, s))?
            .into_inner()
            .token)
    }

    /// Reports this node alive (its daemon's heartbeat); answers with its record as the
    /// leader holds it. A removed node gets [`ManagerError::Removed`].
    pub async fn heartbeat(&self, node_id: &str) -> Result<proto::HeartbeatResponse, ManagerError> {
        let mut request = Request::new(proto::HeartbeatRequest {
            node_id: node_id.to_owned(),
        });
        request.set_timeout(crate::workers::HEARTBEAT_TIMEOUT);
        Ok(self
            .inner
            .clone()
            .heartbeat(request)
            .await
            .map_err(|s| remote(&self.addr, s))?
            .into_inner())
    }

    /// Takes the manager role this node was marked for: returns its manager identity (for a
    /// new key made here), its raft id, the managers' addresses and the seal key.
    pub async fn promote(
        &self,
        node_id: &str,
        current: &NodeIdentity,
    ) -> Result<Promoted, ManagerError> {
        let (key_pem, csr_pem) = new_key_and_csr()?;
        let mut request = Request::new(proto::PromoteRequest {
            node_id: node_id.to_owned(),
            csr_pem,
        });
        request.set_timeout(std::time::Duration::from_secs(15));
        let response = self
            .inner
            .clone()
            .promote(request)
            .await
            .map_err(|s| remote(&self.addr, s))?
            .into_inner();
        Ok(Promoted {
            raft_id: response.raft_id,
            managers: response.managers.into_iter().collect(),
            seal_key: (!response.seal_key.is_empty()).then_some(response.seal_key),
            identity: NodeIdentity {
                ca_pem: if response.ca_pem.is_empty() {
                    current.ca_pem.clone()
                } else {
                    response.ca_pem
                },
                cert_pem: response.cert_pem,
                key_pem,
            },
        })
    }

    /// Asks for a fresh certificate for a new key; returns the renewed identity.
    pub async fn renew(&self, current: &NodeIdentity) -> Result<NodeIdentity, ManagerError> {
        let (key_pem, csr_pem) = new_key_and_csr()?;
        let response = self
            .inner
            .clone()
            .renew(proto::RenewRequest { csr_pem })
            .await
            .map_err(|s| remote(&self.addr, s))?
            .into_inner();
        Ok(NodeIdentity {
            ca_pem: current.ca_pem.clone(),
            cert_pem: response.cert_pem,
            key_pem,
        })
    }
}
