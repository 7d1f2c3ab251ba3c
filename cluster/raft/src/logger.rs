//! Forwards raft-rs's slog records to `tracing`, so the consensus core logs like the rest of
//! the daemon.

use slog::{Drain, KV, Level, OwnedKVList, Record, Serializer};

/// A slog drain that emits every record as a tracing event under the `raft` target.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TracingDrain;

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let mut fields = Fields(String::new());
        // Formatting into a String cannot fail.
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let message = record.msg();
        let fields = fields.0;
        match record.level() {
            Level::Critical | Level::Error => {
                tracing::error!(target: "raft", %fields, "{message}")
            }
            Level::Warning => tracing::warn!(target: "raft", %fields, "{message}"),
            Level::Info => tracing::info!(target: "raft", %fields, "{message}"),
            Level::Debug => tracing::debug!(target: "raft", %fields, "{message}"),
            Level::Trace => tracing::trace!(target: "raft", %fields, "{message}"),
        }
        Ok(())
    }
}

/// Collects slog key-values as `key=value` pairs.
struct Fields(String);

impl Serializer for Fields {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(&format!("{key}={value}"));
        Ok(())
    }
}

/// The logger handed to raft-rs.
pub(crate) fn raft_logger(node_id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!("raft_id" => node_id))
}
