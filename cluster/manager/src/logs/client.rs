//! A client of the logs API for the CLI and the tests: one subscription, its messages typed.

use tonic::transport::Channel;

use super::proto::{self, logs_client::LogsClient as RawClient};
use crate::pki::NodeIdentity;
use crate::{ManagerError, tls};

/// A connection to one manager's logs API.
#[derive(Debug, Clone)]
pub struct LogsClient {
    inner: RawClient<Channel>,
    addr: String,
}

/// The messages of one subscription.
#[derive(Debug)]
pub struct LogStream {
    inner: tonic::Streaming<proto::SubscribeLogsMessage>,
    addr: String,
}

impl LogsClient {
    /// A client of the manager at `addr`, authenticated with `identity` (a manager's).
    pub fn new(addr: &str, identity: &NodeIdentity) -> Result<Self, ManagerError> {
        let channel = tls::channel(addr, tls::client_config(identity)?, true)?;
        Ok(LogsClient {
            inner: RawClient::new(channel),
            addr: addr.to_owned(),
        })
    }

    /// Subscribes to the logs `request` names.
    pub async fn subscribe(
        &self,
        request: proto::SubscribeLogsRequest,
    ) -> Result<LogStream, ManagerError> {
        let stream = self
            .inner
            .clone()
            .subscribe_logs(request)
            .await
            .map_err(|s| crate::client::remote(&self.addr, s))?;
        Ok(LogStream {
            inner: stream.into_inner(),
            addr: self.addr.clone(),
        })
    }
}

impl LogStream {
    /// The next message, or `None` once the subscription is complete.
    pub async fn next(&mut self) -> Result<Option<proto::SubscribeLogsMessage>, ManagerError> {
        self.inner
            .message()
            .await
            .map_err(|s| crate::client::remote(&self.addr, s))
    }
}
