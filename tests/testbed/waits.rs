//! Waiting for the cluster to reach a state: every manager on the same state hash, a node's
//! certificate carrying a role.

use std::time::{Duration, Instant};

use cluster_manager::pki::NodeIdentity;

use super::Bed;

/// Waits until member `i`'s certificate carries `role` (a promoted worker's or a demoted
/// manager's daemon renews it when it switches roles); false on timeout.
pub fn wait_certificate_role(
    bed: &Bed,
    i: usize,
    role: cluster_state::NodeRole,
    timeout: Duration,
) -> bool {
    let dir = bed.members[i].root.join("cluster");
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let current = NodeIdentity::load(&dir)
            .and_then(|identity| identity.identity())
            .map(|peer| peer.role);
        if current.ok() == Some(role) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Waits until every member in `members` answers a linearizable read of the state hash with
/// the same hash; returns it.
pub async fn converged(bed: &Bed, members: &[usize], within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let mut seen = Vec::new();
        for &i in members {
            match bed.client(i).read("hash").await {
                Ok((hash, _)) => seen.push(String::from_utf8_lossy(&hash).into_owned()),
                Err(err) => seen.push(format!("error: {err}")),
            }
        }
        if seen
            .iter()
            .all(|s| *s == seen[0] && !s.starts_with("error"))
        {
            return seen.swap_remove(0);
        }
        assert!(Instant::now() < deadline, "managers disagree: {seen:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls member `i`'s cluster status until `done` holds for it; returns that status, or panics
/// naming `what` with the last status seen after `within`.
pub async fn status_until(
    bed: &Bed,
    i: usize,
    what: &str,
    within: Duration,
    done: impl Fn(&cluster_manager::proto::StatusResponse) -> bool,
) -> cluster_manager::proto::StatusResponse {
    let deadline = Instant::now() + within;
    loop {
        let last = bed.client(i).status().await;
        if let Ok(status) = &last {
            if done(status) {
                return status.clone();
            }
        }
        assert!(Instant::now() < deadline, "{what}: last status {last:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
