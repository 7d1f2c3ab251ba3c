//! Commands that change the store, and the batch the leader proposes through Raft.
//!
//! The leader stamps the time and chooses every id before proposing, so applying a batch is a
//! pure function of the store and the committed entry.

use serde::{Deserialize, Serialize};

use super::records::{Record, RecordKey};

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Insert a new record; refused if its id, or its name within its kind, is taken.
    Create(Record),
    /// Replace an existing record; refused unless its current version is `expected_version`.
    Update {
        /// The new content (metadata version and times are set by apply).
        record: Record,
        /// Version the proposer read; guards against lost updates.
        expected_version: u64,
    },
    /// Replace a task record the managers decided about: as given when it is still at
    /// `expected_version`; when only its node's status reports wrote it since (its
    /// [`Task::decided`](crate::Task::decided) is still `expected_decided`, 0 when the record
    /// read did not say), all but its status, which stays as the node reported it (a node
    /// heard from after all wins over the managers' guess that its task was orphaned);
    /// refused otherwise. The leader's control loop writes its decisions this way, so that
    /// the reports of thousands of tasks arriving while it decides do not refuse the whole
    /// batch.
    UpdateDecided {
        /// The new content: a task record.
        record: Record,
        /// Version the proposer read.
        expected_version: u64,
        /// The record's `decided` as the proposer read it.
        expected_decided: u64,
    },
    /// Remove a record; with `expected_version`, only if it is still at that version.
    Delete {
        /// Which record.
        key: RecordKey,
        /// Version the proposer read, if it cares.
        expected_version: Option<u64>,
    },
}

/// What the leader proposes: commands applied all-or-nothing, with the leader's clock.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Batch {
    /// Leader time when the batch was built, milliseconds since the Unix epoch.
    pub stamp_ms: u64,
    /// The commands, applied in order.
    pub commands: Vec<Command>,
}

impl Batch {
    /// A batch stamped with the given leader time.
    pub fn new(stamp_ms: u64, commands: Vec<Command>) -> Self {
        Batch { stamp_ms, commands }
    }

    /// Encodes the batch as raft entry data.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Decodes raft entry data.
    pub fn decode(data: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(data)
    }
}
