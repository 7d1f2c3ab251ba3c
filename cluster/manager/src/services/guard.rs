//! What the writing calls of the services, networks and secrets APIs share: telling a write
//! that lost a race (decide again) from one refused for good, guarding a write with the
//! services at the versions read, and the refusal of removing what a service uses.

// tonic's handlers answer with `tonic::Status`, a large error type, by design.
#![allow(clippy::result_large_err)]

use tonic::Status;

use crate::driver::Refused;
use cluster_raft::WriteError;
use cluster_state::{ApplyError, Command, Record, Service};

/// Whether `refused` says the records changed since they were read (decide again).
pub(crate) fn raced(refused: &Refused) -> bool {
    matches!(
        refused,
        Refused::Write(WriteError::Refused(
            ApplyError::VersionMismatch { .. } | ApplyError::NotFound(_)
        ))
    )
}

/// The services rewritten at the versions read: added to a write, they make it fail (and be
/// decided again) if one of them changed meanwhile — started using what is removed, took a
/// port.
pub(crate) fn at_versions_read<'a>(
    services: impl IntoIterator<Item = &'a Service>,
) -> Vec<Command> {
    services
        .into_iter()
        .map(|s| Command::Update {
            expected_version: s.meta.version,
            record: Record::Service(Box::new(s.clone())),
        })
        .collect()
}

/// The refusal to remove `what` (`network front`, `secret token`) while `users` use it.
pub(crate) fn in_use(what: &str, users: &[String]) -> Status {
    Status::failed_precondition(format!(
        "{what} is in use by service{} {}",
        if users.len() == 1 { "" } else { "s" },
        users.join(", ")
    ))
}
