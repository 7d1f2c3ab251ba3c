//! The cluster store: the replicated state machine that Raft feeds with committed batches.
//!
//! Records are kept in memory, ordered by key, and mirrored durably by the raft storage in the
//! same transaction as the applied index.

mod apply;
mod command;
mod records;
mod registry_auth;
mod seal;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use apply::ApplyError;
pub use command::{Batch, Command};
pub use records::{
    Availability, Blob, ClusterInfo, DEFAULT_CERT_VALIDITY, EndpointPort, IngressNodes, Kind, Meta,
    Network, NetworkAttachment, NetworkEncryption, NetworkKey, Node, NodeRole, NodeState, Record,
    RecordKey, Service, ServiceEndpoint, Task, TaskAttachment, VirtualIp, Volume,
};
pub use registry_auth::{RegistryAuth, StoredAuth};
pub use seal::{SealError, SealKey, secure_random};

/// The store: every record by key, with a name index for the kinds that have unique names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    records: BTreeMap<RecordKey, Record>,
    names: BTreeMap<(Kind, String), String>,
    specs: SharedSpecs,
}

/// The spec each service's tasks last arrived with, so that tasks with equal specs share one
/// copy: every task record carries its service's spec, and a service of 30,000 replicas
/// would otherwise hold 30,000 copies (decoded one by one from the raft log), which every
/// read of the store clones and every comparison walks. Not part of the store's content.
#[derive(Debug, Clone, Default)]
struct SharedSpecs(HashMap<orchestrator::swarm::ServiceId, Arc<orchestrator::swarm::ServiceSpec>>);

impl PartialEq for SharedSpecs {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SharedSpecs {}

impl SharedSpecs {
    /// Makes `task` hold the copy of its spec its service's tasks share, when equal; else
    /// its spec becomes the one shared from now on.
    fn share(&mut self, task: &mut orchestrator::swarm::Task) {
        match self.0.get(&task.service_id) {
            Some(shared) if Arc::ptr_eq(shared, &task.spec) => {}
            Some(shared) if **shared == *task.spec => task.spec = Arc::clone(shared),
            _ => {
                self.0
                    .insert(task.service_id.clone(), Arc::clone(&task.spec));
            }
        }
    }
}

/// The serialized form of a store, used for raft snapshots.
#[derive(Debug, Serialize, Deserialize)]
struct StoreImage {
    records: Vec<Record>,
}

/// [`StoreImage`] borrowed from a store, to encode it without a copy.
#[derive(Serialize)]
struct StoreImageRef<'a> {
    records: Vec<&'a Record>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// A store holding exactly `records`.
    pub fn from_records(records: impl IntoIterator<Item = Record>) -> Self {
        let mut store = Store::new();
        for record in records {
            store.insert(record);
        }
        store
    }

    /// The record under `key`.
    pub fn get(&self, key: &RecordKey) -> Option<&Record> {
        self.records.get(key)
    }

    /// The record of `kind` named `name`.
    pub(crate) fn by_name(&self, kind: Kind, name: &str) -> Option<&Record> {
        let id = self.names.get(&(kind, name.to_owned()))?;
        self.records.get(&RecordKey::new(kind, id.clone()))
    }

    /// Every record of `kind`, ordered by id.
    pub fn iter_kind(&self, kind: Kind) -> impl Iterator<Item = &Record> {
        self.records
            .range(RecordKey::new(kind, "")..)
            .take_while(move |(key, _)| key.kind == kind)
            .map(|(_, record)| record)
    }

    /// Every record, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Inserts or replaces a record as is, returning the record it replaced.
    pub(crate) fn insert(&mut self, mut record: Record) -> Option<Record> {
        if let Record::Task(task) = &mut record {
            // Only for a service the store holds (the map stays as small as the services).
            let service = RecordKey::new(Kind::Service, task.task.service_id.as_str());
            if self.records.contains_key(&service) {
                self.specs.share(&mut task.task);
            }
        }
        let key = record.key();
        let previous = self.remove(&key);
        if let Some(name) = record.name() {
            self.names
                .insert((key.kind, name.to_owned()), key.id.clone());
        }
        self.records.insert(key, record);
        previous
    }

    /// Removes a record, returning it.
    pub(crate) fn remove(&mut self, key: &RecordKey) -> Option<Record> {
        let record = self.records.remove(key)?;
        if let Record::Service(service) = &record {
            self.specs.0.remove(&service.service.id);
        }
        if let Some(name) = record.name() {
            self.names.remove(&(key.kind, name.to_owned()));
        }
        Some(record)
    }

    /// Serializes the whole store (the data of a raft snapshot).
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&StoreImageRef {
            records: self.records.values().collect(),
        })
    }

    /// Rebuilds a store from [`Store::encode`] output.
    pub fn decode(data: &[u8]) -> Result<Self, serde_json::Error> {
        let image: StoreImage = serde_json::from_slice(data)?;
        Ok(Store::from_records(image.records))
    }

    /// A hash of the whole content, equal on two managers exactly when their stores are equal:
    /// hex SHA-256 over every record's canonical encoding in key order.
    pub fn state_hash(&self) -> String {
        let mut hasher = Sha256::new();
        for record in self.records.values() {
            // Serializing plain data with ordered maps cannot fail.
            let bytes = serde_json::to_vec(record).expect("records serialize to json");
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
        hex::encode(hasher.finalize())
    }
}
