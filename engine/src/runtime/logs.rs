//! Reading a container's logs through the runtime: all, by query, or followed.

use super::Runtime;
use crate::logs::{LogQuery, LogStream};
use crate::shim::{LogEntry, read_logs};

impl Runtime {
    /// The container's log entries, oldest first.
    pub fn logs(&self, id: &str) -> crate::Result<Vec<LogEntry>> {
        let dir = self.container_dir(id);
        self.store(id)?;
        read_logs(&dir).map_err(|source| crate::Error::Io {
            op: "read logs of",
            path: dir,
            source,
        })
    }

    /// The container's log entries selected by `query`.
    pub fn logs_query(&self, id: &str, query: &LogQuery) -> crate::Result<Vec<LogEntry>> {
        let dir = self.container_dir(id);
        self.store(id)?;
        crate::logs::read(&dir, query).map_err(|source| crate::Error::Io {
            op: "read logs of",
            path: dir,
            source,
        })
    }

    /// Follows the container's logs: the entries selected by `query`, then new ones until the
    /// container exits.
    pub fn follow_logs(&self, id: &str, query: LogQuery) -> crate::Result<LogStream> {
        let dir = self.container_dir(id);
        self.store(id)?;
        LogStream::open(&dir, query).map_err(|source| crate::Error::Io {
            op: "follow logs of",
            path: dir,
            source,
        })
    }
}
