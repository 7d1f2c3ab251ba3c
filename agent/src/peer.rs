//! Who may talk to the agent: root, and members of the socket's group. Checked on every request
//! from the connection's kernel credentials (SO_PEERCRED), in addition to the socket file's mode.

use nix::unistd::Gid;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Status};

/// The access rule of the agent's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerPolicy {
    /// The group whose members may connect besides root (`None` = root only).
    pub group: Option<Gid>,
}

impl PeerPolicy {
    /// Whether a process with these credentials may use the API; `groups` are its
    /// supplementary groups.
    pub fn allows(&self, uid: u32, gid: u32, groups: &[u32]) -> bool {
        if uid == 0 {
            return true;
        }
        match self.group {
            Some(group) => gid == group.as_raw() || groups.contains(&group.as_raw()),
            None => false,
        }
    }

    /// Whether a connection's peer (its uid, gid and, when known, pid for its supplementary
    /// groups) may use the API: the rule of [`check`](Self::check) for sockets served outside
    /// tonic (the Docker API's).
    pub fn admits(&self, uid: u32, gid: u32, pid: Option<i32>) -> bool {
        uid == 0 || self.allows(uid, gid, &pid.map(supplementary_groups).unwrap_or_default())
    }

    /// Checks a request's peer; refuses requests without credentials.
    #[allow(clippy::result_large_err)]
    pub fn check(&self, request: Request<()>) -> Result<Request<()>, Status> {
        let cred = request
            .extensions()
            .get::<UdsConnectInfo>()
            .and_then(|info| info.peer_cred);
        let Some(cred) = cred else {
            return Err(Status::permission_denied(
                "access to the bosun agent refused: peer credentials unavailable",
            ));
        };
        let (uid, gid) = (cred.uid(), cred.gid());
        if uid == 0 {
            return Ok(request);
        }
        let groups = cred.pid().map(supplementary_groups).unwrap_or_default();
        if self.allows(uid, gid, &groups) {
            Ok(request)
        } else {
            tracing::warn!(
                uid,
                gid,
                "refused a client that is neither root nor in the agent's group"
            );
            Err(Status::permission_denied(format!(
                "access to the bosun agent refused for uid {uid}: not root and not in the agent's group"
            )))
        }
    }
}

/// The credentials of a request's peer (`None` when the transport has none).
pub fn caller<T>(request: &Request<T>) -> Option<crate::access::Caller> {
    let cred = request
        .extensions()
        .get::<UdsConnectInfo>()
        .and_then(|info| info.peer_cred)?;
    Some(crate::access::Caller {
        uid: cred.uid(),
        gid: cred.gid(),
        groups: cred.pid().map(supplementary_groups).unwrap_or_default(),
    })
}

/// The supplementary groups of a live process, from `/proc/<pid>/status` (empty when gone).
fn supplementary_groups(pid: i32) -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    parse_groups(&status)
}

fn parse_groups(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table() {
        let with = PeerPolicy {
            group: Some(Gid::from_raw(990)),
        };
        let without = PeerPolicy { group: None };
        let cases = [
            (with, 0, 0, vec![], true),
            (with, 1000, 990, vec![], true),
            (with, 1000, 1000, vec![27, 990], true),
            (with, 1000, 1000, vec![27], false),
            (without, 0, 0, vec![], true),
            (without, 1000, 0, vec![0], false),
        ];
        for (policy, uid, gid, groups, want) in cases {
            assert_eq!(
                policy.allows(uid, gid, &groups),
                want,
                "{policy:?} {uid} {gid} {groups:?}"
            );
        }
    }

    #[test]
    fn groups_from_status() {
        let status = "Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGroups:\t27 990 \nVmRSS:\t1 kB\n";
        assert_eq!(parse_groups(status), vec![27, 990]);
        assert!(parse_groups("Name:\tsh\n").is_empty());
    }
}
