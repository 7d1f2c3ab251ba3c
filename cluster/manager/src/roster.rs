//! Who may call this manager, as the applied store says now: the nodes with their roles, the
//! nodes removed from the cluster, and when each node was last demoted. The raft thread
//! rebuilds it whenever the store applies something and publishes it, so checking a caller
//! is a local lookup with no raft round trip. It also says which node each raft id belongs
//! to, so the raft transport can refuse a message sent in another manager's name.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::pki::{BACKDATE, PeerIdentity};
use cluster_state::{ClusterInfo, Kind, NodeRole, NodeState, Record, RecordKey, Store};

/// What the store holds about one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    /// Manager certificates issued before this time (ms since the Unix epoch) are revoked.
    demoted_at_ms: Option<u64>,
    /// What a heartbeat answers from.
    brief: Brief,
}

/// What a worker's heartbeat needs of its node's record: enough to answer it without a
/// round trip to the raft thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Brief {
    /// Worker or manager.
    pub role: NodeRole,
    /// Raft id when the node is a manager.
    pub raft_id: Option<u64>,
    /// The role an operator asked for.
    pub desired_role: Option<NodeRole>,
    /// Observed liveness.
    pub state: NodeState,
}

/// Whether a caller may send raft messages with a given `from` raft id, as the applied store
/// says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The store assigns the raft id to the caller.
    Own,
    /// The store has not handed the raft id out yet (or holds nothing yet): the caller may
    /// have joined or been promoted a moment ago, and the store lags behind the leader.
    Fresh,
    /// The store assigns the raft id to another node, named here.
    Foreign(String),
    /// The raft id was handed out and no node holds it any more: it belonged to a manager
    /// since removed or demoted (raft ids are never reused).
    Retired,
}

/// The callers the applied store knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    /// Whether the store holds the cluster record yet (a new cluster's first manager before
    /// its first records, a new manager before the leader's snapshot: nobody is known yet).
    initialized: bool,
    members: HashMap<String, Member>,
    removed: BTreeSet<String>,
    /// The node each raft id belongs to.
    raft_owners: HashMap<u64, String>,
    /// The first raft id not handed out yet (0 while the store is empty).
    next_raft_id: u64,
    /// The managers' addresses by raft id.
    manager_addrs: BTreeMap<u64, String>,
}

/// What the roster says of a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// A node of the cluster whose certificate still holds the rights its role names.
    Member,
    /// A node removed from the cluster.
    Removed,
    /// A node the store knows as a worker, presenting a manager certificate issued before its
    /// demotion.
    Demoted,
    /// A worker as the store knows it, presenting a manager certificate issued after its last
    /// demotion (if any): either the store has not yet applied its promotion, or it was
    /// demoted before demotions were recorded.
    WorkerInStore,
    /// A node the store does not know (yet): it may lag behind the leader.
    Unknown,
    /// The store is still empty: nothing can be checked yet.
    Uninitialized,
}

impl Roster {
    /// The roster of `store` as applied.
    pub fn from_store(store: &Store) -> Self {
        let cluster = store.get(&RecordKey::new(Kind::Cluster, ClusterInfo::ID));
        let (removed, next_raft_id) = match cluster {
            Some(Record::Cluster(info)) => (info.removed_nodes.clone(), info.next_raft_id),
            _ => (BTreeSet::new(), 0),
        };
        let raft_owners = store
            .iter_kind(Kind::Node)
            .filter_map(|record| match record {
                Record::Node(node) => node.raft_id.map(|id| (id, node.meta.id.clone())),
                _ => None,
            })
            .collect();
        let manager_addrs = store
            .iter_kind(Kind::Node)
            .filter_map(|record| match record {
                Record::Node(node) if node.role == NodeRole::Manager => {
                    node.raft_id.map(|id| (id, node.addr.clone()))
                }
                _ => None,
            })
            .collect();
        let members = store
            .iter_kind(Kind::Node)
            .filter_map(|record| match record {
                Record::Node(node) => Some((
                    node.meta.id.clone(),
                    Member {
                        demoted_at_ms: node.demoted_at_ms,
                        brief: Brief {
                            role: node.role,
                            raft_id: node.raft_id,
                            desired_role: node.desired_role,
                            state: node.state,
                        },
                    },
                )),
                _ => None,
            })
            .collect();
        Roster {
            initialized: cluster.is_some(),
            members,
            removed,
            raft_owners,
            next_raft_id,
            manager_addrs,
        }
    }

    /// What the store holds about node `id` for its heartbeat.
    pub fn brief(&self, id: &str) -> Option<Brief> {
        self.members.get(id).map(|member| member.brief)
    }

    /// The managers' addresses by raft id, as their records say.
    pub fn manager_addrs(&self) -> &BTreeMap<u64, String> {
        &self.manager_addrs
    }

    /// The ids of the nodes the store knows as workers.
    pub fn workers(&self) -> impl Iterator<Item = &str> {
        self.members
            .iter()
            .filter(|(_, member)| member.brief.role == NodeRole::Worker)
            .map(|(id, _)| id.as_str())
    }

    /// The raft id the store assigns to node `node_id`, if any.
    pub fn raft_id_of(&self, node_id: &str) -> Option<u64> {
        self.raft_owners
            .iter()
            .find_map(|(raft_id, owner)| (owner == node_id).then_some(*raft_id))
    }

    /// Whether node `caller` may send raft messages as raft id `from`. Only an id the store
    /// assigns to no node and has not handed out yet is open to any caller: the store may not
    /// have applied the caller's join or promotion yet.
    pub fn claim(&self, caller: &str, from: u64) -> Claim {
        match self.raft_owners.get(&from) {
            Some(owner) if owner == caller => Claim::Own,
            Some(owner) => Claim::Foreign(owner.clone()),
            None if !self.initialized || from >= self.next_raft_id => Claim::Fresh,
            None => Claim::Retired,
        }
    }

    /// Where `caller` stands. A manager certificate is revoked by a demotion recorded after
    /// it was issued; removal is final.
    pub fn standing(&self, caller: &PeerIdentity) -> Standing {
        if self.removed.contains(&caller.node_id) {
            return Standing::Removed;
        }
        if !self.initialized {
            return Standing::Uninitialized;
        }
        let Some(member) = self.members.get(&caller.node_id) else {
            return Standing::Unknown;
        };
        if caller.role != NodeRole::Manager || member.brief.role == NodeRole::Manager {
            return Standing::Member;
        }
        let issued_ms = caller
            .not_before
            .saturating_add(BACKDATE.as_secs() as i64)
            .saturating_mul(1000);
        match member.demoted_at_ms {
            Some(demoted) if issued_ms < demoted as i64 => Standing::Demoted,
            _ => Standing::WorkerInStore,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cluster_state::{Availability, Meta, Node, NodeState};

    const DEMOTED_AT_MS: u64 = 1_000_000_000;

    pub(crate) fn node(id: &str, role: NodeRole, demoted_at_ms: Option<u64>) -> Record {
        Record::Node(Node {
            meta: Meta {
                id: id.to_owned(),
                ..Meta::default()
            },
            hostname: id.to_owned(),
            addr: String::new(),
            role,
            raft_id: (role == NodeRole::Manager).then_some(1),
            availability: Availability::Active,
            state: NodeState::Ready,
            desired_role: None,
            demoted_at_ms,
            platform: Default::default(),
            resources: Default::default(),
        })
    }

    /// The cluster record of a test store: `next_raft_id` and the removed node ids.
    pub(crate) fn cluster_info(next_raft_id: u64, removed: &[&str]) -> ClusterInfo {
        ClusterInfo {
            meta: Meta {
                id: ClusterInfo::ID.to_owned(),
                ..Meta::default()
            },
            ca_cert_pem: String::new(),
            ca_key_pem: String::new(),
            worker_secret: String::new(),
            manager_secret: String::new(),
            next_raft_id,
            cert_validity_secs: 0,
            removed_nodes: removed.iter().map(|id| (*id).to_owned()).collect(),
        }
    }

    fn store() -> Store {
        let info = cluster_info(2, &["gone"]);
        Store::from_records([
            Record::Cluster(info),
            node("boss", NodeRole::Manager, None),
            node("demoted", NodeRole::Worker, Some(DEMOTED_AT_MS)),
            node("worker", NodeRole::Worker, None),
        ])
    }

    /// A certificate of `id` with `role` issued at `issued_ms`.
    fn caller(id: &str, role: NodeRole, issued_ms: u64) -> PeerIdentity {
        let not_before = (issued_ms / 1000) as i64 - BACKDATE.as_secs() as i64;
        PeerIdentity {
            node_id: id.to_owned(),
            role,
            not_before,
            not_after: not_before + 3600,
        }
    }

    #[test]
    fn standing_follows_the_store_not_the_certificate_alone() {
        let roster = Roster::from_store(&store());
        let before = DEMOTED_AT_MS - 60_000;
        let after = DEMOTED_AT_MS + 60_000;
        let cases = [
            ("boss", NodeRole::Manager, before, Standing::Member),
            ("gone", NodeRole::Manager, after, Standing::Removed),
            ("gone", NodeRole::Worker, after, Standing::Removed),
            ("demoted", NodeRole::Manager, before, Standing::Demoted),
            ("demoted", NodeRole::Worker, after, Standing::Member),
            ("demoted", NodeRole::Manager, after, Standing::WorkerInStore),
            ("worker", NodeRole::Worker, before, Standing::Member),
            ("worker", NodeRole::Manager, after, Standing::WorkerInStore),
            ("stranger", NodeRole::Manager, after, Standing::Unknown),
        ];
        for (id, role, issued, want) in cases {
            let got = roster.standing(&caller(id, role, issued));
            assert_eq!(got, want, "{id} {role:?} issued at {issued}");
        }
    }

    #[test]
    fn workers_are_the_nodes_of_the_worker_role() {
        let roster = Roster::from_store(&store());
        let mut workers: Vec<&str> = roster.workers().collect();
        workers.sort_unstable();
        assert_eq!(workers, ["demoted", "worker"]);
    }

    #[test]
    fn an_empty_store_checks_nothing_but_removal() {
        let roster = Roster::from_store(&Store::default());
        let someone = caller("anyone", NodeRole::Manager, DEMOTED_AT_MS);
        assert_eq!(roster.standing(&someone), Standing::Uninitialized);
    }
}
