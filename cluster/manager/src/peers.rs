//! Outgoing raft traffic: one task per peer manager drains that peer's queue and sends the
//! messages in batches over gRPC; failures are reported back to raft (unreachable, snapshot
//! failed) and the queued messages dropped, since raft retransmits what matters.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cluster_raft::eraftpb::{Message, MessageType};
use rustls::ClientConfig;
use tokio::sync::mpsc;

use super::driver::RaftHandle;
use super::proto::RaftBatch;
use super::proto::manager_client::ManagerClient;
use super::tls;
use cluster_raft::encode_message;

/// Time allowed for one batch of raft messages to be accepted by a peer.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest number of messages sent in one call.
const MAX_BATCH: usize = 512;

/// The senders of the peer managers, fed from the raft thread.
pub(crate) struct Peers {
    runtime: tokio::runtime::Handle,
    config: Arc<ClientConfig>,
    raft: RaftHandle,
    queues: HashMap<u64, (String, mpsc::UnboundedSender<Message>)>,
}

impl Peers {
    /// Peers that connect with `config`, spawning their tasks on `runtime`.
    pub(crate) fn new(
        runtime: tokio::runtime::Handle,
        config: Arc<ClientConfig>,
        raft: RaftHandle,
    ) -> Self {
        Peers {
            runtime,
            config,
            raft,
            queues: HashMap::new(),
        }
    }

    /// Queues `message` for its recipient at `addr` (dropped when the address is unknown).
    pub(crate) fn send(&mut self, message: Message, addr: Option<String>) {
        let to = message.to;
        let Some(addr) = addr else {
            self.raft.unreachable(to);
            return;
        };
        let stale = self
            .queues
            .get(&to)
            .is_none_or(|(known, queue)| *known != addr || queue.is_closed());
        if stale {
            let (tx, rx) = mpsc::unbounded_channel();
            let (config, raft) = (self.config.clone(), self.raft.clone());
            self.runtime.spawn(pump(to, addr.clone(), config, rx, raft));
            self.queues.insert(to, (addr, tx));
        }
        if let Some((_, queue)) = self.queues.get(&to) {
            let _ = queue.send(message);
        }
    }
}

async fn pump(
    to: u64,
    addr: String,
    config: Arc<ClientConfig>,
    mut rx: mpsc::UnboundedReceiver<Message>,
    raft: RaftHandle,
) {
    let channel = match tls::channel(&addr, config, true) {
        Ok(channel) => channel,
        Err(err) => {
            tracing::warn!(peer = to, %addr, cause = %err, "cannot reach peer manager");
            return;
        }
    };
    let mut client = ManagerClient::new(channel)
        .max_encoding_message_size(tls::MAX_MESSAGE)
        .max_decoding_message_size(tls::MAX_MESSAGE);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        let snapshot = batch
            .iter()
            .any(|m| m.get_msg_type() == MessageType::MsgSnapshot);
        let mut request = tonic::Request::new(RaftBatch {
            messages: batch.iter().map(encode_message).collect(),
        });
        request.set_timeout(SEND_TIMEOUT);
        match client.raft(request).await {
            Ok(_) => {
                if snapshot {
                    raft.snapshot_status(to, true);
                }
            }
            Err(status) => {
                tracing::debug!(peer = to, %addr, cause = %status, "raft send failed");
                raft.unreachable(to);
                if snapshot {
                    raft.snapshot_status(to, false);
                }
                while rx.try_recv().is_ok() {}
            }
        }
    }
}
