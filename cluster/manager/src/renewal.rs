//! Automatic renewal of node certificates: at a random point between 50 % and 80 % of its
//! lifetime a manager asks its own API for a new one and presents it from the next handshake
//! on (a worker's daemon renews through the manager it talks to, see `worker.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{ManagerClient, ManagerError, tls};
use crate::pki::{BACKDATE, NodeIdentity, renewal_at, renewal_fraction};

/// When to renew `identity`'s certificate: a random point between 50 % and 80 % of its
/// lifetime (now, if the certificate cannot be read).
pub(super) fn renewal_time(identity: &NodeIdentity) -> SystemTime {
    let Ok(peer) = identity.identity() else {
        return SystemTime::now();
    };
    let issued = peer.not_before + BACKDATE.as_secs() as i64;
    renewal_at(
        issued.min(peer.not_after),
        peer.not_after,
        renewal_fraction(fastrand::f64()),
    )
}

/// Renews this node's certificate at a random point between 50 % and 80 % of its lifetime,
/// through its own API (any manager with quorum signs), stores it and presents it from the
/// next handshake on; open connections are left as they are. Retries until renewed.
pub(super) async fn renew_certificates(certs: Arc<tls::CertStore>, dir: PathBuf, addr: String) {
    loop {
        let identity = match NodeIdentity::load(&dir) {
            Ok(identity) => identity,
            Err(err) => {
                tracing::error!(cause = %err, "cannot load the node certificate to renew it");
                return;
            }
        };
        if identity.identity().is_err() {
            tracing::error!("cannot read the node certificate to renew it");
            return;
        }
        let at = renewal_time(&identity);
        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
        tracing::debug!(in_secs = wait.as_secs(), "certificate renewal scheduled");
        tokio::time::sleep(wait).await;
        let mut delay = Duration::from_millis(500);
        loop {
            let renewed = async {
                let client = ManagerClient::new(&addr, &identity)?;
                let renewed = client.renew(&identity).await?;
                renewed.save(&dir)?;
                certs.replace(&renewed)?;
                Ok::<_, ManagerError>(renewed)
            };
            match renewed.await {
                Ok(renewed) => {
                    let until = renewed.identity().map(|p| p.not_after).unwrap_or_default();
                    tracing::info!(not_after = until, "node certificate renewed");
                    break;
                }
                Err(err) => {
                    tracing::warn!(cause = %err, "certificate renewal failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
}
