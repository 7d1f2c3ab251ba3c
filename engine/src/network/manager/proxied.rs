//! Handing the ports DNAT cannot serve to the node's [`PortProxy`], whenever endpoints come or
//! go and when one is installed.

use std::sync::Arc;

use super::Networks;
use crate::network::Result;
use crate::network::proxy::{self, PortProxy};
use crate::network::record::NetworkRecord;

impl Networks {
    /// Installs `proxy` (for this value and all its clones) and has it serve the recorded
    /// endpoints' ports at once: what an agent does at start. An earlier proxy is emptied
    /// first, so that its sockets are free for the new one.
    pub fn set_proxy(&self, proxy: Arc<dyn PortProxy>) -> Result<()> {
        let _lock = self.store.lock()?;
        let earlier = self.proxy_slot().replace(proxy);
        if let Some(earlier) = earlier {
            earlier.serve(&[])?;
        }
        self.serve_proxied(&self.store.list()?)
    }

    fn proxy_slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<dyn PortProxy>>> {
        // The slot is only ever replaced whole: a poisoned lock still holds a valid value.
        self.proxy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Has the proxy, if any, serve exactly the ports of `records` that need it.
    pub(super) fn serve_proxied(&self, records: &[NetworkRecord]) -> Result<()> {
        let proxy = self.proxy_slot().clone();
        match proxy {
            Some(proxy) => proxy.serve(&proxy::proxied(records)),
            None => Ok(()),
        }
    }
}
